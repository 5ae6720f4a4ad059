/* SPDX-License-Identifier: MIT */
/*
 * Test frames built byte by byte, independent of the engine: Ethernet with
 * up to two VLAN tags, IPv4 (with options) or IPv6, TCP with any options and
 * payload. Checksums come from this file's own plain RFC 1071 code, so a bug
 * in src/engine/checksum.c cannot hide itself. Also a reader for the fields of a
 * frame (no use of the engine's parser), a checksum verifier, a NIC-like
 * completion of partial checksums and a capture of what the engine emits.
 */
#ifndef FR_FRAMES_H
#define FR_FRAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"

#define FR_MAX 4096 /* largest test frame */

#define FR_FIN 0x01
#define FR_SYN 0x02
#define FR_RST 0x04
#define FR_PSH 0x08
#define FR_ACK 0x10

struct fr_spec {
	uint8_t smac[6], dmac[6];
	uint8_t vlans;           /* 0, 1 or 2 tags */
	uint16_t vlan_tpid[2];   /* 0: 0x8100 */
	uint16_t vlan_tci[2];
	uint16_t ethertype;      /* 0: from family */
	uint8_t family;          /* 4 or 6 */
	uint8_t saddr[16], daddr[16];
	uint8_t ip_opts[40];     /* IPv4 options, padded with EOL to 4 */
	uint8_t ip_optlen;
	uint16_t frag;           /* IPv4 flags + fragment offset; DF is 0x4000 */
	uint8_t proto;           /* 0: TCP; IPv6: the next header */
	uint8_t ttl;             /* 0: 64 */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	uint8_t opts[40];        /* TCP options, padded with EOL to 4 */
	uint8_t optlen;
	const uint8_t *payload;  /* NULL: bytes i & 0xff */
	uint32_t payload_len;
	uint32_t trailer;        /* Ethernet padding after the IP packet */
	bool partial;            /* pseudo-header sum only, CSUM_PARTIAL */
};

/* Appending options; each aborts the test when the 40 bytes overflow. */
void fr_opt_nop(struct fr_spec *s);
void fr_opt_mss(struct fr_spec *s, uint16_t mss);
void fr_opt_ws(struct fr_spec *s, uint8_t shift);
void fr_opt_sack_perm(struct fr_spec *s);
void fr_opt_ts(struct fr_spec *s, uint32_t tsval, uint32_t tsecr);
void fr_opt_sack(struct fr_spec *s, unsigned n, const uint32_t *edges);
void fr_opt_tfo(struct fr_spec *s, const uint8_t *cookie, uint8_t len);
void fr_opt_raw(struct fr_spec *s, const uint8_t *bytes, uint8_t len);
/* The options a Linux client puts in its SYN: MSS, SACK_PERM, TS, NOP, WS. */
void fr_opt_linux_syn(struct fr_spec *s, uint16_t mss, uint32_t tsval,
		      uint8_t ws);

struct fr_frame {
	struct cn_frame f;       /* f.data points into buf */
	uint8_t buf[FR_MAX];
};

/* Build the frame; returns its length (aborts when it does not fit). */
uint32_t fr_build(struct fr_frame *out, const struct fr_spec *s);
/* An exact-size heap copy, so out-of-bounds reads trip ASan. */
uint8_t *fr_dup(const uint8_t *data, uint32_t len);

/* Test endpoints: both ends of one TCP connection. */
struct fr_flow {
	uint8_t family;
	uint8_t cmac[6], smac[6];
	uint8_t caddr[16], saddr[16];
	uint16_t cport, sport;
	uint8_t vlans;
	uint16_t vlan_tpid[2], vlan_tci[2];
};

/* A flow between documentation addresses (192.0.2.0/24, 198.51.100.0/24,
 * 2001:db8::/32); n varies the client address and port. */
void fr_flow_init(struct fr_flow *fl, uint8_t family, uint32_t n);
/* A spec for a segment of the flow from the client (c2s) or the server. */
void fr_spec_c2s(struct fr_spec *s, const struct fr_flow *fl, uint8_t flags,
		 uint32_t seq, uint32_t ack);
void fr_spec_s2c(struct fr_spec *s, const struct fr_flow *fl, uint8_t flags,
		 uint32_t seq, uint32_t ack);

/* Fields of a frame read by this file's own walker (no engine code). */
struct fr_view {
	uint8_t dmac[6], smac[6];
	uint8_t vlans;
	uint16_t vlan_tpid[2], vlan_tci[2];
	uint16_t ethertype;
	uint8_t family;
	uint32_t l3, l4, ip_end;
	uint8_t saddr[16], daddr[16];
	uint8_t ttl;
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t win;
	uint16_t csum;
	uint32_t hlen, payload_off, payload_len;
	int mss;                 /* -1: absent */
	int ws;                  /* -1: absent */
	bool sack_perm;
	bool ts;
	uint32_t tsval, tsecr;
	unsigned sack_n;
	uint32_t sack[8];
	bool tfo;
	unsigned nops;           /* NOP bytes among the options */
};

/* 0 for a TCP frame read whole, -1 otherwise. */
int fr_read(const uint8_t *data, uint32_t len, struct fr_view *v);

/* NULL when the IPv4 header and TCP checksums are right, else why not.
 * A frame whose checksum is partial is checked after fr_complete() on a
 * copy. */
const char *fr_verify(const struct cn_frame *f);
const char *fr_verify_bytes(const uint8_t *data, uint32_t len);

/* What a NIC does with CN_OFF_CSUM_PARTIAL: sum from csum_start to the end,
 * store at csum_start + csum_offset, clear the flag. 0, or -1 when the
 * offsets lie outside the frame. */
int fr_complete(struct cn_frame *f);

/* RFC 1071 checksum over buf, this file's own code. */
uint16_t fr_csum(const uint8_t *buf, size_t len, uint32_t seed);

/* Captures every frame the engine emits and every event. */
struct fr_out {
	enum cn_side to;
	uint32_t len;
	struct cn_offload off;
	uint8_t *data;
	struct cn_frame f;       /* refers to data */
};

struct fr_ev {
	struct cn_event ev;      /* ev.key points to key */
	struct cn_flow_key key;
};

struct fr_cap {
	struct cn_io io;
	struct fr_out *out;
	size_t n, cap;
	struct fr_ev *ev;
	size_t nev, evcap;
};

void fr_cap_init(struct fr_cap *c);
void fr_cap_reset(struct fr_cap *c); /* forget frames and events */
void fr_cap_fini(struct fr_cap *c);
size_t fr_cap_count(const struct fr_cap *c, enum cn_side to);
/* The i-th frame emitted towards side to, NULL when there is none. */
struct fr_out *fr_cap_nth(struct fr_cap *c, enum cn_side to, size_t i);
size_t fr_cap_events(const struct fr_cap *c, enum cn_event_type t);
const struct fr_ev *fr_cap_last_event(const struct fr_cap *c,
				      enum cn_event_type t);

#endif
