// SPDX-License-Identifier: MIT
/*
 * What the two boxes of a pair do for each other. The ClientNIC asks for a
 * peer in the SYN, sends early data at once to a server whose peer has
 * answered before, recognises the peer's SYN-ACK, falls back when it does
 * not come and takes a flow back when the peer vanishes mid-flow. The
 * ServerNIC takes a SYN with the option, sends the SYN-ACK on translated
 * with its receipt, and lets a ClientNIC's translated probe pass. The
 * translation itself is the state machine's, the same for both roles.
 */
#include <stdlib.h>
#include <string.h>

#include "machine.h"
#include "peer_opt.h"
#include "rewriter.h"

static bool peer_known(const struct cn_engine *eng, const struct cn_flow *f,
		       uint64_t now)
{
	uint64_t at = cn_oc_peer(&eng->oc, &f->key);

	return at && now - at < eng->cfg.peer_ttl_ns;
}

/*
 * Forward the SYN with the peer option, and keep that copy for
 * retransmission. A SYN with data (TCP Fast Open) goes as it is: grown,
 * it might no longer fit the path. Returns false when the SYN is to be
 * forwarded as it came.
 */
bool peer_ask(struct cn_engine *eng, struct cn_flow *f,
	      const struct cn_frame *fr, const struct cn_pkt *p,
	      uint64_t now)
{
	const struct cn_config *c = &eng->cfg;
	struct cn_peer_opt po = {
		.spoof_isn = f->spoof_isn,
		.spoof_tsval = f->spoof_tsval,
		.spoofed = f->spoofed,
	};
	uint8_t opt[CN_PEER_OPT_MAX];
	struct cn_frame grown = { .data = eng->scratch };
	struct cn_held *h;
	unsigned n;

	if (c->peer_mode == CN_PEER_OFF)
		return false;
	n = cn_peer_opt_write(opt, &po, &f->key, f->client_isn,
			      c->peer_keyed ? c->peer_key : NULL);
	if (!p->payload_len)
		grown.len = cn_syn_add_option(eng->scratch, fr->data, p,
					      opt, n);
	if (!grown.len) {
		eng->ctr.syns_peer_nofit++;
		return false;
	}
	h = sm_held_copy(&grown);
	if (!h)
		return false;
	eng->held_bytes += h->len;
	eng->held_bytes -= f->syn->len;
	free(f->syn);
	f->syn = h;
	f->peer_state = CN_FP_ASKED;
	if (c->peer_mode == CN_PEER_ALWAYS || peer_known(eng, f, now)) {
		f->peer_state = CN_FP_EARLY;
		eng->ctr.flows_peer_early++;
	}
	sm_emit(eng, CN_SERVER, h->data, h->len, &h->off);
	eng->ctr.syns_peer_opt++;
	return true;
}

/* The option, or why it cannot be trusted; whatever it says, every copy
 * of it is overwritten with NOPs: the server never sees one. */
static bool read_peer_opt(struct cn_engine *eng, struct cn_frame *fr,
			  const struct cn_pkt *p, const struct cn_flow_key *key,
			  struct cn_peer_opt *po)
{
	const struct cn_config *c = &eng->cfg;
	enum cn_peer_opt_err err = CN_PEER_OPT_BAD;

	if (p->opt.peer_count == 1)
		err = cn_peer_opt_read(fr->data + p->opt.peer_off,
				       p->opt.peer_len, key, p->seq, &p->opt,
				       c->peer_keyed ? c->peer_key : NULL, po);
	eng->ctr.peer_opts_stripped +=
		cn_peer_opt_strip(fr->data, p,
				  !(fr->off.flags & CN_OFF_CSUM_PARTIAL));
	if (err == CN_PEER_OPT_BAD)
		eng->ctr.peer_opts_bad++;
	else if (err == CN_PEER_OPT_TAG)
		eng->ctr.peer_tags_bad++;
	return err == CN_PEER_OPT_OK;
}

enum cn_verdict peer_on_syn(struct cn_engine *eng, struct cn_frame *fr,
			    const struct cn_pkt *p,
			    const struct cn_flow_key *key, uint32_t hash,
			    struct cn_flow *f, uint64_t now,
			    enum cn_drop *reason)
{
	struct cn_peer_opt po;

