// SPDX-License-Identifier: MIT
/*
 * The ClientNIC and the ServerNIC engines back to back, through
 * src/engine/engine.h only:
 *
 *   client -- [ClientNIC] -- WAN -- [ServerNIC] -- server
 *
 * The two ends are scripted here; every frame a box emits or forwards is
 * carried to the next hop at once (the WAN may lose chosen frames), and
 * what reaches each end is read back with frames.c's own reader. Without
 * a ServerNIC the WAN ends at the server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/engine.h"
#include "engine/packet.h"
#include "frames.h"

#define MS 1000000ULL
#define T0 (1000 * MS)

enum { CNIC, SNIC };

#define LOSE_ANY 0xff

struct pair {
	struct cn_engine *box[2]; /* box[SNIC] NULL: no ServerNIC */
	struct cn_config cfg[2];
	struct fr_cap cap[2];     /* what each box emits, and its events */
	size_t done[2];           /* frames of cap[] carried on already */
	struct fr_cap client;     /* what reaches the client */
	struct fr_cap server;     /* what reaches the server */
	uint64_t now;
	/* WAN loss: frames towards side 'to' whose TCP flags equal lose_flags
	 * (LOSE_ANY: whatever their flags) are lost while lose_n[to] > 0. */
	unsigned lose_n[2];
	uint8_t lose_flags[2];
};

static const uint8_t secret[2][32] = { { 1, 2, 3, 4, 5, 6, 7, 8 },
				       { 9, 10, 11, 12, 13, 14, 15 } };

static void config(struct cn_config *c, enum cn_role role)
{
	cn_config_defaults(c);
	c->max_flows = 64;
	c->buf_flow_bytes = 16384;
	c->buf_flow_frames = 8;
	c->buf_total_bytes = 65536;
	c->syn_rto_ns = 50 * MS;
	c->syn_timeout_ns = 1000 * MS;
	c->idle_timeout_ns = 10000 * MS;
	c->close_grace_ns = 100 * MS;
	c->cache_entries = 64;
	c->role = (uint8_t)role;
}

static void box_start(struct pair *p, int b)
{
	if (p->box[b])
		cn_engine_destroy(p->box[b]);
	p->box[b] = NULL;
	fr_cap_reset(&p->cap[b]);
	p->done[b] = 0;
	assert_int_equal(cn_engine_create(&p->box[b], &p->cfg[b], secret[b],
					  &p->cap[b].io), 0);
}

static void pair_start(struct pair *p, bool with_snic)
{
	box_start(p, CNIC);
	if (with_snic)
		box_start(p, SNIC);
}

static int setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));

	assert_non_null(p);
	for (int b = 0; b < 2; b++)
		fr_cap_init(&p->cap[b]);
	fr_cap_init(&p->client);
	fr_cap_init(&p->server);
	config(&p->cfg[CNIC], CN_ROLE_CLIENTNIC);
	config(&p->cfg[SNIC], CN_ROLE_SERVERNIC);
	p->now = T0;
	*state = p;
	return 0;
}

static int teardown(void **state)
{
	struct pair *p = *state;

	for (int b = 0; b < 2; b++) {
		cn_engine_destroy(p->box[b]);
		fr_cap_fini(&p->cap[b]);
	}
	fr_cap_fini(&p->client);
	fr_cap_fini(&p->server);
	free(p);
	return 0;
}

/* ---- the wire --------------------------------------------------------- */

static void box_in(struct pair *p, int b, enum cn_side from,
		   const struct cn_frame *f);

static void to_end(struct fr_cap *end, enum cn_side to, const struct cn_frame *f)
{
	const char *why = fr_verify(f);

	if (why)
		fail_msg("a frame to the %s: %s",
			 to == CN_CLIENT ? "client" : "server", why);
	end->io.emit(end->io.ctx, to, f);
}

static bool wan_loses(struct pair *p, enum cn_side to, const struct cn_frame *f)
{
	struct fr_view v;

	if (!p->lose_n[to] || fr_read(f->data, f->len, &v) ||
	    (p->lose_flags[to] != LOSE_ANY && v.flags != p->lose_flags[to]))
		return false;
	p->lose_n[to]--;
	return true;
}

/* Box b put frame f out on its side 'to'. */
static void box_out(struct pair *p, int b, enum cn_side to,
		    const struct cn_frame *f)
{
	if (b == CNIC && to == CN_CLIENT) {
		to_end(&p->client, CN_CLIENT, f);
	} else if (b == SNIC && to == CN_SERVER) {
		to_end(&p->server, CN_SERVER, f);
	} else if (wan_loses(p, to, f)) {
		return;
	} else if (b == CNIC) {
		if (p->box[SNIC])
			box_in(p, SNIC, CN_CLIENT, f);
		else
			to_end(&p->server, CN_SERVER, f);
	} else {
		box_in(p, CNIC, CN_SERVER, f);
	}
}

/* Carry on what box b emitted since the last time. */
static void drain(struct pair *p, int b)
{
	while (p->done[b] < p->cap[b].n) {
		struct fr_out *o = &p->cap[b].out[p->done[b]++];

		box_out(p, b, o->to, &o->f);
	}
}

static void box_in(struct pair *p, int b, enum cn_side from,
		   const struct cn_frame *f)
{
	struct cn_frame fr = *f;
	enum cn_drop why = CN_DROP_NONE;
	enum cn_verdict v;

	fr.data = fr_dup(f->data, f->len);
	v = cn_engine_input(p->box[b], from, &fr, p->now, &why);
	drain(p, b);
	if (v == CN_FORWARD)
		box_out(p, b, cn_other_side(from), &fr);
	free(fr.data);
}

static void client_send(struct pair *p, const struct fr_spec *s)
{
	struct fr_frame fr;

	fr_build(&fr, s);
	box_in(p, CNIC, CN_CLIENT, &fr.f);
}

static void server_send(struct pair *p, const struct fr_spec *s)
{
	struct fr_frame fr;

	fr_build(&fr, s);
	if (p->box[SNIC])
		box_in(p, SNIC, CN_SERVER, &fr.f);
	else
		box_out(p, SNIC, CN_CLIENT, &fr.f);
}

static void tick(struct pair *p, uint64_t dt)
{
	p->now += dt;
	for (int b = 0; b < 2; b++) {
		if (!p->box[b])
			continue;
		cn_engine_tick(p->box[b], p->now);
		drain(p, b);
	}
}

static const struct cn_counters *ctr(const struct pair *p, int b)
{
	return cn_engine_counters(p->box[b]);
}

