// SPDX-License-Identifier: MIT
/*
 * Packet I/O on one interface through AF_PACKET.
 *
 * Receive: a TPACKET_V2 ring of small (2 KiB) slots plus PACKET_COPY_THRESH.
 * TPACKET_V3 takes a virtio_net_hdr on this kernel too (tpacket_rcv writes
 * it in front of the MAC header for every version), but a V3 block reaches
 * user space only when it is full or when its retire timer fires, and that
 * timer counts in milliseconds: a lone frame (a SYN, a ping) would wait up
 * to a millisecond. For a latency box and a delay emulator that is the
 * wrong trade, so V2, where each frame is ours as soon as it is written.
 * Fixed V2 slots large enough for 64 KiB GSO super-frames would waste 97 %
 * of the ring on MTU-sized frames; instead a frame larger than its slot
 * goes whole to the socket's receive queue (TP_STATUS_COPY, the kernel's
 * copy_thresh path) and is read with recvmsg() in ring order. A frame the
 * kernel could not copy arrives truncated (tp_snaplen < tp_len): counted
 * in rx_truncated and dropped, never forwarded.
 *
 * Transmit: sendmmsg() over a staging buffer, one system call per batch.
 * A PACKET_TX_RING has fixed-size slots too, so carrying GSO frames would
 * take 64 KiB per slot; and a veth peer copies ring pages anyway
 * (skb_orphan_frags() of the zero-copy skb), so the ring saves no copy.
 *
 * Offloads: PACKET_VNET_HDR on the socket; the virtio_net_hdr in front of
 * every frame maps one to one to struct cn_offload.
 *
 * Fanout: sockets of several threads on one interface can share its frames
 * through a PACKET_FANOUT_HASH group. The kernel picks the member with
 * __skb_get_hash_symmetric() (addresses and ports sorted before hashing),
 * so both directions of a flow map to the same index in two groups of the
 * same size whose members joined in the same order.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "pktio.h"

#define PKTIO_SLOT_SIZE 2048u            /* one MTU-sized frame + headers */
#define PKTIO_BLOCK_SIZE (256u * 1024)   /* ring block: 128 slots */
#define PKTIO_RX_RING_DEFAULT (8u << 20) /* 4096 slots */
#define PKTIO_TX_STAGE_DEFAULT (2u << 20)
#define PKTIO_TX_BATCH 64u
#define PKTIO_SOCKBUF (32 << 20)
#define PKTIO_VLAN_HLEN 4u
/* Buffers for frames read whole from the receive queue (TP_STATUS_COPY):
 * each stays valid, like a ring slot, until the burst is released. */
#define PKTIO_BIG_NR 16u
/* Largest frame: a 64 KiB GSO super-frame, its MAC header and a VLAN tag. */
#define PKTIO_FRAME_MAX (65536u + 512u)
/* Linux 6.2; older uapi headers lack the name. */
#ifndef PACKET_FANOUT_FLAG_IGNORE_OUTGOING
#define PACKET_FANOUT_FLAG_IGNORE_OUTGOING 0x4000
#endif
/* pktio_fanout_group(): the group's 16-bit id with this mark, so that a
 * kernel-chosen id 0 is not mistaken for "no group". */
#define PKTIO_FANOUT_JOIN (1u << 16)

struct pktio_acc {
	struct pktio_stats st; /* rx_kernel_drops accumulates (clear on read) */
};

struct pktio_tx {
	uint8_t *stage;       /* frames queued for the next sendmmsg() */
	uint32_t stage_size;
	uint32_t stage_used;
	unsigned n;
	struct virtio_net_hdr vh[PKTIO_TX_BATCH];
	struct iovec iov[PKTIO_TX_BATCH][2];
	struct mmsghdr msg[PKTIO_TX_BATCH];
};