	if (p->opt.peer_count && !cn_rewrite_offload_ok(fr, p)) {
		/* Its option cannot be taken out reliably. */
		*reason = CN_DROP_bad_offload;
		return CN_DROP;
	}
	if (!p->opt.peer_count || !read_peer_opt(eng, fr, p, key, &po)) {
		/* Not asked for: the SYN and its flow pass as through a
		 * bridge (a flow this box had on the 4-tuple is over). */
		if (f && f->state != CN_FS_ESTABLISHED)
			sm_flow_free(eng, f);
		eng->ctr.passed_untracked++;
		return CN_FORWARD;
	}
	eng->ctr.syns_peer++;
	if (f && f->client_isn == p->seq) {
		if (f->state == CN_FS_SYN_SENT)
			return CN_FORWARD; /* the server may have lost it */
		/*
		 * The ClientNIC lost the translated SYN-ACK: again, even
		 * when the flow has closed since (the connection ran with
		 * the ClientNIC still waiting). Passed on, the SYN would
		 * open a connection on the server that nobody owns.
		 */
		if (!f->syn) {
			*reason = CN_DROP_syn_repeated;
			return CN_DROP;
		}
		sm_emit(eng, CN_CLIENT, f->syn->data, f->syn->len,
			&f->syn->off);
		eng->ctr.synacks_resent++;
		sm_event(eng, CN_EV_SYN_RESPOOFED, f, now);
		return CN_STOLEN;
	}
	if (f && sm_syn_keeps_flow(eng, f, now))
		return CN_FORWARD;
	f = sm_flow_start(eng, p, key, hash, now);
	if (!f) {
		eng->ctr.passed_table_full++;
		return CN_FORWARD;
	}
	f->spoof_isn = po.spoof_isn;
	f->spoof_tsval = po.spoof_tsval;
	f->spoofed = po.spoofed;
	/* Only to forget the flow: the ClientNIC resends the SYN and resets
	 * its client when the server stays silent, and the RST it sends the
	 * server then should still find the flow here. */
	cn_ft_timer_set(&eng->ft, f,
			now + eng->cfg.syn_timeout_ns + eng->cfg.syn_rto_ns);
	eng->ctr.flows_created++;
	sm_event(eng, CN_EV_PEER_SYN, f, now);
	return CN_FORWARD;
}

/*
 * A peer is expected to translate: early data goes out at once, right
 * behind the SYN, and a copy stays here in case the SYN-ACK says the peer
 * is not there. A frame past the bounds goes without a copy: the client
 * retransmits what nobody acknowledged.
 */
enum cn_verdict peer_send_early(struct cn_engine *eng, struct cn_flow *f,
				const struct cn_frame *fr,
				const struct cn_pkt *p)
{
	if (f->strays < UINT8_MAX)
		f->strays++;
	if (sm_held_already(f, p))
		return CN_FORWARD;
	if (sm_keep(eng, f, fr, p) == CN_DROP_NONE)
		eng->ctr.frames_copied++;
	else
		eng->ctr.frames_uncopied++;
	sm_client_sent(f, p);
	/* The copies are freed unread when the peer answers: a FIN among
	 * them must be known now, or the flow never sees both FINs. */
	if ((p->flags & CN_TCP_FIN) && !f->peer[CN_CLIENT].fin) {
		f->peer[CN_CLIENT].fin = true;
		f->peer[CN_CLIENT].fin_seq = p->seq + p->payload_len;
	}
	return CN_FORWARD;
}

/*
 * ClientNIC: a segment sent behind the SYN can overtake it on a WAN that
 * reorders. The server's stack answers it as a segment of no connection,
 * with an RST at its ACK number (the spoofed ISN + 1) and no ACK flag, and
 * then takes the SYN as usual. That RST can trail the SYN-ACK the peer
 * translated, and the client, which has received nothing yet, would take
 * it for the end of the connection. One such RST per segment sent early
 * is the server's answer to it (dropped before the SYN-ACK too, where it
 * uses up its segment); past that, the RST is the server's own. So is one
 * that comes later than a retransmission timeout after the last SYN (a
 * reordering WAN delays it by less), or once the server has sent data or
 * acknowledged the client's (a round trip after its SYN-ACK): a server
 * that lost the connection before it sent anything is heard at once.
 */