static uint64_t drops(const struct pair *p, int b, enum cn_drop r)
{
	return cn_engine_drops(p->box[b])->by_reason[r];
}

/* The i-th frame (from 0; negative: from the end) that reached an end. */
static void nth(struct fr_cap *end, long i, struct fr_view *v)
{
	enum cn_side to = end->n ? end->out[0].to : CN_CLIENT;
	size_t n = fr_cap_count(end, to);

	if (i < 0)
		i += (long)n;
	assert_true(i >= 0 && (size_t)i < n);
	assert_int_equal(fr_read(end->out[i].data, end->out[i].len, v), 0);
}

static bool has_peer_opt(const struct fr_out *o)
{
	struct cn_pkt pk;

	assert_int_equal(cn_parse(o->data, o->len, &pk), CN_PARSE_TCP);
	return pk.opt.peer_count > 0;
}

/* ---- the two ends ------------------------------------------------------- */

struct conn {
	struct fr_flow fl;
	uint32_t cisn, sisn;    /* the ends' own ISNs */
	uint32_t ctsval, stsval;
	bool server_ts;         /* the server answers timestamps */
	uint16_t smss;          /* the server's MSS */
	uint32_t spoof;         /* seq of the SYN-ACK the client got */
	uint32_t spoof_tsval;
	uint32_t csent, ssent;  /* payload bytes each end has sent */
};

static void conn_init(struct conn *c, uint8_t family, uint32_t n)
{
	memset(c, 0, sizeof(*c));
	fr_flow_init(&c->fl, family, n);
	c->cisn = 0x10000000u + n * 7919u;
	c->sisn = 0x70000000u - n * 104729u;
	c->ctsval = 5000 + n;
	c->stsval = 900000 + 3 * n;
	c->server_ts = true;
	c->smss = 1400;
}

/* The client's SYN; the spoofed SYN-ACK must come back at once. */
static void c_syn(struct pair *p, struct conn *c)
{
	struct fr_spec s;
	struct fr_view v;
	size_t before = fr_cap_count(&p->client, CN_CLIENT);

	fr_spec_c2s(&s, &c->fl, FR_SYN, c->cisn, 0);
	s.win = 64240;
	fr_opt_linux_syn(&s, 1460, c->ctsval, 7);
	client_send(p, &s);
	assert_int_equal(fr_cap_count(&p->client, CN_CLIENT), before + 1);
	nth(&p->client, -1, &v);
	assert_int_equal(v.flags, FR_SYN | FR_ACK);
	assert_int_equal(v.ack, c->cisn + 1);
	c->spoof = v.seq;
	c->spoof_tsval = v.tsval;
}

/* A client segment in its own view: acks what the server (as the client
 * sees it) has sent. */
static void c_data(struct pair *p, struct conn *c, uint8_t flags, uint32_t n)
{
	struct fr_spec s;

	fr_spec_c2s(&s, &c->fl, flags, c->cisn + 1 + c->csent,
		    c->spoof + 1 + c->ssent);
	s.win = 502;
	fr_opt_nop(&s);
	fr_opt_nop(&s);
	fr_opt_ts(&s, c->ctsval + 1, c->spoof_tsval);
	s.payload_len = n;
	client_send(p, &s);
	c->csent += n;
}

static void s_synack(struct pair *p, struct conn *c)
{
	struct fr_spec s;

	fr_spec_s2c(&s, &c->fl, FR_SYN | FR_ACK, c->sisn, c->cisn + 1);
	s.win = 65160;
	fr_opt_mss(&s, c->smss);
	fr_opt_sack_perm(&s);
	if (c->server_ts)
		fr_opt_ts(&s, c->stsval, c->ctsval);
	fr_opt_nop(&s);
	fr_opt_ws(&s, 7);
	server_send(p, &s);
}

/* A server segment in its own (real) space. */
static void s_data(struct pair *p, struct conn *c, uint8_t flags, uint32_t n)
{
	struct fr_spec s;

	fr_spec_s2c(&s, &c->fl, flags, c->sisn + 1 + c->ssent,
		    c->cisn + 1 + c->csent);
	s.win = 509;
	if (c->server_ts) {
		fr_opt_nop(&s);
		fr_opt_nop(&s);
		fr_opt_ts(&s, c->stsval + 1, c->ctsval + 1);
	}
	s.payload_len = n;
	server_send(p, &s);
	c->ssent += n;
}

/* What a Linux server in SYN_RECV answers to an ACK that does not
 * acknowledge its SYN-ACK: an RST at the bad ACK number. */
static void s_rst_at(struct pair *p, struct conn *c, uint32_t seq)
{
	struct fr_spec s;

	fr_spec_s2c(&s, &c->fl, FR_RST, seq, 0);
	server_send(p, &s);
}

/* The server's view of a client segment: seq in the client's space, ack
 * in the server's own. */
static void assert_at_server(struct fr_view *v, const struct conn *c,
			     uint32_t payload)
{
	assert_int_equal(v->ack, c->sisn + 1 + c->ssent);
	assert_int_equal(v->payload_len, payload);
	if (v->ts && c->server_ts)
		assert_int_equal(v->tsecr, c->stsval);
}

/* A server reply reaches the client in the spoofed space. */
static void reply_reaches_client(struct pair *p, struct conn *c, uint32_t n)
{
	struct fr_view v;
	uint32_t seq = c->spoof + 1 + c->ssent;

	s_data(p, c, FR_ACK | FR_PSH, n);
	nth(&p->client, -1, &v);
	assert_int_equal(v.seq, seq);
	assert_int_equal(v.payload_len, n);
	if (c->server_ts)
		assert_int_equal(v.tsval, c->spoof_tsval + 1);
}

/* One whole connection through the pair, from SYN to a reply. */
static void conn_through(struct pair *p, struct conn *c)
{
	c_syn(p, c);
	c_data(p, c, FR_ACK, 0);
	c_data(p, c, FR_ACK | FR_PSH, 100);
	s_synack(p, c);
	reply_reaches_client(p, c, 1000);
}

/* --peer always through both boxes: a connection whose SYN and first
 * len bytes of early data are out, the server not heard from yet. */
static void start_early(struct pair *p, struct conn *c, uint8_t family,
			uint32_t n, uint32_t len)
{
	p->cfg[CNIC].peer_mode = CN_PEER_ALWAYS;
	pair_start(p, true);
	conn_init(c, family, n);
	c_syn(p, c);
	c_data(p, c, FR_ACK | FR_PSH, len);
}

/* ---- the pair at work ---------------------------------------------------- */

