/* SPDX-License-Identifier: MIT */
/*
 * What the kernel path's tc program does with a frame: translate it,
 * pass it, drop it, or leave it to the daemon. It reads the frame at
 * offsets from skb->data, the Ethernet header (tc ingress pushes it
 * back): the headers straight from the frame where they are linear,
 * everything else (option walks, SACK blocks) through
 * bpf_skb_load_bytes().
 *
 * The parser mirrors the engine's cn_parse() (src/engine/packet.c) for
 * the frames the kernel may touch; everything else goes to the daemon
 * while it is alive and passes unchanged while it is not.
 */
#ifndef CN_BPF_CLASSIFY_H
#define CN_BPF_CLASSIFY_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <stdbool.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "bpf/maps.h"

#define CN_CLIENT 0
#define CN_SERVER 1

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

#define TCPOPT_EOL 0
#define TCPOPT_NOP 1
#define TCPOPT_MSS 2
#define TCPOPT_WSCALE 3
#define TCPOPT_SACK_PERM 4
#define TCPOPT_SACK 5
#define TCPOPT_TS 8

#define CN_ETH_HLEN 14u
#define CN_IP6_HLEN 40u
#define CN_TCP_HLEN 20u
#define CN_OPT_MAX 40u

enum cn_bpf_verdict {
	CN_V_LOCAL,    /* no state yet: to the stack as without the programs */
	CN_V_PASS,     /* forward unchanged: not ours to rewrite */
	CN_V_FAILOPEN, /* forward unchanged, though the daemon would want it */
	CN_V_TRACK,    /* a flow a peer translates: track, forward unchanged */
	CN_V_XLATE,    /* translate, track, forward */
	CN_V_DAEMON,   /* the slow path's (its socket has a copy) */
	CN_V_DROP,     /* the engine would drop it too */
};

/* The checksum's change as the rewrite goes (xlate.h). */
struct cn_csum {
	__u32 even;
	__u32 odd;
	bool touched;
	bool err;      /* a load or a store failed */
};

/* A TCP segment as far as the decision needed it. Option offsets are
 * from the start of the TCP header (0: none). */
struct cn_seg {
	__u32 l4;          /* frame offset of the TCP header */
	__u32 hlen;
	__u32 payload;
	__u32 seq;
	__u32 ack;
	__u32 seg_len;     /* payload + SYN + FIN */
	__u32 out;         /* ifindex frames go out of */
	__u16 win;
	__u8 flags;
	__u8 bad;          /* the option list is broken */
	__u8 ts_off;
	__u8 sack_off;
	__u8 sack_n;
	__u8 tagged;       /* VLAN-tagged: parsed no further */
	__u32 tsval;       /* the TS option's values, when ts_read */
	__u32 tsecr;
	__u8 ts_read;
	__u8 alive;        /* the daemon's heartbeat is fresh */
	__u64 now;
	struct cn_flow_key key;
	struct cn_csum csum;
	/* Room for what is read from the frame or handed to a helper, each
	 * written before it is read: not zeroed per frame. */
	__u8 ip[CN_IP6_HLEN];
	__u8 th[CN_TCP_HLEN + 12];
	__u32 word;
	__u16 half;
};

/*
 * The segment lives in a per-CPU map, not on the stack: without
 * CAP_PERFMON the verifier of some kernels (Debian 12's 6.1) refuses a
 * store narrower than 8 bytes into a stack slot that held a spilled
 * register, which the compiler's packing of small fields and its reuse of
 * slots make at places no source line shows. A program runs to its end on
 * its CPU before another starts there (redirects happen after it
 * returns); each program type has its own entry all the same.
 */
#define CN_SCRATCH_TC 0
#define CN_SCRATCH_FANOUT 1

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct cn_seg);
} cn_scratch SEC(".maps");

/* Map keys, read-only data: a key on the stack would be another narrow
 * store there. */
static const __u32 cn_key[2] = { 0, 1 };

/* The entry, its fields zeroed (not the buffers after them); NULL never
 * happens (a per-CPU array's entries always exist), but the verifier
 * wants the check. */
static __always_inline struct cn_seg *cn_seg_get(int which)
{
	struct cn_seg *s = bpf_map_lookup_elem(&cn_scratch, &cn_key[which]);

	if (s)
		__builtin_memset(s, 0, __builtin_offsetof(struct cn_seg, ip));
	return s;
}

/* Both values loaded before one is chosen: without CAP_PERFMON the
 * verifier refuses a pointer whose offset depends on the path taken,
 * which is what clang makes of "cond ? r->a : r->b". */
