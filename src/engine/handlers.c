// SPDX-License-Identifier: MIT
/*
 * The 0-RTT state machine: what happens to each frame, by side and flow
 * state, and what the timers do. Parsing, the table, rewriting and frame
 * building live in their own modules, what the two boxes of a pair do for
 * each other in peer.c; this file decides.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine.h"
#include "flow_table.h"
#include "fast.h"
#include "machine.h"
#include "options_cache.h"
#include "packet.h"
#include "rewriter.h"
#include "siphash.h"
#include "spoofer.h"

#define NS_PER_SEC 1000000000ULL
#define SYNACK_WINDOW 65535

static const char *const drop_names[CN_DROP_MAX] = {
	[CN_DROP_NONE] = "none",
#define CN_X(name, help) [CN_DROP_##name] = #name,
	CN_DROP_LIST(CN_X)
#undef CN_X
};

const char *cn_drop_name(enum cn_drop reason)
{
	return (unsigned)reason < CN_DROP_MAX ? drop_names[reason] : "?";
}

const char *cn_event_name(enum cn_event_type type)
{
	static const char *const names[] = {
		[CN_EV_SYN_SPOOFED] = "syn_spoofed",
		[CN_EV_SYN_RESPOOFED] = "syn_respoofed",
		[CN_EV_SYN_RESENT] = "syn_resent",
		[CN_EV_BUFFERED] = "buffered",
		[CN_EV_SYNACK_REAL] = "synack_real",
		[CN_EV_FLUSHED] = "flushed",
		[CN_EV_REFUSED] = "refused",
		[CN_EV_SYN_TIMEOUT] = "syn_timeout",
		[CN_EV_RESET] = "reset",
		[CN_EV_CLOSED] = "closed",
		[CN_EV_EXPIRED] = "expired",
		[CN_EV_EVICTED] = "evicted",
		[CN_EV_REPLACED] = "replaced",
		[CN_EV_PEER_SYN] = "peer_syn",
		[CN_EV_TAKEN_OVER] = "taken_over",
		[CN_EV_PEER_LEARNED] = "peer_learned",
		[CN_EV_PEER_LOST] = "peer_lost",
		[CN_EV_ADOPTED] = "adopted",
	};

	return (unsigned)type < sizeof(names) / sizeof(names[0]) ? names[type] : "?";
}

void cn_config_defaults(struct cn_config *cfg)
{
	*cfg = (struct cn_config){
		.max_flows = 65536,
		.buf_flow_bytes = 256 * 1024,
		.buf_flow_frames = 64,
		.buf_total_bytes = 64ULL * 1024 * 1024,
		.syn_rto_ns = 1 * NS_PER_SEC,
		.syn_timeout_ns = 10 * NS_PER_SEC,
		/* RFC 5382 REQ-5: no less than 2 hours 4 minutes. */
		.idle_timeout_ns = 7440 * NS_PER_SEC,
		.close_grace_ns = 60 * NS_PER_SEC,
		.default_mss4 = 1400,
		.default_mss6 = 1380,
		.default_wscale = 7,
		.default_sack = true,
		.default_ts = true,
		.max_mss = 1460,
		.cache_entries = 4096,
		.role = CN_ROLE_CLIENTNIC,
		.peer_mode = CN_PEER_AUTO,
		.peer_ttl_ns = 600 * NS_PER_SEC,
	};
}

/* ---- events and frame output ---------------------------------------- */

void sm_event(struct cn_engine *eng, enum cn_event_type type,
	      const struct cn_flow *f, uint64_t now)
{
	struct cn_event ev = {
		.type = type,
		.now_ns = now,
		.age_ns = now - f->syn_at,
		.key = &f->key,
		.client_isn = f->client_isn,
		.spoof_isn = f->spoof_isn,
		.real_isn = f->real_isn,
		.delta = f->delta,
		.frames = f->held_frames,
		.bytes = f->held_bytes,
	};
	const struct cn_syn_opts *o =
		type == CN_EV_SYNACK_REAL || type == CN_EV_TAKEN_OVER ?
			&f->real : &f->spoofed;

	if (!eng->io.event)
		return;
	ev.mss = o->mss;
	ev.wscale = o->wscale;
	ev.sack_ok = o->sack_ok;
	ev.ts_ok = o->ts;
	eng->io.event(eng->io.ctx, &ev);
}

void sm_emit(struct cn_engine *eng, enum cn_side to, uint8_t *data,
	     uint32_t len, const struct cn_offload *off)
{
	struct cn_frame fr = { .data = data, .len = len };

	if (off)
		fr.off = *off;
	eng->io.emit(eng->io.ctx, to, &fr);
}

static void emit_crafted(struct cn_engine *eng, enum cn_side to,
			 const uint8_t *tmpl, const struct cn_pkt *tp,
			 bool reverse, const struct cn_tcp_spec *spec)
{
	uint32_t len = cn_craft(eng->scratch, tmpl, tp, reverse, spec);

	sm_emit(eng, to, eng->scratch, len, NULL);
}

/* ---- flow lifetime -------------------------------------------------- */

void sm_held_free_all(struct cn_engine *eng, struct cn_flow *f)
{
	struct cn_held *h = f->held;

	while (h) {
		struct cn_held *next = h->next;

		eng->held_bytes -= h->len;
		free(h);
		h = next;
	}
	f->held = NULL;
	f->held_tail = &f->held;
	f->held_frames = f->held_bytes = 0;
}

static void syn_free(struct cn_engine *eng, struct cn_flow *f)
{
	if (!f->syn)
		return;
	eng->held_bytes -= f->syn->len;
	free(f->syn);
	f->syn = NULL;
}

void sm_flow_free(struct cn_engine *eng, struct cn_flow *f)
{
	sm_fast_forget(eng, f);
	sm_held_free_all(eng, f);
	syn_free(eng, f);
	cn_ft_release(&eng->ft, f);
}

/* RST to the client in the view it has of the connection: the server's
 * side started at the spoofed ISN and has sent nothing yet. */
static void reset_client(struct cn_engine *eng, struct cn_flow *f)
{
	struct cn_tcp_spec spec = {
		.seq = f->spoof_isn + 1,
		.ack = f->peer[CN_CLIENT].end,
		.flags = CN_TCP_RST | CN_TCP_ACK,
	};
	struct cn_pkt tp;

	if (!f->syn || cn_parse(f->syn->data, f->syn->len, &tp) != CN_PARSE_TCP)
		return;
	emit_crafted(eng, CN_CLIENT, f->syn->data, &tp, true, &spec);
	eng->ctr.rsts_sent++;
}

