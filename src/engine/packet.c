// SPDX-License-Identifier: MIT
#include "packet.h"

#include <string.h>

#include "checksum.h"

#define ETH_HLEN 14u
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86dd
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88a8
#define IPPROTO_TCP_ 6
#define IPV6_HLEN 40u
#define TCP_HLEN 20u

/* Returns the EtherType after the tags, or 0 when the tags run past len
 * or are nested deeper than the parser follows. */
static uint16_t parse_l2(const uint8_t *d, uint32_t len, struct cn_pkt *p)
{
	uint32_t off = ETH_HLEN;
	uint16_t type;

	if (len < ETH_HLEN)
		return 0;
	type = cn_get16(d + 12);
	p->vlans = 0;
	while (type == ETH_P_8021Q || type == ETH_P_8021AD) {
		if (p->vlans == CN_MAX_VLANS || off + 4 > len)
			return 0;
		type = cn_get16(d + off + 2);
		off += 4;
		p->vlans++;
	}
	p->l3_off = (uint16_t)off;
	return type;
}

static enum cn_parse_result parse_ipv4(const uint8_t *d, uint32_t len,
				       struct cn_pkt *p)
{
	const uint8_t *ip = d + p->l3_off;
	uint32_t ihl, tot;

	if (p->l3_off + 20u > len || (ip[0] >> 4) != 4)
		return CN_PARSE_MALFORMED;
	ihl = (ip[0] & 0x0fu) * 4;
	tot = cn_get16(ip + 2);
	if (ihl < 20 || tot < ihl || p->l3_off + tot > len)
		return CN_PARSE_MALFORMED;
	if (ip[9] != IPPROTO_TCP_)
		return CN_PARSE_NOT_TCP;
	/* More-fragments flag or a fragment offset: not a whole segment. */
	if (cn_get16(ip + 6) & 0x3fff)
		return CN_PARSE_IP_EXT;
	p->family = 4;
	p->l4_off = (uint16_t)(p->l3_off + ihl);
	p->ip_end = p->l3_off + tot;
	return CN_PARSE_TCP;
}

static enum cn_parse_result parse_ipv6(const uint8_t *d, uint32_t len,
				       struct cn_pkt *p)
{
	const uint8_t *ip = d + p->l3_off;
	uint32_t plen;

	if (p->l3_off + IPV6_HLEN > len || (ip[0] >> 4) != 6)
		return CN_PARSE_MALFORMED;
	plen = cn_get16(ip + 4);
	if (p->l3_off + IPV6_HLEN + plen > len)
		return CN_PARSE_MALFORMED;
	switch (ip[6]) {
	case IPPROTO_TCP_:
		break;
	case 0: case 43: case 44: case 50: case 51: case 60: case 135:
	case 139: case 140:
		return CN_PARSE_IP_EXT;
	default:
		return CN_PARSE_NOT_TCP;
	}
	p->family = 6;
	p->l4_off = (uint16_t)(p->l3_off + IPV6_HLEN);
	p->ip_end = p->l3_off + IPV6_HLEN + plen;
	return CN_PARSE_TCP;
}

/* Walk the options with every length clamped to the end of the header.
 * A malformed option list makes the whole segment untrackable. */
static bool parse_tcp_options(const uint8_t *d, uint32_t off, uint32_t end,
			      struct cn_tcp_opts *o)
{
	while (off < end) {
		uint8_t kind = d[off], olen;

		if (kind == CN_TCPOPT_EOL)
			break;
		if (kind == CN_TCPOPT_NOP) {
			off++;
			continue;
		}
		if (off + 2 > end)
			return false;
		olen = d[off + 1];
		if (olen < 2 || off + olen > end)
			return false;
		switch (kind) {
		case CN_TCPOPT_MSS:
			if (olen != 4)
				return false;
			o->mss = cn_get16(d + off + 2);
			break;
		case CN_TCPOPT_WSCALE:
			if (olen != 3)
				return false;
			o->wscale = (int8_t)(d[off + 2] > CN_MAX_WSCALE ?
					     CN_MAX_WSCALE : d[off + 2]);
			break;
		case CN_TCPOPT_SACK_PERM:
			if (olen != 2)
				return false;
			o->sack_ok = true;
			break;
		case CN_TCPOPT_SACK:
			if ((olen - 2) % 8 || olen == 2)
				return false;
			o->sack_blocks = (uint8_t)((olen - 2) / 8);
			o->sack_off = (uint16_t)off;
			break;
		case CN_TCPOPT_TS:
			if (olen != 10)
				return false;
			o->ts = true;
			o->ts_off = (uint16_t)off;
			o->tsval = cn_get32(d + off + 2);
			o->tsecr = cn_get32(d + off + 6);
			break;
		case CN_TCPOPT_FASTOPEN:
			o->fastopen = true;
			break;
		case CN_TCPOPT_EXP:
			if (olen < 4 || cn_get16(d + off + 2) != CN_PEER_EXID)
				break;
			if (!o->peer_count++) {
				o->peer_off = (uint16_t)off;
				o->peer_len = olen;
			}
			break;
		default:
			break;
		}
		off += olen;
	}
	return true;
}