#define CN_READ(x) (*(volatile __typeof__(x) *)&(x))

static __always_inline bool seq_lt(__u32 a, __u32 b)
{
	return (__s32)(a - b) < 0;
}

static __always_inline bool seq_leq(__u32 a, __u32 b)
{
	return (__s32)(a - b) <= 0;
}

static __always_inline __u32 max32(__u32 a, __u32 b)
{
	return a > b ? a : b;
}

/* What cn_walk_options() returns, packed in one scalar: a BPF-to-BPF
 * call's result is all the caller's verifier knows of it. */
#define CN_OPT_TS(v) ((v) & 0x3fu)
#define CN_OPT_SACK(v) ((v) >> 8 & 0x3fu)
#define CN_OPT_SACK_N(v) ((v) >> 16 & 0x7u)
#define CN_OPT_BAD(v) ((v) >> 24 & 0x1u)

/* The length an option of kind 0..8 must have, a nibble each (0: any,
 * or checked apart as SACK's is). */
#define CN_OPT_LENS (0xaull << (4 * TCPOPT_TS) | 2ull << (4 * TCPOPT_SACK_PERM) | \
		     3ull << (4 * TCPOPT_WSCALE) | 4ull << (4 * TCPOPT_MSS))

/* One step of the walk consumes at least 1 byte, and one that consumes 1
 * (a NOP not followed by another, which it would take too) is followed by
 * one that ends the walk or consumes at least 2: 27 steps cover 40 bytes,
 * after which a 28th would find nothing left. */
#define CN_OPT_STEPS 27

/* The walk's state, between the steps bpf_loop() runs (64-bit fields:
 * the steps write them through a pointer into the caller's stack). */
struct cn_walk {
	struct __sk_buff *skb;
	__u64 l4;
	__u64 off;
	__u64 end;
	__u64 ts;
	__u64 sack;
	__u64 n;
	__u64 bad;
};

/*
 * One step of parse_tcp_options() of the engine: EOL ends the list, every
 * other length is checked against the end of the header, a malformed list
 * is bad, the last TS and SACK options are the ones that count. One load
 * per option keeps every stack access at a fixed offset. Every load is
 * within the header, which is within the frame (cn_parse_tcp() checked),
 * so none fails; a failure would make the list bad. Returns 1 to stop.
 */
static long cn_walk_step(__u32 i, void *ctx)
{
	struct cn_walk *w = ctx;
	__u64 off = w->off & 0x3f, kind, olen, want;
	__s64 rem = (__s64)w->end - (__s64)off;
	__u8 b[8] = {};

	(void)i;
	if (rem <= 0)
		return 1;
	/* Two bytes at a time, the last byte's with the one before it: a
	 * length the verifier must know exactly would make it tell every
	 * step's offset apart. */
	if (bpf_skb_load_bytes(w->skb, (__u32)(w->l4 + off - (rem == 1)), b, 2))
		goto bad;
	kind = rem == 1 ? b[1] : b[0];
	olen = rem == 1 ? 0 : b[1];
	if (kind == TCPOPT_EOL)
		return 1;
	if (kind == TCPOPT_NOP) {
		/* Two in a row are common: one step takes both. */
		w->off = (off + (rem > 1 && olen == TCPOPT_NOP ? 2 : 1)) & 0x3f;
		return 0;
	}
	if (rem == 1 || olen < 2 || (__s64)olen > rem)
		goto bad;
	want = kind <= TCPOPT_TS ? (CN_OPT_LENS >> (4 * kind)) & 0xf : 0;
	if (want && olen != want)
		goto bad;
	if (kind == TCPOPT_SACK && ((olen - 2) % 8 || olen == 2))
		goto bad;
	/* Every field stored on every path: a store to one or the other
	 * would be one through a pointer chosen by the branch. */
	w->sack = (kind == TCPOPT_SACK ? off : w->sack) & 0x3f;
	w->n = (kind == TCPOPT_SACK ? (olen - 2) / 8 : w->n) & 7;
	w->ts = (kind == TCPOPT_TS ? off : w->ts) & 0x3f;
	w->off = (off + olen) & 0x3f; /* within the header: no change */
	return 0;
bad:
	w->bad = 1;
	return 1;
}

