// SPDX-License-Identifier: MIT
#include "workers.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "worker.h"

/* How long the counters wait for a running worker's snapshot before they
 * print its previous one. */
#define SNAP_WAIT_NS (200 * 1000000ull)

static void poke(int efd)
{
	uint64_t one = 1;

	if (efd >= 0 && write(efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		cn_warn("eventfd write: %s", strerror(errno));
}

static void snap_deadline(struct timespec *ts)
{
	uint64_t t = cn_mono_ns() + SNAP_WAIT_NS;

	ts->tv_sec = (time_t)(t / NSEC_PER_SEC);
	ts->tv_nsec = (long)(t % NSEC_PER_SEC);
}

/* The main thread's side: the snapshot of generation gen, or, should the
 * worker not answer in time, the one before. */
static void worker_snapshot(struct worker *w, unsigned gen,
			    const struct timespec *deadline,
			    struct worker_stats *out)
{
	pthread_mutex_lock(&w->snap_lock);
	while (w->snap_gen != gen && !w->snap_final)
		if (pthread_cond_timedwait(&w->snap_cond, &w->snap_lock,
					   deadline) == ETIMEDOUT)
			break;
	*out = w->snap;
	pthread_mutex_unlock(&w->snap_lock);
}

/* Every worker's figures into per[], now: directly when no other thread
 * runs a worker, else through a snapshot each. */
void workers_gather(struct worker_pool *pool, struct worker_stats *per)
{
	struct timespec deadline;
	unsigned gen;

	if (!pool->threaded) {
		for (unsigned i = 0; i < pool->nw; i++)
			worker_collect(&pool->w[i], &per[i]);
		return;
	}
	gen = ++pool->snap_gen;
	for (unsigned i = 0; i < pool->nw; i++) {
		atomic_store_explicit(&pool->w[i].snap_want, gen,
				      memory_order_release);
		poke(pool->w[i].wake_fd);
	}
	snap_deadline(&deadline);
	for (unsigned i = 0; i < pool->nw; i++)
		worker_snapshot(&pool->w[i], gen, &deadline, &per[i]);
}

unsigned workers_each(struct worker_pool *pool, worker_query_fn fn, void *arg,
		      unsigned wait_ms)
{
	unsigned missed = 0;

	for (unsigned i = 0; i < pool->nw; i++) {
		struct worker *w = &pool->w[i];

		if (!pool->threaded)
			fn(w, arg);
		else if (worker_query_ask(w, &w->query, w->wake_fd, fn, arg,
					  wait_ms) < 0)
			missed++;
	}
	return missed;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	w->result = worker_loop(w);
	if (w->result < 0 && w->result != -ENODEV)
		cn_err("worker %u: event loop: %s (the daemon stops: "
		       "restart it)", w->id, strerror(-w->result));
	cn_log_flush(0);
	worker_query_end(&w->query);
	worker_publish(w, true);
	if (w->result < 0)
		poke(w->done_fd);
	return NULL;
}

static void stop_all(struct worker_pool *pool)
{
	atomic_store(&pool->env->stop, true);
}

/* The main thread while workers run on threads: signals, the stats timer,
 * and the end of a worker that failed, which stops them all. */
static void control_loop(struct worker_pool *pool)
{
	struct worker_env *env = pool->env;
	struct epoll_event evs[4];
	int n;

	while (!worker_env_stopping(env)) {
		n = epoll_wait(pool->epfd, evs, 4, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			cn_err("event loop: %s (the daemon stops: restart "
			       "it)", strerror(errno));
			stop_all(pool);
			break;
		}
		for (int i = 0; i < n; i++) {
			uint32_t tag = evs[i].data.u32;

			if (tag == TAG_DONE) {
				worker_wake_drain(pool->done_fd);
				stop_all(pool);
			} else if (tag >= TAG_CONTROL) {
				env->control(env->control_ctx, tag);
			}
		}
	}
}

/* Start the worker threads; on failure the ones started are stopped. */
static int start_workers(struct worker_pool *pool)
{
	char name[16]; /* the kernel takes 15 characters */
	int ret;

	for (unsigned i = 0; i < pool->nw; i++) {
		struct worker *w = &pool->w[i];

		w->done_fd = pool->done_fd;
		ret = pthread_create(&w->thread, NULL, worker_main, w);
		if (ret) {
			cn_err("worker %u: thread: %s (lower --workers)", i,
			       strerror(ret));
			return -ret;
		}
		w->started = true;
		snprintf(name, sizeof(name), "%.9s-w%u", cn_log_name(), i % 100);
		(void)pthread_setname_np(w->thread, name);
	}
	return 0;
}

/* Stop and join every worker thread; after this their state is the main
 * thread's to read. Returns the first error a worker ended with. */
static int stop_workers(struct worker_pool *pool)
{
	int ret = 0;

	stop_all(pool);
	for (unsigned i = 0; i < pool->nw; i++)
		if (pool->w[i].started)
			poke(pool->w[i].wake_fd);
	for (unsigned i = 0; i < pool->nw; i++) {
		struct worker *w = &pool->w[i];

		if (!w->started)
			continue;
		pthread_join(w->thread, NULL);
		w->started = false;
		if (w->result < 0 && !ret)
			ret = w->result;
	}
	pool->threaded = false;
	return ret;
}

int workers_run(struct worker_pool *pool)
{
	int ret;

	pool->threaded = true;
	ret = start_workers(pool);
	if (!ret)
		control_loop(pool);
	if (stop_workers(pool) < 0 || ret < 0)
		return CN_EXIT_FAIL;
	return CN_EXIT_OK;
}
