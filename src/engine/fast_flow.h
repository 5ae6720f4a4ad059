/* SPDX-License-Identifier: MIT */
/*
 * The kernel fast path's view of a flow, shared by the engine and the BPF
 * programs (src/bpf/), so fixed-size kernel types only and no padding the
 * two compilers could lay out differently.
 *
 * The daemon writes a record when a flow is established and whenever how
 * it is translated changes; the tc programs translate and forward the
 * flow's plain segments with it, and write back what they saw (the time,
 * how far each end got), which the engine folds in before it acts on one
 * of the flow's frames itself or expires it. A successor daemon rebuilds
 * the flow from the record alone.
 */
#ifndef CN_FAST_FLOW_H
#define CN_FAST_FLOW_H

#include <linux/types.h>

/* Bumped whenever a record, the state or the stats change layout: a
 * daemon leaves programs and maps of another ABI alone. */
#define CN_FAST_ABI 1

/* One key for both directions. Ports in host order; an IPv4 address uses
 * the first four bytes of its array, the rest stay zero. */
struct cn_flow_key {
	__u8 family; /* 4 or 6 */
	__u8 pad[3];
	__u16 cport;
	__u16 sport;
	__u8 caddr[16];
	__u8 saddr[16];
};

enum cn_fast_flag {
	/* While the daemon is alive every frame of the flow goes to it (held
	 * data, both FINs seen, closed). */
	CN_FF_SLOW = 1u << 0,
	/* Nothing to rewrite: a ServerNIC translates (ClientNIC). */
	CN_FF_PASSTHROUGH = 1u << 1,
	CN_FF_TRANSLATE_TS = 1u << 2,
	CN_FF_STRIP_TS_C2S = 1u << 3,
	CN_FF_STRIP_SACK_C2S = 1u << 4,
	CN_FF_STRIP_SACK_S2C = 1u << 5,
	/* Passthrough with the peer's receipt: a server segment that fits
	 * only the untranslated space, or a client retransmission, means the
	 * peer may be gone; the daemon looks at those (a retransmission only
	 * once the server has been quiet for CN_FAST_RESEND_QUIET_MS: one
	 * flow's segments cross the kernel on two CPUs at once, and one that
	 * is behind another is no retransmission). */
	CN_FF_RELAYED = 1u << 6,
	/* ServerNIC: a client segment whose ACK is not in the client's space
	 * may be a ClientNIC's probe; the daemon looks at those. */
	CN_FF_PROBES = 1u << 7,
	CN_FF_CLOSED = 1u << 8,   /* RST or both FINs: for the grace period */
	/* One end's FIN has crossed the daemon (the record says which, for
	 * a successor). A FIN or RST goes to a live daemon anyway; the rest
	 * of a half-closed flow (the other end's data, the ACKs) stays in
	 * the kernel until the second FIN makes the flow slow. */
	CN_FF_FIN = 1u << 9,
	/* The daemon reads the programs' close events: FINs cross the
	 * kernel too, and the segment that completes the close (both FINs
	 * sent and acknowledged) puts a struct cn_fast_close on the event
	 * ring instead of going to the daemon. */
	CN_FF_KCLOSE = 1u << 10,
};
#define CN_FF_ALL (CN_FF_KCLOSE * 2 - 1)

/* Linux's shortest retransmission timeout: a client that resends because
 * its peer vanished has heard nothing from the server for this long. */
#define CN_FAST_RESEND_QUIET_MS 200u

/* How far one end got, in the server side's sequence space (as the
 * engine's struct cn_peer), and what it sent through the kernel. */
struct cn_fast_end {
	__u32 end;       /* highest seq + length sent */
	__u32 ack;       /* highest ACK sent */
	__u32 max_win;   /* largest window advertised, scaled */
	__u32 fin_seq;
	__u8 ack_seen;
	__u8 fin;
	__u8 pad[2];
	__u32 seen_ms;   /* CLOCK_MONOTONIC ms of its last segment there */
	__u64 frames;    /* through the kernel path */
	__u64 bytes;
};

