/* SPDX-License-Identifier: MIT */
/*
 * The state machine's insides, shared by its two files: handlers.c (what
 * each frame does, timers, life cycle) and peer.c (what a ClientNIC and a
 * ServerNIC do for each other). Not an API: the engine's is engine.h.
 */
#ifndef CN_MACHINE_H
#define CN_MACHINE_H

#include <stdbool.h>
#include <stdint.h>

#include "engine.h"
#include "flow_table.h"
#include "options_cache.h"
#include "packet.h"
#include "spoofer.h"

struct cn_engine {
	struct cn_config cfg;
	struct cn_io io;
	struct cn_flow_table ft;
	struct cn_opt_cache oc;
	uint8_t isn_key[16];
	uint64_t held_bytes;
	uint64_t touch_ns;
	struct cn_counters ctr;
	struct cn_drops drops;
	/* Crafted frames, and a SYN grown by the peer option. */
	uint8_t scratch[CN_CRAFT_MAX + 40];
};

/* Established flows move to the tail of the age list at most this often
 * (a second, or idle_timeout / 64 if shorter), which keeps the hot path
 * off the list. */
static inline uint64_t sm_touch_ns(uint64_t idle_timeout_ns)
{
	uint64_t t = idle_timeout_ns / 64;

	return t < 1000000000ull ? t : 1000000000ull;
}

static inline bool sm_servernic(const struct cn_engine *eng)
{
	return eng->cfg.role == CN_ROLE_SERVERNIC;
}

/* ---- handlers.c ---- */

void sm_event(struct cn_engine *eng, enum cn_event_type type,
	      const struct cn_flow *f, uint64_t now);
void sm_emit(struct cn_engine *eng, enum cn_side to, uint8_t *data,
	     uint32_t len, const struct cn_offload *off);
struct cn_held *sm_held_copy(const struct cn_frame *fr);
void sm_held_free_all(struct cn_engine *eng, struct cn_flow *f);
void sm_flow_free(struct cn_engine *eng, struct cn_flow *f);
struct cn_flow *sm_flow_start(struct cn_engine *eng, const struct cn_pkt *p,
			      const struct cn_flow_key *key, uint32_t hash,
			      uint64_t now);
void sm_learn_options(struct cn_engine *eng, struct cn_flow *f,
		      const struct cn_pkt *p);
void sm_learn_server(struct cn_engine *eng, struct cn_flow *f,
		     const struct cn_pkt *p);
void sm_server_sent_synack(struct cn_flow *f, const struct cn_pkt *p);
void sm_establish(struct cn_engine *eng, struct cn_flow *f, uint64_t now);
bool sm_both_fins_acked(const struct cn_flow *f);
/* RST or both FINs: kept for the grace period, then freed. */
void sm_flow_close(struct cn_engine *eng, struct cn_flow *f, uint64_t now);
void sm_flush(struct cn_engine *eng, struct cn_flow *f,
	      const uint8_t *synack, const struct cn_pkt *sp, uint64_t now);
bool sm_synack_acks_syn(const struct cn_flow *f, const struct cn_pkt *p);
enum cn_verdict sm_on_real_synack(struct cn_engine *eng, struct cn_flow *f,
				  struct cn_frame *fr,
				  const struct cn_pkt *p, uint64_t now,
				  enum cn_drop *reason);
enum cn_drop sm_keep(struct cn_engine *eng, struct cn_flow *f,
		     const struct cn_frame *fr, const struct cn_pkt *p);
bool sm_held_already(const struct cn_flow *f, const struct cn_pkt *p);
void sm_client_sent(struct cn_flow *f, const struct cn_pkt *p);
bool sm_syn_keeps_flow(struct cn_engine *eng, struct cn_flow *f, uint64_t now);
enum cn_verdict sm_translate(struct cn_engine *eng, struct cn_flow *f,
			     enum cn_side from, struct cn_frame *fr,
			     const struct cn_pkt *p, uint64_t now,
			     enum cn_drop *reason);

/* ---- peer.c ---- */

bool peer_ask(struct cn_engine *eng, struct cn_flow *f,
	      const struct cn_frame *fr, const struct cn_pkt *p,
	      uint64_t now);
enum cn_verdict peer_on_syn(struct cn_engine *eng, struct cn_frame *fr,
			    const struct cn_pkt *p,
			    const struct cn_flow_key *key, uint32_t hash,
			    struct cn_flow *f, uint64_t now,
			    enum cn_drop *reason);
enum cn_verdict peer_send_early(struct cn_engine *eng, struct cn_flow *f,
				const struct cn_frame *fr,
				const struct cn_pkt *p);
bool peer_stray_rst(const struct cn_engine *eng, struct cn_flow *f,
		    const struct cn_pkt *p, uint64_t now);
bool peer_vanished(struct cn_engine *eng, struct cn_flow *f,
		   enum cn_side from, const struct cn_pkt *p,
		   uint64_t now);
bool peer_client_resends(const struct cn_flow *f, const struct cn_pkt *p);
void peer_probe(struct cn_engine *eng, struct cn_flow *f,
		const struct cn_frame *fr, const struct cn_pkt *p);
bool peer_translated_already(const struct cn_flow *f, const struct cn_pkt *p);
enum cn_verdict peer_pass_synack(struct cn_engine *eng,
				 struct cn_flow *f,
				 struct cn_frame *fr,
				 const struct cn_pkt *p);
enum cn_verdict peer_on_synack(struct cn_engine *eng, struct cn_flow *f,
			       struct cn_frame *fr,
			       const struct cn_pkt *p, uint64_t now,
			       enum cn_drop *reason);
bool peer_relayed_segment(const struct cn_flow *f, const struct cn_pkt *p);
enum cn_verdict peer_on_relayed(struct cn_engine *eng, struct cn_flow *f,
				struct cn_frame *fr, const struct cn_pkt *p,
				uint64_t now, enum cn_drop *reason);
enum cn_verdict peer_on_missing(struct cn_engine *eng,
				struct cn_flow *f, struct cn_frame *fr,
				const struct cn_pkt *p, uint64_t now,
				enum cn_drop *reason);

#endif
