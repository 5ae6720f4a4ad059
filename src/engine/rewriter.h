/* SPDX-License-Identifier: MIT */
/*
 * Translation between the two server sequence spaces, in place. The
 * client's space is the same on both sides (its SYN crossed unchanged);
 * only the server's differs, by delta = spoofed ISN - real ISN:
 *   client -> server   ACK - delta, SACK edges - delta, TSecr - ts_delta
 *   server -> client   SEQ + delta, TSval + ts_delta
 * plus window rescaling and option neutralising where the spoofed and the
 * real SYN-ACK disagreed. Checksums are patched word by word (RFC 1624)
 * unless the frame's checksum is still partial, in which case whoever
 * completes it will sum the new words.
 */
#ifndef CN_REWRITER_H
#define CN_REWRITER_H

#include <stdbool.h>

#include "flow_table.h"
#include "packet.h"

/* False when offload metadata does not match the headers (not rewritten). */
bool cn_rewrite_offload_ok(const struct cn_frame *f, const struct cn_pkt *p);

void cn_rewrite_c2s(uint8_t *data, const struct cn_pkt *p,
		    const struct cn_flow *flow, bool patch_csum);
void cn_rewrite_s2c(uint8_t *data, const struct cn_pkt *p,
		    const struct cn_flow *flow, bool patch_csum);

/* Clear the ECN request (ECE, CWR, AE) of a SYN. Returns whether it had one. */
bool cn_rewrite_syn_no_ecn(uint8_t *data, const struct cn_pkt *p,
			   bool patch_csum);

/*
 * Let the kernel cut a client segment longer than the server can take
 * (mss: the server's MSS, without options): a plain frame becomes a GSO
 * frame whose segments carry at most mss minus this segment's option
 * bytes each, with a partial checksum; a GSO frame gets its gso_size
 * lowered. Returns whether the frame changed.
 */
bool cn_rewrite_cut(struct cn_frame *f, const struct cn_pkt *p, uint16_t mss);

/* Overwrite n option bytes at frame offset off with NOPs. */
void cn_rewrite_nop(uint8_t *data, const struct cn_pkt *p, uint16_t off,
		    unsigned n, bool patch_csum);

/* Rescale a window field from units of 2^in to units of 2^out. */
uint16_t cn_rescale_window(uint16_t win, uint8_t in, uint8_t out);

#endif
