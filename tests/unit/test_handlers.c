// SPDX-License-Identifier: MIT
/*
 * The 0-RTT state machine through src/engine/engine.h only. Every frame goes in as
 * bytes built by frames.c; what comes out (emitted frames and forwarded
 * ones, in wire order) is read back with frames.c's own reader, checked
 * against frames built from the expected field values, and checksummed
 * from scratch.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/engine.h"
#include "frames.h"

#define MS 1000000ULL
#define T0 (1000 * MS)

/* ---- harness --------------------------------------------------------- */

struct h {
	struct cn_engine *eng;
	struct fr_cap cap;
	struct cn_config cfg;
	uint64_t now;
};

static const uint8_t secret[32] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32,
};

static void small_config(struct cn_config *c)
{
	cn_config_defaults(c);
	c->max_flows = 64;
	c->buf_flow_bytes = 16384;
	c->buf_flow_frames = 8;
	c->buf_total_bytes = 65536;
	c->syn_rto_ns = 1 * MS;
	c->syn_timeout_ns = 20 * MS;
	c->idle_timeout_ns = 1000 * MS;
	c->close_grace_ns = 100 * MS;
	c->default_mss4 = 1400;
	c->default_mss6 = 1380;
	c->default_wscale = 7;
	c->default_sack = true;
	c->default_ts = true;
	c->max_mss = 1460;
	c->cache_entries = 64;
	/* A ClientNIC alone; the pair's tests ask for a peer. */
	c->peer_mode = CN_PEER_OFF;
}

/* (Re)create the engine with h->cfg. */
static void h_start(struct h *h)
{
	if (h->eng)
		cn_engine_destroy(h->eng);
	fr_cap_reset(&h->cap);
	assert_int_equal(cn_engine_create(&h->eng, &h->cfg, secret, &h->cap.io), 0);
	h->now = T0;
}

static int setup(void **state)
{
	struct h *h = calloc(1, sizeof(*h));

	fr_cap_init(&h->cap);
	small_config(&h->cfg);
	h_start(h);
	*state = h;
	return 0;
}

static int teardown(void **state)
{
	struct h *h = *state;

	cn_engine_destroy(h->eng);
	fr_cap_fini(&h->cap);
	free(h);
	return 0;
}

/* One frame into the engine; a forwarded frame joins the capture after
 * whatever the engine emitted meanwhile, as it would on the wire. */
static enum cn_verdict h_in(struct h *h, enum cn_side from, struct fr_frame *fr,
			    enum cn_drop *why)
{
	enum cn_drop r = CN_DROP_MAX;
	enum cn_verdict v = cn_engine_input(h->eng, from, &fr->f, h->now, &r);

	if (v == CN_DROP)
		assert_int_not_equal(r, CN_DROP_NONE);
	if (v == CN_FORWARD)
		h->cap.io.emit(h->cap.io.ctx, cn_other_side(from), &fr->f);
	if (why)
		*why = r;
	return v;
}

static enum cn_verdict h_send(struct h *h, enum cn_side from,
			      const struct fr_spec *s, enum cn_drop *why)
{
	struct fr_frame fr;

	fr_build(&fr, s);
	return h_in(h, from, &fr, why);
}

static const struct cn_counters *ctr(const struct h *h)
{
	return cn_engine_counters(h->eng);
}

static uint64_t drops(const struct h *h, enum cn_drop r)
{
	return cn_engine_drops(h->eng)->by_reason[r];
}

/* Every TCP frame that left the box has right checksums. */
static void check_all_csums(struct h *h)
{
	for (size_t i = 0; i < h->cap.n; i++) {
		struct fr_view v;
		const char *why;

		if (fr_read(h->cap.out[i].data, h->cap.out[i].len, &v))
			continue;
		why = fr_verify(&h->cap.out[i].f);
		if (why)
			fail_msg("frame %zu to %s: %s", i,
				 h->cap.out[i].to == CN_CLIENT ? "client" : "server",
				 why);
	}
}

static struct fr_out *only(struct h *h, enum cn_side to)
{
	assert_int_equal(fr_cap_count(&h->cap, to), 1);
	return fr_cap_nth(&h->cap, to, 0);
}

static void view(const struct fr_out *o, struct fr_view *v)
{
	assert_non_null(o);
	assert_int_equal(fr_read(o->data, o->len, v), 0);
}

/* The output equals, byte for byte, the frame built from spec e (offload
 * completed first when partial). */
static void assert_frame(const struct fr_out *o, const struct fr_spec *e)
{
	struct fr_frame want;
	static uint8_t c[FR_MAX]; /* a failure longjmps: nothing to free */
	struct cn_frame got = o->f;

	assert_true(o->len <= sizeof(c));
	memcpy(c, o->data, o->len);
	fr_build(&want, e);
	got.data = c;
	assert_int_equal(fr_complete(&got), 0);
	assert_int_equal(got.len, want.f.len);
	if (memcmp(got.data, want.f.data, got.len)) {
		for (uint32_t i = 0; i < got.len; i++)
			if (got.data[i] != want.f.data[i])
				fail_msg("byte %u of %u: got %02x want %02x", i,
					 got.len, got.data[i], want.f.data[i]);
	}
}

/* ---- one connection ---------------------------------------------------- */

struct sopt {
	uint16_t mss;
	int ws;       /* -1: none */
	bool sack;
	bool ts;
};

struct conn {
	struct fr_flow fl;
	uint32_t cisn, sisn;
	uint32_t ctsval, stsval;
	struct sopt cli;       /* what the client's SYN offers */
	struct sopt srv;       /* what the real server answers */
	uint32_t spoof;        /* learned from the spoofed SYN-ACK */
	uint32_t spoof_tsval;
	struct fr_view synack;
};

static void conn_init(struct conn *c, uint8_t family, uint32_t n)
{
	memset(c, 0, sizeof(*c));
	fr_flow_init(&c->fl, family, n);
	c->cisn = 0x10000000u + n * 7919u;
	c->sisn = 0x70000000u - n * 104729u;
	c->ctsval = 5000 + n;
	c->stsval = 900000 + 3 * n;
	c->cli = (struct sopt){ 1460, 7, true, true };
	c->srv = (struct sopt){ family == 4 ? 1400 : 1380, 7, true, true };
}

static uint32_t delta(const struct conn *c)
{
	return c->spoof - c->sisn;
}

static void syn_spec(struct fr_spec *s, const struct conn *c)
{
	fr_spec_c2s(s, &c->fl, FR_SYN, c->cisn, 0);
	s->win = 64240;
	if (c->cli.mss)
		fr_opt_mss(s, c->cli.mss);
	if (c->cli.sack)
		fr_opt_sack_perm(s);
	if (c->cli.ts)
		fr_opt_ts(s, c->ctsval, 0);
	if (c->cli.ws >= 0) {
		fr_opt_nop(s);
		fr_opt_ws(s, (uint8_t)c->cli.ws);
	}
}

static void synack_spec(struct fr_spec *s, const struct conn *c)
{
	fr_spec_s2c(s, &c->fl, FR_SYN | FR_ACK, c->sisn, c->cisn + 1);
	s->win = 65160;
	if (c->srv.mss)
		fr_opt_mss(s, c->srv.mss);
	if (c->srv.sack)
		fr_opt_sack_perm(s);
	if (c->srv.ts)
		fr_opt_ts(s, c->stsval, c->ctsval);
	if (c->srv.ws >= 0) {
		fr_opt_nop(s);
		fr_opt_ws(s, (uint8_t)c->srv.ws);
	}
}

/* The client's SYN: forwarded unchanged, one spoofed SYN-ACK back. */
static void do_syn(struct h *h, struct conn *c)
{
	struct fr_spec s;
	struct fr_frame orig;
	struct fr_out *o;

	fr_cap_reset(&h->cap);
	syn_spec(&s, c);
	fr_build(&orig, &s);
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
	o = only(h, CN_SERVER);
	assert_int_equal(o->len, orig.f.len);
	assert_memory_equal(o->data, orig.f.data, o->len);
	view(only(h, CN_CLIENT), &c->synack);
	c->spoof = c->synack.seq;
	c->spoof_tsval = c->synack.tsval;
	check_all_csums(h);
}

static enum cn_verdict do_synack(struct h *h, struct conn *c, enum cn_drop *why)
{
	struct fr_spec s;

	synack_spec(&s, c);
	return h_send(h, CN_SERVER, &s, why);
}

static void establish(struct h *h, struct conn *c)
{
	do_syn(h, c);
	fr_cap_reset(&h->cap);
	assert_int_equal(do_synack(h, c, NULL), CN_STOLEN);
	check_all_csums(h);
	fr_cap_reset(&h->cap);
}

/* A client segment, seq/ack as offsets from the first byte of each side,
 * as the client sends it (acknowledging the spoofed server space) or,
 * at_server, as the server must see it (the real one). */
static void c_seg(struct fr_spec *s, const struct conn *c, bool at_server,
		  uint8_t flags, uint32_t sent, uint32_t acked, uint32_t len)
{
	uint32_t sisn = at_server ? c->sisn : c->spoof;
	uint32_t stsval = at_server ? c->stsval : c->spoof_tsval;

	fr_spec_c2s(s, &c->fl, flags, c->cisn + 1 + sent, sisn + 1 + acked);
	s->win = 501;
	s->payload_len = len;
	if (c->cli.ts && c->srv.ts) {
		fr_opt_nop(s);
		fr_opt_nop(s);
		fr_opt_ts(s, c->ctsval + 10, stsval + 3);
	}
}

/* A server segment as the server sends it or, at_client, as the client
 * must see it (in the spoofed server space). */
static void s_seg(struct fr_spec *s, const struct conn *c, bool at_client,
		  uint8_t flags, uint32_t sent, uint32_t acked, uint32_t len)
{
	uint32_t sisn = at_client ? c->spoof : c->sisn;
	uint32_t stsval = at_client ? c->spoof_tsval : c->stsval;

	fr_spec_s2c(s, &c->fl, flags, sisn + 1 + sent, c->cisn + 1 + acked);
	s->win = 509;
	s->payload_len = len;
	if (c->cli.ts && c->srv.ts) {
		fr_opt_nop(s);
		fr_opt_nop(s);
		fr_opt_ts(s, stsval + 20, c->ctsval + 10);
	}
}

static void c_spec(struct fr_spec *s, const struct conn *c, uint8_t flags,
		   uint32_t sent, uint32_t acked, uint32_t len)
{
	c_seg(s, c, false, flags, sent, acked, len);
}

static void c_expect(struct fr_spec *e, const struct conn *c, uint8_t flags,
		     uint32_t sent, uint32_t acked, uint32_t len)
{
	c_seg(e, c, true, flags, sent, acked, len);
}

