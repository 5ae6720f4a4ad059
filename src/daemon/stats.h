/* SPDX-License-Identifier: MIT */
/*
 * The daemon's counters: the figures of one worker, and their output by
 * name (text on stderr, and with --log-format json one record on stdout).
 */
#ifndef CN_STATS_H
#define CN_STATS_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine/engine.h"
#include "pcap_out.h"
#include "pktio.h"

struct port_stats {
	struct pktio_stats io;
	uint64_t tx_dropped;
	uint64_t rx_errors;
	uint64_t sock_errors;
};

/* Every figure the counters show of one worker. */
struct worker_stats {
	struct cn_counters c;
	struct cn_drops dr;
	uint64_t flows_active;
	uint64_t buffered_bytes;
	uint64_t events;
	uint64_t ticks;
	struct port_stats port[2];
	bool has_kernel;           /* the kernel path runs */
	struct cn_fast_stats kernel;
};

/* The sums of per[0..nw-1] into sum. */
void stats_sum(const struct worker_stats *per, unsigned nw,
	       struct worker_stats *sum);

/* Everything the counters show, as one value: the workers' sums and, with
 * several, each one's, the capture's and the log's figures. */
struct stats_view {
	const struct worker_stats *sum;
	const struct worker_stats *per; /* nw of them */
	unsigned nw;
	bool pcap;               /* a capture runs: its figures count */
	uint64_t pcap_frames;
	uint64_t pcap_truncated;
	uint64_t events_dropped;
};

/* Every counter by name, in the order the text dump prints them: the
 * engine's, "drop.REASON", the daemon's, "client.X" and "server.X",
 * "pcap.X", "workerN.X". */
void stats_walk(const struct stats_view *v,
		void (*put)(void *ctx, const char *name, uint64_t value),
		void *ctx);

/* Print the sums of per[0..nw-1], and with several workers how flows and
 * frames spread over them; why says what asked. pcap (NULL: no capture)
 * is read under pcap_lock. */
void stats_print(const char *why, const struct worker_stats *per,
		 unsigned nw, struct pcap_out *pcap,
		 pthread_mutex_t *pcap_lock);

#endif