bool peer_stray_rst(const struct cn_engine *eng, struct cn_flow *f,
		    const struct cn_pkt *p, uint64_t now)
{
	const struct cn_peer *s = &f->peer[CN_SERVER];
	unsigned shift = f->syn_tries < 16 ? f->syn_tries : 16;

	if (f->passthrough &&
	    (now - f->syn_at >= eng->cfg.syn_rto_ns << shift ||
	     cn_seq_lt(f->spoof_isn + 1, s->end) ||
	     (s->ack_seen && cn_seq_lt(f->client_isn + 1, s->ack))))
		f->strays = 0;
	if ((p->flags & (CN_TCP_RST | CN_TCP_ACK)) != CN_TCP_RST ||
	    p->seq != f->spoof_isn + 1 || !f->strays)
		return false;
	f->strays--;
	return true;
}

/*
 * The peer has the flow now: the copies of what went out early are no
 * longer needed, unless the server answered one with a stray RST, which
 * means it threw that segment away. Sent again as they went (the peer
 * translates them), the server gets it now rather than after the
 * client's retransmission timeout; the segments that did arrive it takes
 * for duplicates.
 */
static void copies_done(struct cn_engine *eng, struct cn_flow *f)
{
	if (f->stray_lost)
		for (struct cn_held *h = f->held; h; h = h->next) {
			sm_emit(eng, CN_SERVER, h->data, h->len, &h->off);
			eng->ctr.frames_resent++;
		}
	sm_held_free_all(eng, f);
}

static uint32_t max32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

/* Whether seq can be a server segment's in the client's view of the flow:
 * from a window below what the client acknowledged to a window past what
 * the server has sent. The spaces differ by a random delta, so a segment
 * that missed its translation lands there only by a fluke. */
static bool s2c_seq_plausible(const struct cn_flow *f, uint32_t seq)
{
	const struct cn_peer *c = &f->peer[CN_CLIENT], *s = &f->peer[CN_SERVER];
	uint32_t lo = c->ack_seen ? c->ack : s->end;
	uint32_t w = max32(c->max_win, 0xffff);

	return cn_seq_leq(lo - w, seq) && cn_seq_leq(seq, s->end + w);
}

/* The flow's server space was the client's view while the peer
 * translated; from now on it is the server's own. */
static void to_server_space(struct cn_flow *f)
{
	f->peer[CN_SERVER].end -= f->delta;
	f->peer[CN_SERVER].fin_seq -= f->delta;
	f->peer[CN_CLIENT].ack -= f->delta;
	f->passthrough = false;
}

/*
 * ClientNIC: a server segment whose seq is plausible only untranslated
 * means the peer is gone (killed, restarted without the flow, or off the
 * path). The receipt gave this box the flow's deltas: it translates from
 * now on, and the connection lives on.
 */
bool peer_vanished(struct cn_engine *eng, struct cn_flow *f,
		   enum cn_side from, const struct cn_pkt *p,
		   uint64_t now)
{
	if (from != CN_SERVER || f->peer_state != CN_FP_RELAYED ||
	    s2c_seq_plausible(f, p->seq) ||
	    !s2c_seq_plausible(f, p->seq + f->delta))
		return false;
	to_server_space(f);
	f->peer_state = CN_FP_FALLBACK;
	eng->ctr.flows_resumed++;
	if (cn_oc_peer(&eng->oc, &f->key)) {
		cn_oc_set_peer(&eng->oc, &f->key, 0);
		eng->ctr.peers_lost++;
		sm_event(eng, CN_EV_PEER_LOST, f, now);
	}
	return true;
}

/* The client sends again what the server has not acknowledged: a
 * retransmission, maybe because the peer is gone and the server drops
 * segments it cannot understand. */
bool peer_client_resends(const struct cn_flow *f, const struct cn_pkt *p)
{
	const struct cn_peer *s = &f->peer[CN_SERVER];
	uint32_t len = cn_pkt_seg_len(p);

	return f->peer_state == CN_FP_RELAYED && len &&
	       cn_seq_lt(p->seq, f->peer[CN_CLIENT].end) &&
	       !(s->ack_seen && cn_seq_leq(p->seq + len, s->ack));
}

/*
 * A copy of the retransmission, translated here: a peer that still
 * translates passes it as it is (peer_translated_already()), the server
 * without a peer understands it and answers, and its answer, arriving
 * untranslated, hands the flow to this box (peer_vanished()).
 */
