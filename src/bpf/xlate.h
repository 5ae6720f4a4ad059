/* SPDX-License-Identifier: MIT */
/*
 * cn_rewrite_c2s() and cn_rewrite_s2c() (src/engine/rewriter.c) for the tc
 * programs, and the engine's track() on the record.
 *
 * Checksum: every replaced 32-bit value and every option turned into NOPs
 * adds ~old + new to a one's-complement sum kept apart for fields at even
 * and at odd offsets of the TCP header. A byte pair at an odd offset
 * straddles two checksum words, and its contribution is the byte-swapped
 * one of the same pair at an even offset (RFC 1071, 2.(B)), so the odd sum
 * is swapped and folded into the even one. The total goes to
 * bpf_l4_csum_replace() as a difference (from 0, flags 0): the kernel
 * patches the field unless the checksum is CHECKSUM_PARTIAL, which leaves
 * it to the device, as the engine does. No pseudo-header field changes, so
 * a CHECKSUM_COMPLETE skb->csum stays right (the patch and the change it
 * makes up for cancel out).
 */
#ifndef CN_BPF_XLATE_H
#define CN_BPF_XLATE_H

#include "bpf/classify.h"

static __always_inline __u32 cs_fold(__u32 v)
{
	v = (v & 0xffff) + (v >> 16);
	return (v & 0xffff) + (v >> 16);
}

static __always_inline __u32 swap16(__u32 v)
{
	return (v & 0xff) << 8 | (v >> 8 & 0xff);
}

static __always_inline __u32 cs_words(__u32 v)
{
	return (v >> 16) + (v & 0xffff);
}

/* Without a branch: one on the parity of an option's offset would double
 * the verifier's states for every field added after it. */
static __always_inline void cs_add(struct cn_csum *c, __u32 odd, __u32 sum)
{
	__u32 m = -(odd & 1);

	c->odd += sum & m;
	c->even += sum & ~m;
	c->touched = true;
}

static __always_inline void cs_replace32(struct cn_csum *c, __u32 odd,
					 __u32 old, __u32 new)
{
	cs_add(c, odd, cs_words(~old) + cs_words(new));
}

/* Store a 32-bit value at TCP header offset off, with its checksum part. */
static __always_inline void put32(struct __sk_buff *skb, struct cn_seg *s,
				  struct cn_csum *c, __u32 off, __u32 old,
				  __u32 new)
{
	s->word = bpf_htonl(new);
	c->err |= bpf_skb_store_bytes(skb, s->l4 + off, &s->word, 4, 0) != 0;
	cs_replace32(c, off & 1, old, new);
}

static __always_inline __u32 load32(struct __sk_buff *skb,
				    struct cn_seg *s, struct cn_csum *c,
				    __u32 off)
{
	s->word = 0;
	c->err |= bpf_skb_load_bytes(skb, s->l4 + off, &s->word, 4) != 0;
	return bpf_ntohl(s->word);
}

/* The TS option's values: the parser read them with the common option
 * layout. */
static __always_inline __u32 ts_val(struct __sk_buff *skb,
				    struct cn_seg *s, struct cn_csum *c)
{
	return s->ts_read ? s->tsval : load32(skb, s, c, s->ts_off + 2);
}

static __always_inline __u32 ts_ecr(struct __sk_buff *skb,
				    struct cn_seg *s, struct cn_csum *c)
{
	return s->ts_read ? s->tsecr : load32(skb, s, c, s->ts_off + 6);
}

/* n (even) option bytes at off become NOPs: the old bytes' words leave
 * the sum (old: their sum as if at an even offset), n / 2 0x0101 enter. */
static __always_inline void nop_out(struct __sk_buff *skb,
				    const struct cn_seg *s, struct cn_csum *c,
				    __u32 off, __u32 n, __u32 old)
{
	__u64 nops = 0x0101010101010101ull;
	__u32 i;

	for (i = 0; i < CN_OPT_MAX; i += 8) {
		if (i + 8 > n)
			break;
		c->err |= bpf_skb_store_bytes(skb, s->l4 + off + i, &nops, 8, 0) != 0;
	}
	if (i + 2 <= n)
		c->err |= bpf_skb_store_bytes(skb, s->l4 + off + i, &nops, 2, 0) != 0;
	cs_add(c, off & 1, cs_fold(~cs_fold(old) & 0xffff) + n / 2 * 0x0101);
}

static __always_inline __u16 rescale_window(__u16 win, __u8 in, __u8 out)
{
	__u32 w = ((__u32)win << (in & 15)) >> (out & 15);

	return w > 0xffff ? 0xffff : (__u16)w;
}

