/* SPDX-License-Identifier: MIT */
/*
 * Internet checksum (RFC 1071): full sums for frames the box creates and
 * incremental updates (RFC 1624, eqn. 3) for fields it rewrites.
 */
#ifndef CN_CHECKSUM_H
#define CN_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

/* One's-complement sum of len bytes added to sum (not folded). */
uint32_t cn_csum_add(uint32_t sum, const void *buf, size_t len);

/* Fold to 16 bits and complement: the value for the checksum field. */
uint16_t cn_csum_fold(uint32_t sum);

/* Full TCP checksum over the pseudo-header and len bytes of segment (whose
 * checksum field must be zero). addr_len is 4 or 16. */
uint16_t cn_tcp_checksum(const uint8_t *saddr, const uint8_t *daddr,
			 size_t addr_len, const uint8_t *segment, size_t len);

/* Patch the big-endian checksum at check for a 16-bit (resp. 32-bit) field
 * that changed from old to new. */
void cn_csum_replace16(uint8_t *check, uint16_t old, uint16_t new);
void cn_csum_replace32(uint8_t *check, uint32_t old, uint32_t new);

#endif
