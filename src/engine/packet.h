/* SPDX-License-Identifier: MIT */
/*
 * Frame parsing: Ethernet, up to two 802.1Q/802.1ad tags, IPv4 (with
 * options) or IPv6 (fixed header), TCP with options. Every header is
 * checked against the captured length and the IP total length before it
 * is read; the result is a set of offsets into the frame, so rewrites can
 * be done in place.
 */
#ifndef CN_PACKET_H
#define CN_PACKET_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

enum {
	CN_TCP_FIN = 0x01,
	CN_TCP_SYN = 0x02,
	CN_TCP_RST = 0x04,
	CN_TCP_PSH = 0x08,
	CN_TCP_ACK = 0x10,
	CN_TCP_URG = 0x20,
	CN_TCP_ECE = 0x40,
	CN_TCP_CWR = 0x80,
};

enum {
	CN_TCPOPT_EOL = 0,
	CN_TCPOPT_NOP = 1,
	CN_TCPOPT_MSS = 2,
	CN_TCPOPT_WSCALE = 3,
	CN_TCPOPT_SACK_PERM = 4,
	CN_TCPOPT_SACK = 5,
	CN_TCPOPT_TS = 8,
	CN_TCPOPT_FASTOPEN = 34,
	CN_TCPOPT_EXP = 253, /* RFC 6994 experimental, with a 16-bit ExID */
};

/* The ExID of the ClientNIC's option to its peer (peer_opt.h). */
#define CN_PEER_EXID 0x4e43

#define CN_MAX_VLANS 2
#define CN_MAX_WSCALE 14

enum cn_parse_result {
	CN_PARSE_TCP,       /* a trackable TCP segment */
	CN_PARSE_NOT_TCP,   /* not IPv4/IPv6 TCP: ARP, ICMP, UDP, ... */
	CN_PARSE_IP_EXT,    /* IPv4 fragment or IPv6 extension headers */
	CN_PARSE_MALFORMED, /* a header failed a length check */
	CN_PARSE_BAD_OPTIONS, /* TCP header whole, its option list broken:
			       * the ports and fixed fields are valid */
};

struct cn_tcp_opts {
	uint16_t mss;       /* 0: absent */
	int8_t wscale;      /* -1: absent; clamped to CN_MAX_WSCALE */
	bool sack_ok;
	bool ts;            /* timestamps present */
	bool fastopen;
	uint8_t sack_blocks;
	uint16_t ts_off;    /* frame offset of the TS option's kind byte */
	uint16_t sack_off;  /* frame offset of the SACK option's kind byte */
	uint16_t peer_off;  /* frame offset of the first peer option (peer_opt.h) */
	uint8_t peer_len;
	uint8_t peer_count; /* peer options in the list: more than one is bad */
	uint32_t tsval;
	uint32_t tsecr;
};

struct cn_pkt {
	uint8_t family;      /* 4 or 6 */
	uint8_t vlans;       /* tags between the MACs and the IP header */
	uint16_t l3_off;     /* IP header */
	uint16_t l4_off;     /* TCP header */
	uint16_t tcp_hlen;   /* data offset * 4 */
	uint32_t ip_end;     /* frame offset one past the IP packet */
	uint32_t payload_len;
	uint8_t flags;       /* CN_TCP_* */
	uint32_t seq;
	uint32_t ack;
	uint16_t win;
	struct cn_tcp_opts opt;
};

enum cn_parse_result cn_parse(const uint8_t *data, uint32_t len,
			      struct cn_pkt *p);

/* Whether the TCP checksum of a parsed segment (full, not partial) holds. */
bool cn_pkt_csum_ok(const uint8_t *data, const struct cn_pkt *p);

/* The flow key of a parsed TCP segment seen from side 'from'. */
void cn_pkt_flow_key(const uint8_t *data, const struct cn_pkt *p,
		     enum cn_side from, struct cn_flow_key *key);

/* Source and destination address of the IP header (4 or 16 bytes). */
const uint8_t *cn_pkt_saddr(const uint8_t *data, const struct cn_pkt *p);
const uint8_t *cn_pkt_daddr(const uint8_t *data, const struct cn_pkt *p);

/* Sequence space used by the segment: payload plus one for SYN and FIN. */
static inline uint32_t cn_pkt_seg_len(const struct cn_pkt *p)
{
	return p->payload_len + !!(p->flags & CN_TCP_SYN) +
	       !!(p->flags & CN_TCP_FIN);
}

static inline uint16_t cn_get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static inline uint32_t cn_get32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

static inline void cn_put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static inline void cn_put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

/* Serial-number arithmetic (RFC 1982) on 32-bit sequence numbers. */
static inline bool cn_seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static inline bool cn_seq_leq(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

#endif