static enum cn_parse_result parse_tcp(const uint8_t *d, struct cn_pkt *p)
{
	const uint8_t *th = d + p->l4_off;
	uint32_t hlen;

	if (p->l4_off + TCP_HLEN > p->ip_end)
		return CN_PARSE_MALFORMED;
	hlen = (uint32_t)(th[12] >> 4) * 4;
	if (hlen < TCP_HLEN || p->l4_off + hlen > p->ip_end)
		return CN_PARSE_MALFORMED;
	p->tcp_hlen = (uint16_t)hlen;
	p->payload_len = p->ip_end - p->l4_off - hlen;
	p->flags = th[13];
	p->seq = cn_get32(th + 4);
	p->ack = cn_get32(th + 8);
	p->win = cn_get16(th + 14);
	memset(&p->opt, 0, sizeof(p->opt));
	p->opt.wscale = -1;
	if (!parse_tcp_options(d, p->l4_off + TCP_HLEN, p->l4_off + hlen,
			       &p->opt))
		return CN_PARSE_BAD_OPTIONS;
	return CN_PARSE_TCP;
}

enum cn_parse_result cn_parse(const uint8_t *data, uint32_t len,
			      struct cn_pkt *p)
{
	enum cn_parse_result r;

	if (len > 0xffff + 256u) /* GSO super-frames stay below this */
		len = 0xffff + 256u;
	switch (parse_l2(data, len, p)) {
	case ETH_P_IP:
		r = parse_ipv4(data, len, p);
		break;
	case ETH_P_IPV6:
		r = parse_ipv6(data, len, p);
		break;
	case 0:
		return len < ETH_HLEN ? CN_PARSE_MALFORMED : CN_PARSE_NOT_TCP;
	default:
		return CN_PARSE_NOT_TCP;
	}
	if (r != CN_PARSE_TCP)
		return r;
	return parse_tcp(data, p);
}

bool cn_pkt_csum_ok(const uint8_t *data, const struct cn_pkt *p)
{
	size_t alen = p->family == 4 ? 4 : 16;
	uint32_t len = p->ip_end - p->l4_off, sum = 0;

	sum = cn_csum_add(sum, cn_pkt_saddr(data, p), alen);
	sum = cn_csum_add(sum, cn_pkt_daddr(data, p), alen);
	sum += 6 + (len & 0xffff) + (len >> 16);
	sum = cn_csum_add(sum, data + p->l4_off, len);
	return cn_csum_fold(sum) == 0;
}

const uint8_t *cn_pkt_saddr(const uint8_t *data, const struct cn_pkt *p)
{
	return data + p->l3_off + (p->family == 4 ? 12 : 8);
}

const uint8_t *cn_pkt_daddr(const uint8_t *data, const struct cn_pkt *p)
{
	return data + p->l3_off + (p->family == 4 ? 16 : 24);
}

void cn_pkt_flow_key(const uint8_t *data, const struct cn_pkt *p,
		     enum cn_side from, struct cn_flow_key *key)
{
	size_t alen = p->family == 4 ? 4 : 16;
	const uint8_t *src = cn_pkt_saddr(data, p), *dst = cn_pkt_daddr(data, p);
	uint16_t sport = cn_get16(data + p->l4_off);
	uint16_t dport = cn_get16(data + p->l4_off + 2);

	memset(key, 0, sizeof(*key));
	key->family = p->family;
	if (from == CN_CLIENT) {
		memcpy(key->caddr, src, alen);
		memcpy(key->saddr, dst, alen);
		key->cport = sport;
		key->sport = dport;
	} else {
		memcpy(key->caddr, dst, alen);
		memcpy(key->saddr, src, alen);
		key->cport = dport;
		key->sport = sport;
	}
}