struct pktio {
	int fd;
	int ifindex;
	uint32_t mtu;
	char ifname[IF_NAMESIZE];
	uint8_t *ring;
	size_t ring_len;
	unsigned slot_nr;
	unsigned head;
	unsigned held;        /* slots of the last burst not yet given back */
	unsigned big_used;    /* big buffers of the last burst */
	uint8_t *big[PKTIO_BIG_NR]; /* frames read whole from the receive queue */
	struct pktio_acc *acc;
	uint32_t fanout;      /* PKTIO_FANOUT_JOIN | id, or 0 */
	struct pktio_tx tx;
	/* after_tc: the sockets served after tc (pktio.h), receive only */
	struct pktio *after[PKTIO_AFTER];
	unsigned after_next; /* where the next receive burst starts */
};

/* An after_tc pktio's own socket receives nothing: the smallest ring.
 * Those of the VLAN EtherTypes get only tagged frames: a small one. */
#define PKTIO_SEND_RING (1u << 19)
#define PKTIO_VLAN_RING (1u << 20)

/* ---- setup --------------------------------------------------------- */

static int sockopt(int fd, int level, int name, int val)
{
	return setsockopt(fd, level, name, &val, sizeof(val)) ? -errno : 0;
}

static int pktio_socket(struct pktio *io, const char **errmsg)
{
	/* Protocol 0: no frames at all until bind() names the interface. */
	io->fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (io->fd < 0) {
		int err = -errno;

		*errmsg = err == -EPERM || err == -EACCES ?
			"AF_PACKET socket: permission denied (needs CAP_NET_RAW)" :
			"AF_PACKET socket failed";
		return err == -EACCES ? -EPERM : err;
	}
	return 0;
}

static int pktio_lookup(struct pktio *io, const char *ifname,
			const char **errmsg)
{
	struct ifreq ifr = { 0 };

	if (!ifname || !*ifname || strlen(ifname) >= IF_NAMESIZE) {
		*errmsg = "bad interface name";
		return -ENODEV;
	}
	strcpy(io->ifname, ifname);
	io->ifindex = (int)if_nametoindex(ifname);
	if (!io->ifindex) {
		*errmsg = "no such interface";
		return -ENODEV;
	}
	strcpy(ifr.ifr_name, ifname);
	if (ioctl(io->fd, SIOCGIFMTU, &ifr) < 0) {
		*errmsg = "cannot read the interface MTU";
		return -errno;
	}
	io->mtu = (uint32_t)ifr.ifr_mtu;
	return 0;
}

/* Socket options that must precede the ring (PACKET_VNET_HDR and
 * PACKET_VERSION answer EBUSY once a ring exists). */
static int pktio_options(struct pktio *io, const struct pktio_config *cfg,
			 const char **errmsg)
{
	int fd = io->fd, err;

	if ((err = sockopt(fd, SOL_PACKET, PACKET_VERSION, TPACKET_V2))) {
		*errmsg = "PACKET_VERSION TPACKET_V2 not supported";
		return err;
	}
	if ((err = sockopt(fd, SOL_PACKET, PACKET_VNET_HDR, 1))) {
		*errmsg = "PACKET_VNET_HDR not supported";
		return err;
	}
	/* The ring's copy path needs the frame in the receive queue:
	 * copy_thresh only has to be non-zero. */
	if ((err = sockopt(fd, SOL_PACKET, PACKET_COPY_THRESH, 1))) {
		*errmsg = "PACKET_COPY_THRESH not supported";
		return err;
	}
	if ((err = sockopt(fd, SOL_PACKET, PACKET_AUXDATA, 1))) {
		*errmsg = "PACKET_AUXDATA not supported";
		return err;
	}
	/* Frames others send on this interface are no input of ours; our
	 * own frames never loop back to a packet socket anyway. */
	if ((err = sockopt(fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1))) {
		*errmsg = "PACKET_IGNORE_OUTGOING not supported";
		return err;
	}
	if (cfg->qdisc_bypass &&
	    (err = sockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, 1))) {
		*errmsg = "PACKET_QDISC_BYPASS not supported";
		return err;
	}
	/* The FORCE variants pass net.core.[rw]mem_max but need
	 * CAP_NET_ADMIN; without it take what the limit allows. */
	if (sockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, PKTIO_SOCKBUF))
		(void)sockopt(fd, SOL_SOCKET, SO_RCVBUF, PKTIO_SOCKBUF);
	if (sockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, PKTIO_SOCKBUF))
		(void)sockopt(fd, SOL_SOCKET, SO_SNDBUF, PKTIO_SOCKBUF);
	return 0;
}