/*
 * ClientNIC: give up on a flow whose SYN-ACK never came although a peer
 * may have taken it: the server may hold a connection the peer completed,
 * with the early data. An RST at the client's next sequence number needs
 * no number of the server's to be accepted (the peer passes it on).
 */
static void reset_server(struct cn_engine *eng, struct cn_flow *f)
{
	struct cn_tcp_spec spec = {
		/* What the server can have received: the early data that went
		 * out at once, or the SYN alone. */
		.seq = f->peer_state == CN_FP_EARLY ? f->peer[CN_CLIENT].end
						    : f->client_isn + 1,
		.flags = CN_TCP_RST,
	};
	struct cn_pkt tp;

	if (!f->syn || cn_parse(f->syn->data, f->syn->len, &tp) != CN_PARSE_TCP)
		return;
	emit_crafted(eng, CN_SERVER, f->syn->data, &tp, false, &spec);
	eng->ctr.rsts_sent++;
}

void sm_flow_close(struct cn_engine *eng, struct cn_flow *f, uint64_t now)
{
	f->state = CN_FS_CLOSED;
	cn_ft_list_move(&eng->ft, f, CN_LIST_CLOSED, now);
}

/*
 * Make room for a new SYN: a closed flow first, then a half-open one (an
 * established flow whose client never spoke), then the oldest embryonic
 * one, but only once its server has been silent for a whole SYN RTO (a
 * flood or a dead server): its client believes it is connected and must be
 * reset, while a new SYN that finds no room merely passes untracked and
 * costs its client one ordinary round trip. Established flows of clients
 * that answered never go.
 */
/* The least recently seen established flow, if its client never said a
 * word a SYN RTO after its SYN: a forged source (a SYN flood answered by
 * the server), whose flow would otherwise hold its slot for the idle
 * timeout. */
static struct cn_flow *half_open(struct cn_engine *eng, uint64_t now)
{
	struct cn_flow *f = cn_ft_list_head(&eng->ft, CN_LIST_ACTIVE);

	/* The client may have spoken through the kernel path only. */
	if (f)
		sm_fast_refresh(eng, f, now);
	if (!f || f->client_acked || f->peer[CN_CLIENT].ack_seen ||
	    now - f->syn_at < eng->cfg.syn_rto_ns)
		return NULL;
	return f;
}

static bool evict_one(struct cn_engine *eng, uint64_t now)
{
	struct cn_flow *f = cn_ft_list_head(&eng->ft, CN_LIST_CLOSED);

	if (!f)
		f = half_open(eng, now);
	if (!f) {
		f = cn_ft_list_head(&eng->ft, CN_LIST_EMBRYONIC);
		if (!f || now - f->syn_at < eng->cfg.syn_rto_ns)
			return false;
		reset_client(eng, f);
	}
	eng->ctr.flows_evicted++;
	sm_event(eng, CN_EV_EVICTED, f, now);
	sm_flow_free(eng, f);
	return true;
}

/* ---- client SYN ----------------------------------------------------- */

struct cn_held *sm_held_copy(const struct cn_frame *fr)
{
	struct cn_held *h = malloc(sizeof(*h) + fr->len);

	if (!h)
		return NULL;
	h->next = NULL;
	h->off = fr->off;
	h->seq = h->seg_len = 0;
	h->len = fr->len;
	memcpy(h->data, fr->data, fr->len);
	return h;
}

static void choose_options(struct cn_engine *eng, struct cn_flow *f)
{
	const struct cn_config *c = &eng->cfg;
	struct cn_syn_opts known, *s = &f->spoofed;
	unsigned k = cn_oc_get(&eng->oc, &f->key, &known);
	uint16_t mss = f->key.family == 4 ? c->default_mss4 : c->default_mss6;

	if (k) {
		eng->ctr.cache_hits++;
		mss = known.mss ? known.mss : 536; /* RFC 9293 default */
	} else {
		eng->ctr.cache_misses++;
	}
	s->mss = mss < c->max_mss ? mss : c->max_mss;
	s->wscale = -1;
	if (f->client.wscale >= 0)
		s->wscale = (k & CN_OC_WSCALE) ? known.wscale
					       : (int8_t)c->default_wscale;
	s->sack_ok = f->client.sack_ok &&
		     ((k & CN_OC_SACK) ? known.sack_ok : c->default_sack);
	/* Timestamps the server turns out to lack can be taken out of the
	 * client's segments; timestamps a server wants and the client was
	 * told not to send cannot be put in. So, once the server is known,
	 * always offer them. */
	s->ts = f->client.ts && ((k & CN_OC_TS) || c->default_ts);
}

static void send_synack(struct cn_engine *eng, struct cn_flow *f,
			const uint8_t *syn, const struct cn_pkt *p)
{
	struct cn_tcp_spec spec = {
		.seq = f->spoof_isn,
		.ack = f->client_isn + 1,
		.win = SYNACK_WINDOW,
		.flags = CN_TCP_SYN | CN_TCP_ACK,
	};

	cn_synack_options(&spec, &f->spoofed, f->spoof_tsval, f->client_tsval);
	emit_crafted(eng, CN_CLIENT, syn, p, true, &spec);
}

/* A slot for a new flow with what both roles record of the client's SYN;
 * NULL when the table is full and nothing can be evicted. */
struct cn_flow *sm_flow_start(struct cn_engine *eng, const struct cn_pkt *p,
			      const struct cn_flow_key *key, uint32_t hash,
			      uint64_t now)
{
	struct cn_flow *f = cn_ft_alloc(&eng->ft, key, hash);

	if (!f && evict_one(eng, now))
		f = cn_ft_alloc(&eng->ft, key, hash);
	if (!f)
		return NULL;
	f->held_tail = &f->held;
	f->state = CN_FS_SYN_SENT;
	f->syn_at = f->last_seen = now;
	f->frames[CN_CLIENT] = 1;
	f->bytes[CN_CLIENT] = p->ip_end;
	f->client_isn = p->seq;
	f->client_tsval = p->opt.tsval;
	f->client = (struct cn_syn_opts){ p->opt.mss, p->opt.wscale,
					  p->opt.sack_ok, p->opt.ts };
	f->peer[CN_CLIENT].end = p->seq + cn_pkt_seg_len(p);
	f->peer[CN_CLIENT].max_win = p->win; /* a SYN's window is unscaled */
	cn_ft_list_move(&eng->ft, f, CN_LIST_EMBRYONIC, now);
	return f;
}

