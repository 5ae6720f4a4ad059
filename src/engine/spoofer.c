// SPDX-License-Identifier: MIT
#include "spoofer.h"

#include <string.h>

#include "checksum.h"
#include "siphash.h"

#define TTL 64

static uint32_t put_l2(uint8_t *buf, const uint8_t *tmpl,
		       const struct cn_pkt *tp, bool reverse)
{
	memcpy(buf, tmpl + (reverse ? 6 : 0), 6);
	memcpy(buf + 6, tmpl + (reverse ? 0 : 6), 6);
	/* The tags and the EtherType, as the template carries them. */
	memcpy(buf + 12, tmpl + 12, (size_t)tp->l3_off - 12);
	return tp->l3_off;
}

static uint32_t put_ipv4(uint8_t *ip, const uint8_t *src, const uint8_t *dst,
			 uint32_t l4_len)
{
	memset(ip, 0, 20);
	ip[0] = 0x45;
	cn_put16(ip + 2, (uint16_t)(20 + l4_len));
	ip[6] = 0x40; /* DF */
	ip[8] = TTL;
	ip[9] = 6;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, dst, 4);
	cn_put16(ip + 10, cn_csum_fold(cn_csum_add(0, ip, 20)));
	return 20;
}

static uint32_t put_ipv6(uint8_t *ip, const uint8_t *src, const uint8_t *dst,
			 uint32_t l4_len)
{
	memset(ip, 0, 40);
	ip[0] = 0x60;
	cn_put16(ip + 4, (uint16_t)l4_len);
	ip[6] = 6;
	ip[7] = TTL;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	return 40;
}

uint32_t cn_craft(uint8_t *buf, const uint8_t *tmpl, const struct cn_pkt *tp,
		  bool reverse, const struct cn_tcp_spec *spec)
{
	const uint8_t *src = reverse ? cn_pkt_daddr(tmpl, tp) : cn_pkt_saddr(tmpl, tp);
	const uint8_t *dst = reverse ? cn_pkt_saddr(tmpl, tp) : cn_pkt_daddr(tmpl, tp);
	const uint8_t *tports = tmpl + tp->l4_off;
	uint32_t l4_len = 20u + spec->optlen, off;
	size_t alen = tp->family == 4 ? 4 : 16;
	uint8_t *th;

	off = put_l2(buf, tmpl, tp, reverse);
	if (tp->family == 4)
		off += put_ipv4(buf + off, src, dst, l4_len);
	else
		off += put_ipv6(buf + off, src, dst, l4_len);
	th = buf + off;
	memset(th, 0, 20);
	memcpy(th, tports + (reverse ? 2 : 0), 2);
	memcpy(th + 2, tports + (reverse ? 0 : 2), 2);
	cn_put32(th + 4, spec->seq);
	cn_put32(th + 8, spec->ack);
	th[12] = (uint8_t)((l4_len / 4) << 4);
	th[13] = spec->flags;
	cn_put16(th + 14, spec->win);
	memcpy(th + 20, spec->opts, spec->optlen);
	cn_put16(th + 16, cn_tcp_checksum(src, dst, alen, th, l4_len));
	return off + l4_len;
}

void cn_spoof_seeds(const uint8_t key[16], const struct cn_flow_key *fk,
		    uint64_t now_ns, uint32_t *isn, uint32_t *tsval)
{
	uint64_t h = cn_siphash(key, fk, sizeof(*fk));

	*isn = (uint32_t)h + (uint32_t)(now_ns >> 12);
	*tsval = (uint32_t)(h >> 32) + (uint32_t)(now_ns / 1000000);
}

static void put_opt_ts(uint8_t *o, uint32_t tsval, uint32_t tsecr)
{
	o[0] = CN_TCPOPT_TS;
	o[1] = 10;
	cn_put32(o + 2, tsval);
	cn_put32(o + 6, tsecr);
}

/* The layout Linux uses: MSS, SACK-permitted folded into the TS word,
 * window scale last. */
void cn_synack_options(struct cn_tcp_spec *spec, const struct cn_syn_opts *opts,
		       uint32_t tsval, uint32_t tsecr)
{
	uint8_t *o = spec->opts;

	o[0] = CN_TCPOPT_MSS;
	o[1] = 4;
	cn_put16(o + 2, opts->mss);
	o += 4;
	if (opts->ts) {
		if (opts->sack_ok) {
			o[0] = CN_TCPOPT_SACK_PERM;
			o[1] = 2;
		} else {
			o[0] = o[1] = CN_TCPOPT_NOP;
		}
		put_opt_ts(o + 2, tsval, tsecr);
		o += 12;
	} else if (opts->sack_ok) {
		o[0] = o[1] = CN_TCPOPT_NOP;
		o[2] = CN_TCPOPT_SACK_PERM;
		o[3] = 2;
		o += 4;
	}
	if (opts->wscale >= 0) {
		o[0] = CN_TCPOPT_NOP;
		o[1] = CN_TCPOPT_WSCALE;
		o[2] = 3;
		o[3] = (uint8_t)opts->wscale;
		o += 4;
	}
	spec->optlen = (uint8_t)(o - spec->opts);
}

void cn_ts_option(struct cn_tcp_spec *spec, uint32_t tsval, uint32_t tsecr)
{
	spec->opts[0] = spec->opts[1] = CN_TCPOPT_NOP;
	put_opt_ts(spec->opts + 2, tsval, tsecr);
	spec->optlen = 12;
}