/* First connection to a server, peer mode auto: the option rides on the
 * SYN, the ServerNIC strips it and takes over; the ClientNIC still holds
 * the early data (it has not met this peer yet) and lets it go untranslated
 * when the peer's SYN-ACK comes. */
static void test_first_conn_taken_over(void **state)
{
	struct pair *p = *state;
	struct conn c;
	struct fr_view v;

	pair_start(p, true);
	conn_init(&c, 4, 1);
	c_syn(p, &c);
	assert_int_equal(fr_cap_count(&p->server, CN_SERVER), 1);
	assert_false(has_peer_opt(&p->server.out[0]));
	nth(&p->server, 0, &v);
	assert_int_equal(v.flags, FR_SYN);
	assert_int_equal(v.seq, c.cisn);
	assert_int_equal(v.mss, 1460);
	assert_int_equal(v.ws, 7);
	assert_true(v.sack_perm && v.ts);
	assert_int_equal(v.tsval, c.ctsval);
	assert_int_equal(ctr(p, CNIC)->syns_peer_opt, 1);
	assert_int_equal(ctr(p, SNIC)->syns_peer, 1);
	assert_int_equal(ctr(p, SNIC)->peer_opts_stripped, 1);

	c_data(p, &c, FR_ACK, 0);
	c_data(p, &c, FR_ACK | FR_PSH, 100);
	assert_int_equal(fr_cap_count(&p->server, CN_SERVER), 1);
	assert_int_equal(ctr(p, CNIC)->frames_buffered, 2);

	s_synack(p, &c);
	/* The client saw one SYN-ACK only, the spoofed one. The ServerNIC
	 * held nothing and has seen no word of the client, so it leaves the
	 * handshake to the client's own frames, which follow, translated by
	 * it: the request, which acknowledges what the held ACK did. */
	assert_int_equal(fr_cap_count(&p->client, CN_CLIENT), 1);
	assert_int_equal(fr_cap_count(&p->server, CN_SERVER), 2);
	assert_int_equal(ctr(p, CNIC)->acks_superseded, 1);
	nth(&p->server, 1, &v);
	assert_int_equal(v.flags, FR_ACK | FR_PSH);
	assert_at_server(&v, &c, 100);
	assert_int_equal(v.seq, c.cisn + 1);
	assert_int_equal(ctr(p, CNIC)->flows_taken_over, 1);
	assert_int_equal(ctr(p, CNIC)->peers_learned, 1);
	assert_int_equal(ctr(p, SNIC)->flows_taken_over, 1);
	assert_int_equal(ctr(p, SNIC)->acks_synthesized, 0);
	assert_int_equal(fr_cap_events(&p->cap[CNIC], CN_EV_PEER_LEARNED), 1);
	assert_int_equal(fr_cap_events(&p->cap[SNIC], CN_EV_TAKEN_OVER), 1);

	reply_reaches_client(p, &c, 1000);
	c_data(p, &c, FR_ACK, 0);
	nth(&p->server, -1, &v);
	assert_at_server(&v, &c, 0);
	/* Only the peer rewrote anything. */
	assert_int_equal(ctr(p, CNIC)->frames_rewritten, 0);
	assert_true(ctr(p, SNIC)->frames_rewritten >= 3);
}

/* From the second connection on, early data goes out at once: it is at
 * the ServerNIC before the server has even answered the SYN. */
static void test_second_conn_early(void **state)
{
	struct pair *p = *state;
	struct conn c1, c2;
	struct fr_view v;

	pair_start(p, true);
	conn_init(&c1, 4, 1);
	conn_through(p, &c1);
	conn_init(&c2, 4, 2);
	c_syn(p, &c2);
	c_data(p, &c2, FR_ACK, 0);
	c_data(p, &c2, FR_ACK | FR_PSH, 300);
	assert_int_equal(ctr(p, CNIC)->flows_peer_early, 1);
	assert_int_equal(ctr(p, CNIC)->frames_copied, 2);
	assert_int_equal(ctr(p, SNIC)->frames_buffered, 2);
	p->now += 5 * MS;
	s_synack(p, &c2);
	nth(&p->server, -1, &v);
	assert_at_server(&v, &c2, 300);
	assert_int_equal(cn_engine_buffered_bytes(p->box[CNIC]), 0);
	assert_int_equal(cn_engine_buffered_bytes(p->box[SNIC]) > 0, true);
	reply_reaches_client(p, &c2, 2000);
	assert_int_equal(ctr(p, CNIC)->flows_taken_over, 2);
	assert_int_equal(ctr(p, CNIC)->peers_learned, 1);
	/* No segment was thrown away: the copies were freed unsent. */
	assert_int_equal(ctr(p, CNIC)->frames_resent, 0);
}

/* --peer always: early data at once from the first connection. */
static void test_always_first_conn_early(void **state)
{
	struct pair *p = *state;
	struct conn c;

	start_early(p, &c, 6, 3, 200);
	assert_int_equal(ctr(p, SNIC)->frames_buffered, 1);
	s_synack(p, &c);
	reply_reaches_client(p, &c, 500);
	assert_int_equal(ctr(p, CNIC)->frames_buffered, 0);
	assert_int_equal(ctr(p, SNIC)->frames_flushed, 1);
}

/* The SYN-ACK beats the early data to the ServerNIC. */
static void test_synack_before_early_data(void **state)
{
	struct pair *p = *state;
	struct conn c;
	struct fr_view v;

	p->cfg[CNIC].peer_mode = CN_PEER_ALWAYS;
	pair_start(p, true);
	conn_init(&c, 4, 4);
	c_syn(p, &c);
	s_synack(p, &c);
	/* Nothing held, no word from the client yet: the client's own ACK
	 * completes the server's handshake. */
	assert_int_equal(ctr(p, SNIC)->acks_synthesized, 0);
	c_data(p, &c, FR_ACK | FR_PSH, 100);
	nth(&p->server, -1, &v);
	assert_at_server(&v, &c, 100);
	reply_reaches_client(p, &c, 10);
}

/* The translated SYN-ACK is lost on the WAN: the ClientNIC resends the
 * SYN and the ServerNIC answers it from its copy. */
static void test_translated_synack_lost(void **state)
{
	struct pair *p = *state;
	struct conn c;

	start_early(p, &c, 4, 5, 100);
	p->lose_n[CN_CLIENT] = 1;
	p->lose_flags[CN_CLIENT] = FR_SYN | FR_ACK;
	s_synack(p, &c);
	assert_int_equal(ctr(p, CNIC)->flows_taken_over, 0);
	tick(p, 60 * MS);
	assert_int_equal(ctr(p, CNIC)->syns_resent, 1);
	assert_int_equal(ctr(p, SNIC)->synacks_resent, 1);
	assert_int_equal(ctr(p, CNIC)->flows_taken_over, 1);
	/* The server saw one SYN: the repeat was answered for it. */
	assert_int_equal(ctr(p, SNIC)->frames_in_server, 1);
	reply_reaches_client(p, &c, 100);
}