static int pktio_ring(struct pktio *io, uint32_t bytes, const char **errmsg)
{
	struct tpacket_req req = { 0 };
	void *map;

	if (!bytes)
		bytes = PKTIO_RX_RING_DEFAULT;
	req.tp_block_size = PKTIO_BLOCK_SIZE;
	req.tp_block_nr = (bytes + PKTIO_BLOCK_SIZE - 1) / PKTIO_BLOCK_SIZE;
	if (req.tp_block_nr < 2)
		req.tp_block_nr = 2;
	req.tp_frame_size = PKTIO_SLOT_SIZE;
	req.tp_frame_nr = req.tp_block_nr * (PKTIO_BLOCK_SIZE / PKTIO_SLOT_SIZE);
	if (setsockopt(io->fd, SOL_PACKET, PACKET_RX_RING, &req, sizeof(req))) {
		*errmsg = "PACKET_RX_RING failed";
		return -errno;
	}
	io->ring_len = (size_t)req.tp_block_size * req.tp_block_nr;
	map = mmap(NULL, io->ring_len, PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_POPULATE, io->fd, 0);
	if (map == MAP_FAILED) {
		io->ring_len = 0;
		*errmsg = "mmap of the receive ring failed";
		return -errno;
	}
	io->ring = map;
	io->slot_nr = req.tp_frame_nr;
	return 0;
}

static int pktio_bind(struct pktio *io, uint16_t proto, bool promisc,
		      const char **errmsg)
{
	struct sockaddr_ll sll = {
		.sll_family = AF_PACKET,
		.sll_protocol = htons(proto),
		.sll_ifindex = io->ifindex,
	};
	struct packet_mreq mr = {
		.mr_ifindex = io->ifindex,
		.mr_type = PACKET_MR_PROMISC,
	};

	if (bind(io->fd, (struct sockaddr *)&sll, sizeof(sll))) {
		*errmsg = errno == ENODEV ? "no such interface" :
					    "bind to the interface failed";
		return -errno;
	}
	if (promisc && setsockopt(io->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP,
				  &mr, sizeof(mr))) {
		*errmsg = "promiscuous mode (PACKET_MR_PROMISC) failed";
		return -errno;
	}
	return 0;
}

/*
 * A socket bound before it joins its fanout group would, for that moment,
 * receive every frame of the interface, frames the group's members receive
 * as well: forwarded twice. A filter that accepts nothing keeps it deaf
 * until it has joined.
 */
static int pktio_deaf(struct pktio *io, bool on, const char **errmsg)
{
	struct sock_filter none[] = { BPF_STMT(BPF_RET | BPF_K, 0) };
	struct sock_fprog prog = { .len = 1, .filter = none };
	int dummy = 0;
	int ret = on ? setsockopt(io->fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
				  sizeof(prog)) :
		       setsockopt(io->fd, SOL_SOCKET, SO_DETACH_FILTER, &dummy,
				  sizeof(dummy));

	if (ret) {
		*errmsg = "socket filter for the fanout join failed";
		return -errno;
	}
	return 0;
}

/*
 * Join (or start) a hash fanout group; after bind(), as the kernel wants.
 * IGNORE_OUTGOING: the group's hook replaces the socket's own, and without
 * it every frame any member sends would come back to the group.
 */