static struct cn_flow *flow_new(struct cn_engine *eng,
				const struct cn_frame *fr,
				const struct cn_pkt *p,
				const struct cn_flow_key *key, uint32_t hash,
				uint64_t now)
{
	struct cn_flow *f;

	/* The SYN kept for retransmission counts against the early-data
	 * budget like any held frame. */
	if (eng->held_bytes + fr->len > eng->cfg.buf_total_bytes)
		return NULL;
	f = sm_flow_start(eng, p, key, hash, now);
	if (!f)
		return NULL;
	f->syn = sm_held_copy(fr);
	if (!f->syn) {
		cn_ft_release(&eng->ft, f);
		return NULL;
	}
	eng->held_bytes += fr->len;
	cn_spoof_seeds(eng->isn_key, key, now, &f->spoof_isn, &f->spoof_tsval);
	choose_options(eng, f);
	cn_ft_timer_set(&eng->ft, f, now + eng->cfg.syn_rto_ns);
	return f;
}

/*
 * A SYN with a new ISN on a 4-tuple the box tracks. An established flow
 * stays: a blind SYN must not tear it down. The server answers with a
 * challenge ACK (RFC 5961 4.2), translated; a client that really lost the
 * connection answers that with an RST, which closes the flow for its next
 * SYN. A closed or half-open flow makes room for the new connection.
 * Returns whether the flow stays (and the SYN passes).
 */
bool sm_syn_keeps_flow(struct cn_engine *eng, struct cn_flow *f, uint64_t now)
{
	if (f->state == CN_FS_ESTABLISHED) {
		eng->ctr.syns_challenged++;
		return true;
	}
	eng->ctr.flows_replaced++;
	sm_event(eng, CN_EV_REPLACED, f, now);
	sm_flow_free(eng, f);
	return false;
}

static enum cn_verdict on_client_syn(struct cn_engine *eng, struct cn_frame *fr,
				     const struct cn_pkt *p,
				     const struct cn_flow_key *key,
				     uint32_t hash, struct cn_flow *f,
				     uint64_t now)
{
	if (cn_rewrite_offload_ok(fr, p) &&
	    cn_rewrite_syn_no_ecn(fr->data, p,
				  !(fr->off.flags & CN_OFF_CSUM_PARTIAL)))
		eng->ctr.syns_ecn_stripped++;
	if (f && f->state != CN_FS_CLOSED && f->client_isn == p->seq) {
		/* The client lost our SYN-ACK: the same one again. */
		send_synack(eng, f, fr->data, p);
		eng->ctr.synacks_resent++;
		sm_event(eng, CN_EV_SYN_RESPOOFED, f, now);
		if (f->state != CN_FS_SYN_SENT)
			return CN_STOLEN;
		if (f->peer_state == CN_FP_NONE)
			return CN_FORWARD;
		/* The copy that carries the peer option. */
		sm_emit(eng, CN_SERVER, f->syn->data, f->syn->len,
			&f->syn->off);
		return CN_STOLEN;
	}
	if (f && sm_syn_keeps_flow(eng, f, now))
		return CN_FORWARD;
	f = flow_new(eng, fr, p, key, hash, now);
	if (!f) {
		/* No room or memory: the connection still works, just
		 * without 0-RTT, as a plain pass-through handshake. */
		eng->ctr.passed_table_full++;
		return CN_FORWARD;
	}
	send_synack(eng, f, fr->data, p);
	eng->ctr.flows_created++;
	eng->ctr.synacks_spoofed++;
	sm_event(eng, CN_EV_SYN_SPOOFED, f, now);
	return peer_ask(eng, f, fr, p, now) ? CN_STOLEN : CN_FORWARD;
}

/* ---- early data ----------------------------------------------------- */

/* The client retransmits early data the box holds (its timer runs from
 * the LAN-time handshake): the same segment again need not be held twice. */
bool sm_held_already(const struct cn_flow *f, const struct cn_pkt *p)
{
	uint32_t len = cn_pkt_seg_len(p);

	if (!len)
		return false;
	for (const struct cn_held *h = f->held; h; h = h->next)
		if (h->seq == p->seq && h->seg_len == len)
			return true;
	return false;
}

/* Keep a copy of an early client frame, within the bounds; returns
 * CN_DROP_NONE or why it was not kept. */
enum cn_drop sm_keep(struct cn_engine *eng, struct cn_flow *f,
		     const struct cn_frame *fr, const struct cn_pkt *p)
{
	const struct cn_config *c = &eng->cfg;
	struct cn_held *h;

	if (f->held_frames + 1 > c->buf_flow_frames ||
	    f->held_bytes + fr->len > c->buf_flow_bytes)
		return CN_DROP_buf_flow_full;
	if (eng->held_bytes + fr->len > c->buf_total_bytes)
		return CN_DROP_buf_total_full;
	h = sm_held_copy(fr);
	if (!h)
		return CN_DROP_nomem;
	h->seq = p->seq;
	h->seg_len = cn_pkt_seg_len(p);
	*f->held_tail = h;
	f->held_tail = &h->next;
	f->held_frames++;
	f->held_bytes += fr->len;
	eng->held_bytes += fr->len;
	return CN_DROP_NONE;
}

void sm_client_sent(struct cn_flow *f, const struct cn_pkt *p)
{
	if (cn_seq_lt(f->peer[CN_CLIENT].end, p->seq + cn_pkt_seg_len(p)))
		f->peer[CN_CLIENT].end = p->seq + cn_pkt_seg_len(p);
}

/*
 * A pure ACK held last says nothing the client's next segment with an ACK
 * does not: before the SYN-ACK the client has received nothing else to
 * acknowledge, and either completes the server's handshake. Once that
 * segment is held, the ACK goes, and the server takes one frame fewer
 * (the request alone, for a client that speaks first). link: where the
 * frame before the new one hangs.
 */
static void supersede_ack(struct cn_engine *eng, struct cn_flow *f,
			  struct cn_held **link, const struct cn_pkt *p)
{
	struct cn_held *ack = *link;

	if (!(p->flags & CN_TCP_ACK) || ack->seg_len || !ack->next)
		return;
	*link = ack->next;
	f->held_frames--;
	f->held_bytes -= ack->len;
	eng->held_bytes -= ack->len;
	free(ack);
	eng->ctr.acks_superseded++;
}