/* The server's own RST (its connection gone) to a segment acknowledging
 * its SYN-ACK reaches the client, at the client's next number. */
static void server_rst_reaches_client(struct pair *p, struct conn *c)
{
	struct fr_view v;

	s_rst_at(p, c, c->sisn + 1);
	nth(&p->client, -1, &v);
	assert_int_equal(v.flags, FR_RST);
	assert_int_equal(v.seq, c->spoof + 1);
}

/* --peer always through both boxes, a connection whose first SYN is
 * lost on the WAN: the spoofed SYN-ACK is the client's, nothing reached
 * the server. */
static void start_syn_lost(struct pair *p, struct conn *c, uint32_t n)
{
	p->cfg[CNIC].peer_mode = CN_PEER_ALWAYS;
	pair_start(p, true);
	conn_init(c, 4, n);
	p->lose_n[CN_SERVER] = 1;
	p->lose_flags[CN_SERVER] = FR_SYN;
	c_syn(p, c);
	assert_int_equal(fr_cap_count(&p->server, CN_SERVER), 0);
}

/* The SYN is lost on the WAN: the early data meets no flow at the
 * ServerNIC and passes, and the server's RST to it says it was thrown
 * away; the resent SYN (with its option) sets things right, the copy of
 * the data goes again once the peer has the flow, and the client's own
 * retransmission is translated too. */
static void test_syn_lost(void **state)
{
	struct pair *p = *state;
	struct conn c;
	struct fr_view v;

	start_syn_lost(p, &c, 6);
	c_data(p, &c, FR_ACK | FR_PSH, 100);
	/* A listener's RST to it does not reach the client. */
	s_rst_at(p, &c, c.spoof + 1);
	assert_int_equal(fr_cap_count(&p->client, CN_CLIENT), 1);
	tick(p, 60 * MS);
	assert_int_equal(ctr(p, SNIC)->syns_peer, 1);
	nth(&p->server, -1, &v);
	assert_int_equal(v.flags, FR_SYN);
	s_synack(p, &c);
	assert_int_equal(ctr(p, CNIC)->frames_resent, 1);
	nth(&p->server, -1, &v);
	assert_at_server(&v, &c, 100);
	c.csent = 0;
	c_data(p, &c, FR_ACK | FR_PSH, 100);
	nth(&p->server, -1, &v);
	assert_at_server(&v, &c, 100);
	reply_reaches_client(p, &c, 100);
}

/* Early segments overtake their SYN on the WAN (here: the SYN is lost and
 * resent, which the boxes see the same way). The server answers each with
 * an RST at the spoofed ISN + 1, which crosses the ServerNIC before it has
 * the flow, and one of those is overtaken in turn by the SYN-ACK the peer
 * translates: the client, which has received nothing yet, must not see it.
 * One RST per segment sent early; a further one is the server's own and
 * reaches the client. The first RST, before the SYN-ACK, says the server
 * threw a segment away: the ClientNIC sends its copies again once the
 * peer has the flow. */
static void test_rst_to_overtaking_data(void **state)
{
	struct pair *p = *state;
	struct conn c;
	struct fr_view v;
	struct fr_spec s;
	struct fr_frame rst;
	enum cn_drop why = CN_DROP_NONE;

	start_syn_lost(p, &c, 8);
	c_data(p, &c, FR_ACK, 0);
	c_data(p, &c, FR_ACK | FR_PSH, 100);
	assert_int_equal(fr_cap_count(&p->server, CN_SERVER), 2);
	s_rst_at(p, &c, c.spoof + 1);
	fr_spec_s2c(&s, &c.fl, FR_RST, c.spoof + 1, 0);
	fr_build(&rst, &s);
	assert_int_equal(cn_engine_input(p->box[SNIC], CN_SERVER, &rst.f, p->now, &why),
			 CN_FORWARD);
	tick(p, 60 * MS);
	nth(&p->server, -1, &v);
	assert_int_equal(v.flags, FR_SYN);
	s_synack(p, &c);
	assert_int_equal(ctr(p, CNIC)->flows_taken_over, 1);
	assert_int_equal(ctr(p, CNIC)->frames_resent, 2);
	nth(&p->server, -1, &v);
	assert_at_server(&v, &c, 100);
	nth(&p->server, -2, &v);
	assert_at_server(&v, &c, 0);
	box_in(p, CNIC, CN_SERVER, &rst.f); /* the second RST, late */
	assert_int_equal(fr_cap_count(&p->client, CN_CLIENT), 1);
	assert_int_equal(drops(p, CNIC, CN_DROP_rst_embryonic_bad), 1);
	assert_int_equal(drops(p, CNIC, CN_DROP_rst_stray), 1);
	assert_int_equal(ctr(p, CNIC)->flows_reset, 0);
	c.csent = 0;
	c_data(p, &c, FR_ACK | FR_PSH, 100);
	nth(&p->server, -1, &v);
	assert_at_server(&v, &c, 100);
	/* Both early segments answered: the server's own RST to a segment
	 * acknowledging its SYN-ACK (its connection gone) reaches the client. */
	server_rst_reaches_client(p, &c);
	assert_int_equal(fr_cap_count(&p->client, CN_CLIENT), 2);
	assert_int_equal(drops(p, CNIC, CN_DROP_rst_stray), 1);
	assert_int_equal(ctr(p, CNIC)->flows_reset, 1);
}

/* A server that lost the connection before it sent anything answers the
 * client's next segment with an RST at the spoofed ISN + 1 too. Once a
 * retransmission timeout has passed since the SYN, or once the server
 * has acknowledged the client's data, no stray RST is on the way any
 * more: that one is the server's own and reaches the client, however
 * many segments went out early. */