static void s_spec(struct fr_spec *s, const struct conn *c, uint8_t flags,
		   uint32_t sent, uint32_t acked, uint32_t len)
{
	s_seg(s, c, false, flags, sent, acked, len);
}

static void s_expect(struct fr_spec *e, const struct conn *c, uint8_t flags,
		     uint32_t sent, uint32_t acked, uint32_t len)
{
	s_seg(e, c, true, flags, sent, acked, len);
}

/* ---- the spoofed SYN-ACK ------------------------------------------------ */

static void check_synack(struct h *h, const struct conn *c)
{
	const struct fr_view *v = &c->synack;
	size_t alen = c->fl.family == 4 ? 4 : 16;
	uint16_t mss = c->fl.family == 4 ? h->cfg.default_mss4 :
					   h->cfg.default_mss6;
	const struct fr_ev *ev;

	assert_memory_equal(v->dmac, c->fl.cmac, 6);
	assert_memory_equal(v->smac, c->fl.smac, 6);
	assert_int_equal(v->family, c->fl.family);
	assert_memory_equal(v->saddr, c->fl.saddr, alen);
	assert_memory_equal(v->daddr, c->fl.caddr, alen);
	assert_int_equal(v->sport, c->fl.sport);
	assert_int_equal(v->dport, c->fl.cport);
	assert_int_equal(v->vlans, c->fl.vlans);
	for (unsigned i = 0; i < v->vlans; i++) {
		assert_int_equal(v->vlan_tci[i], c->fl.vlan_tci[i]);
		assert_int_equal(v->vlan_tpid[i], c->fl.vlan_tpid[i] ?
				 c->fl.vlan_tpid[i] : 0x8100);
	}
	assert_int_equal(v->flags, FR_SYN | FR_ACK);
	assert_int_equal(v->ack, c->cisn + 1);
	assert_int_equal(v->payload_len, 0);
	assert_int_not_equal(v->win, 0);
	assert_int_equal(v->mss, mss < h->cfg.max_mss ? mss : h->cfg.max_mss);
	/* Each option answers one the client offered, none unasked. */
	assert_int_equal(v->ws, c->cli.ws >= 0 ? h->cfg.default_wscale : -1);
	assert_int_equal(v->sack_perm, c->cli.sack && h->cfg.default_sack);
	assert_int_equal(v->ts, c->cli.ts && h->cfg.default_ts);
	if (v->ts)
		assert_int_equal(v->tsecr, c->ctsval);
	ev = fr_cap_last_event(&h->cap, CN_EV_SYN_SPOOFED);
	assert_non_null(ev);
	assert_int_equal(ev->ev.spoof_isn, v->seq);
	assert_int_equal(ev->ev.client_isn, c->cisn);
	assert_int_equal(ev->key.cport, c->fl.cport);
	assert_int_equal(ev->key.sport, c->fl.sport);
}

static void syn_spoofed(void **state, uint8_t family, uint8_t vlans)
{
	struct h *h = *state;
	struct conn c;

	conn_init(&c, family, 1);
	c.fl.vlans = vlans;
	c.fl.vlan_tpid[0] = vlans == 2 ? 0x88a8 : 0x8100;
	c.fl.vlan_tci[0] = 0x0064;
	c.fl.vlan_tci[1] = 0x20c8; /* priority bits too */
	do_syn(h, &c);
	check_synack(h, &c);
	assert_int_equal(ctr(h)->flows_created, 1);
	assert_int_equal(ctr(h)->synacks_spoofed, 1);
	assert_int_equal(ctr(h)->cache_misses, 1);
	assert_int_equal(cn_engine_flow_count(h->eng), 1);
}

static void test_syn_spoofed_v4(void **state) { syn_spoofed(state, 4, 0); }
static void test_syn_spoofed_v6(void **state) { syn_spoofed(state, 6, 0); }
static void test_syn_spoofed_vlan1(void **state) { syn_spoofed(state, 4, 1); }
static void test_syn_spoofed_vlan2_v6(void **state) { syn_spoofed(state, 6, 2); }

static void test_synack_options_follow_client(void **state)
{
	static const struct sopt offers[] = {
		{ 0, -1, false, false },
		{ 1460, -1, false, false },
		{ 1460, 9, false, false },
		{ 1460, -1, true, false },
		{ 1460, -1, false, true },
		{ 536, 0, true, true },
	};
	struct h *h = *state;

	for (size_t i = 0; i < sizeof(offers) / sizeof(offers[0]); i++) {
		struct conn c;

		conn_init(&c, i & 1 ? 6 : 4, 10 + (uint32_t)i);
		c.cli = offers[i];
		do_syn(h, &c);
		check_synack(h, &c);
	}
}

/* max_mss caps whatever the defaults say. */
static void test_synack_mss_capped(void **state)
{
	struct h *h = *state;
	struct conn c;

	h->cfg.default_mss4 = 8960;
	h->cfg.max_mss = 1200;
	h_start(h);
	conn_init(&c, 4, 1);
	do_syn(h, &c);
	assert_int_equal(c.synack.mss, 1200);
}

static void test_syn_retransmit_same_synack(void **state)
{
	struct h *h = *state;
	struct fr_spec s;
	struct conn c;
	uint8_t first[FR_MAX];
	uint32_t len;

	conn_init(&c, 4, 1);
	do_syn(h, &c);
	len = only(h, CN_CLIENT)->len;
	memcpy(first, only(h, CN_CLIENT)->data, len);
	fr_cap_reset(&h->cap);
	h->now += 1 * MS / 2;
	syn_spec(&s, &c);
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
	assert_int_equal(only(h, CN_CLIENT)->len, len);
	assert_memory_equal(only(h, CN_CLIENT)->data, first, len);
	assert_int_equal(ctr(h)->flows_created, 1);
	assert_int_equal(ctr(h)->synacks_resent, 1);
	assert_int_equal(fr_cap_events(&h->cap, CN_EV_SYN_RESPOOFED), 1);
	assert_int_equal(cn_engine_flow_count(h->eng), 1);
}

static void test_tfo_syn_acks_only_syn(void **state)
{
	static const uint8_t cookie[8] = { 9, 8, 7, 6, 5, 4, 3, 2 };
	struct h *h = *state;
	struct fr_spec s;
	struct fr_view v;
	struct conn c;

	conn_init(&c, 4, 1);
	syn_spec(&s, &c);
	fr_opt_tfo(&s, cookie, sizeof(cookie));
	s.payload_len = 100;
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
	view(only(h, CN_CLIENT), &v);
	assert_int_equal(v.flags, FR_SYN | FR_ACK);
	assert_int_equal(v.ack, c.cisn + 1);
	c.spoof = v.seq;
	c.spoof_tsval = v.tsval;
	/* The server took the data: its SYN-ACK acknowledges it too. */
	fr_cap_reset(&h->cap);
	synack_spec(&s, &c);
	s.ack = c.cisn + 1 + 100;
	assert_int_equal(h_send(h, CN_SERVER, &s, NULL), CN_STOLEN);
	assert_int_equal(ctr(h)->flows_established, 1);
}

/* ---- early data ---------------------------------------------------------- */

static void test_early_data_flushed_in_order(void **state)
{
	static const uint32_t lens[] = { 0, 100, 1200, 7 };
	struct h *h = *state;
	struct fr_spec s, e;
	struct conn c;
	uint32_t sent = 0;
	const struct fr_ev *ev;

	conn_init(&c, 4, 1);
	do_syn(h, &c);
	fr_cap_reset(&h->cap);
	for (size_t i = 0; i < 4; i++) {
		c_spec(&s, &c, FR_ACK | (lens[i] ? FR_PSH : 0), sent, 0, lens[i]);
		sent += lens[i];
		assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_STOLEN);
	}
	assert_int_equal(h->cap.n, 0); /* nothing on any wire yet */
	assert_int_equal(ctr(h)->frames_buffered, 4);
	assert_int_equal(fr_cap_events(&h->cap, CN_EV_BUFFERED), 4);
	assert_true(cn_engine_buffered_bytes(h->eng) >= 1307);

	/* The first data segment acknowledges what the held ACK did: that
	 * ACK goes, and the server gets the three segments of data. */
	assert_int_equal(ctr(h)->acks_superseded, 1);
	assert_int_equal(do_synack(h, &c, NULL), CN_STOLEN);
	assert_int_equal(fr_cap_count(&h->cap, CN_CLIENT), 0);
	assert_int_equal(fr_cap_count(&h->cap, CN_SERVER), 3);
	sent = 0;
	for (size_t i = 1; i < 4; i++) {
		c_expect(&e, &c, FR_ACK | FR_PSH, sent, 0, lens[i]);
		sent += lens[i];
		assert_frame(fr_cap_nth(&h->cap, CN_SERVER, i - 1), &e);
	}
	check_all_csums(h);
	assert_int_equal(ctr(h)->frames_flushed, 3);
	assert_int_equal(ctr(h)->synacks_real, 1);
	assert_int_equal(ctr(h)->acks_synthesized, 0);
	assert_int_equal(cn_engine_buffered_bytes(h->eng), 0);
	ev = fr_cap_last_event(&h->cap, CN_EV_SYNACK_REAL);
	assert_non_null(ev);
	assert_int_equal(ev->ev.real_isn, c.sisn);
	assert_int_equal(ev->ev.delta, delta(&c));
	assert_int_equal(fr_cap_events(&h->cap, CN_EV_FLUSHED), 1);
}

/* A connection whose SYN the box answered, nothing on the wires yet. */
static void syn_answered(struct h *h, struct conn *c, uint32_t n)
{
	conn_init(c, 4, n);
	do_syn(h, c);
	fr_cap_reset(&h->cap);
}

/* A client segment before the SYN-ACK, which the box holds. */
static void held(struct h *h, struct conn *c, uint8_t flags, uint32_t seq,
		 uint32_t len, uint16_t win)
{
	struct fr_spec s;

	c_spec(&s, c, flags, seq, 0, len);
	if (win)
		s.win = win;
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_STOLEN);
}

/* A held pure ACK goes when the client's next segment with an ACK is held
 * (it acknowledges as much), and only then: alone, it completes the
 * server's handshake itself (a server that speaks first); behind data it
 * stays; a second pure ACK (a window update) replaces it. */
