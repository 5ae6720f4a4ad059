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

struct cn_daemon;
struct worker;

/* The snapshot lock and condition of a worker, and their end. */
void worker_snap_init(struct worker *w);
void worker_snap_destroy(struct worker *w);

/* The worker's side of a snapshot: served at the end of a loop turn, and
 * once more (final) when its loop has ended. */
void worker_publish(struct worker *w, bool final);

/* Every worker's figures into per[], now. */
void workers_gather(struct cn_daemon *d, struct worker_stats *per);

/* Start the threads, run the main thread's loop until a signal or a
 * failed worker stops them, join them; returns an enum cn_exit value. */
int workers_run(struct cn_daemon *d);

/* Clear a wake eventfd. */
void workers_drain(int efd);

#endif