static void test_stray_budget_expires(void **state)
{
	struct pair *p = *state;
	struct conn c;

	p->cfg[CNIC].peer_mode = CN_PEER_ALWAYS;
	pair_start(p, true);
	conn_init(&c, 4, 9);
	c_syn(p, &c);
	c_data(p, &c, FR_ACK, 0);
	c_data(p, &c, FR_ACK | FR_PSH, 100);
	s_synack(p, &c);
	assert_int_equal(ctr(p, CNIC)->flows_taken_over, 1);
	tick(p, 60 * MS);
	server_rst_reaches_client(p, &c);

	conn_init(&c, 4, 10);
	c_syn(p, &c);
	c_data(p, &c, FR_ACK | FR_PSH, 100);
	s_synack(p, &c);
	s_data(p, &c, FR_ACK, 0); /* the server acknowledges the request */
	server_rst_reaches_client(p, &c);
	assert_int_equal(drops(p, CNIC, CN_DROP_rst_stray), 0);
	assert_int_equal(ctr(p, CNIC)->flows_reset, 2);
}

/* No ServerNIC although one was expected: the untranslated early data
 * draws RSTs from the server (Linux keeps its half-open connection), the
 * SYN-ACK comes back untranslated, the ClientNIC translates the flow
 * itself and replays its copies; no RST reaches the client. */
static void test_fallback_without_peer(void **state)
{
	struct pair *p = *state;
	struct conn c;
	struct fr_view v;

	p->cfg[CNIC].peer_mode = CN_PEER_ALWAYS;
	pair_start(p, false);
	conn_init(&c, 4, 7);
	c_syn(p, &c);
	assert_true(has_peer_opt(&p->server.out[0]));
	c_data(p, &c, FR_ACK, 0);
	c_data(p, &c, FR_ACK | FR_PSH, 100);
	assert_int_equal(fr_cap_count(&p->server, CN_SERVER), 3);
	nth(&p->server, 2, &v);
	assert_int_equal(v.ack, c.spoof + 1); /* untranslated */
	s_rst_at(p, &c, c.spoof + 1);
	s_synack(p, &c);
	s_rst_at(p, &c, c.spoof + 1);
	assert_int_equal(fr_cap_count(&p->client, CN_CLIENT), 1);
	assert_int_equal(drops(p, CNIC, CN_DROP_rst_fallback), 1);
	assert_int_equal(drops(p, CNIC, CN_DROP_rst_embryonic_bad), 1);
	assert_int_equal(ctr(p, CNIC)->flows_fallback, 1);
	assert_int_equal(ctr(p, CNIC)->frames_replayed, 2);
	nth(&p->server, -1, &v);
	assert_at_server(&v, &c, 100);
	nth(&p->server, -2, &v);
	assert_at_server(&v, &c, 0);
	reply_reaches_client(p, &c, 700);
	c_data(p, &c, FR_ACK, 0);
	nth(&p->server, -1, &v);
	assert_at_server(&v, &c, 0);
}

/* The peer vanishes: the next connection falls back and forgets it, the
 * one after holds its early data as a ClientNIC alone does. */
static void test_peer_lost(void **state)
{
	struct pair *p = *state;
	struct conn c1, c2, c3;

	pair_start(p, true);
	conn_init(&c1, 4, 1);
	conn_through(p, &c1);
	cn_engine_destroy(p->box[SNIC]);
	p->box[SNIC] = NULL;
	conn_init(&c2, 4, 2);
	conn_through(p, &c2);
	assert_int_equal(ctr(p, CNIC)->flows_fallback, 1);
	assert_int_equal(ctr(p, CNIC)->peers_lost, 1);
	assert_int_equal(fr_cap_events(&p->cap[CNIC], CN_EV_PEER_LOST), 1);
	conn_init(&c3, 4, 3);
	conn_through(p, &c3);
	assert_int_equal(ctr(p, CNIC)->flows_peer_early, 1);
	assert_int_equal(ctr(p, CNIC)->flows_fallback, 1);
	assert_int_equal(ctr(p, CNIC)->frames_buffered, 4);
}

/* A learned peer is trusted for peer_ttl_ns only. */
static void test_peer_expires(void **state)
{
	struct pair *p = *state;
	struct conn c1, c2;

	p->cfg[CNIC].peer_ttl_ns = 100 * MS;
	pair_start(p, true);
	conn_init(&c1, 4, 1);
	conn_through(p, &c1);
	p->now += 200 * MS;
	conn_init(&c2, 4, 2);
	conn_through(p, &c2);
	assert_int_equal(ctr(p, CNIC)->flows_peer_early, 0);
	assert_int_equal(ctr(p, CNIC)->peers_learned, 2);
}

/* The server refuses: its RST crosses the ServerNIC and the ClientNIC
 * resets the client; neither box keeps the flow. */
static void test_refused(void **state)
{
	struct pair *p = *state;
	struct conn c;
	struct fr_spec s;
	struct fr_view v;

	start_early(p, &c, 4, 8, 50);
	fr_spec_s2c(&s, &c.fl, FR_RST | FR_ACK, 0, c.cisn + 1);
	server_send(p, &s);
	nth(&p->client, -1, &v);
	assert_true(v.flags & FR_RST);
	assert_int_equal(v.seq, c.spoof + 1);
	assert_int_equal(cn_engine_flow_count(p->box[CNIC]), 0);
	assert_int_equal(cn_engine_flow_count(p->box[SNIC]), 0);
	assert_int_equal(cn_engine_buffered_bytes(p->box[SNIC]), 0);
}

/* A silent server: the ClientNIC resets its client after the SYN
 * timeout, and the server too, whose half-open connection the ServerNIC
 * forgets with it; a ServerNIC that saw no RST forgets the flow a SYN RTO
 * later. */
static void test_silent_server(void **state)
{
	struct pair *p = *state;
	struct conn c;
	struct fr_view v;

	pair_start(p, true);
	conn_init(&c, 4, 9);
	c_syn(p, &c);
	c_data(p, &c, FR_ACK | FR_PSH, 10);
	for (int i = 0; i < 30; i++)
		tick(p, 50 * MS);
	assert_int_equal(ctr(p, CNIC)->flows_timed_out, 1);
	assert_true(ctr(p, CNIC)->syns_resent >= 3);
	nth(&p->client, -1, &v);
	assert_int_equal(v.flags, FR_RST | FR_ACK);
	nth(&p->server, -1, &v);
	assert_int_equal(v.flags, FR_RST);
	assert_int_equal(v.seq, c.cisn + 1); /* the data was held */
	assert_int_equal(ctr(p, SNIC)->flows_reset, 1);
	assert_int_equal(cn_engine_flow_count(p->box[SNIC]), 0);
	assert_int_equal(cn_engine_buffered_bytes(p->box[SNIC]), 0);

	p->lose_n[CN_SERVER] = 1;
	p->lose_flags[CN_SERVER] = FR_RST;
	conn_init(&c, 4, 10);
	c_syn(p, &c);
	for (int i = 0; i < 30; i++)
		tick(p, 50 * MS);
	assert_int_equal(ctr(p, SNIC)->flows_timed_out, 1);
	assert_int_equal(cn_engine_flow_count(p->box[SNIC]), 0);
}