static void test_pure_ack_superseded(void **state)
{
	struct h *h = *state;
	struct fr_spec e;
	struct conn c;

	syn_answered(h, &c, 1);
	held(h, &c, FR_ACK, 0, 0, 0);
	assert_int_equal(do_synack(h, &c, NULL), CN_STOLEN);
	assert_int_equal(fr_cap_count(&h->cap, CN_SERVER), 1);
	c_expect(&e, &c, FR_ACK, 0, 0, 0);
	assert_frame(fr_cap_nth(&h->cap, CN_SERVER, 0), &e);
	assert_int_equal(ctr(h)->acks_superseded, 0);
	assert_int_equal(ctr(h)->acks_synthesized, 0);

	syn_answered(h, &c, 2);
	held(h, &c, FR_ACK | FR_PSH, 0, 100, 0);
	held(h, &c, FR_ACK, 100, 0, 0);
	assert_int_equal(do_synack(h, &c, NULL), CN_STOLEN);
	assert_int_equal(fr_cap_count(&h->cap, CN_SERVER), 2);
	assert_int_equal(ctr(h)->acks_superseded, 0);

	syn_answered(h, &c, 3);
	held(h, &c, FR_ACK, 0, 0, 0);
	held(h, &c, FR_ACK, 0, 0, 9000);
	assert_int_equal(ctr(h)->acks_superseded, 1);
	assert_int_equal(do_synack(h, &c, NULL), CN_STOLEN);
	assert_int_equal(fr_cap_count(&h->cap, CN_SERVER), 1);
	check_all_csums(h);
	assert_int_equal(cn_engine_buffered_bytes(h->eng), 0);
}

/* The client's timer, started from the LAN-time handshake, fires before a
 * slow server answers: its retransmission of a held segment is not held
 * again, and the server gets each segment once. */
static void test_early_retransmission_held_once(void **state)
{
	struct h *h = *state;
	struct fr_spec e;
	struct conn c;

	syn_answered(h, &c, 1);
	held(h, &c, FR_ACK, 0, 0, 0);
	for (int i = 0; i < 3; i++)
		held(h, &c, FR_ACK | FR_PSH, 0, 500, 0);
	/* Same start, more data: new bytes, so held. */
	held(h, &c, FR_ACK | FR_PSH, 0, 800, 0);
	assert_int_equal(ctr(h)->frames_buffered, 3);
	assert_int_equal(ctr(h)->frames_held_dup, 2);
	assert_int_equal(do_synack(h, &c, NULL), CN_STOLEN);
	assert_int_equal(fr_cap_count(&h->cap, CN_SERVER), 2);
	c_expect(&e, &c, FR_ACK | FR_PSH, 0, 0, 500);
	assert_frame(fr_cap_nth(&h->cap, CN_SERVER, 0), &e);
	c_expect(&e, &c, FR_ACK | FR_PSH, 0, 0, 800);
	assert_frame(fr_cap_nth(&h->cap, CN_SERVER, 1), &e);
	check_all_csums(h);
}

/* A SYN-ACK whose checksum is wrong is not believed: the server will send
 * it again, and its ISN is not taken from a corrupted frame. */
static void test_synack_bad_checksum(void **state)
{
	struct h *h = *state;
	struct fr_spec s;
	struct fr_frame fr;
	enum cn_drop why;
	struct conn c;

	conn_init(&c, 4, 1);
	do_syn(h, &c);
	synack_spec(&s, &c);
	fr_build(&fr, &s);
	fr.f.data[fr.f.len - 25] ^= 0x01; /* one bit flipped on the way */
	assert_int_equal(h_in(h, CN_SERVER, &fr, &why), CN_DROP);
	assert_int_equal(why, CN_DROP_bad_checksum);
	assert_int_equal(ctr(h)->synacks_real, 0);
	/* The server's retransmission, intact, is. */
	assert_int_equal(do_synack(h, &c, NULL), CN_STOLEN);
	assert_int_equal(ctr(h)->synacks_real, 1);
}

/* A client asking for ECN cannot be promised it by the spoofed SYN-ACK,
 * so the server is not asked either: both ends agree ECN is off. */
static void test_syn_ecn_stripped(void **state)
{
	struct h *h = *state;
	struct fr_spec s;
	struct fr_view v;
	struct conn c;

	conn_init(&c, 6, 1);
	syn_spec(&s, &c);
	s.flags |= 0xc0; /* ECE | CWR */
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
	view(only(h, CN_SERVER), &v);
	assert_int_equal(v.flags, FR_SYN);
	view(only(h, CN_CLIENT), &v);
	assert_int_equal(v.flags, FR_SYN | FR_ACK);
	check_all_csums(h);
	assert_int_equal(ctr(h)->syns_ecn_stripped, 1);
}

/* A client RST during the handshake counts only at a sequence number the
 * client could have sent; a blind one leaves the flow alone. */
static void test_client_rst_embryonic_checked(void **state)
{
	struct h *h = *state;
	struct fr_spec s;
	enum cn_drop why;
	struct conn c;

	conn_init(&c, 4, 1);
	do_syn(h, &c);
	fr_spec_c2s(&s, &c.fl, FR_RST, 0xdeadbeef, 0);
	assert_int_equal(h_send(h, CN_CLIENT, &s, &why), CN_DROP);
	assert_int_equal(why, CN_DROP_rst_embryonic_bad);
	assert_int_equal(cn_engine_flow_count(h->eng), 1);
	fr_spec_c2s(&s, &c.fl, FR_RST, c.cisn + 1, 0);
	assert_int_equal(h_send(h, CN_CLIENT, &s, &why), CN_DROP);
	assert_int_equal(why, CN_DROP_client_rst_embryonic);
	assert_int_equal(cn_engine_flow_count(h->eng), 0);
}

/* The SYN kept for retransmission counts against the total early-data
 * bound: over it, a new SYN passes untracked instead of growing memory. */
static void test_syn_copies_bounded(void **state)
{
	struct h *h = *state;
	struct fr_spec s;
	struct fr_frame fr;
	struct conn c[4];

	conn_init(&c[0], 4, 0);
	syn_spec(&s, &c[0]);
	fr_build(&fr, &s);
	h->cfg.buf_total_bytes = 3 * fr.f.len;
	h_start(h);
	for (uint32_t i = 0; i < 3; i++) {
		conn_init(&c[i], 4, i);
		do_syn(h, &c[i]);
	}
	conn_init(&c[3], 4, 3);
	fr_cap_reset(&h->cap);
	syn_spec(&s, &c[3]);
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
	assert_int_equal(fr_cap_count(&h->cap, CN_CLIENT), 0);
	assert_int_equal(ctr(h)->passed_table_full, 1);
	assert_int_equal(cn_engine_flow_count(h->eng), 3);
	assert_true(cn_engine_buffered_bytes(h->eng) <= h->cfg.buf_total_bytes);
}

/* A segment of a tracked flow whose option list is broken cannot be
 * translated right: it is dropped (the client will resend), not passed in
 * the wrong sequence space. */
static void test_tracked_bad_options_dropped(void **state)
{
	static const uint8_t bad[] = { 99, 1, 1, 1 };
	struct h *h = *state;
	struct fr_spec s;
	enum cn_drop why;
	struct conn c;

	conn_init(&c, 4, 1);
	establish(h, &c);
	s_spec(&s, &c, FR_ACK, 0, 0, 10);
	fr_opt_raw(&s, bad, sizeof(bad));
	assert_int_equal(h_send(h, CN_SERVER, &s, &why), CN_DROP);
	assert_int_equal(why, CN_DROP_bad_options);
	assert_int_equal(h->cap.n, 0);
}

/* A server known to lack timestamps still gets a client that uses them:
 * the box takes them out of the client's segments, which it can, rather
 * than leave a server that does want them without, which it cannot. */
static void test_ts_offered_to_known_server(void **state)
{
	struct h *h = *state;
	struct fr_spec s, e;
	struct conn c1, c2;

	conn_init(&c1, 4, 1);
	c1.srv.ts = false;
	establish(h, &c1);
	conn_init(&c2, 4, 2);
	c2.srv.ts = false;
	do_syn(h, &c2);
	assert_true(c2.synack.ts);
	fr_cap_reset(&h->cap);
	assert_int_equal(do_synack(h, &c2, NULL), CN_STOLEN);
	fr_cap_reset(&h->cap);
	/* The client sends TS (it was offered them); the server sees NOPs. */
	c_spec(&s, &c2, FR_ACK, 0, 0, 5);
	fr_opt_nop(&s);
	fr_opt_nop(&s);
	fr_opt_ts(&s, c2.ctsval + 10, c2.spoof_tsval);
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
	c_expect(&e, &c2, FR_ACK, 0, 0, 5);
	for (int i = 0; i < 12; i++)
		fr_opt_nop(&e);
	assert_frame(only(h, CN_SERVER), &e);
}

/* No client frame was held: the box completes the server's handshake. */
static void test_handshake_ack_synthesized(void **state)
{
	struct h *h = *state;
	struct fr_view v;
	struct fr_spec s;
	enum cn_drop why;
	struct conn c;

	/* Room for the SYN's copy, not for the client's ACK: it acknowledged
	 * the spoofed SYN-ACK, but no held frame says so. */
	h->cfg.buf_total_bytes = 100;
	h_start(h);
	conn_init(&c, 6, 1);
	do_syn(h, &c);
	c_seg(&s, &c, false, FR_ACK, 0, 0, 0);
	assert_int_equal(h_send(h, CN_CLIENT, &s, &why), CN_DROP);
	assert_int_equal(why, CN_DROP_buf_total_full);
	fr_cap_reset(&h->cap);
	assert_int_equal(do_synack(h, &c, NULL), CN_STOLEN);
	assert_int_equal(fr_cap_count(&h->cap, CN_CLIENT), 0);
	view(only(h, CN_SERVER), &v);
	assert_int_equal(v.flags, FR_ACK);
	assert_int_equal(v.seq, c.cisn + 1);
	assert_int_equal(v.ack, c.sisn + 1);
	assert_int_equal(v.payload_len, 0);
	assert_memory_equal(v.saddr, c.fl.caddr, 16);
	assert_memory_equal(v.daddr, c.fl.saddr, 16);
	assert_memory_equal(v.smac, c.fl.cmac, 6);
	assert_memory_equal(v.dmac, c.fl.smac, 6);
	assert_int_equal(v.sport, c.fl.cport);
	if (v.ts)
		assert_int_equal(v.tsecr, c.stsval);
	check_all_csums(h);
	assert_int_equal(ctr(h)->acks_synthesized, 1);
}

/* The server's SYN-ACK came again (it missed the ACK): ACK it again,
 * never show it to the client. */
static void test_duplicate_real_synack(void **state)
{
	struct h *h = *state;
	struct fr_view v;
	struct fr_spec s;
	struct conn c;

	conn_init(&c, 4, 1);
	establish(h, &c);
	c_seg(&s, &c, false, FR_ACK, 0, 0, 0);
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
	fr_cap_reset(&h->cap);
	assert_int_equal(do_synack(h, &c, NULL), CN_STOLEN);
	assert_int_equal(fr_cap_count(&h->cap, CN_CLIENT), 0);
	view(only(h, CN_SERVER), &v);
	assert_int_equal(v.flags & (FR_ACK | FR_SYN | FR_RST), FR_ACK);
	assert_int_equal(v.ack, c.sisn + 1);
	assert_int_equal(ctr(h)->synacks_dup, 1);
	check_all_csums(h);
}

