// SPDX-License-Identifier: MIT
#include "peer_opt.h"

#include <string.h>

#include "checksum.h"
#include "rewriter.h"
#include "siphash.h"

#define HDR 11 /* kind, length, ExID, ISN, MSS, flags */
#define TAG_LEN 4

enum {
	F_WSCALE = 0x0f,
	F_SACK = 1u << 4,
	F_TS = 1u << 5,
	F_TAG = 1u << 6,
	F_RESERVED = 1u << 7,
};

unsigned cn_peer_opt_len(const struct cn_peer_opt *o, bool keyed)
{
	return HDR + (o->spoofed.ts ? 4u : 0u) + (keyed ? TAG_LEN : 0u);
}

/* The tag binds the fields to this flow and this SYN: a copy replayed on
 * another 4-tuple or ISN does not verify. The flow is spelled out in
 * network byte order, so the two boxes agree whatever their machines. */
static uint32_t tag_of(const uint8_t *key, const struct cn_flow_key *fk,
		       uint32_t client_isn, const uint8_t *fields,
		       unsigned n)
{
	uint8_t buf[44 + CN_PEER_OPT_MAX] = { fk->family };

	cn_put16(buf + 4, fk->cport);
	cn_put16(buf + 6, fk->sport);
	memcpy(buf + 8, fk->caddr, 16);
	memcpy(buf + 24, fk->saddr, 16);
	cn_put32(buf + 40, client_isn);
	memcpy(buf + 44, fields, n);
	return (uint32_t)cn_siphash(key, buf, 44 + n);
}

/* The tag of the fields from the ExID up to off, written at off. */
static unsigned put_tag(uint8_t *opt, unsigned off, const uint8_t *key,
			const struct cn_flow_key *fk, uint32_t client_isn)
{
	cn_put32(opt + off, tag_of(key, fk, client_isn, opt + 2, off - 2));
	return off + TAG_LEN;
}

static bool tag_ok(const uint8_t *opt, unsigned off, const uint8_t *key,
		   const struct cn_flow_key *fk, uint32_t client_isn)
{
	return cn_get32(opt + off) == tag_of(key, fk, client_isn, opt + 2,
					     off - 2);
}

unsigned cn_peer_opt_write(uint8_t *buf, const struct cn_peer_opt *o,
			   const struct cn_flow_key *fk, uint32_t client_isn,
			   const uint8_t *key)
{
	unsigned len = cn_peer_opt_len(o, key != NULL), off = HDR;
	int8_t ws = o->spoofed.wscale;
	uint8_t flags = CN_PEER_NO_WSCALE;

	if (ws >= 0)
		flags = (uint8_t)(ws > CN_MAX_WSCALE ? CN_MAX_WSCALE : ws);
	flags |= o->spoofed.sack_ok ? F_SACK : 0;
	flags |= o->spoofed.ts ? F_TS : 0;
	flags |= key ? F_TAG : 0;
	buf[0] = CN_TCPOPT_EXP;
	buf[1] = (uint8_t)len;
	cn_put16(buf + 2, CN_PEER_EXID);
	cn_put32(buf + 4, o->spoof_isn);
	cn_put16(buf + 8, o->spoofed.mss);
	buf[10] = flags;
	if (o->spoofed.ts) {
		cn_put32(buf + off, o->spoof_tsval);
		off += 4;
	}
	if (key)
		put_tag(buf, off, key, fk, client_isn);
	return len;
}

enum cn_peer_opt_err cn_peer_opt_read(const uint8_t *opt, unsigned len,
				      const struct cn_flow_key *fk,
				      uint32_t client_isn,
				      const struct cn_tcp_opts *syn,
				      const uint8_t *key,
				      struct cn_peer_opt *out)
{
	uint8_t flags, ws;
	unsigned want, off = HDR;

	if (len < HDR || opt[0] != CN_TCPOPT_EXP || opt[1] != len ||
	    cn_get16(opt + 2) != CN_PEER_EXID)
		return CN_PEER_OPT_BAD;
	flags = opt[10];
	ws = flags & F_WSCALE;
	want = HDR + ((flags & F_TS) ? 4u : 0u);
	want += (flags & F_TAG) ? TAG_LEN : 0u;
	if (len != want || (flags & F_RESERVED))
		return CN_PEER_OPT_BAD;
	memset(out, 0, sizeof(*out));
	out->spoof_isn = cn_get32(opt + 4);
	out->spoofed.mss = cn_get16(opt + 8);
	out->spoofed.wscale = ws == CN_PEER_NO_WSCALE ? -1 : (int8_t)ws;
	out->spoofed.sack_ok = flags & F_SACK;
	out->spoofed.ts = flags & F_TS;
	out->tagged = flags & F_TAG;
	/* A SYN-ACK grants only what the SYN asked for. Four bits of window
	 * scale leave no shift past CN_MAX_WSCALE besides "none". */
	if (out->spoofed.mss < 64 ||
	    (out->spoofed.wscale >= 0 && syn->wscale < 0) ||
	    (out->spoofed.sack_ok && !syn->sack_ok) ||
	    (out->spoofed.ts && !syn->ts))
		return CN_PEER_OPT_BAD;
	if (out->spoofed.ts) {
		out->spoof_tsval = cn_get32(opt + off);
		off += 4;
	}
	if (!key)
		return CN_PEER_OPT_OK;
	if (!out->tagged || !tag_ok(opt, off, key, fk, client_isn))
		return CN_PEER_OPT_TAG;
	return CN_PEER_OPT_OK;
}

