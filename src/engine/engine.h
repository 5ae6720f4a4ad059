/* SPDX-License-Identifier: MIT */
/*
 * The clientnic engine: the 0-RTT state machine with no system calls in it.
 * One engine, two roles (cn_config.role): the ClientNIC next to the client
 * answers its SYN and translates; the ServerNIC next to the server takes
 * the translation over from a ClientNIC that asked it to, so early data can
 * cross the WAN right behind the SYN.
 *
 * The caller hands it one frame at a time with the side it came from and the
 * time. The engine may rewrite the frame in place and answers with a verdict
 * for it; frames it creates or releases (spoofed SYN-ACKs, RSTs, held early
 * data, SYN retransmissions) go out through the emit callback before
 * cn_engine_input() or cn_engine_tick() returns. The callback must send or
 * copy the frame at once: its bytes are reused after it returns.
 */
#ifndef CN_ENGINE_H
#define CN_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "counters.h"
#include "fast_flow.h"
#include "frame.h"

enum cn_side {
	CN_CLIENT = 0,
	CN_SERVER = 1,
};

static inline enum cn_side cn_other_side(enum cn_side s)
{
	return s == CN_CLIENT ? CN_SERVER : CN_CLIENT;
}

enum cn_role {
	CN_ROLE_CLIENTNIC = 0,
	CN_ROLE_SERVERNIC = 1,
};

/* Whether a ClientNIC counts on a ServerNIC (peer) near the server. */
enum cn_peer_mode {
	CN_PEER_OFF,    /* never ask for one */
	CN_PEER_AUTO,   /* ask always; send early data at once where one answered */
	CN_PEER_ALWAYS, /* send early data at once to every server */
};

enum cn_verdict {
	CN_FORWARD, /* send the (possibly rewritten) frame to the other side */
	CN_STOLEN,  /* the engine kept or absorbed it: send nothing */
	CN_DROP,    /* dropped; the reason is counted */
};

enum cn_event_type {
	CN_EV_SYN_SPOOFED,   /* client SYN: spoofed SYN-ACK sent, SYN forwarded */
	CN_EV_SYN_RESPOOFED, /* retransmitted client SYN: same SYN-ACK again */
	CN_EV_SYN_RESENT,    /* silent server: the box resent the SYN */
	CN_EV_BUFFERED,      /* early client frame held */
	CN_EV_SYNACK_REAL,   /* real SYN-ACK absorbed, delta known */
	CN_EV_FLUSHED,       /* held frames sent to the server */
	CN_EV_REFUSED,       /* server RST to the SYN, client reset */
	CN_EV_SYN_TIMEOUT,   /* server silent past the SYN timeout, client reset */
	CN_EV_RESET,         /* in-window RST ended the flow */
	CN_EV_CLOSED,        /* flow freed after close grace */
	CN_EV_EXPIRED,       /* flow freed after idle timeout */
	CN_EV_EVICTED,       /* flow evicted to make room */
	CN_EV_REPLACED,      /* SYN with a new ISN replaced the flow */
	CN_EV_PEER_SYN,      /* ServerNIC: a SYN with a valid peer option */
	CN_EV_TAKEN_OVER,    /* the ServerNIC translates the flow: it sent
			      * (ServerNIC) or the ClientNIC got the SYN-ACK
			      * in the spoofed space */
	CN_EV_PEER_LEARNED,  /* ClientNIC: a server has a peer next to it */
	CN_EV_PEER_LOST,     /* ClientNIC: the expected peer did not answer;
			      * the flow is translated here */
	CN_EV_ADOPTED,       /* a flow a predecessor left in the kernel path,
			      * taken over from its record */
};

struct cn_event {
	enum cn_event_type type;
	uint64_t now_ns;
	uint64_t age_ns; /* since the flow's first SYN */
	const struct cn_flow_key *key;
	uint32_t client_isn;
	uint32_t spoof_isn;
	uint32_t real_isn;  /* valid from CN_EV_SYNACK_REAL on */
	uint32_t delta;     /* spoof_isn - real_isn */
	uint32_t frames;    /* frames held/flushed */
	uint32_t bytes;     /* bytes held/flushed */
	uint16_t mss;       /* options: spoofed on SYN_SPOOFED, real on SYNACK_REAL */
	int8_t wscale;      /* -1: not offered */
	bool sack_ok;
	bool ts_ok;
};