static int pktio_fanout(struct pktio *io, uint32_t group, int prog,
			const char **errmsg)
{
	uint32_t type = (prog >= 0 ? PACKET_FANOUT_EBPF : PACKET_FANOUT_HASH) |
			PACKET_FANOUT_FLAG_IGNORE_OUTGOING;
	uint32_t arg;
	socklen_t len = sizeof(arg);

	if (group == PKTIO_FANOUT_NEW) {
		arg = (type | PACKET_FANOUT_FLAG_UNIQUEID) << 16;
	} else if ((group & ~0xffffu) == PKTIO_FANOUT_JOIN) {
		arg = (group & 0xffffu) | type << 16;
	} else {
		*errmsg = "bad fanout group";
		return -EINVAL;
	}
	if (setsockopt(io->fd, SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg))) {
		*errmsg = prog >= 0 ? "PACKET_FANOUT (eBPF, ignore outgoing) failed" :
				      "PACKET_FANOUT (hash, ignore outgoing) failed";
		return -errno;
	}
	/* The group's program; each member sets the same one. */
	if (prog >= 0 &&
	    setsockopt(io->fd, SOL_PACKET, PACKET_FANOUT_DATA, &prog,
		       sizeof(prog))) {
		*errmsg = "PACKET_FANOUT_DATA (the fanout program) failed";
		return -errno;
	}
	if (getsockopt(io->fd, SOL_PACKET, PACKET_FANOUT, &arg, &len)) {
		*errmsg = "reading the PACKET_FANOUT group failed";
		return -errno;
	}
	io->fanout = PKTIO_FANOUT_JOIN | (arg & 0xffffu);
	return 0;
}

/* bytes 0: no transmit staging (a socket that only receives). */
static int pktio_alloc_tx(struct pktio *io, uint32_t bytes,
			  const char **errmsg)
{
	if (bytes && bytes < PKTIO_FRAME_MAX)
		bytes = PKTIO_FRAME_MAX;
	if (bytes && !(io->tx.stage = malloc(bytes))) {
		*errmsg = "out of memory for packet buffers";
		return -ENOMEM;
	}
	for (unsigned i = 0; i < PKTIO_BIG_NR; i++) {
		io->big[i] = malloc(PKTIO_FRAME_MAX + PKTIO_VLAN_HLEN);
		if (!io->big[i]) {
			*errmsg = "out of memory for packet buffers";
			return -ENOMEM;
		}
	}
	io->tx.stage_size = bytes;
	return 0;
}

/* One socket: bound to proto and its fanout group, a receive ring of
 * ring_bytes (0: the default) and tx_bytes of transmit staging. */
static int pktio_open_sock(struct pktio **out, const struct pktio_config *cfg,
			   uint16_t proto, uint32_t group, uint32_t ring_bytes,
			   uint32_t tx_bytes, const char **errmsg)
{
	struct pktio *io;
	int err;

	*out = NULL;
	io = calloc(1, sizeof(*io));
	if (!io || !(io->acc = calloc(1, sizeof(*io->acc)))) {
		free(io);
		*errmsg = "out of memory";
		return -ENOMEM;
	}
	io->fd = -1;
	if ((err = pktio_socket(io, errmsg)) ||
	    (err = pktio_lookup(io, cfg->ifname, errmsg)) ||
	    (err = pktio_options(io, cfg, errmsg)) ||
	    (err = pktio_ring(io, ring_bytes, errmsg)) ||
	    (err = pktio_alloc_tx(io, tx_bytes, errmsg)) ||
	    (group && (err = pktio_deaf(io, true, errmsg))) ||
	    (err = pktio_bind(io, proto, cfg->promisc, errmsg)))
		goto fail;
	/* Deaf until it joined. */
	if (group && ((err = pktio_fanout(io, group, cfg->bpf_fanout, errmsg)) ||
		      (err = pktio_deaf(io, false, errmsg))))
		goto fail;
	*out = io;
	return 0;
fail:
	pktio_close(io);
	return err;
}

