// SPDX-License-Identifier: MIT
#include "worker_query.h"

#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

void worker_query_init(struct worker_query *q)
{
	pthread_condattr_t ca;

	atomic_init(&q->want, 0);
	q->gen = q->done = 0;
	q->ended = false;
	q->fn = NULL;
	q->arg = NULL;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&q->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&q->lock, NULL);
}

void worker_query_destroy(struct worker_query *q)
{
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->cond);
}

void worker_query_serve(struct worker *w, struct worker_query *q)
{
	unsigned want = atomic_load_explicit(&q->want, memory_order_acquire);

	if (want == q->done)
		return;
	/* fn runs under the lock: a main thread that gave up waiting takes
	 * the lock to withdraw the question, so it cannot free arg while
	 * fn still uses it. */
	pthread_mutex_lock(&q->lock);
	if (q->fn && q->gen == want) {
		q->fn(w, q->arg);
		q->fn = NULL;
	}
	q->done = want;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

void worker_query_end(struct worker_query *q)
{
	pthread_mutex_lock(&q->lock);
	q->ended = true;
	q->fn = NULL;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
}

int worker_query_ask(struct worker *w, struct worker_query *q, int wake_fd,
		     worker_query_fn fn, void *arg, unsigned wait_ms)
{
	uint64_t one = 1, t;
	struct timespec ts;
	unsigned gen;
	int ret = 0;

	(void)w;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec +
	    (uint64_t)wait_ms * 1000000u;
	ts.tv_sec = (time_t)(t / 1000000000u);
	ts.tv_nsec = (long)(t % 1000000000u);

	pthread_mutex_lock(&q->lock);
	if (q->ended) {
		pthread_mutex_unlock(&q->lock);
		return -ESRCH;
	}
	gen = ++q->gen;
	q->fn = fn;
	q->arg = arg;
	atomic_store_explicit(&q->want, gen, memory_order_release);
	pthread_mutex_unlock(&q->lock);
	if (write(wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		ret = -errno;

	pthread_mutex_lock(&q->lock);
	while (!ret && q->done != gen && !q->ended)
		ret = -pthread_cond_timedwait(&q->cond, &q->lock, &ts);
	if (q->done == gen)
		ret = 0;
	else if (q->ended)
		ret = -ESRCH;
	q->fn = NULL;
	pthread_mutex_unlock(&q->lock);
	return ret;
}