struct cn_io {
	void (*emit)(void *ctx, enum cn_side to, const struct cn_frame *f);
	void (*event)(void *ctx, const struct cn_event *ev); /* may be NULL */
	/*
	 * The kernel fast path (all three NULL without one). The engine puts
	 * a record when a flow is established and whenever how it is
	 * translated changes, deletes it when the flow is freed, and gets it
	 * back before it acts on one of the flow's frames or expires it.
	 * put returns 0 or -errno (first: the flow had no record yet); get
	 * returns false when there is none.
	 */
	int (*fast_put)(void *ctx, const struct cn_flow_key *key,
			const struct cn_fast_flow *rec, bool first);
	void (*fast_del)(void *ctx, const struct cn_flow_key *key);
	bool (*fast_get)(void *ctx, const struct cn_flow_key *key,
			 struct cn_fast_flow *rec);
	/* The caller hands the programs' close events to
	 * cn_engine_fast_closed() (and calls cn_engine_fast_sweep() when
	 * some were lost): the kernel may then close flows itself
	 * (CN_FF_KCLOSE), FINs and the last ACK never crossing the daemon. */
	bool fast_closes;
	void *ctx;
};

struct cn_config {
	uint32_t max_flows;        /* flow table capacity */
	uint32_t buf_flow_bytes;   /* early data held per flow */
	uint32_t buf_flow_frames;  /* early frames held per flow */
	uint64_t buf_total_bytes;  /* early data held in all */
	uint64_t syn_rto_ns;       /* first SYN retransmission, then doubled */
	uint64_t syn_timeout_ns;   /* then reset the client */
	uint64_t idle_timeout_ns;  /* established flow without traffic */
	uint64_t close_grace_ns;   /* kept after FIN/RST for stragglers */
	uint16_t default_mss4;     /* announced to the client while the */
	uint16_t default_mss6;     /* server's own options are unknown */
	uint8_t default_wscale;
	bool default_sack;
	bool default_ts;
	uint16_t max_mss;          /* never announce more than this */
	uint32_t cache_entries;    /* learned per-server options */
	uint8_t role;              /* enum cn_role */
	uint8_t peer_mode;         /* enum cn_peer_mode (ClientNIC) */
	bool peer_keyed;           /* tag the peer option with peer_key */
	uint8_t peer_key[16];
	uint64_t peer_ttl_ns;      /* a learned peer is trusted this long */
};

void cn_config_defaults(struct cn_config *cfg);

struct cn_engine;

/* secret: 32 random bytes (getrandom()) keying the flow hash and ISNs.
 * Returns 0, -EINVAL for an unusable config, -ENOMEM. */
int cn_engine_create(struct cn_engine **out, const struct cn_config *cfg,
		     const uint8_t secret[32], const struct cn_io *io);
void cn_engine_destroy(struct cn_engine *eng);

/* *reason is set for CN_DROP (may be NULL). */
enum cn_verdict cn_engine_input(struct cn_engine *eng, enum cn_side from,
				struct cn_frame *f, uint64_t now_ns,
				enum cn_drop *reason);

/* Earliest time cn_engine_tick() has work, UINT64_MAX for none. */
uint64_t cn_engine_next_deadline(const struct cn_engine *eng);
void cn_engine_tick(struct cn_engine *eng, uint64_t now_ns);

const struct cn_counters *cn_engine_counters(const struct cn_engine *eng);
const struct cn_drops *cn_engine_drops(const struct cn_engine *eng);
uint32_t cn_engine_flow_count(const struct cn_engine *eng);
uint64_t cn_engine_buffered_bytes(const struct cn_engine *eng);
/* Bytes of memory per flow slot (table + state), for sizing. */
size_t cn_engine_flow_footprint(void);

const char *cn_event_name(enum cn_event_type type);

/* Take over a flow the kernel path carried for a predecessor: it is
 * established (or closed) from its record on, as if this engine had seen
 * its handshake. 0, -EEXIST (tracked already), -ENOSPC (no free slot),
 * -EINVAL (a record no engine writes). */
int cn_engine_adopt(struct cn_engine *eng, const struct cn_flow_key *key,
		    const struct cn_fast_flow *rec, uint64_t now_ns);