static enum cn_verdict hold(struct cn_engine *eng, struct cn_flow *f,
			    const struct cn_frame *fr, const struct cn_pkt *p,
			    uint64_t now, enum cn_drop *reason)
{
	struct cn_held **last = NULL;

	if (sm_held_already(f, p)) {
		eng->ctr.frames_held_dup++;
		return CN_STOLEN;
	}
	for (struct cn_held **l = &f->held; *l; l = &(*l)->next)
		last = l;
	*reason = sm_keep(eng, f, fr, p);
	if (*reason != CN_DROP_NONE)
		return CN_DROP;
	if (last)
		supersede_ack(eng, f, last, p);
	eng->ctr.frames_buffered++;
	sm_client_sent(f, p);
	sm_event(eng, CN_EV_BUFFERED, f, now);
	return CN_STOLEN;
}

/* ---- connection tracking (server-side sequence space) --------------- */

/*
 * RFC 5961 3.2 has an endpoint act on an RST only at exactly RCV.NXT. The
 * box knows the receiver's RCV.NXT as of its last ACK, and the sender may
 * have sent more since: any sequence number from that ACK up to what the
 * sender has sent may be RCV.NXT by now. Anything else is at best worth a
 * challenge ACK from the endpoint, and the box must not forget the flow.
 */
static bool rst_in_window(const struct cn_flow *f, enum cn_side from,
			  uint32_t seq)
{
	const struct cn_peer *rcv = &f->peer[cn_other_side(from)];
	const struct cn_peer *snd = &f->peer[from];
	uint32_t lo = rcv->ack_seen ? rcv->ack : snd->end;

	if (cn_seq_lt(snd->end, lo))
		return seq == lo;
	return cn_seq_leq(lo, seq) && cn_seq_leq(seq, snd->end);
}

bool sm_both_fins_acked(const struct cn_flow *f)
{
	const struct cn_peer *c = &f->peer[CN_CLIENT], *s = &f->peer[CN_SERVER];

	return c->fin && s->fin && s->ack_seen && c->ack_seen &&
	       cn_seq_lt(c->fin_seq, s->ack) && cn_seq_lt(s->fin_seq, c->ack);
}

/* Record what the segment says, with seq and ack already in the server
 * side's space; an in-window RST closes the flow. */
static void track(struct cn_engine *eng, struct cn_flow *f, enum cn_side from,
		  const struct cn_pkt *p, uint32_t seq, uint32_t ack,
		  uint8_t shift, uint64_t now)
{
	struct cn_peer *me = &f->peer[from];
	uint32_t end = seq + cn_pkt_seg_len(p), win;

	if (p->flags & CN_TCP_RST) {
		if (!rst_in_window(f, from, seq)) {
			eng->ctr.rst_out_of_window++;
		} else if (f->state != CN_FS_CLOSED) {
			eng->ctr.flows_reset++;
			sm_event(eng, CN_EV_RESET, f, now);
			sm_flow_close(eng, f, now);
		}
		return;
	}
	if (cn_seq_lt(me->end, end))
		me->end = end;
	if (p->flags & CN_TCP_ACK) {
		if (!me->ack_seen || cn_seq_lt(me->ack, ack))
			me->ack = ack;
		me->ack_seen = true;
	}
	win = (uint32_t)p->win << shift;
	if (win > me->max_win)
		me->max_win = win;
	if ((p->flags & CN_TCP_FIN) && !me->fin) {
		me->fin = true;
		me->fin_seq = seq + p->payload_len;
	}
	if (f->state == CN_FS_ESTABLISHED && sm_both_fins_acked(f))
		sm_flow_close(eng, f, now);
}

static void touch(struct cn_engine *eng, struct cn_flow *f, uint64_t now)
{
	f->last_seen = now;
	if (f->list == CN_LIST_ACTIVE && now - f->list_at >= eng->touch_ns)
		cn_ft_list_move(&eng->ft, f, CN_LIST_ACTIVE, now);
}

/* A client segment longer than the server's MSS, which the spoofed
 * SYN-ACK over-promised, is cut by the kernel on its way out. */
static void cut(struct cn_engine *eng, const struct cn_flow *f,
		struct cn_frame *fr, const struct cn_pkt *p)
{
	if (f->cut_mss && cn_rewrite_cut(fr, p, f->cut_mss))
		eng->ctr.frames_cut++;
}

enum cn_verdict sm_translate(struct cn_engine *eng, struct cn_flow *f,
			     enum cn_side from, struct cn_frame *fr,
			     const struct cn_pkt *p, uint64_t now,
			     enum cn_drop *reason)
{
	bool patch = !(fr->off.flags & CN_OFF_CSUM_PARTIAL);

	if (f->passthrough && !peer_vanished(eng, f, from, p, now)) {
		/* The peer translates: here both ends' spaces are the
		 * client's view of the flow. */
		if (from == CN_CLIENT && peer_client_resends(f, p))
			peer_probe(eng, f, fr, p);
		touch(eng, f, now);
		track(eng, f, from, p, p->seq, p->ack,
		      from == CN_CLIENT ? f->c2s_shift_in : f->s2c_shift_out,
		      now);
		return CN_FORWARD;
	}
	if (sm_servernic(eng) && from == CN_CLIENT &&
	    peer_translated_already(f, p)) {
		touch(eng, f, now);
		track(eng, f, from, p, p->seq, p->ack, f->c2s_shift_in, now);
		eng->ctr.frames_probes++;
		cut(eng, f, fr, p);
		return CN_FORWARD;
	}
	if (!cn_rewrite_offload_ok(fr, p)) {
		*reason = CN_DROP_bad_offload;
		return CN_DROP;
	}
	touch(eng, f, now);
	if (from == CN_CLIENT) {
		track(eng, f, from, p, p->seq, p->ack - f->delta,
		      f->c2s_shift_in, now);
		cn_rewrite_c2s(fr->data, p, f, patch);
		cut(eng, f, fr, p);
	} else {
		track(eng, f, from, p, p->seq, p->ack, f->s2c_shift_in, now);
		cn_rewrite_s2c(fr->data, p, f, patch);
	}
	eng->ctr.frames_rewritten++;
	return CN_FORWARD;
}

/* ---- the real SYN-ACK ----------------------------------------------- */

/* The server's options, and (ClientNIC) what the next spoofed SYN-ACK to
 * it will promise. */
void sm_learn_options(struct cn_engine *eng, struct cn_flow *f,
		      const struct cn_pkt *p)
{
	const struct cn_syn_opts *c = &f->client;

	f->real = (struct cn_syn_opts){ p->opt.mss, p->opt.wscale,
					p->opt.sack_ok, p->opt.ts };
	if (sm_servernic(eng))
		return;
	cn_oc_put(&eng->oc, &f->key, &f->real,
		  (c->wscale >= 0 ? CN_OC_WSCALE : 0u) |
		  (c->sack_ok ? CN_OC_SACK : 0u) | (c->ts ? CN_OC_TS : 0u));
}