static void test_synack_bad_ack_dropped(void **state)
{
	struct h *h = *state;
	struct fr_spec s;
	enum cn_drop why;
	struct conn c;

	conn_init(&c, 4, 1);
	do_syn(h, &c);
	synack_spec(&s, &c);
	s.ack = c.cisn + 5;
	assert_int_equal(h_send(h, CN_SERVER, &s, &why), CN_DROP);
	assert_int_equal(why, CN_DROP_synack_bad_ack);
	assert_int_equal(drops(h, CN_DROP_synack_bad_ack), 1);
	s.ack = c.cisn;
	assert_int_equal(h_send(h, CN_SERVER, &s, &why), CN_DROP);
	/* The right one still completes the flow. */
	fr_cap_reset(&h->cap);
	assert_int_equal(do_synack(h, &c, NULL), CN_STOLEN);
	assert_int_equal(ctr(h)->flows_established, 1);
}

/* ---- translation --------------------------------------------------------- */

static void translate_both_ways(struct h *h, struct conn *c)
{
	struct fr_spec s, e;
	uint32_t edges[4];

	establish(h, c);
	/* Client data with SACK blocks for server bytes. */
	c_spec(&s, c, FR_ACK | FR_PSH, 0, 3000, 500);
	edges[0] = c->spoof + 1 + 4000;
	edges[1] = c->spoof + 1 + 5000;
	edges[2] = c->spoof + 1 + 6000;
	edges[3] = c->spoof + 1 + 7000;
	fr_opt_nop(&s);
	fr_opt_nop(&s);
	fr_opt_sack(&s, 2, edges);
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
	c_expect(&e, c, FR_ACK | FR_PSH, 0, 3000, 500);
	for (int i = 0; i < 4; i++)
		edges[i] = c->sisn + 1 + 4000 + 1000 * (uint32_t)i;
	fr_opt_nop(&e);
	fr_opt_nop(&e);
	fr_opt_sack(&e, 2, edges);
	assert_frame(only(h, CN_SERVER), &e);

	/* Server data with SACK blocks for client bytes: those stay. */
	fr_cap_reset(&h->cap);
	s_spec(&s, c, FR_ACK | FR_PSH, 3000, 500, 1000);
	edges[0] = c->cisn + 1 + 600;
	edges[1] = c->cisn + 1 + 700;
	fr_opt_nop(&s);
	fr_opt_nop(&s);
	fr_opt_sack(&s, 1, edges);
	assert_int_equal(h_send(h, CN_SERVER, &s, NULL), CN_FORWARD);
	s_expect(&e, c, FR_ACK | FR_PSH, 3000, 500, 1000);
	fr_opt_nop(&e);
	fr_opt_nop(&e);
	fr_opt_sack(&e, 1, edges);
	assert_frame(only(h, CN_CLIENT), &e);
	check_all_csums(h);
	assert_int_equal(ctr(h)->frames_rewritten, 2);
}

static void test_translate_v4(void **state)
{
	struct conn c;

	conn_init(&c, 4, 1);
	translate_both_ways(*state, &c);
}

static void test_translate_v6_vlan2(void **state)
{
	struct conn c;

	conn_init(&c, 6, 2);
	c.fl.vlans = 2;
	c.fl.vlan_tpid[0] = 0x88a8;
	c.fl.vlan_tci[0] = 7;
	c.fl.vlan_tci[1] = 300;
	translate_both_ways(*state, &c);
}

static void test_translate_no_timestamps(void **state)
{
	struct conn c;

	conn_init(&c, 4, 1);
	c.cli.ts = c.srv.ts = false;
	translate_both_ways(*state, &c);
}

static void test_translate_ip_options(void **state)
{
	struct h *h = *state;
	struct fr_spec s, e;
	struct conn c;

	conn_init(&c, 4, 1);
	establish(h, &c);
	c_spec(&s, &c, FR_ACK, 0, 77, 10);
	s.ip_optlen = 8;
	memset(s.ip_opts, 1, 8);
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
	c_expect(&e, &c, FR_ACK, 0, 77, 10);
	e.ip_optlen = 8;
	memset(e.ip_opts, 1, 8);
	assert_frame(only(h, CN_SERVER), &e);
}

/* Sequence numbers of both sides cross 2^32 during the connection. */
static void test_translate_wraps(void **state)
{
	struct h *h = *state;
	struct fr_spec s, e;
	struct conn c;

	for (uint32_t n = 0; n < 4; n++) {
		h_start(h);
		conn_init(&c, 4, n);
		c.cisn = 0xffffffffu - n * 300;
		c.sisn = 0xfffffc00u + n * 0x100;
		establish(h, &c);
		for (uint32_t k = 0; k < 4; k++) {
			fr_cap_reset(&h->cap);
			c_spec(&s, &c, FR_ACK, 700 * k, 800 * k, 700);
			assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
			c_expect(&e, &c, FR_ACK, 700 * k, 800 * k, 700);
			assert_frame(only(h, CN_SERVER), &e);
			s_spec(&s, &c, FR_ACK, 800 * k, 700 * (k + 1), 800);
			assert_int_equal(h_send(h, CN_SERVER, &s, NULL), CN_FORWARD);
			s_expect(&e, &c, FR_ACK, 800 * k, 700 * (k + 1), 800);
			assert_frame(only(h, CN_CLIENT), &e);
		}
	}
}

/* Window fields when the real server's scale differs from the spoofed. */
static void test_window_rescaled(void **state)
{
	struct h *h = *state;
	struct fr_spec s, e;
	struct conn c;

	conn_init(&c, 4, 1);
	c.srv.ws = 2; /* spoofed said 7 */
	establish(h, &c);
	s_spec(&s, &c, FR_ACK, 0, 0, 0);
	s.win = 1000; /* 4000 bytes */
	assert_int_equal(h_send(h, CN_SERVER, &s, NULL), CN_FORWARD);
	s_expect(&e, &c, FR_ACK, 0, 0, 0);
	e.win = (1000 << 2) >> 7;
	assert_frame(only(h, CN_CLIENT), &e);
	/* The client's scale is what its SYN said on both sides. */
	fr_cap_reset(&h->cap);
	c_spec(&s, &c, FR_ACK, 0, 0, 0);
	s.win = 777;
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
	c_expect(&e, &c, FR_ACK, 0, 0, 0);
	e.win = 777;
	assert_frame(only(h, CN_SERVER), &e);
}

/* Held frames are flushed with the window fixed up like any later one:
 * the server turned window scaling down, so it reads the client's windows
 * as bytes. */
static void test_early_data_window_rescaled(void **state)
{
	struct h *h = *state;
	struct fr_spec s, e;
	struct conn c;

	conn_init(&c, 4, 1);
	c.srv.ws = -1;
	do_syn(h, &c);
	c_spec(&s, &c, FR_ACK | FR_PSH, 0, 0, 64);
	s.win = 200; /* 25600 bytes */
	s.trailer = 0;
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_STOLEN);
	fr_cap_reset(&h->cap);
	assert_int_equal(do_synack(h, &c, NULL), CN_STOLEN);
	c_expect(&e, &c, FR_ACK | FR_PSH, 0, 0, 64);
	e.win = 200 << 7;
	assert_frame(only(h, CN_SERVER), &e);
}

/* Ethernet padding after a short segment is neither payload nor summed. */
static void test_translate_padded_frame(void **state)
{
	struct h *h = *state;
	struct fr_spec s, e;
	struct conn c;

	conn_init(&c, 4, 1);
	c.cli.ts = c.srv.ts = false;
	establish(h, &c);
	c_spec(&s, &c, FR_ACK, 0, 9, 0);
	s.trailer = 6;
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
	c_expect(&e, &c, FR_ACK, 0, 9, 0);
	e.trailer = 6;
	assert_frame(only(h, CN_SERVER), &e);
	fr_cap_reset(&h->cap);
	s_spec(&s, &c, FR_ACK, 0, 0, 2);
	s.trailer = 4;
	assert_int_equal(h_send(h, CN_SERVER, &s, NULL), CN_FORWARD);
	s_expect(&e, &c, FR_ACK, 0, 0, 2);
	e.trailer = 4;
	assert_frame(only(h, CN_CLIENT), &e);
	check_all_csums(h);
}

/* The server does not scale at all: its windows are bytes, the client's
 * windows reach it unscaled (clamped). */
static void test_window_server_unscaled(void **state)
{
	struct h *h = *state;
	struct fr_spec s, e;
	struct conn c;

	conn_init(&c, 4, 1);
	c.srv.ws = -1;
	establish(h, &c);
	s_spec(&s, &c, FR_ACK, 0, 0, 0);
	s.win = 40000;
	assert_int_equal(h_send(h, CN_SERVER, &s, NULL), CN_FORWARD);
	s_expect(&e, &c, FR_ACK, 0, 0, 0);
	e.win = 40000 >> 7;
	assert_frame(only(h, CN_CLIENT), &e);
	fr_cap_reset(&h->cap);
	c_spec(&s, &c, FR_ACK, 0, 0, 0);
	s.win = 300; /* 38400 bytes */
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
	c_expect(&e, &c, FR_ACK, 0, 0, 0);
	e.win = 300 << 7;
	assert_frame(only(h, CN_SERVER), &e);
	fr_cap_reset(&h->cap);
	s.win = 1000; /* 128000 bytes: more than 16 bits hold */
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
	e.win = 0xffff;
	assert_frame(only(h, CN_SERVER), &e);
}

/* SACK-permitted was promised to the client but the server lacks it: the
 * client's SACK blocks must not reach the server. */
static void test_sack_neutralised(void **state)
{
	struct h *h = *state;
	struct fr_spec s, e;
	struct fr_view v;
	struct conn c;
	uint32_t edges[2];

	conn_init(&c, 4, 1);
	c.srv.sack = false;
	establish(h, &c);
	c_spec(&s, &c, FR_ACK, 0, 100, 0);
	edges[0] = c.spoof + 1 + 200;
	edges[1] = c.spoof + 1 + 300;
	fr_opt_nop(&s);
	fr_opt_nop(&s);
	fr_opt_sack(&s, 1, edges);
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
	view(only(h, CN_SERVER), &v);
	assert_int_equal(v.sack_n, 0);
	assert_int_equal(v.ack, c.sisn + 1 + 100);
	assert_true(v.ts);
	assert_int_equal(v.tsecr, c.stsval + 3);
	c_expect(&e, &c, FR_ACK, 0, 100, 0);
	for (int i = 0; i < 12; i++)
		fr_opt_nop(&e);
	assert_frame(only(h, CN_SERVER), &e);
}