/* How the daemon wants a flow translated. Set when the flow is
 * established; only the flags change after that. */
struct cn_fast_xlate {
	__u32 delta;     /* spoofed ISN - real ISN */
	__u32 ts_delta;  /* spoofed TSval - server's TSval */
	__u16 flags;     /* enum cn_fast_flag */
	__u16 cut_mss;   /* longer client segments go to the daemon */
	__u8 c2s_shift_in, c2s_shift_out;
	__u8 s2c_shift_in, s2c_shift_out;
};

/* TCP options as one side announced them in its SYN or SYN-ACK. */
struct cn_fast_opts {
	__u16 mss;       /* 0: absent */
	__s8 wscale;     /* -1: absent */
	__u8 flags;      /* SACK permitted 1, timestamps 2 */
};

struct cn_fast_flow {
	/* ---- the daemon's ---- */
	struct cn_fast_xlate x;
	/* for a successor to rebuild the flow (and answer a repeated SYN) */
	__u32 client_isn;
	__u32 spoof_isn;
	__u32 real_isn;
	__u32 spoof_tsval;
	__u32 client_tsval;
	struct cn_fast_opts client, spoofed, real;
	__u8 peer_state; /* enum cn_flow_peer */
	/* The programs': the close event went out (CN_FF_KCLOSE). A new
	 * record clears it; a second event for one close is harmless. */
	__u8 close_told;
	__u8 pad[6];
	__u64 born_ns;   /* the first SYN, CLOCK_MONOTONIC */
	/* ---- the programs' ---- */
	__u64 last_seen_ns; /* CLOCK_MONOTONIC (bpf_ktime_get_ns) */
	struct cn_fast_end dir[2]; /* by enum cn_side of the sender */
};

/* What the programs tell the daemon when a CN_FF_KCLOSE flow's close
 * completes in the kernel: the record as that segment left it. */
struct cn_fast_close {
	struct cn_flow_key key;
	struct cn_fast_flow rec;
};

/* Each worker's event ring: some 1300 events, read every turn of its
 * loop. */
#define CN_EVENTS_BYTES (256 * 1024)
#define CN_MAX_WORKERS 64

/*
 * Which of the daemon's workers a flow belongs to: cn_fast_key_hash(key) %
 * workers, in the packet fanout program and in the daemon that adopts a
 * predecessor's flows alike. FNV-1a over the key's words: the key is
 * canonical (client, server), so both directions land on one worker.
 */
static inline __u32 cn_fast_key_hash(const struct cn_flow_key *k)
{
	const __u8 *b = (const __u8 *)k;
	__u32 h = 2166136261u;

	for (unsigned i = 0; i < sizeof(*k); i += 4) {
		__u32 w;

		__builtin_memcpy(&w, b + i, 4);
		h = (h ^ w) * 16777619u;
	}
	return h ^ h >> 16;
}

/* The one entry of the state map. */
struct cn_fast_state {
	__u32 abi;          /* CN_FAST_ABI */
	__u32 ifindex[2];   /* by enum cn_side: where frames from it go */
	__u32 role;         /* enum cn_role */
	/* The daemon refreshes beat_ns; while now - beat_ns < timeout_ns its
	 * slow path is alive. 0: the daemon stopped (fail open at once). */
	__u64 beat_ns;
	__u64 timeout_ns;
};

/* Per CPU, indexed by enum cn_side of the port the frame came in on. */
struct cn_fast_side_stats {
	__u64 translated;     /* a flow's frame rewritten and forwarded */
	__u64 translated_bytes;
	__u64 passed;         /* forwarded unchanged: not TCP, a flow the box
			       * does not track, or a flow a peer translates */
	__u64 passed_bytes;
	__u64 to_daemon;      /* left to the slow path */
	__u64 failed_open;    /* slow-path frames passed as they were while
			       * the daemon was away */
	__u64 redirect_errors;
	__u64 dropped;        /* a tracked flow's segment with a broken
			       * option list, as the engine drops it */
};

struct cn_fast_stats {
	struct cn_fast_side_stats side[2];
};

#endif