static __always_inline void rewrite_window(struct __sk_buff *skb,
					   struct cn_seg *s,
					   struct cn_csum *c, __u8 in, __u8 out)
{
	__u16 w;

	/* RFC 7323 2.2: the window of a SYN is never scaled. */
	if (in == out || (s->flags & TCP_SYN))
		return;
	w = rescale_window(s->win, in, out);
	s->half = bpf_htons(w);
	c->err |= bpf_skb_store_bytes(skb, s->l4 + 14, &s->half, 2, 0) != 0;
	cs_add(c, 0, (~(__u32)s->win & 0xffff) + w);
}

/* The TS option at off: its kind, length, TSval and TSecr as a sum. */
static __always_inline __u32 ts_sum(__u32 tsval, __u32 tsecr)
{
	return (TCPOPT_TS << 8 | 10) + cs_words(tsval) + cs_words(tsecr);
}

/* The SACK blocks' walk, between the steps bpf_loop() runs. */
struct cn_sack_walk {
	struct __sk_buff *skb;
	struct cn_seg *s;
	struct cn_csum *c;
	__u64 delta;
	__u64 put;
	__u64 sum;
};

/* Block i: its edges shifted back by delta (put), or their sum taken
 * (the option is about to become NOPs). As a bpf_loop() step the
 * verifier checks it once rather than four times in a row, each with
 * every path a mispredicted branch could take. */
static long cn_sack_step(__u32 i, void *ctx)
{
	struct cn_sack_walk *w = ctx;
	__u32 e = w->s->sack_off + 2 + 8 * (i & 3), a, b;

	a = load32(w->skb, w->s, w->c, e);
	b = load32(w->skb, w->s, w->c, e + 4);
	if (w->put) {
		put32(w->skb, w->s, w->c, e, a, a - (__u32)w->delta);
		put32(w->skb, w->s, w->c, e + 4, b, b - (__u32)w->delta);
	} else {
		w->sum += cs_words(a) + cs_words(b);
	}
	return 0;
}

static __always_inline __u32 sack_blocks(struct __sk_buff *skb, struct cn_seg *s,
					 struct cn_csum *c, __u32 delta, bool put)
{
	struct cn_sack_walk w = { .skb = skb, .s = s, .c = c, .delta = delta,
				  .put = put };

	bpf_loop(s->sack_n & 7, cn_sack_step, &w, 0);
	return (__u32)w.sum;
}

static __always_inline void rewrite_c2s(struct __sk_buff *skb,
					struct cn_seg *s,
					const struct cn_fast_xlate *x,
					struct cn_csum *c)
{
	__u16 fl = x->flags;

	if (s->flags & TCP_ACK)
		put32(skb, s, c, 8, s->ack, s->ack - x->delta);
	rewrite_window(skb, s, c, x->c2s_shift_in, x->c2s_shift_out);
	if (s->ts_off) {
		__u32 o = s->ts_off;

		if (fl & CN_FF_STRIP_TS_C2S) {
			nop_out(skb, s, c, o, 10, ts_sum(ts_val(skb, s, c), ts_ecr(skb, s, c)));
		} else if ((fl & CN_FF_TRANSLATE_TS) && (s->flags & TCP_ACK)) {
			__u32 tsecr = ts_ecr(skb, s, c);

			put32(skb, s, c, o + 6, tsecr, tsecr - x->ts_delta);
		}
	}
	if (s->sack_n) {
		__u32 o = s->sack_off, n = s->sack_n;
		__u32 sum = sack_blocks(skb, s, c, fl & CN_FF_STRIP_SACK_C2S ? 0 : x->delta,
					!(fl & CN_FF_STRIP_SACK_C2S));

		if (fl & CN_FF_STRIP_SACK_C2S)
			nop_out(skb, s, c, o, 2 + 8 * n,
				sum + (TCPOPT_SACK << 8 | (2 + 8 * n)));
	}
}

static __always_inline void rewrite_s2c(struct __sk_buff *skb,
					struct cn_seg *s,
					const struct cn_fast_xlate *x,
					struct cn_csum *c)
{
	__u16 fl = x->flags;

	put32(skb, s, c, 4, s->seq, s->seq + x->delta);
	rewrite_window(skb, s, c, x->s2c_shift_in, x->s2c_shift_out);
	if (s->ts_off && (fl & CN_FF_TRANSLATE_TS)) {
		__u32 tsval = ts_val(skb, s, c);

		put32(skb, s, c, s->ts_off + 2, tsval, tsval + x->ts_delta);
	}
	if (s->sack_n && (fl & CN_FF_STRIP_SACK_S2C)) {
		__u32 o = s->sack_off, n = s->sack_n;
		__u32 sum = sack_blocks(skb, s, c, 0, false);

		nop_out(skb, s, c, o, 2 + 8 * n,
			sum + (TCPOPT_SACK << 8 | (2 + 8 * n)));
	}
}

