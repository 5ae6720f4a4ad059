// SPDX-License-Identifier: MIT
/*
 * The kernel fast path: on the ingress of each port a tc program
 * translates the established flows' plain segments with their record and
 * redirects them to the other port; the same decision (classify.h) run as
 * a socket filter on the daemon's packet socket of the port hands the
 * daemon exactly the frames the tc program leaves to it.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_helpers.h>

#include "bpf/classify.h"
#include "bpf/xlate.h"

char LICENSE[] SEC("license") = "Dual MIT/GPL";

static __always_inline struct cn_fast_side_stats *side_stats(int side)
{
	struct cn_fast_stats *st;
	__u32 zero = 0;

	st = bpf_map_lookup_elem(&cn_stats, &zero);
	return st ? &st->side[side] : NULL;
}

static __always_inline int forward(struct __sk_buff *skb,
				   struct cn_fast_side_stats *ss, __u32 out)
{
	long r = bpf_redirect(out, 0);

	if (r != TC_ACT_REDIRECT && ss)
		ss->redirect_errors++;
	return (int)r;
}

static __always_inline int tc_run(struct __sk_buff *skb, int side)
{
	struct cn_fast_side_stats *ss = side_stats(side);
	struct cn_seg s = {};
	int v = cn_classify(skb, side, &s);

	switch (v) {
	case CN_V_LOCAL:
		return TC_ACT_OK;
	case CN_V_DAEMON:
		if (ss)
			ss->to_daemon++;
		return TC_ACT_SHOT;
	case CN_V_DROP:
		return TC_ACT_SHOT;
	case CN_V_XLATE:
		if (!cn_translate(skb, side, &s))
			return TC_ACT_SHOT;
		cn_track(skb, side, &s);
		if (ss) {
			ss->translated++;
			ss->translated_bytes += skb->len;
		}
		return forward(skb, ss, s.out);
	case CN_V_TRACK:
		cn_track(skb, side, &s);
		break;
	case CN_V_FAILOPEN:
		if (ss)
			ss->failed_open++;
		return forward(skb, ss, s.out);
	default:
		break;
	}
	if (ss) {
		ss->passed++;
		ss->passed_bytes += skb->len;
	}
	return forward(skb, ss, s.out);
}

/* A filter's verdict is how many bytes the socket takes: all of a frame
 * the daemon must see, none of the others (nor of its own output). */
static __always_inline int sock_run(struct __sk_buff *skb, int side)
{
	struct cn_seg s = {};

	if (skb->pkt_type == PACKET_OUTGOING)
		return 0;
	return cn_classify(skb, side, &s) == CN_V_DAEMON ? (int)skb->len : 0;
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
int cn_sock_client(struct __sk_buff *skb)
{
	return sock_run(skb, CN_CLIENT);
}

SEC("socket")
int cn_sock_server(struct __sk_buff *skb)
{
	return sock_run(skb, CN_SERVER);
}