/* Timestamps promised but the server has none: the client's go. */
static void test_timestamps_stripped(void **state)
{
	struct h *h = *state;
	struct fr_spec s;
	struct fr_view v;
	struct conn c;

	conn_init(&c, 6, 1);
	c.srv.ts = false;
	establish(h, &c);
	fr_spec_c2s(&s, &c.fl, FR_ACK, c.cisn + 1, c.spoof + 1);
	fr_opt_nop(&s);
	fr_opt_nop(&s);
	fr_opt_ts(&s, 1234, c.spoof_tsval);
	s.payload_len = 50;
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
	view(only(h, CN_SERVER), &v);
	assert_false(v.ts);
	assert_int_equal(v.ack, c.sisn + 1);
	assert_int_equal(v.payload_len, 50);
	check_all_csums(h);
}

/* SACK not promised (defaults) but the server sends blocks: the client
 * must not see them. */
static void test_server_sack_neutralised(void **state)
{
	struct h *h = *state;
	struct fr_spec s;
	struct fr_view v;
	struct conn c;
	uint32_t edges[2];

	h->cfg.default_sack = false;
	h_start(h);
	conn_init(&c, 4, 1);
	establish(h, &c);
	assert_false(c.synack.sack_perm);
	s_spec(&s, &c, FR_ACK, 0, 0, 0);
	edges[0] = c.cisn + 100;
	edges[1] = c.cisn + 200;
	fr_opt_nop(&s);
	fr_opt_nop(&s);
	fr_opt_sack(&s, 1, edges);
	assert_int_equal(h_send(h, CN_SERVER, &s, NULL), CN_FORWARD);
	view(only(h, CN_CLIENT), &v);
	assert_int_equal(v.sack_n, 0);
	assert_int_equal(v.seq, c.spoof + 1);
	check_all_csums(h);
}

/* ---- the options cache -------------------------------------------------- */

static void test_options_cache_learns(void **state)
{
	struct h *h = *state;
	struct conn a, b, d;

	conn_init(&a, 4, 1);
	a.srv = (struct sopt){ 1200, 3, false, true };
	establish(h, &a);
	assert_int_equal(ctr(h)->cache_misses, 1);
	/* Same server, another client port: the learned options. */
	conn_init(&b, 4, 2);
	b.srv = a.srv;
	do_syn(h, &b);
	assert_int_equal(b.synack.mss, 1200);
	assert_int_equal(b.synack.ws, 3);
	assert_false(b.synack.sack_perm);
	assert_true(b.synack.ts);
	assert_int_equal(ctr(h)->cache_hits, 1);
	/* Nothing to fix up: the guess was right. */
	fr_cap_reset(&h->cap);
	assert_int_equal(do_synack(h, &b, NULL), CN_STOLEN);
	{
		struct fr_spec s, e;

		fr_cap_reset(&h->cap);
		s_spec(&s, &b, FR_ACK, 0, 0, 0);
		s.win = 4321;
		assert_int_equal(h_send(h, CN_SERVER, &s, NULL), CN_FORWARD);
		s_expect(&e, &b, FR_ACK, 0, 0, 0);
		e.win = 4321;
		assert_frame(only(h, CN_CLIENT), &e);
	}
	/* Another server port: defaults again. */
	conn_init(&d, 4, 3);
	d.fl.sport = 8443;
	do_syn(h, &d);
	assert_int_equal(d.synack.mss, h->cfg.default_mss4);
	assert_int_equal(d.synack.ws, h->cfg.default_wscale);
	assert_int_equal(ctr(h)->cache_misses, 2);
}

/* A server answers only the options a client offered: a SYN-ACK to a
 * client that offered no window scale, SACK or timestamps says nothing
 * about them. Caching "absent" would take window scaling (windows capped
 * at 64 KiB), SACK and timestamps from every later client of the server. */
static void test_cache_keeps_unasked_options(void **state)
{
	struct h *h = *state;
	struct conn a, b;

	conn_init(&a, 4, 1);
	a.cli = (struct sopt){ 1460, -1, false, false };
	a.srv = (struct sopt){ 1360, -1, false, false };
	establish(h, &a);
	conn_init(&b, 4, 2);
	do_syn(h, &b);
	assert_int_equal(b.synack.mss, 1360);
	assert_int_equal(b.synack.ws, h->cfg.default_wscale);
	assert_true(b.synack.sack_perm);
	assert_true(b.synack.ts);
}

/* ---- buffer bounds ------------------------------------------------------- */

static void test_buffer_frames_bound(void **state)
{
	struct h *h = *state;
	struct fr_spec s;
	enum cn_drop why;
	struct conn c;

	h->cfg.buf_flow_frames = 3;
	h_start(h);
	conn_init(&c, 4, 1);
	do_syn(h, &c);
	for (uint32_t i = 0; i < 3; i++) {
		c_spec(&s, &c, FR_ACK, 100 * i, 0, 100);
		assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_STOLEN);
	}
	c_spec(&s, &c, FR_ACK, 300, 0, 100);
	assert_int_equal(h_send(h, CN_CLIENT, &s, &why), CN_DROP);
	assert_int_equal(why, CN_DROP_buf_flow_full);
	assert_int_equal(drops(h, CN_DROP_buf_flow_full), 1);
	fr_cap_reset(&h->cap);
	assert_int_equal(do_synack(h, &c, NULL), CN_STOLEN);
	assert_int_equal(fr_cap_count(&h->cap, CN_SERVER), 3);
	/* After the flush the flow is not bounded any more. */
	fr_cap_reset(&h->cap);
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
}

static void test_buffer_bytes_bound(void **state)
{
	struct h *h = *state;
	struct fr_spec s;
	struct fr_frame fr;
	enum cn_drop why;
	struct conn c;
	uint32_t flen;

	conn_init(&c, 4, 1);
	c_spec(&s, &c, FR_ACK, 0, 0, 1000);
	flen = fr_build(&fr, &s);
	h->cfg.buf_flow_bytes = 2 * flen + flen / 2;
	h_start(h);
	do_syn(h, &c);
	for (uint32_t i = 0; i < 2; i++) {
		c_spec(&s, &c, FR_ACK, 1000 * i, 0, 1000);
		assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_STOLEN);
	}
	c_spec(&s, &c, FR_ACK, 2000, 0, 1000);
	assert_int_equal(h_send(h, CN_CLIENT, &s, &why), CN_DROP);
	assert_int_equal(why, CN_DROP_buf_flow_full);
	/* A small one still fits. */
	c_spec(&s, &c, FR_ACK, 2000, 0, 10);
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_STOLEN);
}

/* The total bound: whatever a flow may hold, all flows together stay under
 * buf_total_bytes, and the frame over it is dropped with its reason. */
static void test_buffer_total_bound(void **state)
{
	struct h *h = *state;
	struct conn c[4];
	uint32_t flen, dropped = 0;
	struct fr_spec s;
	struct fr_frame fr;

	conn_init(&c[0], 4, 0);
	c_spec(&s, &c[0], FR_ACK, 0, 0, 900);
	flen = fr_build(&fr, &s);
	h->cfg.buf_total_bytes = 7 * flen;
	h->cfg.buf_flow_frames = 100;
	h->cfg.buf_flow_bytes = 1000000;
	h_start(h);
	for (uint32_t i = 0; i < 4; i++) {
		conn_init(&c[i], 4, i);
		do_syn(h, &c[i]);
	}
	for (uint32_t k = 0; k < 4; k++) {
		for (uint32_t i = 0; i < 4; i++) {
			uint64_t before = cn_engine_buffered_bytes(h->eng);
			enum cn_drop why;
			enum cn_verdict v;

			c_spec(&s, &c[i], FR_ACK, 900 * k, 0, 900);
			v = h_send(h, CN_CLIENT, &s, &why);
			if (before + flen > h->cfg.buf_total_bytes) {
				assert_int_equal(v, CN_DROP);
				assert_int_equal(why, CN_DROP_buf_total_full);
				dropped++;
			} else {
				assert_int_equal(v, CN_STOLEN);
			}
			assert_true(cn_engine_buffered_bytes(h->eng) <=
				    h->cfg.buf_total_bytes);
		}
	}
	assert_true(dropped > 0);
	assert_int_equal(drops(h, CN_DROP_buf_total_full), dropped);
	/* Flushing one flow frees its share. */
	{
		uint64_t before = cn_engine_buffered_bytes(h->eng);

		fr_cap_reset(&h->cap);
		assert_int_equal(do_synack(h, &c[0], NULL), CN_STOLEN);
		assert_true(cn_engine_buffered_bytes(h->eng) < before);
	}
}

/* ---- the server refuses or stays silent ----------------------------------- */

static void check_client_rst(struct h *h, const struct conn *c)
{
	struct fr_view v;
	size_t alen = c->fl.family == 4 ? 4 : 16;

	view(only(h, CN_CLIENT), &v);
	assert_true(v.flags & FR_RST);
	assert_int_equal(v.seq, c->spoof + 1);
	assert_memory_equal(v.saddr, c->fl.saddr, alen);
	assert_memory_equal(v.daddr, c->fl.caddr, alen);
	assert_memory_equal(v.smac, c->fl.smac, 6);
	assert_memory_equal(v.dmac, c->fl.cmac, 6);
	assert_int_equal(v.sport, c->fl.sport);
	assert_int_equal(v.dport, c->fl.cport);
	assert_int_equal(v.vlans, c->fl.vlans);
	if (v.vlans)
		assert_int_equal(v.vlan_tci[0], c->fl.vlan_tci[0]);
	check_all_csums(h);
}

static void refused(struct h *h, uint8_t family, uint8_t vlans)
{
	struct fr_spec s;
	struct conn c;

	h_start(h);
	conn_init(&c, family, 1);
	c.fl.vlans = vlans;
	c.fl.vlan_tci[0] = 42;
	do_syn(h, &c);
	c_spec(&s, &c, FR_ACK | FR_PSH, 0, 0, 300);
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_STOLEN);
	fr_cap_reset(&h->cap);
	/* What Linux sends for a SYN to a closed port. */
	fr_spec_s2c(&s, &c.fl, FR_RST | FR_ACK, 0, c.cisn + 1);
	s.win = 0;
	assert_int_not_equal(h_send(h, CN_SERVER, &s, NULL), CN_DROP);
	check_client_rst(h, &c);
	assert_int_equal(fr_cap_count(&h->cap, CN_SERVER), 0);
	assert_int_equal(cn_engine_flow_count(h->eng), 0);
	assert_int_equal(cn_engine_buffered_bytes(h->eng), 0);
	assert_int_equal(ctr(h)->flows_refused, 1);
	assert_int_equal(ctr(h)->rsts_sent, 1);
	assert_int_equal(fr_cap_events(&h->cap, CN_EV_REFUSED), 1);
}

