// SPDX-License-Identifier: MIT
#include "rewriter.h"

#include <string.h>

#include "checksum.h"

/* A segment being rewritten: its TCP header and whether to patch. */
struct seg {
	uint8_t *th;
	uint8_t *check;
	bool patch;
};

static uint32_t sum_words(const uint8_t *p, size_t n)
{
	return cn_csum_add(0, p, n);
}

/* Replace n bytes at header offset off and patch the checksum over the
 * 16-bit words they touch (options need not be word aligned). */
static void put_bytes(struct seg *s, size_t off, const uint8_t *val, size_t n)
{
	size_t lo = off & ~(size_t)1, hi = (off + n + 1) & ~(size_t)1;
	uint32_t old = 0, sum;

	if (s->patch)
		old = sum_words(s->th + lo, hi - lo);
	memcpy(s->th + off, val, n);
	if (!s->patch)
		return;
	while (old >> 16)
		old = (old & 0xffff) + (old >> 16);
	sum = (uint16_t)~cn_get16(s->check);
	sum += (uint16_t)~old;
	sum = cn_csum_add(sum, s->th + lo, hi - lo);
	cn_put16(s->check, cn_csum_fold(sum));
}

static void put32(struct seg *s, size_t off, uint32_t v)
{
	uint8_t b[4];

	if ((off & 1) == 0) {
		uint32_t old = cn_get32(s->th + off);

		cn_put32(s->th + off, v);
		if (s->patch)
			cn_csum_replace32(s->check, old, v);
		return;
	}
	cn_put32(b, v);
	put_bytes(s, off, b, 4);
}

static void put16(struct seg *s, size_t off, uint16_t v)
{
	uint16_t old = cn_get16(s->th + off);

	cn_put16(s->th + off, v);
	if (s->patch)
		cn_csum_replace16(s->check, old, v);
}

static void nop_out(struct seg *s, size_t off, size_t n)
{
	uint8_t nops[40];

	memset(nops, CN_TCPOPT_NOP, n);
	put_bytes(s, off, nops, n);
}

uint16_t cn_rescale_window(uint16_t win, uint8_t in, uint8_t out)
{
	uint32_t w = ((uint32_t)win << in) >> out;

	return w > 0xffff ? 0xffff : (uint16_t)w;
}

bool cn_rewrite_offload_ok(const struct cn_frame *f, const struct cn_pkt *p)
{
	if (!(f->off.flags & CN_OFF_CSUM_PARTIAL))
		return true;
	return f->off.csum_start == p->l4_off && f->off.csum_offset == 16;
}

static void seg_init(struct seg *s, uint8_t *data, const struct cn_pkt *p,
		     bool patch)
{
	s->th = data + p->l4_off;
	s->check = s->th + 16;
	s->patch = patch;
}

/* Header-relative offset of a frame offset within the TCP header. */
static size_t hoff(const struct cn_pkt *p, uint16_t frame_off)
{
	return (size_t)frame_off - p->l4_off;
}

static void rewrite_window(struct seg *s, const struct cn_pkt *p,
			   uint8_t in, uint8_t out)
{
	/* RFC 7323 2.2: the window of a SYN is never scaled. */
	if (in == out || (p->flags & CN_TCP_SYN))
		return;
	put16(s, 14, cn_rescale_window(p->win, in, out));
}

/*
 * The spoofed SYN-ACK cannot promise ECN for a server it has not heard
 * from, so the SYN goes on without asking for it: both ends then agree
 * that ECN is off, instead of a server marking for a client that ignores
 * the marks. AE (AccECN), CWR and ECE sit in the word at offset 12.
 */
bool cn_rewrite_syn_no_ecn(uint8_t *data, const struct cn_pkt *p,
			   bool patch_csum)
{
	struct seg s;
	uint16_t word;

	seg_init(&s, data, p, patch_csum);
	word = cn_get16(s.th + 12);
	if (!(word & 0x01c0))
		return false;
	put16(&s, 12, word & (uint16_t)~0x01c0);
	return true;
}

/* What a partial checksum field holds: the pseudo-header's sum over the
 * whole segment's length, folded, not complemented. */