/* Rewrite the segment in place; false when the checksum could not be
 * patched (the frame must not go on). */
static __always_inline bool cn_translate(struct __sk_buff *skb, int side,
					 struct cn_seg *s,
					 const struct cn_fast_flow *r)
{
	const struct cn_fast_xlate *x = &r->x;
	struct cn_csum *c = &s->csum;
	__u32 diff;

	if (side == CN_CLIENT)
		rewrite_c2s(skb, s, x, c);
	else
		rewrite_s2c(skb, s, x, c);
	if (c->err)
		return false;
	if (!c->touched)
		return true;
	diff = cs_fold(cs_fold(c->even) + swap16(cs_fold(c->odd)));
	/* The sum is of big-endian words; the kernel's are in memory order. */
	diff = bpf_htons((__u16)diff);
	return !bpf_l4_csum_replace(skb, s->l4 + 16, 0, diff, 0);
}

/* sm_both_fins_acked() on the record. */
static __always_inline bool both_fins_acked(const struct cn_fast_flow *r)
{
	const struct cn_fast_end *c = &r->dir[CN_CLIENT], *sv = &r->dir[CN_SERVER];

	return c->fin && sv->fin && sv->ack_seen && c->ack_seen &&
	       seq_lt(c->fin_seq, sv->ack) && seq_lt(sv->fin_seq, c->ack);
}

/* The segment completed the close of a flow the daemon lets the kernel
 * close: the record goes to the flow's worker on its event ring, which
 * wakes it only when half full (it reads its ring every turn of its loop,
 * and at least every 50 ms). */
static __always_inline void tell_close(struct cn_seg *s,
				       struct cn_fast_flow *r)
{
	struct cn_fast_close *ev;
	__u64 flags = BPF_RB_NO_WAKEUP;
	void *ring;

	if (r->close_told)
		return;
	s->word = cn_workers > 1 ? cn_fast_key_hash(&s->key) % cn_workers : 0;
	if (!(ring = bpf_map_lookup_elem(&cn_events, &s->word))) {
		__sync_fetch_and_add(&cn_events_lost, 1);
		return;
	}
	if (bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA) >= CN_EVENTS_BYTES / 2)
		flags = BPF_RB_FORCE_WAKEUP;
	/* Full: a retransmission of the segment may find room. */
	ev = bpf_ringbuf_reserve(ring, sizeof(*ev), 0);
	if (!ev) {
		__sync_fetch_and_add(&cn_events_lost, 1);
		return;
	}
	r->close_told = 1;
	__builtin_memcpy(&ev->key, &s->key, sizeof(ev->key));
	__builtin_memcpy(&ev->rec, r, sizeof(ev->rec));
	bpf_ringbuf_submit(ev, flags);
}

/* The engine's track(), in the server side's space, on the sender's end
 * of the record. Like the engine, an RST moves none of the marks. */
static __always_inline void cn_track(struct __sk_buff *skb, int side,
				     struct cn_seg *s, struct cn_fast_flow *r)
{
	struct cn_fast_end *d = &r->dir[side];
	__u16 fl = r->x.flags;
	bool pt = fl & CN_FF_PASSTHROUGH;
	__u32 ack = side == CN_CLIENT && !pt ? s->ack - r->x.delta : s->ack;
	__u8 s_in = CN_READ(r->x.s2c_shift_in), s_out = CN_READ(r->x.s2c_shift_out);
	__u8 shift = side == CN_CLIENT ? r->x.c2s_shift_in : pt ? s_out : s_in;
	__u32 end = s->seq + s->seg_len, win;

	if (!(s->flags & TCP_RST)) {
		if (seq_lt(d->end, end))
			d->end = end;
		if (s->flags & TCP_ACK) {
			if (!d->ack_seen || seq_lt(d->ack, ack))
				d->ack = ack;
			d->ack_seen = 1;
		}
		win = (__u32)s->win << (shift & 15);
		if (win > d->max_win)
			d->max_win = win;
		if ((s->flags & TCP_FIN) && !d->fin) {
			d->fin = 1;
			d->fin_seq = s->seq + s->payload;
		}
	}
	__sync_fetch_and_add(&d->frames, 1);
	__sync_fetch_and_add(&d->bytes, skb->len);
	d->seen_ms = (__u32)(s->now / 1000000);
	r->last_seen_ns = s->now;
	if ((fl & CN_FF_KCLOSE) && !(s->flags & TCP_RST) && both_fins_acked(r))
		tell_close(s, r);
}

#endif