/* What the server's side of the wire has said so far: its SYN-ACK. */
void sm_server_sent_synack(struct cn_flow *f, const struct cn_pkt *p)
{
	f->peer[CN_SERVER].end = p->seq + 1;
	f->peer[CN_SERVER].ack = p->ack;
	f->peer[CN_SERVER].ack_seen = true;
	f->peer[CN_SERVER].max_win = p->win;
}

void sm_learn_server(struct cn_engine *eng, struct cn_flow *f,
		     const struct cn_pkt *p)
{
	const struct cn_syn_opts *c = &f->client, *sp = &f->spoofed;
	bool client_scales = c->wscale >= 0 && sp->wscale >= 0;
	bool server_scales = c->wscale >= 0 && p->opt.wscale >= 0;
	uint16_t mss;

	sm_learn_options(eng, f, p);
	f->real_isn = p->seq;
	f->delta = f->spoof_isn - f->real_isn;
	/* Window fields carry units of 2^shift; the two ends may disagree
	 * on the shift only because the spoofed SYN-ACK guessed wrong. */
	f->c2s_shift_in = client_scales ? (uint8_t)c->wscale : 0;
	f->c2s_shift_out = server_scales ? (uint8_t)c->wscale : 0;
	f->s2c_shift_in = server_scales ? (uint8_t)p->opt.wscale : 0;
	f->s2c_shift_out = client_scales ? (uint8_t)sp->wscale : 0;
	f->translate_ts = sp->ts && p->opt.ts;
	f->ts_delta = f->spoof_tsval - p->opt.tsval;
	f->strip_ts_c2s = sp->ts && !p->opt.ts;
	f->strip_sack_c2s = sp->sack_ok && !p->opt.sack_ok;
	f->strip_sack_s2c = !sp->sack_ok && p->opt.sack_ok;
	/* RFC 9293: no MSS option means 536 (IPv4) or 1220 (IPv6). */
	mss = p->opt.mss ? p->opt.mss : f->key.family == 4 ? 536 : 1220;
	f->cut_mss = mss < sp->mss ? mss : 0;
	sm_server_sent_synack(f, p);
}

/* The ACK that completes the server's handshake, when the client's own
 * is not among the held frames (it was lost or dropped at a bound). */
static void send_handshake_ack(struct cn_engine *eng, struct cn_flow *f,
			       const uint8_t *synack, const struct cn_pkt *sp)
{
	struct cn_tcp_spec spec = {
		.seq = f->client_isn + 1,
		.ack = f->real_isn + 1,
		.flags = CN_TCP_ACK,
	};
	uint32_t win = f->peer[CN_CLIENT].max_win >> f->c2s_shift_out;

	spec.win = win > 0xffff ? 0xffff : (uint16_t)win;
	if (f->translate_ts)
		cn_ts_option(&spec, f->client_tsval, sp->opt.tsval);
	emit_crafted(eng, CN_SERVER, synack, sp, true, &spec);
	eng->ctr.acks_synthesized++;
}

static bool flush_one(struct cn_engine *eng, struct cn_flow *f,
		      struct cn_held *h, uint64_t now)
{
	struct cn_frame fr = { .data = h->data, .len = h->len, .off = h->off };
	struct cn_pkt p;
	enum cn_drop reason = CN_DROP_NONE;

	if (cn_parse(h->data, h->len, &p) != CN_PARSE_TCP)
		return false;
	if (sm_translate(eng, f, CN_CLIENT, &fr, &p, now, &reason) != CN_FORWARD) {
		eng->drops.by_reason[reason]++;
		return false;
	}
	sm_emit(eng, CN_SERVER, h->data, h->len, &fr.off);
	if (f->peer_state == CN_FP_FALLBACK)
		eng->ctr.frames_replayed++;
	else
		eng->ctr.frames_flushed++;
	return (p.flags & CN_TCP_ACK) != 0;
}

void sm_flush(struct cn_engine *eng, struct cn_flow *f,
	      const uint8_t *synack, const struct cn_pkt *sp, uint64_t now)
{
	bool acked = false;

	sm_event(eng, CN_EV_FLUSHED, f, now);
	for (struct cn_held *h = f->held; h; h = h->next) {
		acked |= flush_one(eng, f, h, now);
		if (f->state != CN_FS_ESTABLISHED)
			break; /* a held RST or FIN ended it */
	}
	sm_held_free_all(eng, f);
	/* Through a peer, the handshake ACK is the peer's business. */
	if (!acked && f->state == CN_FS_ESTABLISHED && !f->passthrough &&
	    f->client_acked)
		send_handshake_ack(eng, f, synack, sp);
}

/* It acknowledges the SYN, and at most the SYN's data (TFO). */
bool sm_synack_acks_syn(const struct cn_flow *f, const struct cn_pkt *p)
{
	return !cn_seq_lt(p->ack, f->client_isn + 1) &&
	       !cn_seq_lt(f->peer[CN_CLIENT].end, p->ack);
}

void sm_establish(struct cn_engine *eng, struct cn_flow *f, uint64_t now)
{
	f->state = CN_FS_ESTABLISHED;
	syn_free(eng, f);
	cn_ft_timer_clear(&eng->ft, f);
	cn_ft_list_move(&eng->ft, f, CN_LIST_ACTIVE, now);
	f->last_seen = now;
	eng->ctr.flows_established++;
}

enum cn_verdict sm_on_real_synack(struct cn_engine *eng, struct cn_flow *f,
				  struct cn_frame *fr,
				  const struct cn_pkt *p, uint64_t now,
				  enum cn_drop *reason)
{
	if (!sm_synack_acks_syn(f, p)) {
		*reason = CN_DROP_synack_bad_ack;
		return CN_DROP;
	}
	if (sm_servernic(eng) && !cn_rewrite_offload_ok(fr, p)) {
		/* It goes on rewritten: its offload must match. */
		*reason = CN_DROP_bad_offload;
		return CN_DROP;
	}
	sm_learn_server(eng, f, p);
	sm_establish(eng, f, now);
	eng->ctr.synacks_real++;
	if (sm_servernic(eng)) {
		eng->ctr.flows_taken_over++;
		sm_event(eng, CN_EV_TAKEN_OVER, f, now);
		sm_flush(eng, f, fr->data, p, now);
		return peer_pass_synack(eng, f, fr, p);
	}
	sm_event(eng, CN_EV_SYNACK_REAL, f, now);
	sm_flush(eng, f, fr->data, p, now);
	return CN_STOLEN;
}

