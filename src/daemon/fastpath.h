/* SPDX-License-Identifier: MIT */
/*
 * The kernel fast path: tc ingress programs on both ports that translate
 * established flows and forward everything the daemon need not see, and
 * maps shared with them. The daemon reads what they leave it from sockets
 * the kernel serves after tc (pktio.h). The programs stay attached when the daemon ends: a
 * successor finds them through the ports' tc filters (in any mount
 * namespace) and takes their maps and flows over.
 */
#ifndef CN_FASTPATH_H
#define CN_FASTPATH_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/engine.h"

struct fastpath;

struct fastpath_config {
	unsigned ifindex[2];   /* by enum cn_side */
	uint32_t max_flows;    /* flow map entries */
	enum cn_role role;
	uint64_t timeout_ns;   /* heartbeat: fail open after this */
	unsigned workers;      /* one close event ring each, 1..CN_MAX_WORKERS */
};

/*
 * Load the programs and maps (or find those a predecessor left on the
 * ports and reuse its maps), attach the programs and start the heartbeat.
 * 0, or -errno with *errmsg naming the step; *adopted tells whether the
 * maps are a predecessor's.
 */
int fastpath_open(struct fastpath **out, const struct fastpath_config *cfg,
		  bool *adopted, const char **errmsg);

/* The fanout program that sends a flow's frames to worker
 * cn_fast_key_hash(key) % workers. */
int fastpath_fanout(const struct fastpath *fp, enum cn_side side);

/* The daemon is alive; beat_ns 0 says it stopped (fail open at once). */
int fastpath_beat(struct fastpath *fp, uint64_t now_ns);

/*
 * A new record for key. The programs' frame and byte counts of the old one
 * survive it: known (the counts as the caller last read or wrote them)
 * saves reading them back; NULL reads them, unless first (no record yet,
 * none to keep). Either way what the programs count between that read and
 * this write is lost: the counts are figures, and a record has no field
 * the daemon can write without writing them all.
 */
int fastpath_put(struct fastpath *fp, const struct cn_flow_key *key,
		 const struct cn_fast_flow *rec, bool first,
		 const struct cn_fast_flow *known);
void fastpath_del(struct fastpath *fp, const struct cn_flow_key *key);
bool fastpath_get(struct fastpath *fp, const struct cn_flow_key *key,
		  struct cn_fast_flow *rec);

/* Call fn for every flow record; a nonzero return deletes that record.
 * Returns the number of records seen. */
unsigned fastpath_each(struct fastpath *fp,
		       int (*fn)(void *ctx, const struct cn_flow_key *key,
				 const struct cn_fast_flow *rec),
		       void *ctx);

/*
 * The programs' close events (CN_FF_KCLOSE) of the flows whose frames go
 * to that worker, for it alone: fn runs for each from
 * fastpath_closes_read(), which takes what is there without a system
 * call. Returns an fd that polls readable when the programs find the ring
 * half full, or -errno.
 */
int fastpath_closes_open(struct fastpath *fp, unsigned worker,
			 int (*fn)(void *ctx, const struct cn_fast_close *ev),
			 void *ctx);
int fastpath_closes_read(struct fastpath *fp, unsigned worker);
/* Events the full ring refused since the programs were loaded. */
uint64_t fastpath_closes_lost(const struct fastpath *fp);

/* The programs' counters, summed over CPUs. */
void fastpath_stats(struct fastpath *fp, struct cn_fast_stats *out);

/* Take the programs off the ports (their maps go with them). */
int fastpath_detach(struct fastpath *fp);

/* Take off programs a predecessor left on these ports, for a daemon that
 * runs without the kernel path: they would forward every frame it
 * forwards too. Returns how many were there, or -errno. */
int fastpath_remove(const unsigned ifindex[2]);

/* A predecessor's programs were on the ports but could not be opened
 * (no CAP_SYS_ADMIN): they were replaced and its flows are lost. */
bool fastpath_orphaned(const struct fastpath *fp);

/* Close the daemon's handles; attached programs keep running. */
void fastpath_close(struct fastpath *fp);

#endif
