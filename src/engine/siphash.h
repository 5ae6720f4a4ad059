/* SPDX-License-Identifier: MIT */
/* SipHash-2-4 (Aumasson, Bernstein): a keyed hash for flow buckets and
 * ISNs, so an outsider can neither predict nor collide them. */
#ifndef CN_SIPHASH_H
#define CN_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t cn_siphash(const uint8_t key[16], const void *data, size_t len);

#endif
