/* SPDX-License-Identifier: MIT */
/*
 * A question for a running worker: a function the main thread hands it,
 * run on the worker's own thread at the end of a loop turn, where its
 * engine may be read and changed. Engines are not thread-safe, so the
 * flow list, the cache and new limits reach a worker this way only. The
 * main thread waits a bounded time; a question not taken up by then is
 * withdrawn, and the worker never runs it late.
 */
#ifndef CN_WORKER_QUERY_H
#define CN_WORKER_QUERY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

struct worker;

typedef void (*worker_query_fn)(struct worker *w, void *arg);

struct worker_query {
	atomic_uint want;     /* generation asked for; the worker polls it */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned gen;         /* under lock: the question's generation */
	unsigned done;        /* under lock: the last generation answered */
	bool ended;           /* under lock: the worker's loop is over */
	worker_query_fn fn;   /* under lock; NULL: nothing asked */
	void *arg;
};

void worker_query_init(struct worker_query *q);
void worker_query_destroy(struct worker_query *q);

/* The worker's side, at the end of each loop turn: a cheap atomic load
 * when nothing is asked. */
void worker_query_serve(struct worker *w, struct worker_query *q);
/* The worker's loop has ended: questions are no longer answered. */
void worker_query_end(struct worker_query *q);

/* The main thread's side: run fn(w, arg) on w's thread, woken through
 * wake_fd, waiting at most wait_ms. Returns 0 once it ran, -ETIMEDOUT
 * (withdrawn, never to run) or -ESRCH (the worker has ended). */
int worker_query_ask(struct worker *w, struct worker_query *q, int wake_fd,
		     worker_query_fn fn, void *arg, unsigned wait_ms);

#endif