int pktio_open(struct pktio **out, const struct pktio_config *cfg,
	       const char **errmsg)
{
	static const struct {
		uint16_t proto;
		bool tagged; /* gets VLAN-tagged frames only: a small ring */
	} after[PKTIO_AFTER] = {
		{ ETH_P_IP, false }, { ETH_P_IPV6, false },
		{ ETH_P_8021Q, true }, { ETH_P_8021AD, true },
	};
	uint32_t tx = cfg->tx_ring_bytes ? cfg->tx_ring_bytes :
					   PKTIO_TX_STAGE_DEFAULT;
	struct pktio *io;
	int err;

	*errmsg = NULL;
	/* Bound to no EtherType, a socket still sends on its interface, and
	 * the kernel parses each frame's own. */
	err = pktio_open_sock(&io, cfg, cfg->after_tc ? 0 : ETH_P_ALL,
			      cfg->after_tc ? 0 : cfg->fanout_group,
			      cfg->after_tc ? PKTIO_SEND_RING : cfg->rx_ring_bytes,
			      tx, errmsg);
	if (err)
		return err;
	for (int i = 0; cfg->after_tc && i < PKTIO_AFTER; i++) {
		err = pktio_open_sock(&io->after[i], cfg, after[i].proto,
				      cfg->fanout_after_tc[i],
				      after[i].tagged ? PKTIO_VLAN_RING :
							cfg->rx_ring_bytes,
				      0, errmsg);
		if (err) {
			pktio_close(io);
			return err;
		}
	}
	*out = io;
	return 0;
}

void pktio_close(struct pktio *io)
{
	if (!io)
		return;
	for (int i = 0; i < PKTIO_AFTER; i++)
		pktio_close(io->after[i]);
	if (io->ring)
		munmap(io->ring, io->ring_len);
	if (io->fd >= 0)
		close(io->fd);
	free(io->tx.stage);
	for (unsigned i = 0; i < PKTIO_BIG_NR; i++)
		free(io->big[i]);
	free(io->acc);
	free(io);
}

int pktio_fd(const struct pktio *io)
{
	return io->fd;
}

unsigned pktio_fds(const struct pktio *io, int fds[PKTIO_SOCKS])
{
	unsigned n = 0;

	fds[n++] = io->fd;
	for (int i = 0; i < PKTIO_AFTER; i++)
		if (io->after[i])
			fds[n++] = io->after[i]->fd;
	return n;
}

int pktio_sock_error(const struct pktio *io)
{
	int fds[PKTIO_SOCKS];
	unsigned n = pktio_fds(io, fds);

	for (unsigned i = 0; i < n; i++) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(fds[i], SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			return -errno;
		if (err)
			return err;
	}
	return 0;
}

const char *pktio_ifname(const struct pktio *io)
{
	return io->ifname;
}

uint32_t pktio_fanout_group_of(const struct pktio *io, unsigned i)
{
	if (!i)
		return io->fanout;
	return i <= PKTIO_AFTER && io->after[i - 1] ? io->after[i - 1]->fanout : 0;
}

/* ---- receive ------------------------------------------------------- */