/*
 * The option list of the TCP header at l4 (hlen bytes long), as offsets
 * from the TCP header (0: none) packed as CN_OPT_*() unpack them. The
 * steps run under bpf_loop(): 6.1's verifier checks one step, where 27 in
 * a row, each with the paths of its mispredicted branches (which it
 * follows without CAP_PERFMON), were more jumps than it follows. Later
 * verifiers run the steps until a step starts in a state seen before; the
 * walk's fields therefore start as values it cannot know, a zero read
 * back from the map, in the ranges the steps keep them in, which every
 * later step's state is within.
 */
static __always_inline __u32 cn_walk_options(struct __sk_buff *skb,
					     struct cn_seg *s, __u32 l4,
					     __u32 hlen)
{
	struct cn_walk w = { .skb = skb, .l4 = l4, .end = hlen & 0x3c };
	__u64 z;

	s->word = 0;
	z = CN_READ(s->word);
	w.off = (z + CN_TCP_HLEN) & 0x3f;
	w.ts = z & 0x3f;
	w.sack = z & 0x3f;
	w.n = z & 7;
	w.bad = z & 1;
	bpf_loop(CN_OPT_STEPS, cn_walk_step, &w, 0);
	return (__u32)((w.ts & 0x3f) | (w.sack & 0x3f) << 8 | (w.n & 7) << 16 |
		       (w.bad & 1) << 24);
}

/*
 * len bytes at frame offset off into to: straight from the skb's linear
 * part when they are there (the headers of a frame a stack or a driver
 * built are), else through the helper. Every caller's off and len are
 * constants once inlined (each network header's branch has its own copy
 * of cn_parse_tcp()), so the packet pointer moves by immediates only,
 * which needs no CAP_PERFMON.
 */
static __always_inline int cn_load(struct __sk_buff *skb, __u32 off, void *to,
				   __u32 len)
{
	const __u8 *data = (const __u8 *)(long)skb->data;
	const __u8 *end = (const __u8 *)(long)skb->data_end;

	if (data + off + len <= end) {
		__builtin_memcpy(to, data + off, len);
		return 0;
	}
	return (int)bpf_skb_load_bytes(skb, off, to, len);
}

/* The frame's EtherType (host order), or -1 when it has none. */
static __always_inline int cn_ethertype(struct __sk_buff *skb,
					struct cn_seg *s)
{
	if (cn_load(skb, 12, &s->half, 2))
		return -1;
	return bpf_ntohs(s->half);
}

static __always_inline bool cn_vlan_type(int proto)
{
	return proto == ETH_P_8021Q || proto == ETH_P_8021AD;
}

static __always_inline __u32 be32(const __u8 *b)
{
	return (__u32)b[0] << 24 | (__u32)b[1] << 16 | (__u32)b[2] << 8 | b[3];
}

/* The options of a Linux segment of a flow with timestamps when it
 * carries no SACK blocks: NOP, NOP, TS. The walk would find the same. */
#define CN_OPT_NNTS 0x0101080au

/* The TCP header's fixed part at l4 (a constant: the caller's branch
 * fixed the network header's length) and the key's ports (from side)
 * into s, and the option walk's results where the tc program reads them.
 * False: the header is not all within the IP packet that ends at ip_end,
 * or cannot be read. */
static __always_inline bool cn_parse_tcp(struct __sk_buff *skb, int side,
					 __u32 l4, __u32 ip_end, struct cn_seg *s)
{
	__u8 *th = s->th;
	__u32 o;

	if (l4 + CN_TCP_HLEN > ip_end || cn_load(skb, l4, th, CN_TCP_HLEN))
		return false;
	s->l4 = l4;
	s->hlen = (__u32)(th[12] >> 4) * 4;
	if (s->hlen < CN_TCP_HLEN || l4 + s->hlen > ip_end)
		return false;
	s->payload = ip_end - l4 - s->hlen;
	s->flags = th[13];
	s->seq = be32(th + 4);
	s->ack = be32(th + 8);
	s->win = (__u16)(th[14] << 8 | th[15]);
	s->seg_len = s->payload + !!(s->flags & TCP_SYN) + !!(s->flags & TCP_FIN);
	s->key.cport = (__u16)(side == CN_CLIENT ? th[0] << 8 | th[1] : th[2] << 8 | th[3]);
	s->key.sport = (__u16)(side == CN_CLIENT ? th[2] << 8 | th[3] : th[0] << 8 | th[1]);
	if (s->hlen == CN_TCP_HLEN + 12 &&
	    !cn_load(skb, l4 + CN_TCP_HLEN, th + CN_TCP_HLEN, 12) &&
	    be32(th + 20) == CN_OPT_NNTS) {
		s->ts_off = CN_TCP_HLEN + 2;
		s->sack_off = 0;
		s->sack_n = 0;
		s->bad = 0;
		s->ts_read = 1;
		s->tsval = be32(th + 24);
		s->tsecr = be32(th + 28);
		return true;
	}
	o = cn_walk_options(skb, s, l4, s->hlen);
	s->ts_off = CN_OPT_TS(o);
	s->sack_off = CN_OPT_SACK(o);
	s->sack_n = CN_OPT_SACK_N(o);
	s->bad = CN_OPT_BAD(o);
	return true;
}

