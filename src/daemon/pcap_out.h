/* SPDX-License-Identifier: MIT */
/*
 * A capture of every frame the daemon receives and sends, written with
 * libpcap as LINKTYPE_LINUX_SLL2: each record carries the interface index
 * and the direction (sll.ifindex, sll.pkttype), so one file shows both
 * sides of the box. Timestamps have nanosecond precision.
 */
#ifndef CN_PCAP_OUT_H
#define CN_PCAP_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/frame.h"

/* Large enough for a GSO super-frame (64 KiB of IP plus headers). */
#define PCAP_OUT_SNAPLEN 262144u

struct pcap_out;

/* What the capture needs to know about one interface of the box. */
struct pcap_out_if {
	uint32_t ifindex;
	uint8_t mac[6]; /* to tell frames for this host from others */
};

/* Returns 0 or -errno; on error errbuf holds a message. */
int pcap_out_open(struct pcap_out **out, const char *path, char *errbuf,
		  size_t errlen);

/*
 * Record one frame. outgoing: sent by the box (else received). A frame
 * with a partial checksum is recorded with its checksum completed, so the
 * capture reads as it does on the wire; the frame itself is not touched.
 */
void pcap_out_frame(struct pcap_out *p, const struct pcap_out_if *ifc,
		    bool outgoing, uint64_t ts_ns, const struct cn_frame *f);

/* Frames recorded and frames cut to the snap length. */
uint64_t pcap_out_frames(const struct pcap_out *p);
uint64_t pcap_out_truncated(const struct pcap_out *p);

/* Push buffered records to the file, so a reader sees them now. */
void pcap_out_flush(struct pcap_out *p);

/* Flush and close; returns 0 or -errno when the file could not be written
 * completely. */
int pcap_out_close(struct pcap_out *p);

#endif
