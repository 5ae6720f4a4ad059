// SPDX-License-Identifier: MIT
#include "workers.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "daemon_int.h"
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

void workers_drain(int efd)
{
	uint64_t v;

	if (read(efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		cn_warn("eventfd read: %s", strerror(errno));
}

void worker_snap_init(struct worker *w)
{
	pthread_condattr_t ca;

	/* The timed wait for a snapshot counts on the monotonic clock,
	 * like everything else here. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->snap_cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&w->snap_lock, NULL);
}

void worker_snap_destroy(struct worker *w)
{
	pthread_mutex_destroy(&w->snap_lock);
	pthread_cond_destroy(&w->snap_cond);
}

void worker_publish(struct worker *w, bool final)
{
	unsigned want = atomic_load_explicit(&w->snap_want, memory_order_acquire);
	struct worker_stats s;

	if (want == w->snap_seen && !final)
		return;
	w->snap_seen = want;
	worker_collect(w, &s);
	pthread_mutex_lock(&w->snap_lock);
	w->snap = s;
	w->snap_gen = want;
	w->snap_final |= final;
	pthread_cond_broadcast(&w->snap_cond);
	pthread_mutex_unlock(&w->snap_lock);
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
void workers_gather(struct cn_daemon *d, struct worker_stats *per)
{
	struct timespec deadline;
	unsigned gen;

	if (!d->threaded) {
		for (unsigned i = 0; i < d->nw; i++)
			worker_collect(&d->w[i], &per[i]);
		return;
	}
	gen = ++d->snap_gen;
	for (unsigned i = 0; i < d->nw; i++) {
		atomic_store_explicit(&d->w[i].snap_want, gen,
				      memory_order_release);
		poke(d->w[i].wake_fd);
	}
	snap_deadline(&deadline);
	for (unsigned i = 0; i < d->nw; i++)
		worker_snapshot(&d->w[i], gen, &deadline, &per[i]);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	w->result = worker_loop(w);
	if (w->result < 0 && w->result != -ENODEV)
		cn_err("worker %u: event loop: %s", w->id, strerror(-w->result));
	cn_log_flush(0);
	worker_publish(w, true);
	if (w->result < 0)
		poke(w->d->done_fd);
	return NULL;
}

/* The main thread while workers run on threads: signals, the stats timer,
 * and the end of a worker that failed, which stops them all. */
static void control_loop(struct cn_daemon *d)
{
	struct epoll_event evs[4];
	int n;

	while (!daemon_stopping(d)) {
		n = epoll_wait(d->epfd, evs, 4, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			cn_err("event loop: %s", strerror(errno));
			atomic_store(&d->stop, true);
			break;
		}
		for (int i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case TAG_SIGNAL:
			case TAG_STATS:
				daemon_control_event(d, evs[i].data.u32);
				break;
			case TAG_DONE:
				workers_drain(d->done_fd);
				atomic_store(&d->stop, true);
				break;
			}
		}
	}
}

/* Start the worker threads; on failure the ones started are stopped. */
static int start_workers(struct cn_daemon *d)
{
	char name[16]; /* the kernel takes 15 characters */
	int ret;

	for (unsigned i = 0; i < d->nw; i++) {
		struct worker *w = &d->w[i];

		ret = pthread_create(&w->thread, NULL, worker_main, w);
		if (ret) {
			cn_err("worker %u: thread: %s", i, strerror(ret));
			return -ret;
		}
		w->started = true;
		snprintf(name, sizeof(name), "clientnic-w%u", i % 100);
		(void)pthread_setname_np(w->thread, name);
	}
	return 0;
}

/* Stop and join every worker thread; after this their state is the main
 * thread's to read. Returns the first error a worker ended with. */
static int stop_workers(struct cn_daemon *d)
{
	int ret = 0;

	atomic_store(&d->stop, true);
	for (unsigned i = 0; i < d->nw; i++)
		if (d->w[i].started)
			poke(d->w[i].wake_fd);
	for (unsigned i = 0; i < d->nw; i++) {
		struct worker *w = &d->w[i];

		if (!w->started)
			continue;
		pthread_join(w->thread, NULL);
		w->started = false;
		if (w->result < 0 && !ret)
			ret = w->result;
	}
	d->threaded = false;
	return ret;
}

int workers_run(struct cn_daemon *d)
{
	int ret;

	d->threaded = true;
	ret = start_workers(d);
	if (!ret)
		control_loop(d);
	if (stop_workers(d) < 0 || ret < 0)
		return CN_EXIT_FAIL;
	return CN_EXIT_OK;
}