static void test_refused_v4(void **state) { refused(*state, 4, 0); }
static void test_refused_v6_vlan(void **state) { refused(*state, 6, 1); }

/* A blind RST during the handshake does not kill the flow. */
static void test_refused_bad_rst_ignored(void **state)
{
	struct h *h = *state;
	struct fr_spec s;
	enum cn_drop why;
	struct conn c;

	conn_init(&c, 4, 1);
	do_syn(h, &c);
	fr_cap_reset(&h->cap);
	fr_spec_s2c(&s, &c.fl, FR_RST | FR_ACK, 0, c.cisn + 12345);
	assert_int_equal(h_send(h, CN_SERVER, &s, &why), CN_DROP);
	assert_int_equal(why, CN_DROP_rst_embryonic_bad);
	assert_int_equal(fr_cap_count(&h->cap, CN_CLIENT), 0);
	assert_int_equal(cn_engine_flow_count(h->eng), 1);
	assert_int_equal(do_synack(h, &c, NULL), CN_STOLEN);
}

static void test_syn_timeout(void **state)
{
	struct h *h = *state;
	struct fr_spec s;
	struct fr_frame syn;
	struct conn c;
	uint64_t resent_at[64], rst_at = 0, t;
	size_t nresent = 0;

	conn_init(&c, 4, 1);
	c.fl.vlans = 1;
	c.fl.vlan_tci[0] = 5;
	do_syn(h, &c);
	syn_spec(&s, &c);
	fr_build(&syn, &s);
	c_spec(&s, &c, FR_ACK | FR_PSH, 0, 0, 10);
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_STOLEN);
	assert_int_equal(cn_engine_next_deadline(h->eng), T0 + h->cfg.syn_rto_ns);
	/* Nothing happens before the deadline. */
	fr_cap_reset(&h->cap);
	cn_engine_tick(h->eng, T0 + h->cfg.syn_rto_ns - 1);
	assert_int_equal(h->cap.n, 0);
	while ((t = cn_engine_next_deadline(h->eng)) != UINT64_MAX) {
		assert_true(t < T0 + 10 * h->cfg.syn_timeout_ns);
		assert_true(nresent < 64);
		fr_cap_reset(&h->cap);
		cn_engine_tick(h->eng, t);
		if (fr_cap_count(&h->cap, CN_SERVER)) {
			struct fr_out *o = only(h, CN_SERVER);

			assert_int_equal(o->len, syn.f.len);
			assert_memory_equal(o->data, syn.f.data, o->len);
			resent_at[nresent++] = t;
		}
		if (fr_cap_count(&h->cap, CN_CLIENT)) {
			check_client_rst(h, &c);
			rst_at = t;
		}
	}
	assert_true(nresent >= 2);
	assert_int_equal(resent_at[0], T0 + h->cfg.syn_rto_ns);
	/* Backoff: each wait doubles the one before. */
	for (size_t i = 1; i < nresent; i++) {
		uint64_t prev = i == 1 ? resent_at[0] - T0 :
					 resent_at[i - 1] - resent_at[i - 2];

		assert_int_equal(resent_at[i] - resent_at[i - 1], 2 * prev);
	}
	assert_true(rst_at >= T0 + h->cfg.syn_timeout_ns);
	assert_true(rst_at < T0 + h->cfg.syn_timeout_ns + h->cfg.syn_rto_ns);
	assert_int_equal(ctr(h)->syns_resent, nresent);
	assert_int_equal(ctr(h)->flows_timed_out, 1);
	assert_int_equal(cn_engine_flow_count(h->eng), 0);
	assert_int_equal(cn_engine_buffered_bytes(h->eng), 0);
}

/* The real SYN-ACK after some resends still works and stops the timer. */
static void test_synack_after_resend(void **state)
{
	struct h *h = *state;
	struct conn c;

	conn_init(&c, 4, 1);
	do_syn(h, &c);
	cn_engine_tick(h->eng, cn_engine_next_deadline(h->eng));
	assert_int_equal(ctr(h)->syns_resent, 1);
	h->now = T0 + 2 * MS;
	fr_cap_reset(&h->cap);
	assert_int_equal(do_synack(h, &c, NULL), CN_STOLEN);
	assert_true(cn_engine_next_deadline(h->eng) >= h->now + h->cfg.syn_timeout_ns);
	cn_engine_tick(h->eng, T0 + 2 * h->cfg.syn_timeout_ns);
	assert_int_equal(ctr(h)->syns_resent, 1);
	assert_int_equal(ctr(h)->flows_timed_out, 0);
	assert_int_equal(cn_engine_flow_count(h->eng), 1);
}

/* ---- flow lifetime --------------------------------------------------- */

static void test_fin_close_grace(void **state)
{
	struct h *h = *state;
	struct fr_spec s, e;
	struct conn c;
	uint64_t closed_at;

	conn_init(&c, 4, 1);
	establish(h, &c);
	c_spec(&s, &c, FR_ACK | FR_FIN, 0, 0, 0);
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
	s_spec(&s, &c, FR_ACK | FR_FIN, 0, 1, 0);
	assert_int_equal(h_send(h, CN_SERVER, &s, NULL), CN_FORWARD);
	c_spec(&s, &c, FR_ACK, 1, 1, 0);
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
	check_all_csums(h);
	closed_at = h->now;
	cn_engine_tick(h->eng, closed_at + h->cfg.close_grace_ns - 1);
	assert_int_equal(cn_engine_flow_count(h->eng), 1);
	/* A straggler in the grace period is still translated. */
	fr_cap_reset(&h->cap);
	h->now = closed_at + h->cfg.close_grace_ns / 2;
	s_spec(&s, &c, FR_ACK | FR_FIN, 0, 1, 0);
	assert_int_equal(h_send(h, CN_SERVER, &s, NULL), CN_FORWARD);
	s_expect(&e, &c, FR_ACK | FR_FIN, 0, 1, 0);
	assert_frame(only(h, CN_CLIENT), &e);
	assert_true(cn_engine_next_deadline(h->eng) <= closed_at + h->cfg.close_grace_ns);
	cn_engine_tick(h->eng, closed_at + h->cfg.close_grace_ns);
	assert_int_equal(cn_engine_flow_count(h->eng), 0);
	assert_int_equal(ctr(h)->flows_closed, 1);
	assert_int_equal(fr_cap_events(&h->cap, CN_EV_CLOSED), 1);
	assert_int_equal(cn_engine_next_deadline(h->eng), UINT64_MAX);
}

/* One FIN alone does not close the flow. */
static void test_half_close_stays(void **state)
{
	struct h *h = *state;
	struct fr_spec s;
	struct conn c;

	conn_init(&c, 4, 1);
	establish(h, &c);
	c_spec(&s, &c, FR_ACK | FR_FIN, 0, 0, 0);
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
	s_spec(&s, &c, FR_ACK, 0, 1, 0);
	assert_int_equal(h_send(h, CN_SERVER, &s, NULL), CN_FORWARD);
	cn_engine_tick(h->eng, h->now + 2 * h->cfg.close_grace_ns);
	assert_int_equal(cn_engine_flow_count(h->eng), 1);
}

static void rst_closes(struct h *h, enum cn_side from)
{
	struct fr_spec s, e;
	struct conn c;

	h_start(h);
	conn_init(&c, 6, 1);
	establish(h, &c);
	if (from == CN_CLIENT) {
		c_spec(&s, &c, FR_RST | FR_ACK, 0, 0, 0);
		c_expect(&e, &c, FR_RST | FR_ACK, 0, 0, 0);
	} else {
		s_spec(&s, &c, FR_RST | FR_ACK, 0, 0, 0);
		s_expect(&e, &c, FR_RST | FR_ACK, 0, 0, 0);
	}
	assert_int_equal(h_send(h, from, &s, NULL), CN_FORWARD);
	assert_frame(only(h, cn_other_side(from)), &e);
	assert_int_equal(ctr(h)->flows_reset, 1);
	assert_int_equal(fr_cap_events(&h->cap, CN_EV_RESET), 1);
	cn_engine_tick(h->eng, h->now + h->cfg.close_grace_ns);
	assert_int_equal(cn_engine_flow_count(h->eng), 0);
}

static void test_rst_from_client(void **state) { rst_closes(*state, CN_CLIENT); }
static void test_rst_from_server(void **state) { rst_closes(*state, CN_SERVER); }

static void test_rst_out_of_window(void **state)
{
	struct h *h = *state;
	struct fr_spec s, e;
	struct conn c;

	conn_init(&c, 4, 1);
	establish(h, &c);
	s_spec(&s, &c, FR_RST, 0x40000000, 0, 0);
	h_send(h, CN_SERVER, &s, NULL);
	c_spec(&s, &c, FR_RST, 0x40000000, 0, 0);
	h_send(h, CN_CLIENT, &s, NULL);
	assert_int_equal(ctr(h)->rst_out_of_window, 2);
	assert_int_equal(ctr(h)->flows_reset, 0);
	assert_int_equal(fr_cap_events(&h->cap, CN_EV_RESET), 0);
	cn_engine_tick(h->eng, h->now + 2 * h->cfg.close_grace_ns);
	assert_int_equal(cn_engine_flow_count(h->eng), 1);
	/* Still translating. */
	fr_cap_reset(&h->cap);
	h->now += 2 * h->cfg.close_grace_ns;
	s_spec(&s, &c, FR_ACK, 0, 0, 20);
	assert_int_equal(h_send(h, CN_SERVER, &s, NULL), CN_FORWARD);
	s_expect(&e, &c, FR_ACK, 0, 0, 20);
	assert_frame(only(h, CN_CLIENT), &e);
}

/* RFC 5961 3.2 as the box can apply it: an RST is acted on only from what
 * its receiver last acknowledged up to what its sender has sent (either
 * may be RCV.NXT by now); one byte either side is not. */
static void test_rst_window_edge(void **state)
{
	struct h *h = *state;
	struct fr_spec s;
	struct conn c;

	conn_init(&c, 4, 1);
	establish(h, &c);
	s_spec(&s, &c, FR_ACK, 0, 0, 2000); /* the server sends 2000 bytes */
	assert_int_equal(h_send(h, CN_SERVER, &s, NULL), CN_FORWARD);
	c_spec(&s, &c, FR_ACK, 0, 1000, 0); /* the client acks 1000 */
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
	s_spec(&s, &c, FR_RST, 999, 0, 0);
	h_send(h, CN_SERVER, &s, NULL);
	s_spec(&s, &c, FR_RST, 2001, 0, 0);
	h_send(h, CN_SERVER, &s, NULL);
	assert_int_equal(ctr(h)->rst_out_of_window, 2);
	assert_int_equal(ctr(h)->flows_reset, 0);
	s_spec(&s, &c, FR_RST, 1500, 0, 0);
	h_send(h, CN_SERVER, &s, NULL);
	assert_int_equal(ctr(h)->flows_reset, 1);
}

