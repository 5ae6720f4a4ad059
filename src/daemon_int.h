/* SPDX-License-Identifier: MIT */
/*
 * What the daemon's files share: the daemon itself, the tags of its epoll
 * events, and its control events (signals, the stats timer), which the
 * only worker handles with --workers 1 and the main thread with more.
 */
#ifndef CN_DAEMON_INT_H
#define CN_DAEMON_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "daemon.h"
#include "pcap_out.h"

#define NSEC_PER_SEC 1000000000ull

enum ep_tag {
	TAG_CLIENT = CN_CLIENT,
	TAG_SERVER = CN_SERVER,
	TAG_TIMER,
	TAG_SIGNAL,
	TAG_STATS,
	TAG_WAKE,  /* a worker: the main thread wants a stop or a snapshot */
	TAG_DONE,  /* the main thread: a worker ended on an error */
};

struct worker;

struct cn_daemon {
	const struct cn_daemon_config *cfg;
	struct worker *w;
	unsigned nw;
	bool threaded;     /* workers run on threads of their own */
	struct pcap_out *pcap;
	pthread_mutex_t pcap_lock;
	int epfd;          /* the main thread's, with several workers */
	int signal_fd;
	int stats_fd;
	int done_fd;       /* eventfd: a worker ended on an error */
	unsigned snap_gen;
	atomic_bool stop;
};

static inline uint64_t cn_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static inline bool daemon_stopping(struct cn_daemon *d)
{
	return atomic_load_explicit(&d->stop, memory_order_relaxed);
}

/* A TAG_SIGNAL or TAG_STATS event: read the fd, act on it. */
void daemon_control_event(struct cn_daemon *d, uint32_t tag);

#endif