static void offload_from_vnet(struct cn_offload *o,
			      const struct virtio_net_hdr *vh)
{
	o->flags = 0;
	if (vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		o->flags |= CN_OFF_CSUM_PARTIAL;
	if (vh->flags & VIRTIO_NET_HDR_F_DATA_VALID)
		o->flags |= CN_OFF_CSUM_VALID;
	o->gso_type = vh->gso_type;
	o->hdr_len = vh->hdr_len;
	o->gso_size = vh->gso_size;
	o->csum_start = vh->csum_start;
	o->csum_offset = vh->csum_offset;
}

/*
 * The receive path moved a VLAN tag out of the frame into metadata
 * (skb_vlan_untag() runs before the packet taps); a bridge must forward
 * the frame as it was on the wire, so put the tag back. There are always
 * at least PKTIO_VLAN_HLEN writable bytes in front of data.
 */
static void vlan_reinsert(struct cn_frame *f, uint16_t tci, uint16_t tpid)
{
	uint8_t *p = f->data - PKTIO_VLAN_HLEN;

	memmove(p, f->data, 2 * ETH_ALEN);
	p[12] = (uint8_t)(tpid >> 8);
	p[13] = (uint8_t)tpid;
	p[14] = (uint8_t)(tci >> 8);
	p[15] = (uint8_t)tci;
	f->data = p;
	f->len += PKTIO_VLAN_HLEN;
	if (f->off.flags & CN_OFF_CSUM_PARTIAL)
		f->off.csum_start += PKTIO_VLAN_HLEN;
	if (f->off.hdr_len)
		f->off.hdr_len += PKTIO_VLAN_HLEN;
}

static uint16_t vlan_tpid(uint32_t status, uint16_t tpid)
{
	return (status & TP_STATUS_VLAN_TPID_VALID) && tpid ? tpid : ETH_P_8021Q;
}

/* The whole frame of a TP_STATUS_COPY slot: the next skb in the receive
 * queue (only the copy path queues skbs there, in ring order). */
static int pktio_read_big(struct pktio *io, struct cn_frame *f)
{
	struct virtio_net_hdr vh;
	uint8_t *buf;
	struct iovec iov[2] = {
		{ .iov_base = &vh, .iov_len = sizeof(vh) },
		{ .iov_len = PKTIO_FRAME_MAX },
	};
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct tpacket_auxdata))];
	} cbuf;
	struct msghdr msg = {
		.msg_iov = iov, .msg_iovlen = 2,
		.msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf),
	};
	const struct tpacket_auxdata *aux = NULL;
	ssize_t n;

	buf = io->big[io->big_used++] + PKTIO_VLAN_HLEN;
	iov[1].iov_base = buf;
	n = recvmsg(io->fd, &msg, MSG_DONTWAIT | MSG_TRUNC);

	if (n < 0)
		return -errno;
	if ((msg.msg_flags & MSG_TRUNC) || n < (ssize_t)sizeof(vh) ||
	    (size_t)n > sizeof(vh) + PKTIO_FRAME_MAX)
		return -EMSGSIZE;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_PACKET && c->cmsg_type == PACKET_AUXDATA)
			aux = (const void *)CMSG_DATA(c);
	f->data = buf;
	f->len = (uint32_t)n - sizeof(vh);
	offload_from_vnet(&f->off, &vh);
	if (aux && (aux->tp_status & TP_STATUS_VLAN_VALID))
		vlan_reinsert(f, aux->tp_vlan_tci,
			      vlan_tpid(aux->tp_status, aux->tp_vlan_tpid));
	return 0;
}

/* The frame of one ring slot; 1: deliver it, 0: skip it. */
static int pktio_slot_frame(struct pktio *io, struct tpacket2_hdr *h,
			    struct cn_frame *f)
{
	const struct sockaddr_ll *sll =
		(const void *)((uint8_t *)h + TPACKET_ALIGN(sizeof(*h)));
	const struct virtio_net_hdr *vh;
	int err;

	if (sll->sll_pkttype == PACKET_OUTGOING) {
		/* A whole copy of it waits in the receive queue too: take it
		 * off, or every later big frame would be read for the wrong
		 * slot. (PACKET_IGNORE_OUTGOING keeps these away anyway.) */
		if (h->tp_status & TP_STATUS_COPY) {
			(void)pktio_read_big(io, f);
			io->big_used--;
		}
		return 0;
	}
	if (h->tp_status & TP_STATUS_COPY) {
		err = pktio_read_big(io, f);
		if (err) {
			io->acc->st.rx_truncated++;
			return 0;
		}
		return 1;
	}
	if (h->tp_snaplen < h->tp_len ||
	    h->tp_mac < TPACKET2_HDRLEN + sizeof(*vh) + PKTIO_VLAN_HLEN) {
		io->acc->st.rx_truncated++;
		return 0;
	}
	vh = (const void *)((uint8_t *)h + h->tp_mac - sizeof(*vh));
	offload_from_vnet(&f->off, vh);
	f->data = (uint8_t *)h + h->tp_mac;
	f->len = h->tp_snaplen;
	if (h->tp_status & TP_STATUS_VLAN_VALID)
		vlan_reinsert(f, h->tp_vlan_tci,
			      vlan_tpid(h->tp_status, h->tp_vlan_tpid));
	return 1;
}