static void test_idle_expiry(void **state)
{
	struct h *h = *state;
	struct fr_spec s;
	struct conn c;
	uint64_t seen, t;

	conn_init(&c, 4, 1);
	establish(h, &c);
	h->now += h->cfg.idle_timeout_ns * 6 / 10;
	c_spec(&s, &c, FR_ACK, 0, 0, 1);
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
	seen = h->now;
	/* Ticks at every deadline up to just before idle after the last
	 * frame: the flow stays. */
	while ((t = cn_engine_next_deadline(h->eng)) < seen + h->cfg.idle_timeout_ns)
		cn_engine_tick(h->eng, t);
	cn_engine_tick(h->eng, seen + h->cfg.idle_timeout_ns - 1);
	assert_int_equal(cn_engine_flow_count(h->eng), 1);
	t = cn_engine_next_deadline(h->eng);
	assert_true(t != UINT64_MAX && t <= seen + h->cfg.idle_timeout_ns);
	cn_engine_tick(h->eng, seen + h->cfg.idle_timeout_ns);
	assert_int_equal(cn_engine_flow_count(h->eng), 0);
	assert_int_equal(ctr(h)->flows_expired, 1);
	assert_int_equal(fr_cap_events(&h->cap, CN_EV_EXPIRED), 1);
}

/* Port reuse: after a close, a SYN with a new ISN starts a new flow. */
static void test_port_reuse_after_close(void **state)
{
	struct h *h = *state;
	struct fr_spec s;
	struct conn c;

	conn_init(&c, 4, 1);
	establish(h, &c);
	c_spec(&s, &c, FR_RST, 0, 0, 0);
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
	c.cisn += 1000000;
	c.sisn += 5555;
	h->now += MS;
	do_syn(h, &c);
	check_synack(h, &c);
	assert_int_equal(ctr(h)->flows_created, 2);
	fr_cap_reset(&h->cap);
	assert_int_equal(do_synack(h, &c, NULL), CN_STOLEN);
	assert_int_equal(ctr(h)->flows_established, 2);
}

/* The client gave up during the handshake and connects again. */
static void test_new_isn_replaces_embryonic(void **state)
{
	struct h *h = *state;
	struct conn c;

	conn_init(&c, 4, 1);
	do_syn(h, &c);
	c.cisn += 99;
	h->now += MS;
	do_syn(h, &c);
	check_synack(h, &c);
	assert_int_equal(ctr(h)->flows_replaced, 1);
	assert_int_equal(cn_engine_flow_count(h->eng), 1);
}

/* A blind SYN with a random ISN on the 4-tuple of an established flow
 * (not closing) must not tear its translation down, any more than a blind
 * RST may (DESIGN-NOTES: only closing/closed flows are replaced). */
static void test_blind_syn_keeps_established(void **state)
{
	struct h *h = *state;
	struct fr_spec s, e;
	struct conn c, blind;

	conn_init(&c, 4, 1);
	establish(h, &c);
	blind = c;
	blind.cisn = c.cisn + 0x12345678;
	syn_spec(&s, &blind);
	h_send(h, CN_CLIENT, &s, NULL);
	fr_cap_reset(&h->cap);
	s_spec(&s, &c, FR_ACK, 0, 0, 20);
	assert_int_equal(h_send(h, CN_SERVER, &s, NULL), CN_FORWARD);
	s_expect(&e, &c, FR_ACK, 0, 0, 20);
	assert_frame(only(h, CN_CLIENT), &e);
}

static void test_client_rst_embryonic(void **state)
{
	struct h *h = *state;
	struct fr_spec s;
	enum cn_drop why;
	struct conn c;

	conn_init(&c, 4, 1);
	do_syn(h, &c);
	c_spec(&s, &c, FR_ACK, 0, 0, 30);
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_STOLEN);
	c_spec(&s, &c, FR_RST | FR_ACK, 30, 0, 0);
	assert_int_equal(h_send(h, CN_CLIENT, &s, &why), CN_DROP);
	assert_int_equal(why, CN_DROP_client_rst_embryonic);
	assert_int_equal(cn_engine_flow_count(h->eng), 0);
	assert_int_equal(cn_engine_buffered_bytes(h->eng), 0);
}

/* ---- untracked, offloaded, not TCP ------------------------------------- */

static void test_untracked_pass_unchanged(void **state)
{
	struct h *h = *state;
	struct fr_spec s;
	struct fr_frame fr, orig;
	struct conn c;

	conn_init(&c, 4, 1);
	for (int side = 0; side < 2; side++) {
		fr_cap_reset(&h->cap);
		if (side == CN_SERVER)
			s_spec(&s, &c, FR_ACK | FR_PSH, 0, 0, 100);
		else
			c_spec(&s, &c, FR_ACK | FR_PSH, 0, 0, 100);
		fr_build(&fr, &s);
		fr_build(&orig, &s);
		assert_int_equal(h_in(h, (enum cn_side)side, &fr, NULL), CN_FORWARD);
		assert_memory_equal(fr.f.data, orig.f.data, orig.f.len);
		assert_int_equal(h->cap.n, 1);
	}
	assert_int_equal(ctr(h)->passed_untracked, 2);
	assert_int_equal(cn_engine_flow_count(h->eng), 0);
}

static void test_partial_checksum_translated(void **state)
{
	struct h *h = *state;
	struct fr_spec s, e;
	struct conn c;
	struct fr_out *o;

	conn_init(&c, 4, 1);
	do_syn(h, &c);
	/* Held while partial, flushed still partial. */
	c_spec(&s, &c, FR_ACK | FR_PSH, 0, 0, 333);
	s.partial = true;
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_STOLEN);
	fr_cap_reset(&h->cap);
	assert_int_equal(do_synack(h, &c, NULL), CN_STOLEN);
	o = only(h, CN_SERVER);
	c_expect(&e, &c, FR_ACK | FR_PSH, 0, 0, 333);
	assert_frame(o, &e);
	assert_null(fr_verify(&o->f));
	/* Both directions once established. */
	fr_cap_reset(&h->cap);
	c_spec(&s, &c, FR_ACK | FR_PSH, 333, 50, 1000);
	s.partial = true;
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
	c_expect(&e, &c, FR_ACK | FR_PSH, 333, 50, 1000);
	assert_frame(only(h, CN_SERVER), &e);
	fr_cap_reset(&h->cap);
	s_spec(&s, &c, FR_ACK | FR_PSH, 0, 1333, 50);
	s.partial = true;
	assert_int_equal(h_send(h, CN_SERVER, &s, NULL), CN_FORWARD);
	s_expect(&e, &c, FR_ACK | FR_PSH, 0, 1333, 50);
	assert_frame(only(h, CN_CLIENT), &e);
}

/* A partial frame whose option bytes get neutralised (the length and the
 * pseudo-header do not change, so completion still comes out right). */
static void test_partial_checksum_sack_stripped(void **state)
{
	struct h *h = *state;
	struct fr_spec s;
	struct fr_view v;
	struct conn c;
	uint32_t edges[2];

	conn_init(&c, 6, 1);
	c.srv.sack = false;
	establish(h, &c);
	c_spec(&s, &c, FR_ACK, 0, 10, 0);
	edges[0] = c.spoof + 100;
	edges[1] = c.spoof + 200;
	fr_opt_nop(&s);
	fr_opt_nop(&s);
	fr_opt_sack(&s, 1, edges);
	s.partial = true;
	assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
	assert_null(fr_verify(&only(h, CN_SERVER)->f));
	view(only(h, CN_SERVER), &v);
	assert_int_equal(v.sack_n, 0);
	assert_int_equal(v.ack, c.sisn + 1 + 10);
}

static void test_bad_offload_dropped(void **state)
{
	struct h *h = *state;
	struct fr_spec s;
	struct fr_frame fr;
	enum cn_drop why;
	struct conn c;

	conn_init(&c, 4, 1);
	establish(h, &c);
	c_spec(&s, &c, FR_ACK, 0, 0, 100);
	s.partial = true;
	fr_build(&fr, &s);
	fr.f.off.csum_offset = 6; /* the UDP checksum place */
	assert_int_equal(h_in(h, CN_CLIENT, &fr, &why), CN_DROP);
	assert_int_equal(why, CN_DROP_bad_offload);
	assert_int_equal(drops(h, CN_DROP_bad_offload), 1);
}

static void test_not_tcp_passed(void **state)
{
	static const struct { uint8_t family; uint16_t etype; uint8_t proto;
			      uint16_t frag; } kinds[] = {
		{ 4, 0x0806, 0, 0 },  /* ARP */
		{ 4, 0, 1, 0 },       /* ICMP */
		{ 4, 0, 17, 0 },      /* UDP */
		{ 6, 0, 58, 0 },      /* ICMPv6 */
		{ 6, 0, 17, 0 },      /* UDP over IPv6 */
		{ 4, 0x88cc, 0, 0 },  /* LLDP */
		{ 4, 0, 0, 0x2000 },  /* a TCP first fragment */
		{ 6, 0, 44, 0 },      /* IPv6 fragment header */
	};
	struct h *h = *state;

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		for (int side = 0; side < 2; side++) {
			struct fr_spec s;
			struct fr_frame fr, orig;
			struct fr_flow fl;

			fr_flow_init(&fl, kinds[i].family, 1);
			fr_spec_c2s(&s, &fl, FR_SYN, 1, 0);
			s.ethertype = kinds[i].etype;
			s.proto = kinds[i].proto;
			s.frag = kinds[i].frag;
			s.payload_len = 40;
			fr_build(&fr, &s);
			fr_build(&orig, &s);
			fr_cap_reset(&h->cap);
			assert_int_equal(h_in(h, (enum cn_side)side, &fr, NULL),
					 CN_FORWARD);
			assert_memory_equal(fr.f.data, orig.f.data, orig.f.len);
			assert_int_equal(h->cap.n, 1); /* no SYN-ACK */
		}
	}
	assert_int_equal(ctr(h)->passed_not_tcp, 12);
	assert_int_equal(ctr(h)->passed_ip_ext, 4);
	assert_int_equal(cn_engine_flow_count(h->eng), 0);
}

