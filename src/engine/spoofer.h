/* SPDX-License-Identifier: MIT */
/*
 * Frames the box creates: the spoofed SYN-ACK, RSTs that end a client's
 * half-open connection, the handshake ACK it owes a server. Each is built
 * from a template frame of the same flow (the client's SYN or a server
 * segment), so MACs and VLAN tags are right without any table.
 */
#ifndef CN_SPOOFER_H
#define CN_SPOOFER_H

#include <stddef.h>
#include <stdint.h>

#include "flow_table.h"
#include "packet.h"

/* Longest frame the spoofer builds: 2 tags, IPv6, TCP with 20 option bytes. */
#define CN_CRAFT_MAX (14 + 8 + 40 + 40)

struct cn_tcp_spec {
	uint32_t seq;
	uint32_t ack;
	uint16_t win;
	uint8_t flags;
	uint8_t optlen;         /* multiple of 4, at most 20 */
	uint8_t opts[20];
};

/*
 * Build into buf (at least CN_CRAFT_MAX bytes) a frame of the template's
 * flow, in the template's direction or, with reverse, the opposite one.
 * Returns the frame length. Checksums are computed in full.
 */
uint32_t cn_craft(uint8_t *buf, const uint8_t *tmpl, const struct cn_pkt *tp,
		  bool reverse, const struct cn_tcp_spec *spec);

/* One keyed hash of the 4-tuple gives both: the ISN (RFC 6528: the hash's
 * low half plus a 4-microsecond clock) and the TSval (a millisecond clock
 * plus the high half as a per-flow offset, as Linux does). */
void cn_spoof_seeds(const uint8_t key[16], const struct cn_flow_key *fk,
		    uint64_t now_ns, uint32_t *isn, uint32_t *tsval);

/* The options of a SYN-ACK that grants opts (TSecr echoes tsecr). */
void cn_synack_options(struct cn_tcp_spec *spec, const struct cn_syn_opts *opts,
		       uint32_t tsval, uint32_t tsecr);
/* A TS option (NOP NOP TS) for an established-flow segment. */
void cn_ts_option(struct cn_tcp_spec *spec, uint32_t tsval, uint32_t tsecr);

#endif
