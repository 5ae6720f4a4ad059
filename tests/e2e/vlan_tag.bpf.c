// SPDX-License-Identifier: MIT
/*
 * For test_vlan.sh: an endpoint's veth made a VLAN trunk port without
 * VLAN devices (this kernel has none). On egress a tag goes on every
 * frame (accelerated, as a VLAN device's transmit puts it), on ingress
 * the kernel has moved the tag out of the frame and it is dropped.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "Dual MIT/GPL";

SEC("tc/push_q")
int push_q(struct __sk_buff *skb)
{
	return bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021Q), 10) ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("tc/push_ad")
int push_ad(struct __sk_buff *skb)
{
	return bpf_skb_vlan_push(skb, bpf_htons(ETH_P_8021AD), 20) ? TC_ACT_SHOT : TC_ACT_OK;
}

SEC("tc/pop")
int pop(struct __sk_buff *skb)
{
	if (skb->vlan_present && bpf_skb_vlan_pop(skb))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}