static uint16_t pseudo_sum(const uint8_t *data, const struct cn_pkt *p)
{
	size_t alen = p->family == 4 ? 4 : 16;
	uint32_t len = p->ip_end - p->l4_off, sum;

	sum = cn_csum_add(0, cn_pkt_saddr(data, p), alen);
	sum = cn_csum_add(sum, cn_pkt_daddr(data, p), alen);
	sum += 6 + (len & 0xffff) + (len >> 16);
	return (uint16_t)~cn_csum_fold(sum);
}

bool cn_rewrite_cut(struct cn_frame *f, const struct cn_pkt *p, uint16_t mss)
{
	uint32_t opts = p->tcp_hlen - 20u, max;

	if (mss <= opts)
		return false;
	max = mss - opts;
	if (f->off.gso_type != CN_GSO_NONE) {
		if (!f->off.gso_size || f->off.gso_size <= max)
			return false;
		f->off.gso_size = (uint16_t)max;
		return true;
	}
	if (p->payload_len <= max)
		return false;
	if (!(f->off.flags & CN_OFF_CSUM_PARTIAL)) {
		cn_put16(f->data + p->l4_off + 16, pseudo_sum(f->data, p));
		f->off.flags = CN_OFF_CSUM_PARTIAL;
		f->off.csum_start = p->l4_off;
		f->off.csum_offset = 16;
	}
	f->off.gso_type = p->family == 4 ? CN_GSO_TCPV4 : CN_GSO_TCPV6;
	/* A CWR must stay on the first segment only. */
	if (p->flags & CN_TCP_CWR)
		f->off.gso_type |= CN_GSO_ECN;
	f->off.gso_size = (uint16_t)max;
	f->off.hdr_len = (uint16_t)(p->l4_off + p->tcp_hlen);
	return true;
}

void cn_rewrite_nop(uint8_t *data, const struct cn_pkt *p, uint16_t off,
		    unsigned n, bool patch_csum)
{
	struct seg s;

	seg_init(&s, data, p, patch_csum);
	nop_out(&s, hoff(p, off), n);
}

void cn_rewrite_c2s(uint8_t *data, const struct cn_pkt *p,
		    const struct cn_flow *flow, bool patch_csum)
{
	struct seg s;

	seg_init(&s, data, p, patch_csum);
	if (p->flags & CN_TCP_ACK)
		put32(&s, 8, p->ack - flow->delta);
	rewrite_window(&s, p, flow->c2s_shift_in, flow->c2s_shift_out);
	if (p->opt.ts) {
		size_t o = hoff(p, p->opt.ts_off);

		if (flow->strip_ts_c2s)
			nop_out(&s, o, 10);
		else if (flow->translate_ts && (p->flags & CN_TCP_ACK))
			put32(&s, o + 6, p->opt.tsecr - flow->ts_delta);
	}
	if (p->opt.sack_blocks) {
		size_t o = hoff(p, p->opt.sack_off);

		if (flow->strip_sack_c2s) {
			nop_out(&s, o, 2 + 8u * p->opt.sack_blocks);
			return;
		}
		for (unsigned i = 0; i < p->opt.sack_blocks; i++) {
			size_t e = o + 2 + 8 * i;

			put32(&s, e, cn_get32(s.th + e) - flow->delta);
			put32(&s, e + 4, cn_get32(s.th + e + 4) - flow->delta);
		}
	}
}

void cn_rewrite_s2c(uint8_t *data, const struct cn_pkt *p,
		    const struct cn_flow *flow, bool patch_csum)
{
	struct seg s;

	seg_init(&s, data, p, patch_csum);
	put32(&s, 4, p->seq + flow->delta);
	rewrite_window(&s, p, flow->s2c_shift_in, flow->s2c_shift_out);
	if (p->opt.ts && flow->translate_ts)
		put32(&s, hoff(p, p->opt.ts_off) + 2,
		      p->opt.tsval + flow->ts_delta);
	if (p->opt.sack_blocks && flow->strip_sack_s2c)
		nop_out(&s, hoff(p, p->opt.sack_off), 2 + 8u * p->opt.sack_blocks);
}
