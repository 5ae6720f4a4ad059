/* SPDX-License-Identifier: MIT */
/*
 * The flow table: a fixed number of flow slots allocated at start, a seeded
 * hash (SipHash) over the key into power-of-two buckets, and three age
 * lists that give expiry and eviction their order:
 *   EMBRYONIC  flows waiting for the real SYN-ACK, oldest SYN first
 *   ACTIVE     established flows, least recently seen first
 *   CLOSED     flows after RST or both FINs, earliest close first
 * Embryonic flows also sit in a binary heap keyed by their SYN timer, whose
 * deadlines (retransmit with backoff, give up) are not in list order.
 */
#ifndef CN_FLOW_TABLE_H
#define CN_FLOW_TABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

#define CN_NIL UINT32_MAX

enum cn_flow_state {
	CN_FS_FREE,
	CN_FS_SYN_SENT,    /* spoofed SYN-ACK sent, real one awaited */
	CN_FS_ESTABLISHED, /* delta known, translating */
	CN_FS_CLOSED,      /* RST or both FINs: kept for the grace period */
};

/* A ClientNIC flow and the peer it asked for in its SYN. */
enum cn_flow_peer {
	CN_FP_NONE,     /* no option sent */
	CN_FP_ASKED,    /* option sent, early data held here */
	CN_FP_EARLY,    /* option sent, early data out at once (copies kept) */
	CN_FP_FALLBACK, /* the peer did not answer: translated here */
	CN_FP_RELAYED,  /* the peer translates; its receipt gave the deltas,
			 * so this box can take over should it vanish */
	CN_FP_RELAYED_BLIND, /* the peer translates; no receipt */
};

enum cn_list {
	CN_LIST_EMBRYONIC,
	CN_LIST_ACTIVE,
	CN_LIST_CLOSED,
	CN_LIST_MAX,
	CN_LIST_NONE = CN_LIST_MAX,
};

/* A frame held by the engine: early client data or the SYN it may resend. */
struct cn_held {
	struct cn_held *next;
	struct cn_offload off;
	uint32_t seq;       /* of an early segment, to spot retransmissions */
	uint32_t seg_len;
	uint32_t len;
	uint8_t data[];
};

/* TCP options as one side announced them in its SYN or SYN-ACK. */
struct cn_syn_opts {
	uint16_t mss;   /* 0: absent */
	int8_t wscale;  /* -1: absent */
	bool sack_ok;
	bool ts;
};

/* What one end has sent, in the sequence space of the server side wire. */
struct cn_peer {
	uint32_t end;     /* highest seq + length sent */
	uint32_t ack;     /* highest ACK sent */
	uint32_t max_win; /* largest window advertised, scaled */
	uint32_t fin_seq; /* sequence number of its FIN */
	bool fin;
	bool ack_seen;
};

/*
 * One flow. What every translated segment reads or writes comes first and
 * fits in the first two cache lines of the (64-byte aligned) slot; the
 * handshake, the timers and the held frames follow.
 */
struct cn_flow {
	/* ---- hot: lookup, translation, tracking ---- */
	struct cn_flow_key key;
	uint32_t hnext;     /* bucket chain */
	uint32_t hash;      /* of the key; its bucket is hash & mask */
	uint8_t state;      /* enum cn_flow_state */
	uint8_t list;       /* enum cn_list */
	/* Window fields are rewritten from units of 2^in to 2^out when the
	 * shift the sender uses differs from the one its peer applies. */
	uint8_t c2s_shift_in, c2s_shift_out;
	uint8_t s2c_shift_in, s2c_shift_out;
	bool strip_ts_c2s;    /* client sends TS the server did not agree to */
	bool strip_sack_c2s;  /* client sends SACK the server did not permit */
	bool strip_sack_s2c;  /* server sends SACK the client was not offered */
	bool translate_ts;    /* both sides use timestamps */
	bool passthrough;     /* ClientNIC: the peer translates, not this box */
	uint32_t delta;     /* spoof_isn - real_isn */
	uint32_t ts_delta;  /* spoofed TSval - server's TSval */
	/* The server's MSS when the spoofed SYN-ACK promised the client more:
	 * longer client segments are cut to it. 0: no need. */
	uint16_t cut_mss;
	/* The kernel path's record as last written (fast_pub): only its
	 * flags, since nothing else of how a flow is translated changes once
	 * it is established. */
	uint16_t fast_flags;
	uint64_t list_at;   /* position time in its age list */
	uint64_t last_seen;
	struct cn_peer peer[2];   /* indexed by enum cn_side */