/*
 * ClientNIC: a SYN-ACK whose seq is the spoofed ISN comes from a peer that
 * read the option (the ISN is unpredictable to anyone else). The peer
 * translates; here the flow is only tracked. Frames held until now go on
 * as they are, copies of frames already sent are no longer needed.
 */

/* The server answered the SYN with an RST (closed port). */
static enum cn_verdict on_refused(struct cn_engine *eng, struct cn_flow *f,
				  const struct cn_pkt *p, uint64_t now,
				  enum cn_drop *reason)
{
	if (!(p->flags & CN_TCP_ACK) || cn_seq_lt(p->ack, f->client_isn + 1) ||
	    cn_seq_lt(f->peer[CN_CLIENT].end, p->ack)) {
		*reason = CN_DROP_rst_embryonic_bad;
		return CN_DROP;
	}
	eng->ctr.flows_refused++;
	sm_event(eng, CN_EV_REFUSED, f, now);
	if (sm_servernic(eng)) {
		/* The ClientNIC resets its client on this very RST. */
		sm_flow_free(eng, f);
		return CN_FORWARD;
	}
	reset_client(eng, f);
	sm_flow_free(eng, f);
	return CN_STOLEN;
}

static enum cn_verdict on_server_embryonic(struct cn_engine *eng,
					   struct cn_flow *f,
					   struct cn_frame *fr,
					   const struct cn_pkt *p, uint64_t now,
					   enum cn_drop *reason)
{
	uint8_t fl = p->flags & (CN_TCP_SYN | CN_TCP_ACK | CN_TCP_RST);

	if (fl == (CN_TCP_SYN | CN_TCP_ACK)) {
		if (f->peer_state != CN_FP_NONE && p->seq == f->spoof_isn)
			return peer_on_synack(eng, f, fr, p, now, reason);
		if (f->peer_state == CN_FP_EARLY)
			return peer_on_missing(eng, f, fr, p, now, reason);
		return sm_on_real_synack(eng, f, fr, p, now, reason);
	}
	if (fl & CN_TCP_RST) {
		/* Dropped as not matching the SYN; the copies go again. */
		if (f->peer_state == CN_FP_EARLY && peer_stray_rst(eng, f, p, now))
			f->stray_lost = true;
		return on_refused(eng, f, p, now, reason);
	}
	if (f->peer_state != CN_FP_NONE && peer_relayed_segment(f, p))
		return peer_on_relayed(eng, f, fr, p, now, reason);
	/* Nothing else can be translated before the delta is known. */
	eng->ctr.passed_untracked++;
	return CN_FORWARD;
}

static enum cn_verdict on_server_synack_again(struct cn_engine *eng,
					      struct cn_flow *f,
					      const struct cn_frame *fr,
					      const struct cn_pkt *p,
					      enum cn_drop *reason)
{
	/* Through a peer it comes in the spoofed space. */
	if (p->seq != (f->passthrough ? f->spoof_isn : f->real_isn)) {
		*reason = CN_DROP_synack_bad_ack;
		return CN_DROP;
	}
	eng->ctr.synacks_dup++;
	/* The server did not get the handshake ACK: say it again, unless a
	 * peer translates the flow (then that is the peer's to do). */
	if (!f->passthrough && (f->client_acked || f->peer[CN_CLIENT].ack_seen))
		send_handshake_ack(eng, f, fr->data, p);
	return CN_STOLEN;
}

/* ---- dispatch ------------------------------------------------------- */

static enum cn_verdict on_client(struct cn_engine *eng, struct cn_frame *fr,
				 const struct cn_pkt *p,
				 const struct cn_flow_key *key, uint32_t hash,
				 struct cn_flow *f, uint64_t now,
				 enum cn_drop *reason)
{
	uint8_t fl = p->flags & (CN_TCP_SYN | CN_TCP_ACK | CN_TCP_RST);

	if (fl == CN_TCP_SYN)
		return sm_servernic(eng) ?
			peer_on_syn(eng, fr, p, key, hash, f, now, reason) :
			on_client_syn(eng, fr, p, key, hash, f, now);
	if (!f) {
		eng->ctr.passed_untracked++;
		return CN_FORWARD;
	}
	if (f->state != CN_FS_SYN_SENT)
		return sm_translate(eng, f, CN_CLIENT, fr, p, now, reason);
	/* Only a client that answered the SYN-ACK it got is owed the
	 * server's handshake; a SYN from a forged source is not. */
	f->client_acked |= (fl & CN_TCP_ACK) != 0;
	if (fl & CN_TCP_RST) {
		/* The client gave up before the server answered. A late
		 * SYN-ACK will pass to the client, whose stack resets it. */
		if (cn_seq_lt(p->seq, f->client_isn + 1) ||
		    cn_seq_lt(f->peer[CN_CLIENT].end, p->seq)) {
			*reason = CN_DROP_rst_embryonic_bad;
			return CN_DROP;
		}
		sm_flow_free(eng, f);
		if (sm_servernic(eng)) {
			/* The server holds a half-open connection (the SYN
			 * reached it): the RST ends that too. */
			eng->ctr.flows_reset++;
			return CN_FORWARD;
		}
		*reason = CN_DROP_client_rst_embryonic;
		return CN_DROP;
	}
	if (f->peer_state == CN_FP_EARLY)
		return peer_send_early(eng, f, fr, p);
	return hold(eng, f, fr, p, now, reason);
}

static enum cn_verdict on_server(struct cn_engine *eng, struct cn_frame *fr,
				 const struct cn_pkt *p, struct cn_flow *f,
				 uint64_t now, enum cn_drop *reason)
{
	if (!f) {
		eng->ctr.passed_untracked++;
		return CN_FORWARD;
	}
	if (f->state == CN_FS_SYN_SENT)
		return on_server_embryonic(eng, f, fr, p, now, reason);
	if ((p->flags & (CN_TCP_SYN | CN_TCP_ACK | CN_TCP_RST)) ==
	    (CN_TCP_SYN | CN_TCP_ACK))
		return on_server_synack_again(eng, f, fr, p, reason);
	if (f->peer_state == CN_FP_FALLBACK &&
	    (p->flags & (CN_TCP_RST | CN_TCP_ACK)) == CN_TCP_RST &&
	    p->seq == f->spoof_isn + 1) {
		/* The server's answer to a frame sent for the absent peer:
		 * it kept its half-open connection, and the replayed copy
		 * completed it. */
		*reason = CN_DROP_rst_fallback;
		return CN_DROP;
	}
	if (f->passthrough && peer_stray_rst(eng, f, p, now)) {
		*reason = CN_DROP_rst_stray;
		return CN_DROP;
	}
	return sm_translate(eng, f, CN_SERVER, fr, p, now, reason);
}

