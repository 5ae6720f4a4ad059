// SPDX-License-Identifier: MIT
/*
 * The kernel fast path: on the ingress of each port a tc program
 * translates the established flows' plain segments with their record and
 * redirects them to the other port. What it leaves to the daemon goes on
 * (TC_ACT_OK) to the daemon's packet sockets bound to IPv4 and IPv6, which
 * the kernel serves after tc ingress, and to those bound to the two VLAN
 * EtherTypes for a tagged frame (below). No socket of the daemon's sees
 * a frame before tc: a tap would be served every frame of the port.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_helpers.h>

#include "bpf/classify.h"
#include "bpf/xlate.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

static __always_inline int forward(struct __sk_buff *skb,
				   struct cn_fast_side_stats *ss, __u32 out)
{
	long r = bpf_redirect(out, 0);

	if (r != TC_ACT_REDIRECT)
		ss->redirect_errors++;
	return (int)r;
}

/*
 * A VLAN-tagged frame for the daemon. The kernel moved its outer tag out
 * of the frame before tc, and clears it before it serves the EtherType
 * sockets, which would get the frame untagged. Pushed under a tag of VID
 * 4095 (reserved: no VLAN device has it), the tag goes back into the
 * frame and the frame's EtherType becomes the tag's: the kernel, finding
 * no device for the outer tag, drops that one and serves the frame, as it
 * came on the wire, to the daemon's socket for its VLAN EtherType. (A tag
 * still in the frame, as in a test run, is there already.)
 */
#define CN_VID_HANDOVER 4095

static __always_inline int to_daemon_tagged(struct __sk_buff *skb,
					    struct cn_fast_side_stats *ss)
{
	if (skb->vlan_present &&
	    bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), CN_VID_HANDOVER)) {
		ss->redirect_errors++;
		return TC_ACT_SHOT;
	}
	return TC_ACT_OK;
}

/* What tc does with a frame it does not translate. */
static __always_inline int tc_act(struct __sk_buff *skb, const struct cn_seg *s,
				  struct cn_fast_side_stats *ss, int v)
{
	switch (v) {
	case CN_V_LOCAL:
		return TC_ACT_OK;
	case CN_V_DAEMON:
		ss->to_daemon++;
		return s->tagged ? to_daemon_tagged(skb, ss) : TC_ACT_OK;
	case CN_V_DROP:
		ss->dropped++;
		return TC_ACT_SHOT;
	case CN_V_FAILOPEN:
		ss->failed_open++;
		return forward(skb, ss, s->out);
	default:
		break;
	}
	ss->passed++;
	ss->passed_bytes += skb->len;
	return forward(skb, ss, s->out);
}

/* A segment of a flow with a record: everything that uses the record
 * happens here, where its lookup found it (classify.h). */
static __always_inline int tc_flow(struct __sk_buff *skb, int side,
				   struct cn_seg *s, struct cn_fast_flow *r,
				   struct cn_fast_side_stats *ss)
{
	int v = cn_classify_flow(skb, side, s, r);

	if (v == CN_V_XLATE) {
		if (!cn_translate(skb, side, s, r))
			return TC_ACT_SHOT;
		cn_track(skb, side, s, r);
		ss->translated++;
		ss->translated_bytes += skb->len;
		return forward(skb, ss, s->out);
	}
	if (v == CN_V_TRACK)
		cn_track(skb, side, s, r);
	return tc_act(skb, s, ss, v);
}

static __always_inline int tc_run(struct __sk_buff *skb, int side)
{
	struct cn_fast_stats *st = bpf_map_lookup_elem(&cn_stats, &cn_key[0]);
	struct cn_seg *s = cn_seg_get(CN_SCRATCH_TC);
	struct cn_fast_flow *r;
	int v;

	/* Neither is ever missing: both are per-CPU arrays. */
	if (!st || !s)
		return TC_ACT_OK;
	v = cn_classify_frame(skb, side, s);
	if (v != CN_V_XLATE)
		return tc_act(skb, s, &st->side[side], v);
	r = bpf_map_lookup_elem(&cn_flows, &s->key);
	if (!r)
		return tc_act(skb, s, &st->side[side], cn_classify_untracked(side, s));
	return tc_flow(skb, side, s, r, &st->side[side]);
}

