/* SPDX-License-Identifier: MIT */
/*
 * One worker: an event loop over its own two ports, engine, epoll and
 * timerfd. The daemon sets its fields up and tears them down; this is the
 * loop that runs in between. A worker knows nothing of the daemon but the
 * environment it is given: the configuration, the capture, the stop flag
 * and a callback for the control events that land on its epoll.
 */
#ifndef CN_WORKER_H
#define CN_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <time.h>

#include "daemon.h"
#include "engine/engine.h"
#include "fastpath.h"
#include "pcap_out.h"
#include "stats.h"
#include "worker_query.h"

#define NSEC_PER_SEC 1000000000ull

/* The tags of epoll events. Below TAG_CONTROL a worker's own; from there
 * on the daemon's, handed to worker_env.control by whichever loop owns
 * the fd. */
enum ep_tag {
	TAG_CLIENT = CN_CLIENT,
	TAG_SERVER = CN_SERVER,
	TAG_TIMER,
	TAG_WAKE,    /* a worker: the main thread wants a stop or a snapshot */
	TAG_CLOSES,  /* a worker: the kernel path's close events pile up */
	TAG_DONE,    /* the main thread: a worker ended on an error */
	TAG_CONTROL, /* signals, the stats timer: see daemon.c */
};

/* What every worker shares, owned by the daemon. */
struct worker_env {
	const struct cn_daemon_config *cfg;
	/* NULL: every frame through the daemon. Else each worker also reads
	 * the programs' close events of its flows. */
	struct fastpath *fast;
	struct pcap_out *pcap;     /* NULL: no capture */
	pthread_mutex_t pcap_lock; /* libpcap's dump handle is one FILE */
	atomic_bool stop;
	void (*control)(void *ctx, uint32_t tag);
	void *control_ctx;
};

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
	struct worker_env *env;
	unsigned id;
	struct port port[2];
	struct cn_engine *eng;
	int epfd;
	int timer_fd;
	int wake_fd;       /* eventfd; -1 with one worker */
	int done_fd;       /* eventfd poked when the loop ends on an error */
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
	/* The last kernel path record this worker read or wrote, for the
	 * counts a new record of the flow keeps: a record is read before the
	 * engine acts on one of its frames (and rewritten, if at all, while
	 * it does: a read of this frame's is as good as one just before the
	 * write, and frames the programs count meanwhile are lost either
	 * way); a slow record the worker wrote keeps its counts until the
	 * next write, as no program counts a live daemon's slow flow. */
	struct {
		bool valid;
		bool read; /* read, not written: good for this frame only */
		struct cn_flow_key key;
		struct cn_fast_flow rec;
	} fast_last;
	/* Flow lists, cache dumps and new limits, asked by the main thread
	 * and run here at the end of a loop turn (worker_query.h). */
	struct worker_query query;
	/* Closed flows looked for in the records, after lost close events. */
	struct {
		bool on;
		uint32_t at;         /* the next slot */
		unsigned closed;
		uint64_t lost;       /* the programs' count when it started */
		uint64_t missed;
		uint64_t started_ns;
	} sweep;
};

/* The worker's engine, with its callbacks; returns 0 or -errno. */
int worker_engine_create(struct worker *w, const struct cn_config *cfg,
			 const uint8_t secret[32]);

/* Start reading the kernel path's close events (env->fast):
 * returns the fd to poll for them (TAG_CLOSES), or -errno. */
int worker_closes_open(struct worker *w);

/* Run until the daemon stops; returns 0 or -errno. */
int worker_loop(struct worker *w);

/* Only from the worker's own thread, or once it has ended. */
void worker_collect(const struct worker *w, struct worker_stats *s);

/* The snapshot lock and condition of a worker, and their end. */
void worker_snap_init(struct worker *w);
void worker_snap_destroy(struct worker *w);

/* The worker's side of a snapshot: served at the end of a loop turn, and
 * once more (final) when its loop has ended. */
void worker_publish(struct worker *w, bool final);

/* Clear a wake eventfd. */
void worker_wake_drain(int efd);

static inline uint64_t cn_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static inline bool worker_env_stopping(struct worker_env *env)
{
	return atomic_load_explicit(&env->stop, memory_order_relaxed);
}

#endif