/* SYNs, SYN-ACKs and RSTs change the box's state: their checksum is
 * checked in full first, unless a device already did or will. */
static bool control_csum_ok(const struct cn_frame *fr, const struct cn_pkt *p)
{
	if (!(p->flags & (CN_TCP_SYN | CN_TCP_RST)) ||
	    (fr->off.flags & (CN_OFF_CSUM_PARTIAL | CN_OFF_CSUM_VALID)))
		return true;
	return cn_pkt_csum_ok(fr->data, p);
}

/*
 * A segment the box cannot act on: its option list is broken, or it is a
 * SYN, SYN-ACK or RST with a wrong checksum. For a flow the box tracks (or
 * a SYN that would start one) it is dropped, as the endpoint would drop
 * it: passed untranslated it would be wrong, acted on it would be worse.
 * Anything else is not the box's business and passes as through a bridge.
 */
static enum cn_drop unreliable(const struct cn_frame *fr,
			       const struct cn_pkt *p, enum cn_parse_result r,
			       enum cn_side from, const struct cn_flow *f)
{
	bool syn = from == CN_CLIENT &&
		   (p->flags & (CN_TCP_SYN | CN_TCP_ACK | CN_TCP_RST)) ==
			   CN_TCP_SYN;

	if (r == CN_PARSE_BAD_OPTIONS)
		return f ? CN_DROP_bad_options : CN_DROP_NONE;
	if ((f || syn) && !control_csum_ok(fr, p))
		return CN_DROP_bad_checksum;
	return CN_DROP_NONE;
}

static enum cn_verdict count_pass(struct cn_engine *eng,
				  enum cn_parse_result r)
{
	switch (r) {
	case CN_PARSE_NOT_TCP:
		eng->ctr.passed_not_tcp++;
		break;
	case CN_PARSE_IP_EXT:
		eng->ctr.passed_ip_ext++;
		break;
	default:
		eng->ctr.passed_malformed++;
		break;
	}
	return CN_FORWARD;
}

enum cn_verdict cn_engine_input(struct cn_engine *eng, enum cn_side from,
				struct cn_frame *fr, uint64_t now_ns,
				enum cn_drop *reason)
{
	struct cn_flow_key key;
	struct cn_pkt p;
	enum cn_parse_result r;
	enum cn_drop why = CN_DROP_NONE;
	enum cn_verdict v;
	struct cn_flow *f;
	uint32_t hash;

	if (from == CN_CLIENT)
		eng->ctr.frames_in_client++;
	else
		eng->ctr.frames_in_server++;
	r = cn_parse(fr->data, fr->len, &p);
	if (r != CN_PARSE_TCP && r != CN_PARSE_BAD_OPTIONS)
		return count_pass(eng, r);
	cn_pkt_flow_key(fr->data, &p, from, &key);
	hash = cn_ft_hash(&eng->ft, &key);
	f = cn_ft_lookup(&eng->ft, &key, hash);
	if (f) {
		/* A new SYN on the 4-tuple replaces a closed flow only. */
		sm_fast_sync(eng, f, now_ns);
		f->frames[from]++;
		f->bytes[from] += p.ip_end;
	}
	why = unreliable(fr, &p, r, from, f);
	if (why == CN_DROP_NONE && r == CN_PARSE_BAD_OPTIONS)
		return count_pass(eng, CN_PARSE_MALFORMED);
	if (why != CN_DROP_NONE)
		v = CN_DROP;
	else if (from == CN_CLIENT)
		v = on_client(eng, fr, &p, &key, hash, f, now_ns, &why);
	else
		v = on_server(eng, fr, &p, f, now_ns, &why);
	if (v == CN_DROP)
		eng->drops.by_reason[why]++;
	if (reason)
		*reason = why;
	/* The frame may have established, changed or closed the flow. */
	if (eng->io.fast_put && (f = cn_ft_lookup(&eng->ft, &key, hash)))
		sm_fast_publish(eng, f);
	return v;
}

/* ---- timers --------------------------------------------------------- */

static void resend_syn(struct cn_engine *eng, struct cn_flow *f, uint64_t now)
{
	uint64_t next, give_up = f->syn_at + eng->cfg.syn_timeout_ns;
	unsigned shift = f->syn_tries < 16 ? f->syn_tries + 1 : 16;

	sm_emit(eng, CN_SERVER, f->syn->data, f->syn->len, &f->syn->off);
	f->syn_tries++;
	eng->ctr.syns_resent++;
	sm_event(eng, CN_EV_SYN_RESENT, f, now);
	next = now + (eng->cfg.syn_rto_ns << shift);
	cn_ft_timer_set(&eng->ft, f, next < give_up ? next : give_up);
}

static void syn_timer(struct cn_engine *eng, struct cn_flow *f, uint64_t now)
{
	if (sm_servernic(eng) || now - f->syn_at >= eng->cfg.syn_timeout_ns) {
		reset_client(eng, f);
		if (f->peer_state != CN_FP_NONE)
			reset_server(eng, f);
		eng->ctr.flows_timed_out++;
		sm_event(eng, CN_EV_SYN_TIMEOUT, f, now);
		sm_flow_free(eng, f);
		return;
	}
	resend_syn(eng, f, now);
}

static void expire_idle(struct cn_engine *eng, uint64_t now)
{
	struct cn_flow *f;

	while ((f = cn_ft_list_head(&eng->ft, CN_LIST_ACTIVE)) &&
	       now - f->list_at >= eng->cfg.idle_timeout_ns) {
		sm_fast_refresh(eng, f, now);
		if (now - f->last_seen < eng->cfg.idle_timeout_ns) {
			/* Seen since it was queued: requeue at that time. */
			cn_ft_list_move(&eng->ft, f, CN_LIST_ACTIVE, now);
			f->list_at = f->last_seen;
			continue;
		}
		eng->ctr.flows_expired++;
		sm_event(eng, CN_EV_EXPIRED, f, now);
		sm_flow_free(eng, f);
	}
}

static void expire_closed(struct cn_engine *eng, uint64_t now)
{
	struct cn_flow *f;

	while ((f = cn_ft_list_head(&eng->ft, CN_LIST_CLOSED)) &&
	       now - f->list_at >= eng->cfg.close_grace_ns) {
		eng->ctr.flows_closed++;
		sm_event(eng, CN_EV_CLOSED, f, now);
		sm_flow_free(eng, f);
	}
}