static struct tpacket2_hdr *pktio_slot(const struct pktio *io, unsigned i)
{
	return (struct tpacket2_hdr *)(io->ring + (size_t)i * PKTIO_SLOT_SIZE);
}

static void rx_release_one(struct pktio *io)
{
	unsigned i = io->head >= io->held ? io->head - io->held :
					    io->head + io->slot_nr - io->held;

	for (; io->held; io->held--) {
		__atomic_store_n(&pktio_slot(io, i)->tp_status, TP_STATUS_KERNEL,
				 __ATOMIC_RELEASE);
		i = i + 1 == io->slot_nr ? 0 : i + 1;
	}
	io->big_used = 0;
}

void pktio_rx_release(struct pktio *io)
{
	rx_release_one(io);
	for (int i = 0; i < PKTIO_AFTER; i++)
		if (io->after[i])
			rx_release_one(io->after[i]);
}

static unsigned rx_burst_one(struct pktio *io, unsigned budget,
			     pktio_rx_fn fn, void *ctx)
{
	unsigned done = 0;

	while (done < budget) {
		struct tpacket2_hdr *h = pktio_slot(io, io->head);
		uint32_t status = __atomic_load_n(&h->tp_status, __ATOMIC_ACQUIRE);
		struct cn_frame f;

		if (!(status & TP_STATUS_USER))
			break;
		if ((status & TP_STATUS_COPY) && io->big_used == PKTIO_BIG_NR)
			break; /* the rest waits for the next burst */
		if (pktio_slot_frame(io, h, &f)) {
			io->acc->st.rx_frames++;
			io->acc->st.rx_bytes += f.len;
			fn(ctx, &f, (uint64_t)h->tp_sec * 1000000000u + h->tp_nsec);
			done++;
		}
		io->held++;
		io->head = io->head + 1 == io->slot_nr ? 0 : io->head + 1;
	}
	return done;
}

/* A flow's frames all come through one of the sockets (by EtherType, the
 * outer VLAN tag's for a tagged one), so taking them one after the other
 * keeps each flow's order. Each burst starts at the next of the after_tc
 * sockets: a busy one cannot starve the others. */
int pktio_rx_burst(struct pktio *io, unsigned budget, pktio_rx_fn fn,
		   void *ctx)
{
	unsigned done;

	pktio_rx_release(io);
	done = rx_burst_one(io, budget, fn, ctx);
	for (unsigned k = 0; k < PKTIO_AFTER; k++) {
		struct pktio *a = io->after[(io->after_next + k) % PKTIO_AFTER];

		if (a && done < budget)
			done += rx_burst_one(a, budget - done, fn, ctx);
	}
	io->after_next = (io->after_next + 1) % PKTIO_AFTER;
	return (int)done;
}

/* ---- transmit ------------------------------------------------------ */

static void vnet_from_offload(struct virtio_net_hdr *vh,
			      const struct cn_offload *o)
{
	memset(vh, 0, sizeof(*vh));
	if (o->flags & CN_OFF_CSUM_PARTIAL) {
		vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		vh->csum_start = o->csum_start;
		vh->csum_offset = o->csum_offset;
	}
	vh->gso_type = o->gso_type;
	vh->gso_size = o->gso_size;
	vh->hdr_len = o->hdr_len;
}

