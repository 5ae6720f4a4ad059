/* SPDX-License-Identifier: MIT */
/*
 * Packet I/O on one interface through AF_PACKET: a memory-mapped receive
 * ring read in batches, transmit in batches, offloads carried in a
 * virtio_net_hdr so GSO super-frames and partial checksums cross whole.
 * Frames the socket itself sent (PACKET_OUTGOING) are never delivered.
 */
#ifndef CN_PKTIO_H
#define CN_PKTIO_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/frame.h"

struct pktio;

struct pktio_config {
	const char *ifname;
	uint32_t rx_ring_bytes; /* 0: default */
	uint32_t tx_ring_bytes; /* 0: default */
	bool promisc;           /* a bridge port sees frames for any MAC */
	bool qdisc_bypass;      /* PACKET_QDISC_BYPASS */
	/* A PACKET_FANOUT_HASH group shared with other sockets on the same
	 * interface: 0: none; PKTIO_FANOUT_NEW: start one (the kernel picks
	 * its id); otherwise pktio_fanout_group_of(.., 0) of its first
	 * member. */
	uint32_t fanout_group;
	/* The kernel path's program that picks the group's member for each
	 * frame (PACKET_FANOUT_EBPF instead of the kernel's hash), or -1. */
	int bpf_fanout;
	/*
	 * With the kernel path: the frames its tc program leaves to the
	 * daemon (TC_ACT_OK) are read from PKTIO_AFTER more sockets, bound to
	 * IPv4, IPv6, 802.1Q and 802.1AD, which the kernel serves after tc
	 * ingress; this socket, bound to no EtherType, only sends (bound to
	 * all, it would be a tap, served every frame before tc). Their
	 * fanout groups, like fanout_group: pktio_fanout_group_of(.., 1 + i)
	 * of the first member's.
	 */
	bool after_tc;
	uint32_t fanout_after_tc[4];
};

/* The sockets served after tc, and all of one pktio: itself and those. */
#define PKTIO_AFTER 4
#define PKTIO_SOCKS (1 + PKTIO_AFTER)

#define PKTIO_FANOUT_NEW (1u << 17)

struct pktio_stats {
	uint64_t rx_frames;
	uint64_t rx_bytes;
	uint64_t rx_kernel_drops; /* PACKET_STATISTICS tp_drops */
	uint64_t rx_truncated;    /* arrived cut short: dropped, never sent */
	uint64_t tx_frames;
	uint64_t tx_bytes;
	uint64_t tx_errors;       /* frames the kernel refused */
};

/* Returns 0 or -errno; on error *errmsg (static text) says what failed. */
int pktio_open(struct pktio **out, const struct pktio_config *cfg,
	       const char **errmsg);
void pktio_close(struct pktio *io);
int pktio_fd(const struct pktio *io);
/* Every socket's descriptor (for epoll); returns how many (1 or 3). */
unsigned pktio_fds(const struct pktio *io, int fds[PKTIO_SOCKS]);
/* The pending error of any of its sockets (reading it clears it): 0,
 * an errno value, or -errno when it could not be read. */
int pktio_sock_error(const struct pktio *io);
const char *pktio_ifname(const struct pktio *io);
/* The fanout group socket i joined (0: the pktio's own, 1 + k: the k-th
 * after_tc one), to give other sockets as their group; 0 when it joined
 * none. */
uint32_t pktio_fanout_group_of(const struct pktio *io, unsigned i);

/*
 * Hand up to budget received frames to fn, in arrival order. The frames'
 * bytes live in the ring (or in buffers of the socket) and stay valid and
 * writable until pktio_rx_release() or the next pktio_rx_burst(), which
 * releases the previous burst first. ts_ns is the kernel receive time
 * (CLOCK_REALTIME). Returns the number of frames delivered, or -errno.
 */
typedef void (*pktio_rx_fn)(void *ctx, struct cn_frame *f, uint64_t ts_ns);
int pktio_rx_burst(struct pktio *io, unsigned budget, pktio_rx_fn fn,
		   void *ctx);
/* Give the last burst's slots back to the kernel. */
void pktio_rx_release(struct pktio *io);

/* Queue a copy of the frame for transmit; sent at the latest on the next
 * pktio_flush(). Returns 0 or -errno (-EMSGSIZE). */
int pktio_send(struct pktio *io, const struct cn_frame *f);
/* Queue the frame without a copy: its bytes (a received frame of another
 * port, say) must stay valid until the next pktio_flush() returns. */
int pktio_send_ref(struct pktio *io, const struct cn_frame *f);
int pktio_flush(struct pktio *io);

void pktio_get_stats(const struct pktio *io, struct pktio_stats *st);

#endif