void cn_engine_tick(struct cn_engine *eng, uint64_t now_ns)
{
	struct cn_flow *f;

	while ((f = cn_ft_timer_first(&eng->ft)) && f->deadline <= now_ns)
		syn_timer(eng, f, now_ns);
	expire_idle(eng, now_ns);
	expire_closed(eng, now_ns);
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

uint64_t cn_engine_next_deadline(const struct cn_engine *eng)
{
	const struct cn_flow *f;
	uint64_t t = UINT64_MAX;

	if ((f = cn_ft_timer_first(&eng->ft)))
		t = f->deadline;
	if ((f = cn_ft_list_head(&eng->ft, CN_LIST_ACTIVE)))
		t = min64(t, f->list_at + eng->cfg.idle_timeout_ns);
	if ((f = cn_ft_list_head(&eng->ft, CN_LIST_CLOSED)))
		t = min64(t, f->list_at + eng->cfg.close_grace_ns);
	return t;
}

/* ---- life cycle ----------------------------------------------------- */

static bool config_ok(const struct cn_config *c)
{
	return c->max_flows > 0 && c->buf_flow_frames > 0 &&
	       c->syn_rto_ns > 0 && c->syn_timeout_ns > 0 &&
	       c->idle_timeout_ns > 0 && c->default_wscale <= CN_MAX_WSCALE &&
	       c->default_mss4 >= 64 && c->default_mss6 >= 64 &&
	       c->max_mss >= 64 && c->cache_entries >= 4;
}

/* A key of its own for each use, so no table shares bits with another. */
static void derive_key(const uint8_t secret[32], const char *label,
		       uint8_t key[16])
{
	uint8_t buf[64] = { 0 };
	size_t n = strlen(label);

	memcpy(buf, secret, 32);
	memcpy(buf + 32, label, n < 31 ? n : 31);
	for (int i = 0; i < 2; i++) {
		uint64_t h;

		buf[63] = (uint8_t)i;
		h = cn_siphash(secret + 16, buf, sizeof(buf));
		memcpy(key + 8 * i, &h, 8);
	}
}

int cn_engine_create(struct cn_engine **out, const struct cn_config *cfg,
		     const uint8_t secret[32], const struct cn_io *io)
{
	struct cn_engine *eng;
	uint8_t oc_key[16];
	int err;

	*out = NULL;
	if (!config_ok(cfg) || !io || !io->emit)
		return -EINVAL;
	/* The kernel path's callbacks come as a set. */
	if (!io->fast_put != !io->fast_del || !io->fast_put != !io->fast_get)
		return -EINVAL;
	eng = calloc(1, sizeof(*eng));
	if (!eng)
		return -ENOMEM;
	eng->cfg = *cfg;
	eng->io = *io;
	memcpy(eng->isn_key, secret + 16, sizeof(eng->isn_key));
	eng->touch_ns = sm_touch_ns(cfg->idle_timeout_ns);
	derive_key(secret, "option cache", oc_key);
	err = cn_ft_init(&eng->ft, cfg->max_flows, secret);
	if (!err)
		err = cn_oc_init(&eng->oc, cfg->cache_entries, oc_key);
	if (err) {
		cn_engine_destroy(eng);
		return err;
	}
	*out = eng;
	return 0;
}

void cn_engine_destroy(struct cn_engine *eng)
{
	if (!eng)
		return;
	for (uint32_t i = 0; eng->ft.slots && i < eng->ft.capacity; i++) {
		struct cn_flow *f = &eng->ft.slots[i];

		if (f->state == CN_FS_FREE)
			continue;
		/* The kernel path carries the flow on for a successor. */
		f->fast_pub = false;
		sm_flow_free(eng, f);
	}
	cn_ft_fini(&eng->ft);
	cn_oc_fini(&eng->oc);
	free(eng);
}

const struct cn_counters *cn_engine_counters(const struct cn_engine *eng)
{
	return &eng->ctr;
}

const struct cn_drops *cn_engine_drops(const struct cn_engine *eng)
{
	return &eng->drops;
}

uint32_t cn_engine_flow_count(const struct cn_engine *eng)
{
	return eng->ft.count;
}

uint64_t cn_engine_buffered_bytes(const struct cn_engine *eng)
{
	return eng->held_bytes;
}

size_t cn_engine_cache_capacity(const struct cn_engine *eng)
{
	return cn_oc_capacity(&eng->oc);
}

size_t cn_engine_cache_dump(const struct cn_engine *eng,
			    struct cn_cache_record *out, size_t max)
{
	struct cn_flow_key *keys = calloc(max ? max : 1, sizeof(*keys));
	struct cn_syn_opts *opts = calloc(max ? max : 1, sizeof(*opts));
	uint8_t *known = calloc(max ? max : 1, 1);
	size_t n = 0;

	if (keys && opts && known)
		n = cn_oc_dump(&eng->oc, keys, opts, known, max);
	for (size_t i = 0; i < n; i++) {
		out[i] = (struct cn_cache_record){
			.family = keys[i].family,
			.known = known[i],
			.port = keys[i].sport,
			.mss = opts[i].mss,
			.wscale = opts[i].wscale,
			.sack_ok = opts[i].sack_ok,
			.ts = opts[i].ts,
		};
		memcpy(out[i].addr, keys[i].saddr, sizeof(out[i].addr));
	}
	free(keys);
	free(opts);
	free(known);
	return n;
}

static bool record_ok(const struct cn_cache_record *r)
{
	static const uint8_t zero[12];

	if (r->family != 4 && r->family != 6)
		return false;
	if (r->family == 4 && memcmp(r->addr + 4, zero, sizeof(zero)))
		return false;
	return r->port && !(r->known & ~(CN_OC_WSCALE | CN_OC_SACK | CN_OC_TS)) &&
	       (!r->mss || r->mss >= 64) && r->wscale >= -1 &&
	       r->wscale <= CN_MAX_WSCALE;
}

int cn_engine_cache_learn(struct cn_engine *eng,
			  const struct cn_cache_record *r)
{
	struct cn_flow_key key = { .family = r->family, .sport = r->port };
	struct cn_syn_opts o = { r->mss, r->wscale, r->sack_ok, r->ts };

	if (!record_ok(r))
		return -EINVAL;
	memcpy(key.saddr, r->addr, sizeof(key.saddr));
	cn_oc_put(&eng->oc, &key, &o, r->known);
	return 0;
}

size_t cn_engine_flow_footprint(void)
{
	/* slot (64-byte aligned) + bucket head + heap slot */
	return sizeof(struct cn_flow) + 2 * sizeof(uint32_t);
}