void peer_probe(struct cn_engine *eng, struct cn_flow *f,
		const struct cn_frame *fr, const struct cn_pkt *p)
{
	uint8_t *copy;

	if (!cn_rewrite_offload_ok(fr, p) || !(copy = malloc(fr->len)))
		return;
	memcpy(copy, fr->data, fr->len);
	cn_rewrite_c2s(copy, p, f, !(fr->off.flags & CN_OFF_CSUM_PARTIAL));
	sm_emit(eng, CN_SERVER, copy, fr->len, &fr->off);
	free(copy);
	eng->ctr.frames_probes++;
}

/* ServerNIC: whether a client segment's ACK is already in the server's
 * space (a ClientNIC's probe) and not in the client's. */
static bool ack_plausible(const struct cn_flow *f, uint32_t ack)
{
	const struct cn_peer *c = &f->peer[CN_CLIENT], *s = &f->peer[CN_SERVER];
	uint32_t lo = c->ack_seen ? c->ack : s->end;

	return cn_seq_leq(lo - max32(s->max_win, 0xffff), ack) &&
	       cn_seq_leq(ack, s->end);
}

bool peer_translated_already(const struct cn_flow *f, const struct cn_pkt *p)
{
	/* Probes are retransmissions (peer_client_resends()): a segment
	 * without data or FIN, most of a download's, is never one. */
	return cn_pkt_seg_len(p) && (p->flags & CN_TCP_ACK) &&
	       ack_plausible(f, p->ack) && !ack_plausible(f, p->ack - f->delta);
}

/*
 * ServerNIC: the SYN-ACK goes on to the ClientNIC in the space its client
 * was promised (seq = spoofed ISN, spoofed TSval), and a copy stays for a
 * client SYN repeated because it was lost on the way.
 */
enum cn_verdict peer_pass_synack(struct cn_engine *eng,
				 struct cn_flow *f,
				 struct cn_frame *fr,
				 const struct cn_pkt *p)
{
	const struct cn_config *c = &eng->cfg;
	struct cn_peer_receipt r = {
		.real_isn = f->real_isn,
		.real_tsval = p->opt.tsval,
		.ts = f->translate_ts,
	};
	uint8_t opt[CN_PEER_RECEIPT_MAX];
	struct cn_frame grown = { .data = eng->scratch };
	const struct cn_frame *out = fr;
	unsigned n;

	cn_rewrite_s2c(fr->data, p, f, !(fr->off.flags & CN_OFF_CSUM_PARTIAL));
	n = cn_peer_receipt_write(opt, &r, &f->key, f->client_isn,
				  c->peer_keyed ? c->peer_key : NULL);
	if (!p->payload_len)
		grown.len = cn_syn_add_option(eng->scratch, fr->data, p,
					      opt, n);
	if (grown.len) {
		out = &grown;
		eng->ctr.synacks_receipt++;
	}
	if (eng->held_bytes + out->len <= c->buf_total_bytes &&
	    (f->syn = sm_held_copy(out)))
		eng->held_bytes += out->len;
	if (out == fr)
		return CN_FORWARD;
	sm_emit(eng, CN_CLIENT, grown.data, grown.len, NULL);
	return CN_STOLEN;
}

/* The peer's receipt: with it, the flow's deltas as the peer has them. */
static bool read_receipt(struct cn_engine *eng, struct cn_flow *f,
			 const uint8_t *data, const struct cn_pkt *p)
{
	const struct cn_config *c = &eng->cfg;
	struct cn_peer_receipt r = { .ts = f->spoofed.ts && p->opt.ts };
	struct cn_pkt real = *p;

	if (p->opt.peer_count != 1 ||
	    cn_peer_receipt_read(data + p->opt.peer_off, p->opt.peer_len,
				 &f->key, f->client_isn,
				 c->peer_keyed ? c->peer_key : NULL, &r))
		return false;
	real.seq = r.real_isn;
	real.opt.tsval = r.real_tsval;
	sm_learn_server(eng, f, &real);
	return true;
}

enum cn_verdict peer_on_synack(struct cn_engine *eng, struct cn_flow *f,
			       struct cn_frame *fr,
			       const struct cn_pkt *p, uint64_t now,
			       enum cn_drop *reason)
{
	bool was_early = f->peer_state == CN_FP_EARLY;
	enum cn_flow_peer relayed = CN_FP_RELAYED_BLIND;

