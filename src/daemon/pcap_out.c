// SPDX-License-Identifier: MIT
#include "pcap_out.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pcap/pcap.h>

#include "engine/checksum.h"
#include "engine/packet.h"

#define ETH_HLEN_ 14
#define SLL2_HLEN 20
#define ARPHRD_ETHER_ 1

/* sll_pkttype values (linux/if_packet.h) as SLL2 records them. */
enum {
	SLL_HOST = 0,
	SLL_BROADCAST = 1,
	SLL_MULTICAST = 2,
	SLL_OTHERHOST = 3,
	SLL_OUTGOING = 4,
};

struct pcap_out {
	pcap_t *pd;
	pcap_dumper_t *dumper;
	uint64_t frames;
	uint64_t truncated;
	uint8_t *scratch; /* SLL2 header + frame, one record at a time */
};

int pcap_out_open(struct pcap_out **out, const char *path, char *errbuf,
		  size_t errlen)
{
	struct pcap_out *p;
	int ret = -ENOMEM;

	p = calloc(1, sizeof(*p));
	if (!p)
		goto fail;
	p->scratch = malloc(PCAP_OUT_SNAPLEN);
	if (!p->scratch)
		goto fail;
	p->pd = pcap_open_dead_with_tstamp_precision(
		DLT_LINUX_SLL2, PCAP_OUT_SNAPLEN, PCAP_TSTAMP_PRECISION_NANO);
	if (!p->pd)
		goto fail;
	p->dumper = pcap_dump_open(p->pd, path);
	if (!p->dumper) {
		/* libpcap keeps the errno text in its message, not errno. */
		snprintf(errbuf, errlen, "%s", pcap_geterr(p->pd));
		ret = -EIO;
		goto fail_msg;
	}
	*out = p;
	return 0;
fail:
	snprintf(errbuf, errlen, "%s", strerror(-ret));
fail_msg:
	if (p) {
		if (p->pd)
			pcap_close(p->pd);
		free(p->scratch);
		free(p);
	}
	return ret;
}

static uint8_t pkttype_of(const struct pcap_out_if *ifc, bool outgoing,
			  const uint8_t *dst)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };

	if (outgoing)
		return SLL_OUTGOING;
	if (!memcmp(dst, bcast, 6))
		return SLL_BROADCAST;
	if (dst[0] & 1)
		return SLL_MULTICAST;
	return memcmp(dst, ifc->mac, 6) ? SLL_OTHERHOST : SLL_HOST;
}

/* Finish a partial checksum in the copy as the sending device would: the
 * field holds the pseudo-header sum, the rest is summed from csum_start. */
static void complete_csum(uint8_t *rec, uint32_t caplen,
			  const struct cn_frame *f)
{
	uint32_t start = f->off.csum_start;
	uint32_t field = start + f->off.csum_offset;
	uint32_t rec_field;

	if (start >= f->len || field + 2 > f->len || field < ETH_HLEN_)
		return;
	rec_field = field - ETH_HLEN_ + SLL2_HLEN;
	if (rec_field + 2 > caplen)
		return;
	cn_put16(rec + rec_field,
		 cn_csum_fold(cn_csum_add(0, f->data + start, f->len - start)));
}

void pcap_out_frame(struct pcap_out *p, const struct pcap_out_if *ifc,
		    bool outgoing, uint64_t ts_ns, const struct cn_frame *f)
{
	struct pcap_pkthdr h;
	uint32_t l2 = f->len >= ETH_HLEN_ ? ETH_HLEN_ : 0;
	uint32_t wire = SLL2_HLEN + f->len - l2;
	uint32_t caplen = wire < PCAP_OUT_SNAPLEN ? wire : PCAP_OUT_SNAPLEN;
	uint8_t *r = p->scratch;

	memset(r, 0, SLL2_HLEN);
	if (l2) {
		memcpy(r, f->data + 12, 2); /* EtherType */
		r[10] = pkttype_of(ifc, outgoing, f->data);
		r[11] = 6;
		memcpy(r + 12, f->data + 6, 6); /* source MAC */
	} else {
		r[10] = outgoing ? SLL_OUTGOING : SLL_HOST;
	}
	cn_put32(r + 4, ifc->ifindex);
	cn_put16(r + 8, ARPHRD_ETHER_);
	memcpy(r + SLL2_HLEN, f->data + l2, caplen - SLL2_HLEN);
	if (l2 && (f->off.flags & CN_OFF_CSUM_PARTIAL))
		complete_csum(r, caplen, f);

	h.ts.tv_sec = (time_t)(ts_ns / 1000000000u);
	h.ts.tv_usec = (suseconds_t)(ts_ns % 1000000000u); /* nanoseconds */
	h.caplen = caplen;
	h.len = wire;
	pcap_dump((u_char *)p->dumper, &h, r);
	p->frames++;
	if (caplen < wire)
		p->truncated++;
}

uint64_t pcap_out_frames(const struct pcap_out *p)
{
	return p->frames;
}

uint64_t pcap_out_truncated(const struct pcap_out *p)
{
	return p->truncated;
}

void pcap_out_flush(struct pcap_out *p)
{
	pcap_dump_flush(p->dumper);
}

int pcap_out_close(struct pcap_out *p)
{
	int ret = 0;

	if (!p)
		return 0;
	if (pcap_dump_flush(p->dumper) < 0 || ferror(pcap_dump_file(p->dumper)))
		ret = -EIO;
	pcap_dump_close(p->dumper);
	pcap_close(p->pd);
	free(p->scratch);
	free(p);
	return ret;
}