/* Hand the staged frames to the kernel. A frame it refuses (bad offload
 * fields, interface down) is counted and skipped; a full socket buffer
 * is waited out briefly, then the rest is counted as refused too. */
static int pktio_kick(struct pktio *io)
{
	struct pktio_tx *tx = &io->tx;
	unsigned i = 0, waits = 0;
	int err = 0;

	while (i < tx->n) {
		int n = sendmmsg(io->fd, &tx->msg[i], tx->n - i, MSG_DONTWAIT);

		if (n > 0) {
			for (unsigned k = i; k < i + (unsigned)n; k++) {
				io->acc->st.tx_frames++;
				io->acc->st.tx_bytes += tx->iov[k][1].iov_len;
			}
			i += (unsigned)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if ((errno == EAGAIN || errno == ENOBUFS) && waits++ < 10) {
			struct pollfd p = { .fd = io->fd, .events = POLLOUT };

			(void)poll(&p, 1, 1);
			continue;
		}
		err = -errno;
		io->acc->st.tx_errors++;
		i++;
	}
	tx->n = 0;
	tx->stage_used = 0;
	return err;
}

static bool pktio_fits(const struct pktio *io, const struct cn_frame *f)
{
	return f->len <= PKTIO_FRAME_MAX && f->len >= ETH_HLEN &&
	       (f->off.gso_type != CN_GSO_NONE ||
		f->len <= io->mtu + ETH_HLEN + PKTIO_VLAN_HLEN);
}

static void pktio_queue(struct pktio *io, const struct cn_frame *f,
			uint8_t *bytes)
{
	struct pktio_tx *tx = &io->tx;
	unsigned i = tx->n++;

	vnet_from_offload(&tx->vh[i], &f->off);
	tx->iov[i][0] = (struct iovec){ &tx->vh[i], sizeof(tx->vh[i]) };
	tx->iov[i][1] = (struct iovec){ bytes, f->len };
	tx->msg[i] = (struct mmsghdr){
		.msg_hdr = { .msg_iov = tx->iov[i], .msg_iovlen = 2 },
	};
}

int pktio_send(struct pktio *io, const struct cn_frame *f)
{
	struct pktio_tx *tx = &io->tx;
	uint8_t *copy;

	if (!pktio_fits(io, f))
		return -EMSGSIZE;
	if (tx->n == PKTIO_TX_BATCH || tx->stage_size - tx->stage_used < f->len)
		(void)pktio_kick(io);
	copy = tx->stage + tx->stage_used;
	memcpy(copy, f->data, f->len);
	tx->stage_used += f->len;
	pktio_queue(io, f, copy);
	return 0;
}

int pktio_send_ref(struct pktio *io, const struct cn_frame *f)
{
	if (!pktio_fits(io, f))
		return -EMSGSIZE;
	if (io->tx.n == PKTIO_TX_BATCH)
		(void)pktio_kick(io);
	pktio_queue(io, f, f->data);
	return 0;
}

int pktio_flush(struct pktio *io)
{
	return io->tx.n ? pktio_kick(io) : 0;
}

void pktio_get_stats(const struct pktio *io, struct pktio_stats *st)
{
	struct tpacket_stats ks;
	socklen_t len = sizeof(ks);

	/* Clear on read in the kernel: fold into the running total. */
	if (!getsockopt(io->fd, SOL_PACKET, PACKET_STATISTICS, &ks, &len))
		io->acc->st.rx_kernel_drops += ks.tp_drops;
	*st = io->acc->st;
	for (int i = 0; i < PKTIO_AFTER; i++) {
		struct pktio_stats a;

		if (!io->after[i])
			continue;
		pktio_get_stats(io->after[i], &a);
		st->rx_frames += a.rx_frames;
		st->rx_bytes += a.rx_bytes;
		st->rx_kernel_drops += a.rx_kernel_drops;
		st->rx_truncated += a.rx_truncated;
	}
}