unsigned cn_peer_receipt_write(uint8_t *buf, const struct cn_peer_receipt *r,
			       const struct cn_flow_key *fk,
			       uint32_t client_isn, const uint8_t *key)
{
	unsigned off = 8;

	buf[0] = CN_TCPOPT_EXP;
	cn_put16(buf + 2, CN_PEER_EXID);
	cn_put32(buf + 4, r->real_isn);
	if (r->ts) {
		cn_put32(buf + off, r->real_tsval);
		off += 4;
	}
	if (key)
		off = put_tag(buf, off, key, fk, client_isn);
	buf[1] = (uint8_t)off;
	return off;
}

enum cn_peer_opt_err cn_peer_receipt_read(const uint8_t *opt, unsigned len,
					  const struct cn_flow_key *fk,
					  uint32_t client_isn,
					  const uint8_t *key,
					  struct cn_peer_receipt *r)
{
	unsigned off = 8 + (r->ts ? 4u : 0u);

	if (len != off + (key ? TAG_LEN : 0u) || opt[0] != CN_TCPOPT_EXP ||
	    opt[1] != len || cn_get16(opt + 2) != CN_PEER_EXID)
		return CN_PEER_OPT_BAD;
	r->real_isn = cn_get32(opt + 4);
	r->real_tsval = r->ts ? cn_get32(opt + 8) : 0;
	if (key && !tag_ok(opt, off, key, fk, client_isn))
		return CN_PEER_OPT_TAG;
	return CN_PEER_OPT_OK;
}

/* The option list as it ends: EOL and whatever follows it become NOPs, so
 * an option appended after them is still read. */
static void opts_open_end(uint8_t *o, unsigned n)
{
	unsigned i = 0;

	while (i < n) {
		if (o[i] == CN_TCPOPT_EOL) {
			memset(o + i, CN_TCPOPT_NOP, n - i);
			return;
		}
		if (o[i] == CN_TCPOPT_NOP || i + 1 >= n || o[i + 1] < 2) {
			i++;
			continue;
		}
		i += o[i + 1];
	}
}

uint32_t cn_syn_add_option(uint8_t *out, const uint8_t *syn,
			   const struct cn_pkt *p, const uint8_t *opt,
			   unsigned optlen)
{
	unsigned old_opts = p->tcp_hlen - 20u;
	unsigned new_hlen = (p->tcp_hlen + optlen + 3u) & ~3u;
	unsigned grow = new_hlen - p->tcp_hlen;
	uint32_t l4 = p->l4_off, end = p->ip_end;
	size_t alen = p->family == 4 ? 4 : 16;
	uint8_t *th = out + l4, *ip = out + p->l3_off;

	if (new_hlen > 60)
		return 0;
	memcpy(out, syn, l4 + p->tcp_hlen);
	opts_open_end(th + 20, old_opts);
	memcpy(th + p->tcp_hlen, opt, optlen);
	memset(th + p->tcp_hlen + optlen, CN_TCPOPT_NOP, grow - optlen);
	memcpy(th + new_hlen, syn + l4 + p->tcp_hlen, end - l4 - p->tcp_hlen);
	th[12] = (uint8_t)((new_hlen / 4) << 4 | (th[12] & 0x0f));
	if (p->family == 4) {
		unsigned ihl = (ip[0] & 0x0f) * 4u;

		cn_put16(ip + 2, (uint16_t)(cn_get16(ip + 2) + grow));
		cn_put16(ip + 10, 0);
		cn_put16(ip + 10, cn_csum_fold(cn_csum_add(0, ip, ihl)));
	} else {
		cn_put16(ip + 4, (uint16_t)(cn_get16(ip + 4) + grow));
	}
	cn_put16(th + 16, 0);
	cn_put16(th + 16, cn_tcp_checksum(cn_pkt_saddr(out, p),
					  cn_pkt_daddr(out, p), alen, th,
					  end + grow - l4));
	return end + grow;
}

unsigned cn_peer_opt_strip(uint8_t *data, const struct cn_pkt *p,
			   bool patch_csum)
{
	uint32_t off = p->l4_off + 20u, end = p->l4_off + p->tcp_hlen;
	unsigned n = 0;

	/* The parser has checked the list: every length fits. */
	while (off < end && data[off] != CN_TCPOPT_EOL) {
		uint8_t olen;

		if (data[off] == CN_TCPOPT_NOP) {
			off++;
			continue;
		}
		olen = data[off + 1];
		if (data[off] == CN_TCPOPT_EXP && olen >= 4 &&
		    cn_get16(data + off + 2) == CN_PEER_EXID) {
			cn_rewrite_nop(data, p, (uint16_t)off, olen,
				       patch_csum);
			n++;
		}
		off += olen;
	}
	return n;
}