/*
 * The packet fanout's choice of the daemon worker: by the flow key, so
 * that a predecessor's flows are adopted by the worker that gets their
 * frames. The key is the engine's (IPv4 options and all), of the IP
 * packet inside the VLAN tags for a tagged frame (whose tags are in the
 * frame: tc put the outer one back, see to_daemon_tagged()), up to as
 * many tags as the engine parses (CN_MAX_VLANS, src/engine/packet.h);
 * anything without one goes to the first worker. The frame is read from
 * its Ethernet header, wherever the kernel has left skb->data (the
 * network header; after a pushed tag, 6.1 and later kernels differ).
 */
#define CN_FANOUT_TAGS 2

static __always_inline int mac_load(struct __sk_buff *skb, __u32 off,
				    void *to, __u32 len)
{
	return (int)bpf_skb_load_bytes_relative(skb, off, to, len,
						BPF_HDR_START_MAC);
}

static __always_inline int fanout_key(struct __sk_buff *skb, int side,
				      struct cn_seg *s)
{
	__u16 proto = bpf_ntohs((__u16)skb->protocol);
	struct cn_flow_key *k = &s->key;
	__u8 *ip = s->ip, *th = s->th;
	__u32 l3 = CN_ETH_HLEN, l4, alen;

	for (int i = 0; i < CN_FANOUT_TAGS && cn_vlan_type(proto); i++) {
		if (mac_load(skb, l3 + 2, &s->half, 2))
			return -1;
		proto = bpf_ntohs(s->half);
		l3 += 4;
	}
	if (proto == ETH_P_IP) {
		if (mac_load(skb, l3, ip, 20) || (ip[0] >> 4) != 4 ||
		    (ip[0] & 0xfu) < 5 || ip[9] != IPPROTO_TCP ||
		    (((__u32)ip[6] << 8 | ip[7]) & 0x3fff))
			return -1;
		l4 = l3 + (ip[0] & 0xfu) * 4;
		alen = 4;
		k->family = 4;
		__builtin_memcpy(side == CN_CLIENT ? k->caddr : k->saddr, ip + 12, 4);
		__builtin_memcpy(side == CN_CLIENT ? k->saddr : k->caddr, ip + 16, 4);
	} else if (proto == ETH_P_IPV6) {
		if (mac_load(skb, l3, ip, CN_IP6_HLEN) ||
		    (ip[0] >> 4) != 6 || ip[6] != IPPROTO_TCP)
			return -1;
		l4 = l3 + CN_IP6_HLEN;
		alen = 16;
		k->family = 6;
		__builtin_memcpy(side == CN_CLIENT ? k->caddr : k->saddr, ip + 8, 16);
		__builtin_memcpy(side == CN_CLIENT ? k->saddr : k->caddr, ip + 24, 16);
	} else {
		return -1;
	}
	if (mac_load(skb, l4 & 0x7f, th, 4))
		return -1;
	k->cport = (__u16)(side == CN_CLIENT ? th[0] << 8 | th[1] : th[2] << 8 | th[3]);
	k->sport = (__u16)(side == CN_CLIENT ? th[2] << 8 | th[3] : th[0] << 8 | th[1]);
	return (int)alen;
}

static __always_inline int fanout_run(struct __sk_buff *skb, int side)
{
	struct cn_seg *s = cn_seg_get(CN_SCRATCH_FANOUT);

	if (!s || fanout_key(skb, side, s) < 0)
		return 0;
	/* The kernel takes it modulo the group size, as an unsigned int. */
	return (int)cn_fast_key_hash(&s->key);
}

SEC("tc")
int cn_tc_client(struct __sk_buff *skb)
{
	return tc_run(skb, CN_CLIENT);
}

SEC("tc")
int cn_tc_server(struct __sk_buff *skb)
{
	return tc_run(skb, CN_SERVER);
}

SEC("socket")
int cn_fanout_client(struct __sk_buff *skb)
{
	return fanout_run(skb, CN_CLIENT);
}

SEC("socket")
int cn_fanout_server(struct __sk_buff *skb)
{
	return fanout_run(skb, CN_SERVER);
}