	/* ---- cold: handshake, timers, held frames ---- */
	uint32_t prev;      /* age list links */
	uint32_t next;
	uint32_t heap_pos;  /* SYN timer heap slot, CN_NIL when none */
	uint8_t syn_tries;  /* SYNs the box resent */
	uint8_t peer_state; /* enum cn_flow_peer (ClientNIC) */
	bool client_acked;  /* the client acknowledged the SYN-ACK it got */
	bool fast_pub;      /* the kernel path has a record of the flow */
	uint64_t syn_at;    /* first SYN */
	uint64_t deadline;  /* SYN timer (heap key) */
	uint32_t client_isn;
	uint32_t spoof_isn;
	uint32_t real_isn;
	uint32_t spoof_tsval;
	uint32_t client_tsval; /* TSval of the client's SYN */
	struct cn_syn_opts client;  /* the client's SYN */
	struct cn_syn_opts spoofed; /* what the box answered */
	struct cn_syn_opts real;    /* the server's real SYN-ACK */
	/* ClientNIC: client segments sent for a peer before its SYN-ACK
	 * (saturating), each of which may draw one stray RST; and whether
	 * one did before the SYN-ACK (the server threw a segment away). */
	uint8_t strays;
	bool stray_lost;
	struct cn_held *held;     /* early client frames, arrival order */
	struct cn_held **held_tail;
	uint32_t held_frames;
	uint32_t held_bytes;
	/* ClientNIC: the SYN as forwarded, for retransmission. ServerNIC: the
	 * SYN-ACK as translated, for a client SYN repeated after it. */
	struct cn_held *syn;
	/* What the box received of the flow from each side (enum cn_side),
	 * for the operator's flow list: the slot's last 24 bytes, which the
	 * 64-byte alignment left unused. Frames count modulo 2^32. */
	uint32_t frames[2];
	uint64_t bytes[2];
} __attribute__((aligned(64)));

struct cn_flow_table {
	struct cn_flow *slots;
	uint32_t *buckets;
	uint32_t *heap;       /* flow indexes ordered by deadline */
	uint32_t capacity;
	uint32_t mask;
	uint32_t count;
	uint32_t heap_len;
	uint32_t free_head;   /* chained through hnext */
	uint32_t head[CN_LIST_MAX];
	uint32_t tail[CN_LIST_MAX];
	uint32_t len[CN_LIST_MAX];
	uint8_t hash_key[16];
};

int cn_ft_init(struct cn_flow_table *ft, uint32_t capacity,
	       const uint8_t hash_key[16]);
void cn_ft_fini(struct cn_flow_table *ft);

/* The keyed hash of a flow key, computed once per frame and handed to
 * lookup and alloc. */
uint32_t cn_ft_hash(const struct cn_flow_table *ft,
		    const struct cn_flow_key *key);
struct cn_flow *cn_ft_lookup(const struct cn_flow_table *ft,
			     const struct cn_flow_key *key, uint32_t hash);
/* A zeroed slot keyed and hashed in, on no list; NULL when full. */
struct cn_flow *cn_ft_alloc(struct cn_flow_table *ft,
			    const struct cn_flow_key *key, uint32_t hash);
/* Unhash, unlist and release the slot (held frames are the caller's). */
void cn_ft_release(struct cn_flow_table *ft, struct cn_flow *f);

/* Append to the tail of list l (leaving the current one) at time now. */
void cn_ft_list_move(struct cn_flow_table *ft, struct cn_flow *f,
		     enum cn_list l, uint64_t now);
struct cn_flow *cn_ft_list_head(const struct cn_flow_table *ft,
				enum cn_list l);

void cn_ft_timer_set(struct cn_flow_table *ft, struct cn_flow *f,
		     uint64_t deadline);
void cn_ft_timer_clear(struct cn_flow_table *ft, struct cn_flow *f);
/* The flow with the earliest SYN timer, NULL when none is set. */
struct cn_flow *cn_ft_timer_first(const struct cn_flow_table *ft);

static inline uint32_t cn_ft_index(const struct cn_flow_table *ft,
				   const struct cn_flow *f)
{
	return (uint32_t)(f - ft->slots);
}

#endif
