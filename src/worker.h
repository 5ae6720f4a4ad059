/* SPDX-License-Identifier: MIT */
/*
 * One worker: an event loop over its own two ports, engine, epoll and
 * timerfd. The daemon sets its fields up and tears them down; this is the
 * loop that runs in between.
 */
#ifndef CN_WORKER_H
#define CN_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "pcap_out.h"
#include "stats.h"

struct cn_daemon;
struct worker;

struct port {
	struct worker *w;
	enum cn_side side;
	const char *role; /* "client" or "server" */
	const char *ifname;
	struct pktio *io;
	struct pcap_out_if pif;
	bool ready;       /* frames may be waiting */
	uint64_t tx_dropped;  /* pktio_send refused even after a flush */
	uint64_t rx_errors;
	uint64_t sock_errors; /* errors the socket reported (SO_ERROR) */
};

/*
 * One event loop: its own two sockets, engine, epoll and timerfd. With
 * --workers 1 it runs on the main thread, which also owns the signalfd;
 * with more, each runs on a thread of its own and shares nothing with the
 * others but the capture (under a mutex) and stdout (whose FILE lock makes
 * each record one piece). Engines are not thread-safe: one per worker.
 */
struct worker {
	struct cn_daemon *d;
	unsigned id;
	struct port port[2];
	struct cn_engine *eng;
	int epfd;
	int timer_fd;
	int wake_fd;       /* eventfd; -1 with one worker */
	uint64_t now_ns;   /* CLOCK_MONOTONIC, read once per burst */
	uint64_t armed_ns; /* deadline the timerfd holds; UINT64_MAX: none */
	uint64_t ticks;
	uint64_t events;
	int result;        /* the loop's return, once it has ended */
	bool started;      /* its thread exists */
	pthread_t thread;
	/* Counters while threads run: the main thread raises snap_want and
	 * wakes the worker, which copies its figures into snap at the end of
	 * its loop turn. Nothing else of a running worker is read elsewhere. */
	atomic_uint snap_want;
	unsigned snap_seen;  /* the worker's own: last generation served */
	pthread_mutex_t snap_lock;
	pthread_cond_t snap_cond;
	unsigned snap_gen;   /* under snap_lock: generation of snap */
	bool snap_final;     /* under snap_lock: the loop has ended */
	struct worker_stats snap;
};

/* The worker's engine, with its callbacks; returns 0 or -errno. */
int worker_engine_create(struct worker *w, const struct cn_config *cfg,
			 const uint8_t secret[32]);

/* Run until the daemon stops; returns 0 or -errno. */
int worker_loop(struct worker *w);

/* Only from the worker's own thread, or once it has ended. */
void worker_collect(const struct worker *w, struct worker_stats *s);

#endif