/* Keys: a keyed pair works; a keyed ServerNIC ignores an untagged
 * option (and strips it), and the ClientNIC falls back. */
static void test_keyed(void **state)
{
	struct pair *p = *state;
	struct conn c;

	p->cfg[CNIC].peer_mode = CN_PEER_ALWAYS;
	p->cfg[CNIC].peer_keyed = p->cfg[SNIC].peer_keyed = true;
	memset(p->cfg[CNIC].peer_key, 0x5a, 16);
	memset(p->cfg[SNIC].peer_key, 0x5a, 16);
	pair_start(p, true);
	conn_init(&c, 4, 10);
	conn_through(p, &c);
	assert_int_equal(ctr(p, SNIC)->flows_taken_over, 1);

	p->cfg[CNIC].peer_key[3] ^= 1;
	box_start(p, CNIC);
	conn_init(&c, 4, 11);
	conn_through(p, &c);
	assert_int_equal(ctr(p, SNIC)->peer_tags_bad, 1);
	assert_int_equal(ctr(p, SNIC)->flows_taken_over, 1);
	assert_false(has_peer_opt(&p->server.out[p->server.n - 4]));
	assert_int_equal(ctr(p, CNIC)->flows_fallback, 1);
}

/* A broken or duplicated option from the wire: ignored, stripped, the
 * SYN passes untracked. */
static void test_bad_option_from_wire(void **state)
{
	struct pair *p = *state;
	static const uint8_t bad[][12] = {
		/* length 12 where the flags say 11 */
		{ 253, 12, 0x4e, 0x43, 1, 2, 3, 4, 5, 0xb4, 0x0f, 0 },
		/* reserved flag bit */
		{ 253, 11, 0x4e, 0x43, 1, 2, 3, 4, 5, 0xb4, 0x8f },
	};
	static const uint8_t good[11] = { 253, 11, 0x4e, 0x43, 1, 2, 3, 4,
					  5, 0xb4, 0x0f };

	pair_start(p, true);
	for (unsigned i = 0; i < 3; i++) {
		struct fr_spec s;
		struct fr_flow fl;
		struct fr_frame fr;
		struct fr_view v;

		fr_flow_init(&fl, 4, 20 + i);
		fr_spec_c2s(&s, &fl, FR_SYN, 1000, 0);
		fr_opt_mss(&s, 1460);
		if (i < 2) {
			fr_opt_raw(&s, bad[i], bad[i][1]);
		} else {
			fr_opt_raw(&s, good, 11);
			fr_opt_raw(&s, good, 11);
		}
		fr_build(&fr, &s);
		box_in(p, SNIC, CN_CLIENT, &fr.f);
		assert_int_equal(fr_cap_count(&p->server, CN_SERVER), i + 1);
		assert_false(has_peer_opt(&p->server.out[i]));
		nth(&p->server, (long)i, &v);
		assert_int_equal(v.mss, 1460);
		assert_int_equal(ctr(p, SNIC)->peer_opts_bad, i + 1);
	}
	assert_int_equal(ctr(p, SNIC)->peer_opts_stripped, 4);
	assert_int_equal(cn_engine_flow_count(p->box[SNIC]), 0);
	assert_int_equal(ctr(p, SNIC)->passed_untracked, 3);
}

/* A SYN with no room left for the option goes as it is; the flow works
 * as with a ClientNIC alone. */