/* The programs closed a CN_FF_KCLOSE flow (struct cn_fast_close): fold
 * the record in and close the flow as its last segment would have here.
 * 0, or -ENOENT (no such flow, or another connection on its 4-tuple) or
 * -EALREADY (closed already, or no close in the record). */
int cn_engine_fast_closed(struct cn_engine *eng, const struct cn_flow_key *key,
			  const struct cn_fast_flow *rec, uint64_t now_ns);
/* Close events were lost: read back every record the kernel may have
 * closed a flow in, and close those flows (adds them to *closed). Walks
 * the table's slots from..from+slots, one record read each at most, so a
 * large table is swept over several calls; returns where to go on, 0 at
 * the end. */
uint32_t cn_engine_fast_sweep(struct cn_engine *eng, uint64_t now_ns,
			      uint32_t from, uint32_t slots, unsigned *closed);
/* One flow as the operator sees it (cn_engine_flow_walk). */
struct cn_flow_record {
	struct cn_flow_key key;
	const char *state;    /* syn_sent, established or closed */
	const char *peer;     /* who translates: see cn_engine_flow_walk */
	uint64_t age_ns;      /* since the client's first SYN */
	uint64_t idle_ns;     /* since the flow last moved */
	uint32_t delta;       /* spoofed ISN - real ISN; 0 until known */
	uint32_t held_frames; /* early client frames held */
	uint32_t held_bytes;
	uint32_t frames[2];   /* received from each side (enum cn_side), */
	uint64_t bytes[2];    /* frames modulo 2^32, bytes up to the IP end */
	char datapath[8];     /* the caller's to fill ("daemon") */
};

/* The state names a flow record can carry, i from 0 on; NULL past the
 * last (what a filter by state may name). */
const char *cn_flow_state_name(unsigned i);

/* Called for each flow; returns false to stop the walk. */
typedef bool (*cn_flow_visit)(void *ctx, const struct cn_flow_record *r);

/* Every flow, handshakes waiting first (oldest SYN first), then the
 * established ones (least recently seen first), then the closed ones;
 * returns how many were visited. peer is "none" (the box translates, no
 * peer asked), "asked", "early", "fallback", "relayed" or "relayed_blind"
 * on a ClientNIC (enum cn_flow_peer), "taken_over" on a ServerNIC. */
size_t cn_engine_flow_walk(const struct cn_engine *eng, uint64_t now_ns,
			   cn_flow_visit fn, void *ctx);
/* The first max flows of the walk into out; returns how many. */
size_t cn_engine_flow_dump(const struct cn_engine *eng,
			   struct cn_flow_record *out, size_t max,
			   uint64_t now_ns);

/*
 * Change the limits a running engine may take on the fly: syn_rto_ns,
 * syn_timeout_ns, idle_timeout_ns, close_grace_ns, buf_flow_bytes,
 * buf_flow_frames and buf_total_bytes of cfg; every other field is
 * ignored. Flows already waiting keep the SYN timer they have; idle and
 * close timers and the buffer bounds apply from the next frame or tick.
 * Returns 0, or -EINVAL (nothing changed) for a zero timeout or frame
 * bound, or an RTO above the SYN timeout.
 */
int cn_engine_set_limits(struct cn_engine *eng, const struct cn_config *cfg);

/* One server the options cache knows, as a file keeps it across restarts.
 * Peers are not kept: whether one answers is for the next SYN to find. */
struct cn_cache_record {
	uint8_t family;  /* 4 or 6; IPv4 in the first 4 bytes of addr */
	uint8_t known;   /* of window scale 1, SACK 2, timestamps 4 */
	uint16_t port;
	uint8_t addr[16];
	uint16_t mss;    /* 0: the server announced none */
	int8_t wscale;   /* -1: none */
	bool sack_ok;
	bool ts;
};

/* Up to max records, least recently learned first; returns how many. */
size_t cn_engine_cache_dump(const struct cn_engine *eng,
			    struct cn_cache_record *out, size_t max);
/* Learn a record as if from a SYN-ACK: 0, or -EINVAL (nothing learned)
 * for a record no real server could have sent. */
int cn_engine_cache_learn(struct cn_engine *eng,
			  const struct cn_cache_record *r);
/* How many servers the cache holds at most. */
size_t cn_engine_cache_capacity(const struct cn_engine *eng);

#endif