/* From the Ethernet header to the TCP header's fixed part, its options
 * and the key. Returns CN_V_XLATE to go on, or the verdict for what is not
 * a segment the kernel path may touch. */
static __always_inline int cn_parse(struct __sk_buff *skb, int side, bool alive,
				    struct cn_seg *s)
{
	int slow = alive ? CN_V_DAEMON : CN_V_FAILOPEN;
	__u32 len = skb->len, l3 = CN_ETH_HLEN;
	int proto;

	proto = skb->vlan_present ? 0 : cn_ethertype(skb, s);
	s->tagged = skb->vlan_present || cn_vlan_type(proto);
	if (s->tagged || proto < 0)
		return slow;
	if (proto == ETH_P_IP) {
		__u8 *ip = s->ip;
		__u32 tot;

		if (cn_load(skb, l3, ip, 20) ||
		    (ip[0] >> 4) != 4 || (ip[0] & 0xf) < 5)
			return slow;
		tot = (__u32)ip[2] << 8 | ip[3];
		if (tot < (ip[0] & 0xfu) * 4 || l3 + tot > len)
			return slow;
		if (ip[9] != IPPROTO_TCP)
			return CN_V_PASS;
		/* The engine rewrites segments behind IPv4 options too; this
		 * path leaves those rare ones to it. */
		if ((ip[0] & 0xf) != 5)
			return slow;
		if (((__u32)ip[6] << 8 | ip[7]) & 0x3fff)
			return CN_V_PASS;
		s->key.family = 4;
		__builtin_memcpy(s->key.caddr, side == CN_CLIENT ? ip + 12 : ip + 16, 4);
		__builtin_memcpy(s->key.saddr, side == CN_CLIENT ? ip + 16 : ip + 12, 4);
		if (!cn_parse_tcp(skb, side, l3 + 20, l3 + tot, s))
			return slow;
	} else if (proto == ETH_P_IPV6) {
		__u8 *ip = s->ip;
		__u32 plen;

		if (l3 + CN_IP6_HLEN > len ||
		    cn_load(skb, l3, ip, CN_IP6_HLEN) || (ip[0] >> 4) != 6)
			return slow;
		plen = (__u32)ip[4] << 8 | ip[5];
		if (l3 + CN_IP6_HLEN + plen > len)
			return slow;
		/* Extension headers and other protocols pass unchanged, as
		 * through the engine. */
		if (ip[6] != IPPROTO_TCP)
			return CN_V_PASS;
		s->key.family = 6;
		__builtin_memcpy(s->key.caddr, side == CN_CLIENT ? ip + 8 : ip + 24, 16);
		__builtin_memcpy(s->key.saddr, side == CN_CLIENT ? ip + 24 : ip + 8, 16);
		if (!cn_parse_tcp(skb, side, l3 + CN_IP6_HLEN,
				  l3 + CN_IP6_HLEN + plen, s))
			return slow;
	} else {
		return CN_V_PASS;
	}
	return CN_V_XLATE;
}

/* peer.c's s2c_seq_plausible(): seq fits the client's view of the flow. */
static __always_inline bool s2c_seq_plausible(const struct cn_fast_flow *r,
					      __u32 seq)
{
	const struct cn_fast_end *c = &r->dir[CN_CLIENT], *sv = &r->dir[CN_SERVER];
	__u32 cack = CN_READ(c->ack), send = CN_READ(sv->end);
	__u32 lo = c->ack_seen ? cack : send;
	__u32 w = max32(c->max_win, 0xffff);

	return seq_leq(lo - w, seq) && seq_leq(seq, send + w);
}