static void test_option_does_not_fit(void **state)
{
	struct pair *p = *state;
	static const uint8_t cookie[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	struct fr_spec s;
	struct conn c;
	struct fr_view v;

	pair_start(p, true);
	conn_init(&c, 4, 12);
	fr_spec_c2s(&s, &c.fl, FR_SYN, c.cisn, 0);
	fr_opt_linux_syn(&s, 1460, c.ctsval, 7);
	fr_opt_tfo(&s, cookie, sizeof(cookie));
	client_send(p, &s);
	nth(&p->client, -1, &v);
	c.spoof = v.seq;
	c.spoof_tsval = v.tsval;
	assert_int_equal(ctr(p, CNIC)->syns_peer_nofit, 1);
	assert_int_equal(ctr(p, SNIC)->passed_untracked, 1);
	c_data(p, &c, FR_ACK | FR_PSH, 100);
	s_synack(p, &c);
	nth(&p->server, -1, &v);
	assert_at_server(&v, &c, 100);
	reply_reaches_client(p, &c, 100);
	assert_int_equal(ctr(p, CNIC)->flows_taken_over, 0);
	assert_true(ctr(p, CNIC)->frames_rewritten >= 2);
}

/* A ServerNIC without a ClientNIC: plain clients cross it byte for byte. */
static void test_servernic_alone(void **state)
{
	struct pair *p = *state;
	struct fr_spec s;
	struct fr_frame fr;
	struct fr_flow fl;

	pair_start(p, true);
	fr_flow_init(&fl, 6, 30);
	fr_spec_c2s(&s, &fl, FR_SYN, 777, 0);
	fr_opt_linux_syn(&s, 1440, 1, 7);
	fr_build(&fr, &s);
	box_in(p, SNIC, CN_CLIENT, &fr.f);
	assert_int_equal(p->server.out[0].len, fr.f.len);
	assert_memory_equal(p->server.out[0].data, fr.f.data, fr.f.len);
	fr_spec_s2c(&s, &fl, FR_SYN | FR_ACK, 4242, 778);
	fr_opt_mss(&s, 1440);
	server_send(p, &s);
	fr_build(&fr, &s);
	assert_int_equal(fr_cap_count(&p->cap[SNIC], CN_CLIENT), 0);
	assert_int_equal(cn_engine_flow_count(p->box[SNIC]), 0);
	assert_int_equal(ctr(p, SNIC)->passed_untracked, 2);
}

/* Sequence and timestamp spaces that wrap within the flow. */
static void test_wraparound(void **state)
{
	struct pair *p = *state;
	struct conn c;
	struct fr_view v;

	p->cfg[CNIC].peer_mode = CN_PEER_ALWAYS;
	pair_start(p, true);
	conn_init(&c, 4, 13);
	c.cisn = 0xffffff00u;
	c.sisn = 0xfffffff0u;
	c.stsval = 0xfffffffeu;
	c_syn(p, &c);
	c_data(p, &c, FR_ACK | FR_PSH, 1000);
	s_synack(p, &c);
	nth(&p->server, -1, &v);
	assert_at_server(&v, &c, 1000);
	assert_int_equal(v.seq, 0xffffff01u);
	reply_reaches_client(p, &c, 1000);
	reply_reaches_client(p, &c, 1000);
	c_data(p, &c, FR_ACK, 0);
	nth(&p->server, -1, &v);
	assert_int_equal(v.ack, c.sisn + 1 + 2000);
}

/* The peer dies mid-flow and the server speaks next: its untranslated
 * segment tells the ClientNIC, which translates from then on with the
 * deltas of the peer's receipt. */
static void test_peer_vanishes_server_speaks(void **state)
{
	struct pair *p = *state;
	struct conn c;
	struct fr_view v;

	pair_start(p, true);
	conn_init(&c, 4, 14);
	conn_through(p, &c);
	assert_int_equal(ctr(p, SNIC)->synacks_receipt, 1);
	cn_engine_destroy(p->box[SNIC]);
	p->box[SNIC] = NULL;
	reply_reaches_client(p, &c, 1200);
	assert_int_equal(ctr(p, CNIC)->flows_resumed, 1);
	assert_int_equal(ctr(p, CNIC)->peers_lost, 1);
	c_data(p, &c, FR_ACK | FR_PSH, 10);
	nth(&p->server, -1, &v);
	assert_at_server(&v, &c, 10);
	reply_reaches_client(p, &c, 1);
}

/* The peer restarts without the flow and the client speaks next: the
 * server drops what it cannot understand, the client retransmits, and the
 * ClientNIC sends a translated copy along; the server's answer hands it
 * the flow. */
static void test_peer_vanishes_client_speaks(void **state)
{
	struct pair *p = *state;
	struct conn c;
	struct fr_view v;

	pair_start(p, true);
	conn_init(&c, 6, 15);
	conn_through(p, &c);
	c_data(p, &c, FR_ACK, 0);
	box_start(p, SNIC);
	c_data(p, &c, FR_ACK | FR_PSH, 40);
	nth(&p->server, -1, &v);
	assert_int_equal(v.ack, c.spoof + 1 + c.ssent); /* not understood */
	assert_int_equal(ctr(p, CNIC)->frames_probes, 0);
	c.csent -= 40;
	c_data(p, &c, FR_ACK | FR_PSH, 40);
	assert_int_equal(ctr(p, CNIC)->frames_probes, 1);
	nth(&p->server, -2, &v);
	assert_at_server(&v, &c, 40);
	reply_reaches_client(p, &c, 300);
	assert_int_equal(ctr(p, CNIC)->flows_resumed, 1);
	c_data(p, &c, FR_ACK, 0);
	nth(&p->server, -1, &v);
	assert_at_server(&v, &c, 0);
}

/* With the peer alive a retransmission's translated copy crosses it as it
 * is, and the server gets the segment right twice. */
static void test_probe_through_live_peer(void **state)
{
	struct pair *p = *state;
	struct conn c;
	struct fr_view v;

	pair_start(p, true);
	conn_init(&c, 4, 16);
	conn_through(p, &c);
	c_data(p, &c, FR_ACK | FR_PSH, 40);
	c.csent -= 40;
	c_data(p, &c, FR_ACK | FR_PSH, 40);
	assert_int_equal(ctr(p, CNIC)->frames_probes, 1);
	assert_int_equal(ctr(p, SNIC)->frames_probes, 1);
	nth(&p->server, -1, &v);
	assert_at_server(&v, &c, 40);
	nth(&p->server, -2, &v);
	assert_at_server(&v, &c, 40);
	reply_reaches_client(p, &c, 1);
	assert_int_equal(ctr(p, CNIC)->flows_resumed, 0);
	/* Acknowledged: a late copy is no retransmission worth a probe. */
	c.csent -= 40;
	c_data(p, &c, FR_ACK | FR_PSH, 40);
	assert_int_equal(ctr(p, CNIC)->frames_probes, 1);
}

/* Under a key the receipt is tagged too, and still lets the ClientNIC
 * carry on a flow whose peer vanished. */
static void test_receipt_keyed(void **state)
{
	struct pair *p = *state;
	struct conn c;

	p->cfg[CNIC].peer_keyed = p->cfg[SNIC].peer_keyed = true;
	memset(p->cfg[CNIC].peer_key, 7, 16);
	memset(p->cfg[SNIC].peer_key, 7, 16);
	pair_start(p, true);
	conn_init(&c, 4, 17);
	conn_through(p, &c);
	cn_engine_destroy(p->box[SNIC]);
	p->box[SNIC] = NULL;
	reply_reaches_client(p, &c, 10);
	assert_int_equal(ctr(p, CNIC)->flows_resumed, 1);
}

/* The client segment as it reached the server: a GSO frame of segments
 * the server's MSS can take, its checksum partial, its bytes intact. */
static void assert_cut(struct pair *p, uint16_t gso_size, uint32_t payload)
{
	struct fr_out *o = &p->server.out[p->server.n - 1];
	struct fr_view v;

	assert_int_equal(fr_read(o->data, o->len, &v), 0);
	assert_int_equal(v.payload_len, payload);
	assert_int_equal(o->off.gso_type, CN_GSO_TCPV4);
	assert_int_equal(o->off.gso_size, gso_size);
	assert_int_equal(o->off.hdr_len, v.payload_off);
	assert_true(o->off.flags & CN_OFF_CSUM_PARTIAL);
	assert_int_equal(o->off.csum_start, v.l4);
	assert_int_equal(o->off.csum_offset, 16);
	for (uint32_t i = 0; i < payload; i++)
		assert_int_equal(o->data[v.payload_off + i], i & 0xff);
}

/* A server with an MSS smaller than the spoofed SYN-ACK promised (a cold
 * cache, a server behind a smaller MTU): the box hands longer client
 * segments to the kernel to cut; short ones go as they are. */
static void test_cut_to_server_mss(void **state)
{
	struct pair *p = *state;
	struct conn c;

	pair_start(p, false);
	conn_init(&c, 4, 18);
	c.smss = 1260;
	c_syn(p, &c);
	c_data(p, &c, FR_ACK | FR_PSH, 1388);
	s_synack(p, &c);
	/* Held, then flushed: 12 bytes of the MSS go to the TS option. */
	assert_cut(p, 1248, 1388);
	c_data(p, &c, FR_ACK | FR_PSH, 1388);
	assert_cut(p, 1248, 1388);
	c_data(p, &c, FR_ACK | FR_PSH, 1000);
	assert_int_equal(p->server.out[p->server.n - 1].off.gso_type,
			 CN_GSO_NONE);
	assert_int_equal(ctr(p, CNIC)->frames_cut, 2);
}

/* Through the pair the ServerNIC cuts, held early data too; a GSO frame
 * from the client gets its segment size lowered. */
static void test_cut_through_pair(void **state)
{
	struct pair *p = *state;
	struct conn c;
	struct fr_spec s;
	struct fr_frame fr;

	p->cfg[CNIC].peer_mode = CN_PEER_ALWAYS;
	pair_start(p, true);
	conn_init(&c, 4, 19);
	c.smss = 1200;
	c_syn(p, &c);
	c_data(p, &c, FR_ACK | FR_PSH, 1388);
	s_synack(p, &c);
	assert_cut(p, 1188, 1388);
	fr_spec_c2s(&s, &c.fl, FR_ACK, c.cisn + 1 + c.csent, c.spoof + 1);
	fr_opt_nop(&s);
	fr_opt_nop(&s);
	fr_opt_ts(&s, c.ctsval + 2, c.spoof_tsval);
	s.payload_len = 2 * 1388;
	s.partial = true;
	fr_build(&fr, &s);
	fr.f.off.gso_type = CN_GSO_TCPV4;
	fr.f.off.gso_size = 1388;
	fr.f.off.hdr_len = (uint16_t)(fr.f.len - s.payload_len);
	box_in(p, CNIC, CN_CLIENT, &fr.f);
	c.csent += s.payload_len;
	assert_cut(p, 1188, 2 * 1388);
	assert_int_equal(ctr(p, SNIC)->frames_cut, 2);
	assert_int_equal(ctr(p, CNIC)->frames_cut, 0);
}

/* The translated SYN-ACK is lost, the server's answer is not: a segment
 * in the spoofed space tells the ClientNIC that a peer took the flow. */
static void test_synack_lost_answer_not(void **state)
{
	struct pair *p = *state;
	struct conn c;

	start_early(p, &c, 4, 20, 100);
	p->lose_n[CN_CLIENT] = 1;
	p->lose_flags[CN_CLIENT] = FR_SYN | FR_ACK;
	s_synack(p, &c);
	assert_int_equal(ctr(p, CNIC)->flows_taken_over, 0);
	reply_reaches_client(p, &c, 500);
	assert_int_equal(ctr(p, CNIC)->flows_taken_over, 1);
	assert_int_equal(ctr(p, CNIC)->flows_taken_late, 1);
	assert_int_equal(cn_engine_buffered_bytes(p->box[CNIC]), 0);
	tick(p, 100 * MS);
	assert_int_equal(ctr(p, CNIC)->syns_resent, 0);
	c_data(p, &c, FR_ACK, 0);
	reply_reaches_client(p, &c, 5);
}

/* The ClientNIC missed the whole flow (every server segment lost) and
 * resends its SYN after the ServerNIC closed it: the SYN is answered from
 * the kept SYN-ACK, never passed on to open a connection nobody owns. */
static void test_syn_after_close(void **state)
{
	struct pair *p = *state;
	struct conn c;
	size_t at_server;

	start_early(p, &c, 4, 21, 100);
	p->lose_n[CN_CLIENT] = 10;
	p->lose_flags[CN_CLIENT] = LOSE_ANY;
	s_synack(p, &c);
	s_rst_at(p, &c, c.sisn + 1);
	assert_int_equal(ctr(p, SNIC)->flows_reset, 1);
	p->lose_n[CN_CLIENT] = 0;
	at_server = fr_cap_count(&p->server, CN_SERVER);
	tick(p, 60 * MS);
	assert_int_equal(ctr(p, CNIC)->syns_resent, 1);
	assert_int_equal(ctr(p, SNIC)->synacks_resent, 1);
	assert_int_equal(fr_cap_count(&p->server, CN_SERVER), at_server);
	assert_int_equal(ctr(p, CNIC)->flows_taken_over, 1);
}

/* A SYN from a forged source (a flood the server answers): the box owes
 * the server no handshake for a client that never acknowledged its
 * SYN-ACK, and the flow, established but silent, makes room for a real
 * one once a SYN RTO has passed. */
static void test_forged_client(void **state)
{
	struct pair *p = *state;
	struct conn c1, c2;
	struct fr_spec syn;

	p->cfg[CNIC].max_flows = 1;
	pair_start(p, false);
	conn_init(&c1, 4, 22);
	c_syn(p, &c1);
	s_synack(p, &c1);
	assert_int_equal(ctr(p, CNIC)->acks_synthesized, 0);
	assert_int_equal(ctr(p, CNIC)->flows_established, 1);
	s_synack(p, &c1); /* the server tries again */
	assert_int_equal(ctr(p, CNIC)->acks_synthesized, 0);
	/* Within a SYN RTO it stays: a SYN finds no room and passes. */
	conn_init(&c2, 4, 23);
	fr_spec_c2s(&syn, &c2.fl, FR_SYN, c2.cisn, 0);
	fr_opt_linux_syn(&syn, 1460, c2.ctsval, 7);
	client_send(p, &syn);
	assert_int_equal(ctr(p, CNIC)->passed_table_full, 1);
	tick(p, 60 * MS);
	conn_init(&c2, 4, 24);
	c_syn(p, &c2);
	assert_int_equal(ctr(p, CNIC)->flows_evicted, 1);
	assert_int_equal(ctr(p, CNIC)->flows_created, 2);
	c_data(p, &c2, FR_ACK | FR_PSH, 10);
	s_synack(p, &c2);
	reply_reaches_client(p, &c2, 10);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_first_conn_taken_over),
		T(test_second_conn_early),
		T(test_always_first_conn_early),
		T(test_synack_before_early_data),
		T(test_translated_synack_lost),
		T(test_syn_lost),
		T(test_rst_to_overtaking_data),
		T(test_stray_budget_expires),
		T(test_fallback_without_peer),
		T(test_peer_lost),
		T(test_peer_expires),
		T(test_refused),
		T(test_silent_server),
		T(test_keyed),
		T(test_bad_option_from_wire),
		T(test_option_does_not_fit),
		T(test_servernic_alone),
		T(test_wraparound),
		T(test_peer_vanishes_server_speaks),
		T(test_peer_vanishes_client_speaks),
		T(test_probe_through_live_peer),
		T(test_receipt_keyed),
		T(test_cut_to_server_mss),
		T(test_cut_through_pair),
		T(test_synack_lost_answer_not),
		T(test_syn_after_close),
		T(test_forged_client),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
