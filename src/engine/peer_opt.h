/* SPDX-License-Identifier: MIT */
/*
 * The option a ClientNIC adds to the SYN it forwards, so that a ServerNIC
 * next to the server can take the flow over: an experimental TCP option
 * (RFC 6994, kind 253, 16-bit ExID) carrying what the spoofed SYN-ACK told
 * the client. Layout, in network byte order:
 *
 *   0  kind 253      1  length      2-3  ExID 0x4e43
 *   4-7  spoofed ISN
 *   8-9  MSS the spoofed SYN-ACK announced
 *   10   bits 0-3 its window scale (15: none), bit 4 SACK-permitted,
 *        bit 5 timestamps, bit 6 a tag follows, bit 7 zero
 *   11-14  spoofed TSval                          (with bit 5)
 *   then   4 bytes of SipHash-2-4 under the peer key over the flow key,
 *          the client's ISN and bytes 2 up to the tag (with bit 6)
 *
 * 11 to 19 bytes: with a Linux SYN's 20 option bytes it still fits.
 */
#ifndef CN_PEER_OPT_H
#define CN_PEER_OPT_H

#include <stdbool.h>
#include <stdint.h>

#include "flow_table.h"
#include "packet.h"

#define CN_PEER_OPT_MAX 19
#define CN_PEER_NO_WSCALE 15

struct cn_peer_opt {
	uint32_t spoof_isn;
	uint32_t spoof_tsval;     /* when spoofed.ts */
	struct cn_syn_opts spoofed;
	bool tagged;
};

enum cn_peer_opt_err {
	CN_PEER_OPT_OK = 0,
	CN_PEER_OPT_BAD,      /* length, flags or values wrong */
	CN_PEER_OPT_TAG,      /* no tag, or a wrong one, under a key */
};

/*
 * The ServerNIC's receipt, appended to the SYN-ACK it translates (which
 * the ClientNIC absorbs): the server's real ISN and, where both ends use
 * timestamps, its real TSval. With them the ClientNIC knows the flow's
 * translation as well as its peer does, and takes the flow over should
 * the peer vanish. Same kind and ExID:
 *
 *   0  kind 253      1  length      2-3  ExID 0x4e43
 *   4-7  real ISN    8-11  real TSval (with timestamps)
 *   then  the 4-byte tag, as above, over bytes 2 up to it (keyed)
 *
 * 8 to 16 bytes; the reader knows which from the flow.
 */
struct cn_peer_receipt {
	uint32_t real_isn;
	uint32_t real_tsval;
	bool ts;
};

#define CN_PEER_RECEIPT_MAX 16

unsigned cn_peer_receipt_write(uint8_t *buf, const struct cn_peer_receipt *r,
			       const struct cn_flow_key *fk,
			       uint32_t client_isn, const uint8_t *key);
/* r->ts says whether a TSval is due; out gets the fields. */
enum cn_peer_opt_err cn_peer_receipt_read(const uint8_t *opt, unsigned len,
					  const struct cn_flow_key *fk,
					  uint32_t client_isn,
					  const uint8_t *key,
					  struct cn_peer_receipt *r);

/* Length of the option for these fields. */
unsigned cn_peer_opt_len(const struct cn_peer_opt *o, bool keyed);

/* Write the option into buf (cn_peer_opt_len() bytes); key NULL: no tag.
 * Returns the length written. */
unsigned cn_peer_opt_write(uint8_t *buf, const struct cn_peer_opt *o,
			   const struct cn_flow_key *fk, uint32_t client_isn,
			   const uint8_t *key);

/* Read and check the option at opt (its kind byte; len from the wire).
 * With a key the tag must be there and right; without one a tag is
 * ignored. The options must be ones the client's SYN (syn) offered. */
enum cn_peer_opt_err cn_peer_opt_read(const uint8_t *opt, unsigned len,
				      const struct cn_flow_key *fk,
				      uint32_t client_isn,
				      const struct cn_tcp_opts *syn,
				      const uint8_t *key,
				      struct cn_peer_opt *out);

/*
 * Build into out a copy of the segment syn (a SYN or SYN-ACK, parsed as p)
 * with opt (optlen bytes) appended to its TCP options, lengths and
 * checksums made whole (the copy's checksums are complete: no offload).
 * Returns the new frame length, or 0 when the option does not fit in the
 * 40 bytes of option space. out must hold p->ip_end + 40 bytes.
 */
uint32_t cn_syn_add_option(uint8_t *out, const uint8_t *syn,
			   const struct cn_pkt *p, const uint8_t *opt,
			   unsigned optlen);

/* Overwrite every peer option of a parsed segment with NOPs, patching the
 * checksum unless it is partial; returns how many there were. */
unsigned cn_peer_opt_strip(uint8_t *data, const struct cn_pkt *p,
			   bool patch_csum);

#endif
