/* SPDX-License-Identifier: MIT */
/*
 * A frame as it crosses the box: Ethernet bytes plus the offload state the
 * kernel attached to it. The offload fields have virtio_net_hdr semantics
 * (host byte order) so packet I/O can pass them through without translation.
 */
#ifndef CN_FRAME_H
#define CN_FRAME_H

#include <stdint.h>

enum {
	/* L4 checksum field holds only the pseudo-header sum; the sender's
	 * device completes it from csum_start over the rest of the frame. */
	CN_OFF_CSUM_PARTIAL = 1u << 0,
	/* The checksum was verified by the receiving device. */
	CN_OFF_CSUM_VALID = 1u << 1,
};

enum cn_gso {
	CN_GSO_NONE = 0,
	CN_GSO_TCPV4 = 1,
	CN_GSO_UDP = 3,
	CN_GSO_TCPV6 = 4,
	CN_GSO_ECN = 0x80,
};

struct cn_offload {
	uint8_t flags;       /* CN_OFF_* */
	uint8_t gso_type;    /* enum cn_gso */
	uint16_t hdr_len;    /* Ethernet + IP + TCP header bytes (GSO) */
	uint16_t gso_size;   /* payload bytes per segment (GSO) */
	uint16_t csum_start; /* where checksumming starts (partial) */
	uint16_t csum_offset;/* checksum field, relative to csum_start */
};

struct cn_frame {
	uint8_t *data;
	uint32_t len;
	struct cn_offload off;
};

#endif