	if (!sm_synack_acks_syn(f, p)) {
		*reason = CN_DROP_synack_bad_ack;
		return CN_DROP;
	}
	if (read_receipt(eng, f, fr->data, p)) {
		relayed = CN_FP_RELAYED;
	} else {
		sm_learn_options(eng, f, p);
		f->real_isn = p->seq;
	}
	if (!peer_known(eng, f, now)) {
		eng->ctr.peers_learned++;
		sm_event(eng, CN_EV_PEER_LEARNED, f, now);
	}
	cn_oc_set_peer(&eng->oc, &f->key, now ? now : 1);
	f->passthrough = true;
	sm_server_sent_synack(f, p);
	sm_establish(eng, f, now);
	eng->ctr.synacks_real++;
	eng->ctr.flows_taken_over++;
	sm_event(eng, CN_EV_TAKEN_OVER, f, now);
	if (was_early)
		copies_done(eng, f);
	else
		sm_flush(eng, f, fr->data, p, now);
	/* Only now: what was held went out for the first time, not again. */
	f->peer_state = (uint8_t)relayed;
	return CN_STOLEN;
}

/*
 * ClientNIC, before any SYN-ACK: a server segment in the spoofed space
 * (an ACK of the client's SYN, seq from the spoofed ISN + 1 on) was
 * translated by a peer whose SYN-ACK got lost on the way. Without a peer
 * the server sends nothing but its SYN-ACK and RSTs before the SYN-ACK,
 * and its numbers lie a random delta away.
 */
bool peer_relayed_segment(const struct cn_flow *f, const struct cn_pkt *p)
{
	uint32_t off = p->seq - (f->spoof_isn + 1);
	uint32_t w = 0xffffu << (f->client.wscale > 0 ? f->client.wscale : 0);

	return (p->flags & (CN_TCP_SYN | CN_TCP_ACK | CN_TCP_RST)) == CN_TCP_ACK &&
	       off < w && sm_synack_acks_syn(f, p);
}

/* The peer's SYN-ACK never came, its flow did: take it as relayed, with
 * no receipt (a vanished peer cannot be made up for), and pass the
 * segment on. */
enum cn_verdict peer_on_relayed(struct cn_engine *eng, struct cn_flow *f,
				struct cn_frame *fr, const struct cn_pkt *p,
				uint64_t now, enum cn_drop *reason)
{
	bool was_early = f->peer_state == CN_FP_EARLY;

	f->passthrough = true;
	f->real_isn = f->spoof_isn;
	f->peer[CN_SERVER].end = f->spoof_isn + 1;
	f->peer[CN_SERVER].ack = f->client_isn + 1;
	f->peer[CN_SERVER].ack_seen = true;
	sm_establish(eng, f, now);
	eng->ctr.flows_taken_over++;
	eng->ctr.flows_taken_late++;
	sm_event(eng, CN_EV_TAKEN_OVER, f, now);
	if (cn_oc_peer(&eng->oc, &f->key))
		cn_oc_set_peer(&eng->oc, &f->key, now ? now : 1);
	if (was_early)
		copies_done(eng, f);
	else
		sm_flush(eng, f, fr->data, p, now);
	f->peer_state = CN_FP_RELAYED_BLIND;
	return sm_translate(eng, f, CN_SERVER, fr, p, now, reason);
}

/*
 * ClientNIC: early data went out for a peer, and the SYN-ACK came back
 * untranslated: no peer (gone, or the route changed). Translate here and
 * replay the copies translated; the server's RSTs to the untranslated
 * frames (seq = spoofed ISN + 1) are dropped from now on.
 */
enum cn_verdict peer_on_missing(struct cn_engine *eng,
				struct cn_flow *f, struct cn_frame *fr,
				const struct cn_pkt *p, uint64_t now,
				enum cn_drop *reason)
{
	enum cn_verdict v;

	f->peer_state = CN_FP_FALLBACK;
	v = sm_on_real_synack(eng, f, fr, p, now, reason);
	if (v == CN_DROP) {
		f->peer_state = CN_FP_EARLY;
		return v;
	}
	eng->ctr.flows_fallback++;
	if (cn_oc_peer(&eng->oc, &f->key)) {
		cn_oc_set_peer(&eng->oc, &f->key, 0);
		eng->ctr.peers_lost++;
		sm_event(eng, CN_EV_PEER_LOST, f, now);
	}
	return v;
}