static void test_malformed_passed(void **state)
{
	struct h *h = *state;
	struct fr_spec s;
	struct fr_frame fr;
	struct conn c;

	conn_init(&c, 4, 1);
	syn_spec(&s, &c);
	fr_build(&fr, &s);
	fr.f.data[14 + 20 + 12] = 0x20; /* data offset 2 */
	assert_int_equal(h_in(h, CN_CLIENT, &fr, NULL), CN_FORWARD);
	assert_int_equal(ctr(h)->passed_malformed, 1);
	assert_int_equal(fr_cap_count(&h->cap, CN_CLIENT), 0);
	/* A truncated frame of every length: no crash, nothing created. */
	fr_build(&fr, &s);
	for (uint32_t len = 0; len < fr.f.len; len++) {
		struct fr_frame t;

		memcpy(t.buf, fr.buf, len);
		t.f.data = fr_dup(fr.buf, len);
		t.f.len = len;
		t.f.off = fr.f.off;
		cn_engine_input(h->eng, CN_CLIENT, &t.f, h->now, NULL);
		free(t.f.data);
	}
	assert_int_equal(cn_engine_flow_count(h->eng), 0);
}

/* ---- many flows ------------------------------------------------------- */

static void test_many_flows_table_full(void **state)
{
	enum { N = 10000, EST = N / 2, EXTRA = N - EST };
	struct h *h = *state;
	struct conn *c = calloc(N + EXTRA, sizeof(*c));

	assert_non_null(c);
	h->cfg.max_flows = N;
	h->cfg.cache_entries = 1024;
	/* The SYN copies of N embryonic flows count against it. */
	h->cfg.buf_total_bytes = 64 << 20;
	h_start(h);
	for (uint32_t i = 0; i < N; i++) {
		conn_init(&c[i], i & 1 ? 6 : 4, i);
		h->now = T0 + i;
		do_syn(h, &c[i]);
	}
	assert_int_equal(cn_engine_flow_count(h->eng), N);
	/* Every other flow becomes established, its client having
	 * acknowledged the SYN-ACK it got. */
	for (uint32_t i = 0; i < N; i += 2) {
		struct fr_spec s;

		c_seg(&s, &c[i], false, FR_ACK, 0, 0, 0);
		assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_STOLEN);
		fr_cap_reset(&h->cap);
		assert_int_equal(do_synack(h, &c[i], NULL), CN_STOLEN);
	}
	assert_int_equal(ctr(h)->flows_established, EST);
	/* Once their servers have been silent for a SYN RTO, new SYNs push
	 * out the embryonic flows, oldest first. The client of an evicted
	 * flow believes it is connected: it gets an RST. */
	for (uint32_t k = 0; k < EXTRA; k++) {
		struct conn *n = &c[N + k];
		const struct conn *victim = &c[2 * k + 1];
		const struct fr_ev *ev;
		struct fr_spec s;
		struct fr_view v;

		conn_init(n, 4, N + k);
		h->now = T0 + h->cfg.syn_rto_ns + N + k;
		fr_cap_reset(&h->cap);
		syn_spec(&s, n);
		assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
		ev = fr_cap_last_event(&h->cap, CN_EV_EVICTED);
		assert_non_null(ev);
		assert_int_equal(ev->key.cport, victim->fl.cport);
		assert_int_equal(fr_cap_count(&h->cap, CN_CLIENT), 2);
		view(fr_cap_nth(&h->cap, CN_CLIENT, 0), &v);
		assert_true(v.flags & FR_RST);
		assert_int_equal(v.dport, victim->fl.cport);
		assert_int_equal(v.seq, victim->spoof + 1);
		view(fr_cap_nth(&h->cap, CN_CLIENT, 1), &v);
		assert_int_equal(v.flags, FR_SYN | FR_ACK);
		assert_int_equal(v.dport, n->fl.cport);
		n->spoof = v.seq;
		n->spoof_tsval = v.tsval;
		assert_int_equal(cn_engine_flow_count(h->eng), N);
	}
	assert_int_equal(ctr(h)->flows_evicted, EXTRA);
	/* The embryonic flows left are younger than a SYN RTO: a further SYN
	 * evicts none of them and passes untracked. */
	{
		struct conn young;
		struct fr_spec s;

		conn_init(&young, 4, N + EXTRA);
		fr_cap_reset(&h->cap);
		syn_spec(&s, &young);
		assert_int_equal(h_send(h, CN_CLIENT, &s, NULL), CN_FORWARD);
		assert_int_equal(fr_cap_count(&h->cap, CN_CLIENT), 0);
		assert_int_equal(ctr(h)->passed_table_full, 1);
		assert_int_equal(ctr(h)->flows_evicted, EXTRA);
	}
	/* Every established flow is still there and translating. */
	for (uint32_t i = 0; i < N; i += 2) {
		struct fr_spec s;
		struct fr_view v;

		fr_cap_reset(&h->cap);
		s_spec(&s, &c[i], FR_ACK, 0, 0, 0);
		assert_int_equal(h_send(h, CN_SERVER, &s, NULL), CN_FORWARD);
		view(only(h, CN_CLIENT), &v);
		assert_int_equal(v.seq, c[i].spoof + 1);
	}
	free(c);
}

/* A table of established flows only: a new SYN passes untouched (no
 * 0-RTT for it, no harm to the others). */
static void test_table_full_of_established(void **state)
{
	enum { N = 8 };
	struct h *h = *state;
	struct conn c[N + 1];
	struct fr_spec s;
	struct fr_frame fr, orig;

	h->cfg.max_flows = N;
	h_start(h);
	for (uint32_t i = 0; i < N; i++) {
		conn_init(&c[i], 4, i);
		establish(h, &c[i]);
	}
	conn_init(&c[N], 4, N);
	syn_spec(&s, &c[N]);
	fr_build(&fr, &s);
	fr_build(&orig, &s);
	assert_int_equal(h_in(h, CN_CLIENT, &fr, NULL), CN_FORWARD);
	assert_memory_equal(fr.f.data, orig.f.data, orig.f.len);
	assert_int_equal(fr_cap_count(&h->cap, CN_CLIENT), 0);
	assert_int_equal(ctr(h)->passed_table_full, 1);
	assert_int_equal(ctr(h)->flows_evicted, 0);
	assert_int_equal(cn_engine_flow_count(h->eng), N);
	for (uint32_t i = 0; i < N; i++) {
		struct fr_spec e;

		fr_cap_reset(&h->cap);
		s_spec(&s, &c[i], FR_ACK, 0, 0, 5);
		assert_int_equal(h_send(h, CN_SERVER, &s, NULL), CN_FORWARD);
		s_expect(&e, &c[i], FR_ACK, 0, 0, 5);
		assert_frame(only(h, CN_CLIENT), &e);
	}
}

/* ---- misc ---------------------------------------------------------------- */

static void test_config_rejected(void **state)
{
	struct h *h = *state;
	struct cn_config cfg;
	struct cn_engine *eng = (struct cn_engine *)h;

	small_config(&cfg);
	cfg.max_flows = 0;
	assert_int_equal(cn_engine_create(&eng, &cfg, secret, &h->cap.io), -22);
	assert_null(eng);
	small_config(&cfg);
	cfg.default_wscale = 15;
	assert_int_equal(cn_engine_create(&eng, &cfg, secret, &h->cap.io), -22);
}

static void test_names(void **state)
{
	(void)state;
	for (int t = CN_EV_SYN_SPOOFED; t <= CN_EV_REPLACED; t++)
		assert_string_not_equal(cn_event_name((enum cn_event_type)t), "?");
	for (int r = 1; r < CN_DROP_MAX; r++)
		assert_string_not_equal(cn_drop_name((enum cn_drop)r), "?");
}

/* Different secrets give different ISNs for the same flow. */
static void test_isn_keyed(void **state)
{
	struct h *h = *state;
	struct cn_engine *other;
	struct fr_cap cap;
	struct fr_spec s;
	struct fr_frame fr;
	struct fr_view v;
	struct conn c;
	uint8_t key2[32];

	conn_init(&c, 4, 1);
	do_syn(h, &c);
	memcpy(key2, secret, sizeof(key2));
	key2[31] ^= 0x80;
	key2[20] ^= 0x01;
	fr_cap_init(&cap);
	assert_int_equal(cn_engine_create(&other, &h->cfg, key2, &cap.io), 0);
	syn_spec(&s, &c);
	fr_build(&fr, &s);
	cn_engine_input(other, CN_CLIENT, &fr.f, h->now, NULL);
	view(fr_cap_nth(&cap, CN_CLIENT, 0), &v);
	assert_int_not_equal(v.seq, c.spoof);
	cn_engine_destroy(other);
	fr_cap_fini(&cap);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_syn_spoofed_v4),
		T(test_syn_spoofed_v6),
		T(test_syn_spoofed_vlan1),
		T(test_syn_spoofed_vlan2_v6),
		T(test_synack_options_follow_client),
		T(test_synack_mss_capped),
		T(test_syn_retransmit_same_synack),
		T(test_tfo_syn_acks_only_syn),
		T(test_early_data_flushed_in_order),
		T(test_pure_ack_superseded),
		T(test_early_retransmission_held_once),
		T(test_synack_bad_checksum),
		T(test_syn_ecn_stripped),
		T(test_client_rst_embryonic_checked),
		T(test_syn_copies_bounded),
		T(test_tracked_bad_options_dropped),
		T(test_ts_offered_to_known_server),
		T(test_handshake_ack_synthesized),
		T(test_duplicate_real_synack),
		T(test_synack_bad_ack_dropped),
		T(test_translate_v4),
		T(test_translate_v6_vlan2),
		T(test_translate_no_timestamps),
		T(test_translate_ip_options),
		T(test_translate_wraps),
		T(test_window_rescaled),
		T(test_window_server_unscaled),
		T(test_early_data_window_rescaled),
		T(test_translate_padded_frame),
		T(test_sack_neutralised),
		T(test_timestamps_stripped),
		T(test_server_sack_neutralised),
		T(test_options_cache_learns),
		T(test_cache_keeps_unasked_options),
		T(test_buffer_frames_bound),
		T(test_buffer_bytes_bound),
		T(test_buffer_total_bound),
		T(test_refused_v4),
		T(test_refused_v6_vlan),
		T(test_refused_bad_rst_ignored),
		T(test_syn_timeout),
		T(test_synack_after_resend),
		T(test_fin_close_grace),
		T(test_half_close_stays),
		T(test_rst_from_client),
		T(test_rst_from_server),
		T(test_rst_out_of_window),
		T(test_rst_window_edge),
		T(test_idle_expiry),
		T(test_port_reuse_after_close),
		T(test_new_isn_replaces_embryonic),
		T(test_blind_syn_keeps_established),
		T(test_client_rst_embryonic),
		T(test_untracked_pass_unchanged),
		T(test_partial_checksum_translated),
		T(test_partial_checksum_sack_stripped),
		T(test_bad_offload_dropped),
		T(test_not_tcp_passed),
		T(test_malformed_passed),
		T(test_many_flows_table_full),
		T(test_table_full_of_established),
		T(test_config_rejected),
		T(test_names),
		T(test_isn_keyed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