/* peer.c's ack_plausible(): ack is in the server's space. */
static __always_inline bool ack_plausible(const struct cn_fast_flow *r, __u32 ack)
{
	const struct cn_fast_end *c = &r->dir[CN_CLIENT], *sv = &r->dir[CN_SERVER];
	__u32 cack = CN_READ(c->ack), send = CN_READ(sv->end);
	__u32 lo = c->ack_seen ? cack : send;

	return seq_leq(lo - max32(sv->max_win, 0xffff), ack) &&
	       seq_leq(ack, send);
}

/* Whether the daemon, were it alive, would want this frame of a tracked
 * flow: whatever the engine does other than translating it. */
static __always_inline bool cn_wants_daemon(struct __sk_buff *skb, int side,
					    const struct cn_seg *s,
					    const struct cn_fast_flow *r)
{
	__u16 fl = r->x.flags;
	__u8 ctl = fl & CN_FF_KCLOSE ? TCP_SYN | TCP_RST : TCP_SYN | TCP_FIN | TCP_RST;

	if ((fl & CN_FF_SLOW) || (s->flags & ctl))
		return true;
	if (fl & CN_FF_PASSTHROUGH) {
		if (!(fl & CN_FF_RELAYED))
			return false;
		if (side == CN_CLIENT) {
			const struct cn_fast_end *sv = &r->dir[CN_SERVER];

			/* peer_client_resends(), once the server has been
			 * quiet for a retransmission timeout */
			return s->seg_len &&
			       (__u32)(s->now / 1000000) - sv->seen_ms >=
				       CN_FAST_RESEND_QUIET_MS &&
			       seq_lt(s->seq, r->dir[CN_CLIENT].end) &&
			       !(sv->ack_seen &&
				 seq_leq(s->seq + s->seg_len, sv->ack));
		}
		return !s2c_seq_plausible(r, s->seq);
	}
	if (side != CN_CLIENT)
		return false;
	if ((fl & CN_FF_PROBES) && s->seg_len && (s->flags & TCP_ACK) &&
	    !ack_plausible(r, s->ack - r->x.delta))
		return true;
	if (r->x.cut_mss) {
		/* What cn_rewrite_cut() would cut. */
		__u32 opts = s->hlen - CN_TCP_HLEN, max;

		if (r->x.cut_mss > opts) {
			max = r->x.cut_mss - opts;
			if (skb->gso_size ? skb->gso_size > max : s->payload > max)
				return true;
		}
	}
	return false;
}

/*
 * The tc program's decision for a frame in on side, in three parts:
 * cn_classify_frame() up to the record's key (CN_V_XLATE: go on and look
 * the record up), then cn_classify_untracked() without a record or
 * cn_classify_flow() with one. A tracked flow's segment with a broken
 * option list is dropped whether the daemon lives or not, as the engine
 * drops it. The record is used only where its lookup found it:
 * without CAP_PERFMON some verifiers (6.1) follow a mispredicted branch
 * into code that uses it with the pointer NULL from a path without one.
 */
static __always_inline int cn_classify_frame(struct __sk_buff *skb, int side,
					     struct cn_seg *s)
{
	const struct cn_fast_state *st;

	s->now = bpf_ktime_get_ns();
	st = bpf_map_lookup_elem(&cn_state, &cn_key[0]);
	if (!st || !(s->out = st->ifindex[side ^ 1]))
		return CN_V_LOCAL;
	s->alive = st->beat_ns && s->now - st->beat_ns < st->timeout_ns;
	return cn_parse(skb, side, s->alive, s);
}

static __always_inline int cn_classify_untracked(int side, const struct cn_seg *s)
{
	/* A client segment may open a flow; the daemon tracks no server
	 * segment it has no flow for. */
	if ((s->flags & (TCP_SYN | TCP_FIN | TCP_RST)) || side == CN_CLIENT)
		return s->alive ? CN_V_DAEMON : CN_V_FAILOPEN;
	return CN_V_PASS;
}

static __always_inline int cn_classify_flow(struct __sk_buff *skb, int side,
					    const struct cn_seg *s,
					    const struct cn_fast_flow *r)
{
	bool daemon;

	if (s->bad)
		return CN_V_DROP;
	daemon = cn_wants_daemon(skb, side, s, r);
	if (s->alive && daemon)
		return CN_V_DAEMON;
	if (r->x.flags & CN_FF_PASSTHROUGH)
		return CN_V_TRACK;
	if (s->alive)
		return CN_V_XLATE;
	/* The daemon is away: established flows stay translated, FIN and
	 * RST included; a new connection on the 4-tuple is not this flow. */
	if ((s->flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)
		return CN_V_FAILOPEN;
	return CN_V_XLATE;
}

#endif
