/* SPDX-License-Identifier: MIT */
/*
 * --workers N: the workers on threads of their own, the main thread's
 * loop while they run, and the snapshots through which it reads their
 * counters. With one worker none of this runs but the direct gather.
 */
#ifndef CN_WORKERS_H
#define CN_WORKERS_H

#include <stdbool.h>

#include "stats.h"
#include "worker.h"
#include "worker_query.h"

/* The workers and, while they run on threads, the main thread's loop. */
struct worker_pool {
	struct worker *w;
	unsigned nw;
	struct worker_env *env;
	bool threaded;     /* workers run on threads of their own */
	unsigned snap_gen;
	int epfd;          /* the main thread's, with several workers */
	int done_fd;       /* eventfd: a worker ended on an error */
};

/* Every worker's figures into per[], now. */
void workers_gather(struct worker_pool *pool, struct worker_stats *per);

/* fn(w, arg) for every worker, each on its own thread while threads run
 * (a worker question, waiting at most wait_ms for each), else here.
 * Returns how many workers did not answer in time. */
unsigned workers_each(struct worker_pool *pool, worker_query_fn fn, void *arg,
		      unsigned wait_ms);

/* Start the threads, run the main thread's loop until a signal or a
 * failed worker stops them, join them; returns an enum cn_exit value. */
int workers_run(struct worker_pool *pool);

#endif
