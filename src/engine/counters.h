/* SPDX-License-Identifier: MIT */
/*
 * Every counter of the engine, and every reason it drops a frame. One list,
 * expanded into the struct, the names printed by the daemon and the tests.
 */
#ifndef CN_COUNTERS_H
#define CN_COUNTERS_H

#include <stdint.h>

#define CN_COUNTER_LIST(X)                                                    \
	X(frames_in_client, "frames received from the client side")            \
	X(frames_in_server, "frames received from the server side")            \
	X(passed_not_tcp, "frames passed unchanged: not IPv4/IPv6 TCP")        \
	X(passed_malformed, "frames passed unchanged: headers failed checks")  \
	X(passed_ip_ext, "frames passed unchanged: IP fragments or IPv6 extension headers") \
	X(passed_untracked, "TCP frames of flows the box does not track")      \
	X(passed_table_full, "SYNs passed untracked: no flow slot or memory")  \
	X(flows_created, "flows created by a client SYN")                     \
	X(flows_established, "flows whose real SYN-ACK arrived")              \
	X(flows_closed, "flows freed after FIN/RST and the close grace")      \
	X(flows_expired, "flows freed after the idle timeout")                \
	X(flows_evicted, "embryonic or closing flows evicted for a new SYN")  \
	X(flows_refused, "flows the server refused with an RST")              \
	X(flows_timed_out, "flows whose server never answered the SYN")       \
	X(flows_reset, "flows torn down by an in-window RST")                 \
	X(flows_replaced, "flows replaced by a SYN with a new ISN")           \
	X(syns_challenged, "SYNs with a new ISN on an established flow, passed") \
	X(syns_ecn_stripped, "client SYNs forwarded without their ECN request") \
	X(synacks_spoofed, "spoofed SYN-ACKs sent to clients")                \
	X(synacks_resent, "spoofed SYN-ACKs resent for a retransmitted SYN")  \
	X(syns_resent, "SYNs retransmitted by the box to a silent server")    \
	X(synacks_real, "real SYN-ACKs absorbed")                             \
	X(synacks_dup, "duplicate real SYN-ACKs absorbed")                    \
	X(acks_synthesized, "handshake ACKs the box sent to the server")      \
	X(rsts_sent, "RSTs the box sent to clients")                          \
	X(frames_buffered, "client frames held until the real SYN-ACK")       \
	X(frames_held_dup, "client retransmissions of a frame already held")  \
	X(acks_superseded, "held pure ACKs dropped for the client's next held segment, which acknowledges as much") \
	X(frames_flushed, "held frames sent after the real SYN-ACK")          \
	X(frames_rewritten, "frames translated between sequence spaces")      \
	X(frames_cut, "client segments over the server's MSS, sent for the kernel to cut") \
	X(rst_out_of_window, "RSTs outside the window (passed, not acted on)") \
	X(cache_hits, "spoofed SYN-ACKs built from learned server options")   \
	X(cache_misses, "spoofed SYN-ACKs built from the defaults")             \
	X(syns_peer_opt, "SYNs forwarded with the peer option")                \
	X(syns_peer_nofit, "SYNs without room for the peer option")           \
	X(syns_peer, "SYNs with a valid peer option (ServerNIC)")             \
	X(peer_opts_bad, "peer options malformed, duplicated or not matching the SYN (ignored)") \
	X(peer_tags_bad, "peer options without a valid tag (keyed ServerNIC, ignored)") \
	X(peer_opts_stripped, "peer options overwritten with NOPs before the server") \
	X(flows_taken_over, "flows the ServerNIC translates")                 \
	X(flows_taken_late, "flows a peer took whose SYN-ACK was lost: known by a later segment") \
	X(flows_peer_early, "flows whose early data went out at once")        \
	X(flows_fallback, "flows whose expected peer did not answer")         \
	X(frames_copied, "early frames sent at once, a copy kept for a fallback") \
	X(frames_uncopied, "early frames sent at once without a copy (bound)") \
	X(frames_replayed, "copies sent again, translated, after a fallback")  \
	X(frames_resent, "copies sent again for a peer: a segment had reached the server before its SYN") \
	X(peers_learned, "servers learned to have a peer")                    \
	X(peers_lost, "servers whose peer did not answer (forgotten)")       \
	X(synacks_receipt, "translated SYN-ACKs with the receipt (ServerNIC)") \
	X(flows_resumed, "flows translated here after their peer vanished mid-flow") \
	X(frames_probes, "retransmissions sent (or passed) translated, in case the peer is gone") \
	X(flows_adopted, "flows taken over from the kernel path a predecessor left") \
	X(fast_put_failed, "flow records the kernel path refused (the flow stays in the daemon)") \
	X(flows_closed_kernel, "flows whose FINs and last ACK only the kernel path saw") \
	X(fast_closes_stale, "close events from the kernel path for a flow no longer here")

#define CN_DROP_LIST(X)                                                       \
	X(buf_flow_full, "early data over the per-flow bound")                \
	X(buf_total_full, "early data over the total bound")                  \
	X(nomem, "allocation failed")                                         \
	X(bad_offload, "offload metadata inconsistent with the headers")      \
	X(synack_bad_ack, "SYN-ACK not acknowledging the client's SYN")       \
	X(rst_embryonic_bad, "RST during the handshake not matching the SYN") \
	X(client_rst_embryonic, "client RST before the real SYN-ACK")         \
	X(bad_checksum, "SYN, SYN-ACK or RST with a wrong TCP checksum")      \
	X(bad_options, "segment of a tracked flow with a broken option list") \
	X(rst_fallback, "server RSTs to untranslated early data after a fallback") \
	X(rst_stray, "server RSTs to early data that overtook its SYN, after the peer's SYN-ACK") \
	X(syn_repeated, "ServerNIC: a repeated SYN of a flow taken over, with no SYN-ACK kept to answer it")

struct cn_counters {
#define CN_X(name, help) uint64_t name;
	CN_COUNTER_LIST(CN_X)
#undef CN_X
};

enum cn_drop {
	CN_DROP_NONE = 0,
#define CN_X(name, help) CN_DROP_##name,
	CN_DROP_LIST(CN_X)
#undef CN_X
	CN_DROP_MAX
};

struct cn_drops {
	uint64_t by_reason[CN_DROP_MAX];
};

const char *cn_drop_name(enum cn_drop reason);

#endif
