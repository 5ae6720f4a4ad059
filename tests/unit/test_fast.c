// SPDX-License-Identifier: MIT
/*
 * The kernel fast path as the engine sees it, through src/engine/engine.h
 * and the record of src/engine/fast_flow.h. A small table here stands in
 * for the kernel's flow map behind the three fast_* callbacks: what the
 * engine puts there and when, what it makes of what the programs wrote
 * back, and flows a second engine adopts from the first one's records,
 * which must then come out of it byte for byte as out of the first.
 *
 *   client -- [ClientNIC] -- WAN -- [ServerNIC] -- server
 *
 * Without a ServerNIC the WAN ends at the server. Every frame that reaches
 * an end is checksummed from scratch by frames.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/engine.h"
#include "engine/fast.h"
#include "frames.h"

#define MS 1000000ULL
#define T0 (1000 * MS)
#define KMAP_MAX 16

enum { CNIC, SNIC };

/* ---- the kernel's flow map ------------------------------------------- */

struct kmap_entry {
	bool used;
	struct cn_flow_key key;
	struct cn_fast_flow rec;
};

struct kmap {
	struct fr_cap cap; /* first: the engine's io.ctx is both */
	struct kmap_entry e[KMAP_MAX];
	int put_err;       /* what fast_put answers; 0 stores the record */
	unsigned puts;     /* calls, failed ones too */
	unsigned dels;
	unsigned dels_unknown; /* of a key the map does not hold */
	unsigned gets;
	struct cn_fast_flow last_put;
};

static struct kmap_entry *kmap_find(struct kmap *m, const struct cn_flow_key *key)
{
	/* The kernel's hash map compares keys as bytes, padding too. */
	for (int i = 0; i < KMAP_MAX; i++)
		if (m->e[i].used && !memcmp(&m->e[i].key, key, sizeof(*key)))
			return &m->e[i];
	return NULL;
}

/* As the daemon or the programs write it: no call counted. */
static void kmap_store(struct kmap *m, const struct cn_flow_key *key,
		       const struct cn_fast_flow *rec)
{
	struct kmap_entry *e = kmap_find(m, key);

	for (int i = 0; !e && i < KMAP_MAX; i++)
		if (!m->e[i].used)
			e = &m->e[i];
	assert_non_null(e);
	e->used = true;
	e->key = *key;
	e->rec = *rec;
}

static unsigned kmap_count(const struct kmap *m)
{
	unsigned n = 0;

	for (int i = 0; i < KMAP_MAX; i++)
		n += m->e[i].used;
	return n;
}

static int on_fast_put(void *ctx, const struct cn_flow_key *key,
		       const struct cn_fast_flow *rec, bool first)
{
	struct kmap *m = ctx;

	/* A first record finds none there (one an engine adopts was). */
	if (first)
		assert_null(kmap_find(m, key));
	m->puts++;
	m->last_put = *rec;
	if (m->put_err)
		return m->put_err;
	kmap_store(m, key, rec);
	return 0;
}

static void on_fast_del(void *ctx, const struct cn_flow_key *key)
{
	struct kmap *m = ctx;
	struct kmap_entry *e = kmap_find(m, key);

	m->dels++;
	if (!e) {
		m->dels_unknown++;
		return;
	}
	e->used = false;
}

static bool on_fast_get(void *ctx, const struct cn_flow_key *key,
			struct cn_fast_flow *rec)
{
	struct kmap *m = ctx;
	struct kmap_entry *e = kmap_find(m, key);

	m->gets++;
	if (!e)
		return false;
	*rec = e->rec;
	return true;
}

static void kmap_clear(struct kmap *m)
{
	fr_cap_reset(&m->cap);
	memset(m->e, 0, sizeof(m->e));
	m->put_err = 0;
	m->puts = m->dels = m->dels_unknown = m->gets = 0;
	memset(&m->last_put, 0, sizeof(m->last_put));
}

/* ---- boxes and the wire ----------------------------------------------- */

struct box {
	struct cn_engine *eng;
	struct cn_config cfg;
	struct kmap map;  /* also what the box emits, and its events */
	size_t done;      /* frames of map.cap carried on already */
	bool fast;        /* its io has the fast_* callbacks */
	bool kclose;      /* and reads the programs' close events */
	uint8_t secret[32];
};

struct net {
	struct box box[2];     /* box[SNIC].eng NULL: no ServerNIC */
	struct fr_cap client;  /* what reaches the client */
	struct fr_cap server;  /* what reaches the server */
	uint64_t now;
	unsigned lose_synacks; /* SYN-ACKs the WAN loses towards the client */
};

/* Two networks: a and, for adoption, b with engines of other secrets. */
struct t {
	struct net a, b;
};

static void config(struct cn_config *c, enum cn_role role)
{
	cn_config_defaults(c);
	c->max_flows = 8;
	c->buf_flow_bytes = 16384;
	c->buf_flow_frames = 8;
	c->buf_total_bytes = 65536;
	c->syn_rto_ns = 50 * MS;
	c->syn_timeout_ns = 1000 * MS;
	c->idle_timeout_ns = 10000 * MS;
	c->close_grace_ns = 100 * MS;
	c->cache_entries = 64;
	/* Not the server's shift: s2c windows are rescaled. */
	c->default_wscale = 6;
	c->role = (uint8_t)role;
	c->peer_mode = CN_PEER_OFF;
}

static void net_init(struct net *n, uint8_t id)
{
	memset(n, 0, sizeof(*n));
	for (int b = 0; b < 2; b++) {
		struct box *x = &n->box[b];

		fr_cap_init(&x->map.cap);
		config(&x->cfg, b == CNIC ? CN_ROLE_CLIENTNIC : CN_ROLE_SERVERNIC);
		x->fast = true;
		for (int i = 0; i < 32; i++)
			x->secret[i] = (uint8_t)(id * 64 + b * 32 + i + 1);
	}
	fr_cap_init(&n->client);
	fr_cap_init(&n->server);
	n->now = T0;
}

static void net_fini(struct net *n)
{
	for (int b = 0; b < 2; b++) {
		cn_engine_destroy(n->box[b].eng);
		fr_cap_fini(&n->box[b].map.cap);
	}
	fr_cap_fini(&n->client);
	fr_cap_fini(&n->server);
}

/* (Re)create box b with its cfg, an empty map and nothing captured. */
static void box_start(struct net *n, int b)
{
	struct box *x = &n->box[b];
	struct cn_io io;

	cn_engine_destroy(x->eng);
	x->eng = NULL;
	kmap_clear(&x->map);
	x->done = 0;
	io = x->map.cap.io;
	if (x->fast) {
		io.fast_put = on_fast_put;
		io.fast_del = on_fast_del;
		io.fast_get = on_fast_get;
		io.fast_closes = x->kclose;
	}
	assert_int_equal(cn_engine_create(&x->eng, &x->cfg, x->secret, &io), 0);
}

static void net_start(struct net *n, bool with_snic)
{
	box_start(n, CNIC);
	if (with_snic)
		box_start(n, SNIC);
}

static int setup(void **state)
{
	struct t *t = calloc(1, sizeof(*t));

	assert_non_null(t);
	net_init(&t->a, 0);
	net_init(&t->b, 1);
	*state = t;
	return 0;
}

static int teardown(void **state)
{
	struct t *t = *state;

	net_fini(&t->a);
	net_fini(&t->b);
	free(t);
	return 0;
}

static struct net *net_a(void **state)
{
	return &((struct t *)*state)->a;
}

static void box_in(struct net *n, int b, enum cn_side from,
		   const struct cn_frame *f);

static void to_end(struct fr_cap *end, enum cn_side to, const struct cn_frame *f)
{
	const char *why = fr_verify(f);

	if (why)
		fail_msg("a frame to the %s: %s",
			 to == CN_CLIENT ? "client" : "server", why);
	end->io.emit(end->io.ctx, to, f);
}

static bool wan_loses(struct net *n, enum cn_side to, const struct cn_frame *f)
{
	struct fr_view v;

	if (to != CN_CLIENT || !n->lose_synacks ||
	    fr_read(f->data, f->len, &v) || v.flags != (FR_SYN | FR_ACK))
		return false;
	n->lose_synacks--;
	return true;
}

/* Box b put frame f out on its side 'to'. */
static void box_out(struct net *n, int b, enum cn_side to,
		    const struct cn_frame *f)
{
	if (b == CNIC && to == CN_CLIENT)
		to_end(&n->client, CN_CLIENT, f);
	else if (b == SNIC && to == CN_SERVER)
		to_end(&n->server, CN_SERVER, f);
	else if (wan_loses(n, to, f))
		return;
	else if (b == CNIC && n->box[SNIC].eng)
		box_in(n, SNIC, CN_CLIENT, f);
	else if (b == CNIC)
		to_end(&n->server, CN_SERVER, f);
	else
		box_in(n, CNIC, CN_SERVER, f);
}

static void drain(struct net *n, int b)
{
	struct box *x = &n->box[b];

	while (x->done < x->map.cap.n) {
		struct fr_out *o = &x->map.cap.out[x->done++];

		box_out(n, b, o->to, &o->f);
	}
}

static void box_in(struct net *n, int b, enum cn_side from,
		   const struct cn_frame *f)
{
	struct cn_frame fr = *f;
	enum cn_verdict v;

	/* An exact-size copy: a read past the frame trips ASan. */
	fr.data = fr_dup(f->data, f->len);
	v = cn_engine_input(n->box[b].eng, from, &fr, n->now, NULL);
	drain(n, b);
	if (v == CN_FORWARD)
		box_out(n, b, cn_other_side(from), &fr);
	free(fr.data);
}

static void client_send(struct net *n, const struct fr_spec *s)
{
	struct fr_frame fr;

	fr_build(&fr, s);
	box_in(n, CNIC, CN_CLIENT, &fr.f);
}

static void server_send(struct net *n, const struct fr_spec *s)
{
	struct fr_frame fr;

	fr_build(&fr, s);
	if (n->box[SNIC].eng)
		box_in(n, SNIC, CN_SERVER, &fr.f);
	else
		box_out(n, SNIC, CN_CLIENT, &fr.f);
}

static void tick_at(struct net *n, uint64_t t)
{
	n->now = t;
	for (int b = 0; b < 2; b++) {
		if (!n->box[b].eng)
			continue;
		cn_engine_tick(n->box[b].eng, t);
		drain(n, b);
	}
}

static const struct cn_counters *ctr(const struct net *n, int b)
{
	return cn_engine_counters(n->box[b].eng);
}

static struct kmap *map(struct net *n, int b)
{
	return &n->box[b].map;
}

/* The last frame that reached an end. */
static const struct fr_out *last(const struct fr_cap *end)
{
	assert_true(end->n > 0);
	return &end->out[end->n - 1];
}

static void view_last(const struct fr_cap *end, struct fr_view *v)
{
	const struct fr_out *o = last(end);

	assert_int_equal(fr_read(o->data, o->len, v), 0);
}

/* ---- the two ends ------------------------------------------------------- */

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
	struct sopt cli;        /* what the client's SYN offers */
	struct sopt srv;        /* what the server's SYN-ACK answers */
	uint32_t spoof;         /* seq of the SYN-ACK the client got */
	uint32_t spoof_tsval;
	bool spoof_ts;          /* that SYN-ACK agreed to timestamps */
	int spoof_ws;
	uint32_t csent, ssent;  /* sequence space each end used, FIN too */
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
	/* An MSS below the spoofed one: the record carries cut_mss. */
	c->srv = (struct sopt){ 1300, 9, true, true };
}

static void conn_key(const struct conn *c, struct cn_flow_key *k)
{
	size_t alen = c->fl.family == 4 ? 4 : 16;

	memset(k, 0, sizeof(*k));
	k->family = c->fl.family;
	k->cport = c->fl.cport;
	k->sport = c->fl.sport;
	memcpy(k->caddr, c->fl.caddr, alen);
	memcpy(k->saddr, c->fl.saddr, alen);
}

/* The record box b's map holds for c, NULL when none. */
static struct cn_fast_flow *rec_of(struct net *n, int b, const struct conn *c)
{
	struct cn_flow_key k;
	struct kmap_entry *e;

	conn_key(c, &k);
	e = kmap_find(map(n, b), &k);
	return e ? &e->rec : NULL;
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

static void c_syn(struct net *n, struct conn *c)
{
	struct fr_spec s;
	struct fr_view v;
	size_t before = n->client.n;

	syn_spec(&s, c);
	client_send(n, &s);
	assert_int_equal(n->client.n, before + 1);
	view_last(&n->client, &v);
	assert_int_equal(v.flags, FR_SYN | FR_ACK);
	c->spoof = v.seq;
	c->spoof_tsval = v.tsval;
	c->spoof_ts = v.ts;
	c->spoof_ws = v.ws;
}

static void s_synack(struct net *n, const struct conn *c)
{
	struct fr_spec s;

	fr_spec_s2c(&s, &c->fl, FR_SYN | FR_ACK, c->sisn, c->cisn + 1);
	s.win = 65160;
	if (c->srv.mss)
		fr_opt_mss(&s, c->srv.mss);
	if (c->srv.sack)
		fr_opt_sack_perm(&s);
	if (c->srv.ts)
		fr_opt_ts(&s, c->stsval, c->ctsval);
	if (c->srv.ws >= 0) {
		fr_opt_nop(&s);
		fr_opt_ws(&s, (uint8_t)c->srv.ws);
	}
	server_send(n, &s);
}

/* A client segment in its own view: it acks what the server (as the
 * client sees it) has sent. */
static void c_spec(struct fr_spec *s, const struct conn *c, uint8_t flags,
		   uint32_t len)
{
	fr_spec_c2s(s, &c->fl, flags, c->cisn + 1 + c->csent,
		    c->spoof + 1 + c->ssent);
	s->win = 502;
	if (c->spoof_ts) {
		fr_opt_nop(s);
		fr_opt_nop(s);
		fr_opt_ts(s, c->ctsval + 1, c->spoof_tsval);
	}
	s->payload_len = len;
}

/* A server segment in its own (real) space. */
static void s_spec(struct fr_spec *s, const struct conn *c, uint8_t flags,
		   uint32_t len)
{
	fr_spec_s2c(s, &c->fl, flags, c->sisn + 1 + c->ssent,
		    c->cisn + 1 + c->csent);
	s->win = 509;
	if (c->srv.ts && c->cli.ts) {
		fr_opt_nop(s);
		fr_opt_nop(s);
		fr_opt_ts(s, c->stsval + 1, c->ctsval + 1);
	}
	s->payload_len = len;
}

static uint32_t seq_used(const struct fr_spec *s)
{
	return s->payload_len + ((s->flags & FR_FIN) ? 1 : 0);
}

static void c_data(struct net *n, struct conn *c, uint8_t flags, uint32_t len)
{
	struct fr_spec s;

	c_spec(&s, c, flags, len);
	client_send(n, &s);
	c->csent += seq_used(&s);
}

static void s_data(struct net *n, struct conn *c, uint8_t flags, uint32_t len)
{
	struct fr_spec s;

	s_spec(&s, c, flags, len);
	server_send(n, &s);
	c->ssent += seq_used(&s);
}

/* A bare RST off bytes past the sender's first. */
static void rst(struct net *n, const struct conn *c, enum cn_side from,
		uint32_t off)
{
	struct fr_spec s;

	if (from == CN_CLIENT) {
		fr_spec_c2s(&s, &c->fl, FR_RST, c->cisn + 1 + off, 0);
		client_send(n, &s);
	} else {
		fr_spec_s2c(&s, &c->fl, FR_RST, c->sisn + 1 + off, 0);
		server_send(n, &s);
	}
}

/* SYN, the client's ACK and 100 bytes of early data (held), the real
 * SYN-ACK: established, what was held flushed. */
static void establish(struct net *n, struct conn *c)
{
	c_syn(n, c);
	c_data(n, c, FR_ACK, 0);
	c_data(n, c, FR_ACK | FR_PSH, 100);
	s_synack(n, c);
}

/* Both FINs and their ACKs, the client's first. */
static void close_both(struct net *n, struct conn *c)
{
	c_data(n, c, FR_ACK | FR_FIN, 0);
	s_data(n, c, FR_ACK | FR_FIN, 0);
	c_data(n, c, FR_ACK, 0);
}

/* ---- ClientNIC alone: when a record is written ------------------------- */

static void test_record_at_established(void **state)
{
	struct net *n = net_a(state);
	struct cn_flow_key k;
	const struct cn_fast_flow *r;
	struct conn c;

	net_start(n, false);
	conn_init(&c, 4, 1);
	c_syn(n, &c);
	c_data(n, &c, FR_ACK, 0);
	c_data(n, &c, FR_ACK | FR_PSH, 100);
	/* The delta is not known before the real SYN-ACK. */
	assert_int_equal(map(n, CNIC)->puts, 0);
	assert_int_equal(ctr(n, CNIC)->frames_buffered, 2);

	n->now += 7 * MS;
	s_synack(n, &c);
	/* The request alone: it acknowledges what the held ACK did. */
	assert_int_equal(ctr(n, CNIC)->frames_flushed, 1);
	assert_int_equal(ctr(n, CNIC)->acks_superseded, 1);
	assert_int_equal(map(n, CNIC)->puts, 1);
	assert_int_equal(kmap_count(map(n, CNIC)), 1);
	conn_key(&c, &k);
	assert_non_null(kmap_find(map(n, CNIC), &k));
	r = rec_of(n, CNIC, &c);
	assert_non_null(r);
	assert_int_equal(r->x.delta, c.spoof - c.sisn);
	assert_int_equal(r->x.ts_delta, c.spoof_tsval - c.stsval);
	/* The held frames went out with the SYN-ACK: nothing keeps the flow
	 * in the daemon. */
	assert_int_equal(r->x.flags, CN_FF_TRANSLATE_TS);
	assert_int_equal(r->x.cut_mss, 1300);
	assert_int_equal(c.spoof_ws, 6);
	assert_int_equal(r->x.c2s_shift_in, 7);
	assert_int_equal(r->x.c2s_shift_out, 7);
	assert_int_equal(r->x.s2c_shift_in, 9);
	assert_int_equal(r->x.s2c_shift_out, 6);
	assert_int_equal(r->client_isn, c.cisn);
	assert_int_equal(r->spoof_isn, c.spoof);
	assert_int_equal(r->real_isn, c.sisn);
	assert_int_equal(r->peer_state, CN_FP_NONE);
	assert_int_equal(r->born_ns, T0);
	assert_int_equal(r->last_seen_ns, n->now);
	assert_int_equal(r->dir[CN_CLIENT].end, c.cisn + 1 + 100);
	assert_int_equal(r->dir[CN_CLIENT].ack, c.sisn + 1);
	assert_true(r->dir[CN_CLIENT].ack_seen);
	assert_int_equal(r->dir[CN_CLIENT].max_win, 502u << 7);
	assert_int_equal(r->dir[CN_SERVER].end, c.sisn + 1);
	assert_int_equal(r->dir[CN_SERVER].ack, c.cisn + 1);
	assert_true(r->dir[CN_SERVER].ack_seen);
	assert_false(r->dir[CN_CLIENT].fin || r->dir[CN_SERVER].fin);
	assert_int_equal(map(n, CNIC)->dels, 0);
}

/*
 * A SYN whose source never answers the spoofed SYN-ACK (a flood's forged
 * one) gets its real SYN-ACK, but no record: nothing for the kernel to
 * carry, no bpf(2) call, until the client speaks.
 */
static void test_no_record_before_the_client_speaks(void **state)
{
	struct net *n = net_a(state);
	struct conn c;

	net_start(n, false);
	conn_init(&c, 4, 14);
	c_syn(n, &c);
	n->now += 5 * MS;
	s_synack(n, &c);
	assert_int_equal(ctr(n, CNIC)->flows_established, 1);
	assert_int_equal(map(n, CNIC)->puts, 0);
	assert_null(rec_of(n, CNIC, &c));
	c_data(n, &c, FR_ACK, 0);
	assert_int_equal(map(n, CNIC)->puts, 1);
	assert_non_null(rec_of(n, CNIC, &c));
}

/* Which rewrites the record asks of the programs follows what the two
 * ends agreed to, as the spoofed SYN-ACK and the real one say. */
static void test_record_flags_follow_options(void **state)
{
	static const struct {
		struct sopt cli, srv;
		uint16_t flags;
		uint8_t shifts[4]; /* c2s in, out, s2c in, out */
	} cases[] = {
		{ { 1460, 7, true, true }, { 1300, 9, true, true },
		  CN_FF_TRANSLATE_TS, { 7, 7, 9, 6 } },
		{ { 1460, 7, true, true }, { 1300, 9, true, false },
		  CN_FF_STRIP_TS_C2S, { 7, 7, 9, 6 } },
		{ { 1460, 7, true, true }, { 1300, 9, false, true },
		  CN_FF_TRANSLATE_TS | CN_FF_STRIP_SACK_C2S, { 7, 7, 9, 6 } },
		{ { 1460, 7, false, true }, { 1300, 9, true, true },
		  CN_FF_TRANSLATE_TS | CN_FF_STRIP_SACK_S2C, { 7, 7, 9, 6 } },
		{ { 1460, 7, true, true }, { 1300, 9, false, false },
		  CN_FF_STRIP_TS_C2S | CN_FF_STRIP_SACK_C2S, { 7, 7, 9, 6 } },
		/* A server that answers what it was not offered. */
		{ { 1460, -1, false, false }, { 1300, 9, true, true },
		  CN_FF_STRIP_SACK_S2C, { 0, 0, 0, 0 } },
		{ { 1460, 7, true, true }, { 1300, -1, true, true },
		  CN_FF_TRANSLATE_TS, { 7, 0, 0, 6 } },
	};
	struct net *n = net_a(state);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct cn_fast_flow *r;
		struct conn c;

		/* A fresh engine: the options cache would change the
		 * spoofed SYN-ACK of the next connection to this server. */
		net_start(n, false);
		conn_init(&c, i & 1 ? 6 : 4, 10 + (uint32_t)i);
		c.cli = cases[i].cli;
		c.srv = cases[i].srv;
		c_syn(n, &c);
		s_synack(n, &c);
		c_data(n, &c, FR_ACK, 0);
		assert_int_equal(map(n, CNIC)->puts, 1);
		r = rec_of(n, CNIC, &c);
		assert_non_null(r);
		if (r->x.flags != cases[i].flags)
			fail_msg("case %zu: flags %#x, want %#x", i,
				 r->x.flags, cases[i].flags);
		assert_int_equal(r->x.c2s_shift_in, cases[i].shifts[0]);
		assert_int_equal(r->x.c2s_shift_out, cases[i].shifts[1]);
		assert_int_equal(r->x.s2c_shift_in, cases[i].shifts[2]);
		assert_int_equal(r->x.s2c_shift_out, cases[i].shifts[3]);
	}
}

/* Data the engine translates itself changes nothing of how the kernel
 * is to translate: no write; the record is read before each frame. */
static void test_data_frames_put_nothing(void **state)
{
	struct net *n = net_a(state);
	struct fr_view v;
	struct conn c;
	unsigned gets;

	net_start(n, false);
	conn_init(&c, 6, 2);
	establish(n, &c);
	assert_int_equal(map(n, CNIC)->puts, 1);
	gets = map(n, CNIC)->gets;
	for (int i = 0; i < 3; i++) {
		n->now += MS;
		s_data(n, &c, FR_ACK | FR_PSH, 1000);
		view_last(&n->client, &v);
		assert_int_equal(v.seq, c.spoof + 1 + c.ssent - 1000);
		c_data(n, &c, FR_ACK | FR_PSH, 50);
		view_last(&n->server, &v);
		assert_int_equal(v.ack, c.sisn + 1 + c.ssent);
	}
	assert_int_equal(ctr(n, CNIC)->frames_rewritten, 1 + 6);
	assert_int_equal(map(n, CNIC)->puts, 1);
	assert_int_equal(map(n, CNIC)->gets, gets + 6);
	assert_int_equal(map(n, CNIC)->dels, 0);
}

/* A FIN from either side goes to the daemon, and the record says a FIN
 * was seen; the ACK of it may cross the kernel alone (here it does: only
 * the record learns it; the second FIN acknowledges it again). From the
 * second FIN on every frame is the daemon's (slow), the last ACK closes
 * the flow, the record says so; freed after the grace period, it is
 * deleted. */
static void fin_close(struct net *n, enum cn_side first)
{
	enum cn_side second = cn_other_side(first);
	const uint16_t fl = CN_FF_FIN | CN_FF_TRANSLATE_TS;
	struct cn_fast_flow *r;
	struct conn c;
	uint64_t closed_at;

	net_start(n, false);
	conn_init(&c, 4, 3);
	establish(n, &c);
	if (first == CN_CLIENT)
		c_data(n, &c, FR_ACK | FR_FIN, 0);
	else
		s_data(n, &c, FR_ACK | FR_FIN, 0);
	assert_int_equal(map(n, CNIC)->puts, 2);
	r = rec_of(n, CNIC, &c);
	assert_non_null(r);
	assert_int_equal(r->x.flags, fl);
	assert_true(r->dir[first].fin);

	/* The kernel carries the ACK of that FIN (server space). */
	r->dir[second].ack = first == CN_CLIENT ? c.cisn + 1 + c.csent :
						  c.sisn + 1 + c.ssent;
	r->dir[second].ack_seen = 1;
	n->now += MS;
	r->last_seen_ns = n->now;

	/* The second FIN: every frame is the daemon's from now on. */
	n->now += MS;
	if (first == CN_CLIENT)
		s_data(n, &c, FR_ACK | FR_FIN, 0);
	else
		c_data(n, &c, FR_ACK | FR_FIN, 0);
	assert_int_equal(map(n, CNIC)->puts, 3);
	r = rec_of(n, CNIC, &c);
	assert_non_null(r);
	assert_int_equal(r->x.flags, CN_FF_SLOW | fl);
	assert_int_equal(cn_engine_flow_count(n->box[CNIC].eng), 1);

	n->now += MS;
	if (first == CN_CLIENT)
		c_data(n, &c, FR_ACK, 0);
	else
		s_data(n, &c, FR_ACK, 0);
	closed_at = n->now;
	assert_int_equal(map(n, CNIC)->puts, 4);
	r = rec_of(n, CNIC, &c);
	assert_non_null(r);
	assert_int_equal(r->x.flags, CN_FF_CLOSED | CN_FF_SLOW | fl);

	tick_at(n, closed_at + n->box[CNIC].cfg.close_grace_ns - 1);
	assert_int_equal(cn_engine_flow_count(n->box[CNIC].eng), 1);
	assert_int_equal(map(n, CNIC)->dels, 0);
	tick_at(n, closed_at + n->box[CNIC].cfg.close_grace_ns);
	assert_int_equal(cn_engine_flow_count(n->box[CNIC].eng), 0);
	assert_int_equal(fr_cap_events(&map(n, CNIC)->cap, CN_EV_CLOSED), 1);
	assert_int_equal(map(n, CNIC)->dels, 1);
	assert_int_equal(map(n, CNIC)->dels_unknown, 0);
	assert_int_equal(kmap_count(map(n, CNIC)), 0);
	assert_int_equal(map(n, CNIC)->puts, 4);
}

static void test_fin_client_first(void **state)
{
	fin_close(net_a(state), CN_CLIENT);
}

static void test_fin_server_first(void **state)
{
	fin_close(net_a(state), CN_SERVER);
}

static void test_rst_record_closed(void **state)
{
	struct net *n = net_a(state);
	const struct cn_fast_flow *r;
	struct conn c;

	net_start(n, false);
	conn_init(&c, 4, 4);
	establish(n, &c);
	rst(n, &c, CN_SERVER, 0);
	assert_int_equal(ctr(n, CNIC)->flows_reset, 1);
	assert_int_equal(map(n, CNIC)->puts, 2);
	r = rec_of(n, CNIC, &c);
	assert_non_null(r);
	assert_true(r->x.flags & CN_FF_CLOSED);
	assert_true(r->x.flags & CN_FF_SLOW);
	tick_at(n, n->now + n->box[CNIC].cfg.close_grace_ns);
	assert_int_equal(map(n, CNIC)->dels, 1);
	assert_int_equal(kmap_count(map(n, CNIC)), 0);
}

/* ---- what the programs wrote back, folded in ------------------------- */

/* The kernel carried the sender's next 5000 bytes and the receiver's ACK
 * of 3000 of them: an RST at 4000 is in the window only with those. */
static void fold_rst(struct net *n, enum cn_side from)
{
	enum cn_side to = cn_other_side(from);
	struct cn_fast_flow *r;
	struct conn c;
	uint32_t sent, base;

	net_start(n, false);
	conn_init(&c, 4, 5);
	establish(n, &c);
	sent = from == CN_CLIENT ? c.csent : c.ssent;
	base = (from == CN_CLIENT ? c.cisn : c.sisn) + 1 + sent;
	r = rec_of(n, CNIC, &c);
	assert_non_null(r);
	r->dir[from].end = base + 5000;
	r->dir[to].ack = base + 3000;
	r->dir[to].ack_seen = 1;
	r->last_seen_ns = n->now + MS;
	n->now += 2 * MS;

	rst(n, &c, from, sent + 5001);
	assert_int_equal(ctr(n, CNIC)->rst_out_of_window, 1);
	rst(n, &c, from, sent + 2999);
	assert_int_equal(ctr(n, CNIC)->rst_out_of_window, 2);
	assert_int_equal(ctr(n, CNIC)->flows_reset, 0);
	rst(n, &c, from, sent + 4000);
	assert_int_equal(ctr(n, CNIC)->flows_reset, 1);
	assert_int_equal(fr_cap_events(&map(n, CNIC)->cap, CN_EV_RESET), 1);
	r = rec_of(n, CNIC, &c);
	assert_non_null(r);
	assert_true(r->x.flags & CN_FF_CLOSED);
}

static void test_fold_rst_from_server(void **state)
{
	fold_rst(net_a(state), CN_SERVER);
}

static void test_fold_rst_from_client(void **state)
{
	fold_rst(net_a(state), CN_CLIENT);
}

/* A flow the kernel carried recently is not idle: it is requeued and
 * expires only an idle timeout after what the kernel saw last. */
static void test_fold_idle_kernel_recent(void **state)
{
	struct net *n = net_a(state);
	struct cn_fast_flow *r;
	struct conn c;
	uint64_t idle = n->box[CNIC].cfg.idle_timeout_ns, seen, t;

	net_start(n, false);
	conn_init(&c, 4, 6);
	establish(n, &c);
	seen = T0 + idle * 6 / 10;
	r = rec_of(n, CNIC, &c);
	assert_non_null(r);
	r->last_seen_ns = seen;

	tick_at(n, T0 + idle);
	assert_int_equal(cn_engine_flow_count(n->box[CNIC].eng), 1);
	assert_int_equal(ctr(n, CNIC)->flows_expired, 0);
	assert_int_equal(map(n, CNIC)->dels, 0);
	t = cn_engine_next_deadline(n->box[CNIC].eng);
	assert_true(t > T0 + idle && t <= seen + idle);
	tick_at(n, seen + idle - 1);
	assert_int_equal(cn_engine_flow_count(n->box[CNIC].eng), 1);
	tick_at(n, seen + idle);
	assert_int_equal(cn_engine_flow_count(n->box[CNIC].eng), 0);
	assert_int_equal(ctr(n, CNIC)->flows_expired, 1);
	assert_int_equal(fr_cap_events(&map(n, CNIC)->cap, CN_EV_EXPIRED), 1);
	assert_int_equal(map(n, CNIC)->dels, 1);
	assert_int_equal(kmap_count(map(n, CNIC)), 0);
}

static void test_fold_idle_stale(void **state)
{
	struct net *n = net_a(state);
	struct conn c;
	unsigned gets;

	net_start(n, false);
	conn_init(&c, 6, 7);
	establish(n, &c);
	assert_non_null(rec_of(n, CNIC, &c));
	gets = map(n, CNIC)->gets;
	tick_at(n, T0 + n->box[CNIC].cfg.idle_timeout_ns);
	/* It looked before it gave up. */
	assert_int_equal(map(n, CNIC)->gets, gets + 1);
	assert_int_equal(cn_engine_flow_count(n->box[CNIC].eng), 0);
	assert_int_equal(ctr(n, CNIC)->flows_expired, 1);
	assert_int_equal(map(n, CNIC)->dels, 1);
	assert_int_equal(kmap_count(map(n, CNIC)), 0);
}

/*
 * A program may stamp a frame (bpf_ktime_get_ns) after the daemon read the
 * clock it hands to cn_engine_tick(): a last_seen past now must not make
 * the flow's idle time wrap and expire it while the kernel carries it,
 * nor (requeued at last_seen) leave expire_idle() looping.
 */
static void test_fold_idle_kernel_ahead_of_clock(void **state)
{
	struct net *n = net_a(state);
	struct cn_fast_flow *r;
	struct conn c;
	uint64_t now;

	net_start(n, false);
	conn_init(&c, 4, 8);
	establish(n, &c);
	now = T0 + n->box[CNIC].cfg.idle_timeout_ns;
	r = rec_of(n, CNIC, &c);
	assert_non_null(r);
	r->last_seen_ns = now + 1000; /* a CPU that read the clock later */
	tick_at(n, now);
	assert_int_equal(ctr(n, CNIC)->flows_expired, 0);
	assert_int_equal(cn_engine_flow_count(n->box[CNIC].eng), 1);
	assert_int_equal(map(n, CNIC)->dels, 0);
}

/*
 * A client whose ACK to the spoofed SYN-ACK was lost speaks first after
 * the real SYN-ACK: with no record yet, the kernel leaves its segment to
 * the daemon, so the engine hears it, writes the record, and a new SYN on
 * a full table does not evict the flow as a client that never said a
 * word. Later segments cross the kernel; half_open() reads the record.
 */
static void test_fold_before_half_open_eviction(void **state)
{
	struct net *n = net_a(state);
	struct cn_fast_flow *r;
	struct conn c1, c2;
	struct fr_spec s;

	n->box[CNIC].cfg.max_flows = 1;
	net_start(n, false);
	conn_init(&c1, 4, 9);
	c_syn(n, &c1);
	s_synack(n, &c1); /* the client's ACK got lost on the LAN */
	assert_null(rec_of(n, CNIC, &c1));
	n->now += 2 * n->box[CNIC].cfg.syn_rto_ns;
	c_data(n, &c1, FR_ACK | FR_PSH, 100);
	r = rec_of(n, CNIC, &c1);
	assert_non_null(r);
	assert_int_equal(r->x.flags & CN_FF_SLOW, 0);
	/* The server's answer and more went through the kernel. */
	r->dir[CN_CLIENT].ack = c1.sisn + 1 + 500;
	r->dir[CN_SERVER].end = c1.sisn + 1 + 500;
	r->last_seen_ns = n->now;

	conn_init(&c2, 4, 10);
	fr_spec_c2s(&s, &c2.fl, FR_SYN, c2.cisn, 0);
	fr_opt_linux_syn(&s, 1460, c2.ctsval, 7);
	client_send(n, &s);
	assert_int_equal(ctr(n, CNIC)->flows_evicted, 0);
	assert_int_equal(ctr(n, CNIC)->passed_table_full, 1);
	assert_non_null(rec_of(n, CNIC, &c1));
	assert_int_equal(map(n, CNIC)->dels, 0);
}

/* ---- adoption --------------------------------------------------------- */

/* Net a establishes c; net b's map gets a's record, as a successor finds
 * the kernel's map, and b's ClientNIC adopts it. */
static void adopt_from_a(struct t *t, struct conn *c)
{
	const struct cn_fast_flow *r;
	const struct fr_ev *ev;
	struct cn_flow_key k;

	net_start(&t->a, false);
	net_start(&t->b, false);
	establish(&t->a, c);
	r = rec_of(&t->a, CNIC, c);
	assert_non_null(r);
	conn_key(c, &k);
	t->b.now = t->a.now + 3 * MS;
	kmap_store(map(&t->b, CNIC), &k, r);
	assert_int_equal(cn_engine_adopt(t->b.box[CNIC].eng, &k, r, t->b.now), 0);
	assert_int_equal(ctr(&t->b, CNIC)->flows_adopted, 1);
	assert_int_equal(cn_engine_flow_count(t->b.box[CNIC].eng), 1);
	assert_int_equal(fr_cap_events(&map(&t->b, CNIC)->cap, CN_EV_ADOPTED), 1);
	ev = fr_cap_last_event(&map(&t->b, CNIC)->cap, CN_EV_ADOPTED);
	assert_non_null(ev);
	assert_memory_equal(&ev->key, &k, sizeof(k));
	assert_int_equal(ev->ev.spoof_isn, c->spoof);
	assert_int_equal(ev->ev.real_isn, c->sisn);
	assert_int_equal(ev->ev.delta, c->spoof - c->sisn);
	assert_string_equal(cn_event_name(CN_EV_ADOPTED), "adopted");
}

static void assert_same_last(const struct fr_cap *a, const struct fr_cap *b)
{
	const struct fr_out *x = last(a), *y = last(b);

	assert_int_equal(x->len, y->len);
	for (uint32_t i = 0; i < x->len; i++)
		if (x->data[i] != y->data[i])
			fail_msg("byte %u of %u: adopted %02x, original %02x",
				 i, x->len, y->data[i], x->data[i]);
}

/* Client and server segments come out of the adopter as out of the box
 * that saw the handshake: SACK edges, timestamps, rescaled windows. */
static void test_adopt_translates_like_original(void **state)
{
	struct t *t = *state;
	struct fr_spec s;
	uint32_t edges[2];
	struct conn c;

	conn_init(&c, 4, 11);
	adopt_from_a(t, &c);
	/* The record b would write is the one in its map already. */
	assert_int_equal(map(&t->b, CNIC)->puts, 0);
	t->a.now = t->b.now;

	c_spec(&s, &c, FR_ACK | FR_PSH, 300);
	edges[0] = c.spoof + 1 + 4000;
	edges[1] = c.spoof + 1 + 5000;
	fr_opt_nop(&s);
	fr_opt_nop(&s);
	fr_opt_sack(&s, 1, edges);
	client_send(&t->a, &s);
	client_send(&t->b, &s);
	c.csent += seq_used(&s);
	assert_same_last(&t->a.server, &t->b.server);

	for (int i = 0; i < 2; i++) {
		s_spec(&s, &c, FR_ACK | FR_PSH, 1000);
		server_send(&t->a, &s);
		server_send(&t->b, &s);
		c.ssent += seq_used(&s);
		assert_same_last(&t->a.client, &t->b.client);
		c_spec(&s, &c, FR_ACK, 0);
		client_send(&t->a, &s);
		client_send(&t->b, &s);
		assert_same_last(&t->a.server, &t->b.server);
	}
	c_spec(&s, &c, FR_ACK | FR_FIN, 0);
	client_send(&t->a, &s);
	client_send(&t->b, &s);
	assert_same_last(&t->a.server, &t->b.server);
	/* Every frame translated, none dropped or held. */
	assert_int_equal(t->b.server.n + t->b.client.n, 6);
	assert_int_equal(ctr(&t->b, CNIC)->frames_rewritten, 6);
	/* The FIN is in both records. */
	assert_int_equal(map(&t->b, CNIC)->puts, 1);
	assert_int_equal(map(&t->b, CNIC)->last_put.x.flags,
			 map(&t->a, CNIC)->last_put.x.flags);
	assert_true(map(&t->b, CNIC)->last_put.x.flags & CN_FF_FIN);
	assert_true(map(&t->b, CNIC)->last_put.dir[CN_CLIENT].fin);
}

/*
 * A client whose SYN-ACK was lost sends its SYN again after the flow was
 * established: the adopter answers with the SYN-ACK the client got from
 * the engine that saw the handshake (ISN, TSval, options).
 */
static void test_adopt_repeated_syn(void **state)
{
	struct t *t = *state;
	struct fr_spec s;
	struct fr_view v;
	struct conn c;

	conn_init(&c, 4, 13);
	adopt_from_a(t, &c);
	t->a.now = t->b.now;
	syn_spec(&s, &c);
	client_send(&t->a, &s);
	client_send(&t->b, &s);
	assert_int_equal(ctr(&t->b, CNIC)->synacks_resent, 1);
	assert_same_last(&t->a.client, &t->b.client);
	view_last(&t->b.client, &v);
	assert_int_equal(v.flags, FR_SYN | FR_ACK);
	assert_int_equal(v.seq, c.spoof);
	assert_int_equal(v.tsval, c.spoof_tsval);
}

/*
 * An RST at one past what the server sent is out of the window, one at
 * what the client acknowledged is in it, for the adopter as for the box
 * that saw the handshake.
 *
 * An adopted flow checks RSTs against the same window as the engine that
 * wrote its record, for sequence numbers in either half of the space
 * (edges taken from the record as they are, not folded into zeroes).
 */
static void adopt_rst_window(struct t *t, uint32_t cisn, uint32_t sisn)
{
	struct conn c;

	conn_init(&c, 4, 12);
	c.cisn = cisn;
	c.sisn = sisn;
	adopt_from_a(t, &c);
	t->a.now = t->b.now;
	rst(&t->a, &c, CN_SERVER, 1);
	rst(&t->b, &c, CN_SERVER, 1);
	assert_int_equal(ctr(&t->a, CNIC)->rst_out_of_window, 1);
	assert_int_equal(ctr(&t->b, CNIC)->flows_reset, 0);
	assert_int_equal(ctr(&t->b, CNIC)->rst_out_of_window, 1);
	rst(&t->a, &c, CN_CLIENT, c.csent + 1);
	rst(&t->b, &c, CN_CLIENT, c.csent + 1);
	assert_int_equal(ctr(&t->a, CNIC)->rst_out_of_window, 2);
	assert_int_equal(ctr(&t->b, CNIC)->rst_out_of_window, 2);
	rst(&t->a, &c, CN_SERVER, 0);
	rst(&t->b, &c, CN_SERVER, 0);
	assert_int_equal(ctr(&t->a, CNIC)->flows_reset, 1);
	assert_int_equal(ctr(&t->b, CNIC)->flows_reset, 1);
}

static void test_adopt_rst_window_low_seq(void **state)
{
	adopt_rst_window(*state, 0x10000000u, 0x30000000u);
}

static void test_adopt_rst_window_high_seq(void **state)
{
	adopt_rst_window(*state, 0x90000000u, 0xc0000000u);
}

static void test_adopt_rejected(void **state)
{
	struct t *t = *state;
	struct cn_engine *b;
	struct cn_fast_flow rec, bad;
	struct cn_flow_key k, k2;
	struct conn c;

	conn_init(&c, 6, 13);
	net_start(&t->a, false);
	establish(&t->a, &c);
	assert_non_null(rec_of(&t->a, CNIC, &c));
	rec = *rec_of(&t->a, CNIC, &c);
	conn_key(&c, &k);

	t->b.box[CNIC].cfg.max_flows = 3;
	net_start(&t->b, false);
	b = t->b.box[CNIC].eng;
	assert_int_equal(cn_engine_adopt(b, &k, &rec, t->b.now), 0);
	assert_int_equal(cn_engine_adopt(b, &k, &rec, t->b.now), -EEXIST);

	k2 = k;
	k2.family = 5;
	assert_int_equal(cn_engine_adopt(b, &k2, &rec, t->b.now), -EINVAL);
	k2.family = 0;
	assert_int_equal(cn_engine_adopt(b, &k2, &rec, t->b.now), -EINVAL);
	k2 = k;
	k2.cport++;
	for (int i = 0; i < 4; i++) {
		uint8_t *sh[4] = { &bad.x.c2s_shift_in, &bad.x.c2s_shift_out,
				   &bad.x.s2c_shift_in, &bad.x.s2c_shift_out };

		bad = rec;
		*sh[i] = 15;
		assert_int_equal(cn_engine_adopt(b, &k2, &bad, t->b.now), -EINVAL);
	}
	bad = rec;
	bad.x.flags |= CN_FF_ALL + 1;
	assert_int_equal(cn_engine_adopt(b, &k2, &bad, t->b.now), -EINVAL);
	bad = rec;
	bad.x.flags = 0x8000;
	assert_int_equal(cn_engine_adopt(b, &k2, &bad, t->b.now), -EINVAL);
	bad = rec;
	bad.peer_state = 0xff;
	assert_int_equal(cn_engine_adopt(b, &k2, &bad, t->b.now), -EINVAL);
	assert_int_equal(cn_engine_flow_count(b), 1);
	assert_int_equal(ctr(&t->b, CNIC)->flows_adopted, 1);

	/* The largest shift there is, and every flag an engine writes. */
	bad = rec;
	bad.x.c2s_shift_in = bad.x.s2c_shift_out = 14;
	bad.x.flags = CN_FF_ALL;
	assert_int_equal(cn_engine_adopt(b, &k2, &bad, t->b.now), 0);
	k2.cport++;
	assert_int_equal(cn_engine_adopt(b, &k2, &rec, t->b.now), 0);
	k2.cport++;
	assert_int_equal(cn_engine_adopt(b, &k2, &rec, t->b.now), -ENOSPC);
	assert_int_equal(cn_engine_flow_count(b), 3);
	assert_int_equal(ctr(&t->b, CNIC)->flows_adopted, 3);
	assert_int_equal(fr_cap_events(&map(&t->b, CNIC)->cap, CN_EV_ADOPTED), 3);
}

/* A flow that closed under the predecessor stays the grace period, from
 * its adoption on, and its record goes with it. */
static void test_adopt_closed_freed_after_grace(void **state)
{
	struct t *t = *state;
	const struct cn_fast_flow *r;
	struct cn_flow_key k;
	struct conn c;
	uint64_t at;

	conn_init(&c, 4, 14);
	net_start(&t->a, false);
	net_start(&t->b, false);
	establish(&t->a, &c);
	close_both(&t->a, &c);
	r = rec_of(&t->a, CNIC, &c);
	assert_non_null(r);
	assert_true(r->x.flags & CN_FF_CLOSED);
	conn_key(&c, &k);
	kmap_store(map(&t->b, CNIC), &k, r);
	at = t->b.now = t->a.now + 50 * MS;
	assert_int_equal(cn_engine_adopt(t->b.box[CNIC].eng, &k, r, at), 0);
	assert_int_equal(map(&t->b, CNIC)->puts, 0);
	tick_at(&t->b, at + t->b.box[CNIC].cfg.close_grace_ns - 1);
	assert_int_equal(cn_engine_flow_count(t->b.box[CNIC].eng), 1);
	tick_at(&t->b, at + t->b.box[CNIC].cfg.close_grace_ns);
	assert_int_equal(cn_engine_flow_count(t->b.box[CNIC].eng), 0);
	assert_int_equal(ctr(&t->b, CNIC)->flows_closed, 1);
	assert_int_equal(fr_cap_events(&map(&t->b, CNIC)->cap, CN_EV_CLOSED), 1);
	assert_int_equal(map(&t->b, CNIC)->dels, 1);
	assert_int_equal(map(&t->b, CNIC)->dels_unknown, 0);
	assert_int_equal(kmap_count(map(&t->b, CNIC)), 0);
}

/* The client's FIN as the programs record it. */
static void kernel_client_fin(struct cn_fast_flow *r, const struct conn *c)
{
	r->dir[CN_CLIENT].fin = 1;
	r->dir[CN_CLIENT].fin_seq = c->cisn + 1 + c->csent;
	r->dir[CN_CLIENT].end = c->cisn + 1 + c->csent + 1;
}

/* A FIN the programs recorded while no daemon was there: the adopter
 * writes the record again, saying so (the FIN's ACK may cross the kernel;
 * the other end's FIN comes to the adopter). */
static void test_adopt_flags_follow_state(void **state)
{
	struct t *t = *state;
	struct cn_fast_flow rec;
	struct cn_flow_key k;
	struct conn c;

	conn_init(&c, 4, 15);
	net_start(&t->a, false);
	net_start(&t->b, false);
	establish(&t->a, &c);
	assert_non_null(rec_of(&t->a, CNIC, &c));
	rec = *rec_of(&t->a, CNIC, &c);
	kernel_client_fin(&rec, &c);
	conn_key(&c, &k);
	kmap_store(map(&t->b, CNIC), &k, &rec);
	assert_int_equal(cn_engine_adopt(t->b.box[CNIC].eng, &k, &rec, t->b.now), 0);
	assert_int_equal(map(&t->b, CNIC)->puts, 1);
	assert_int_equal(map(&t->b, CNIC)->last_put.x.flags,
			 CN_FF_FIN | CN_FF_TRANSLATE_TS);
	assert_true(map(&t->b, CNIC)->last_put.dir[CN_CLIENT].fin);
}

/* ---- the pair ----------------------------------------------------------- */

/* SYN with the peer option, early data held by the ClientNIC, the
 * SYN-ACK, a reply. */
static void pair_conn(struct net *n, struct conn *c)
{
	establish(n, c);
	s_data(n, c, FR_ACK | FR_PSH, 1000);
}

/* The ServerNIC translates; the ClientNIC passes the flow, and has the
 * receipt that lets it translate should the peer vanish. */
static void test_pair_records(void **state)
{
	struct net *n = net_a(state);
	const struct cn_fast_flow *r;
	struct fr_view v;
	struct conn c;

	n->box[CNIC].cfg.peer_mode = CN_PEER_AUTO;
	net_start(n, true);
	conn_init(&c, 4, 16);
	pair_conn(n, &c);
	view_last(&n->client, &v);
	assert_int_equal(v.seq, c.spoof + 1);
	assert_int_equal(ctr(n, SNIC)->flows_taken_over, 1);
	assert_int_equal(ctr(n, CNIC)->flows_taken_over, 1);
	assert_int_equal(ctr(n, SNIC)->synacks_receipt, 1);

	r = rec_of(n, SNIC, &c);
	assert_non_null(r);
	assert_int_equal(map(n, SNIC)->puts, 1);
	assert_true(r->x.flags & CN_FF_PROBES);
	assert_true(r->x.flags & CN_FF_TRANSLATE_TS);
	assert_false(r->x.flags & (CN_FF_PASSTHROUGH | CN_FF_RELAYED | CN_FF_SLOW));
	assert_int_equal(r->x.delta, c.spoof - c.sisn);
	assert_int_equal(r->x.ts_delta, c.spoof_tsval - c.stsval);

	r = rec_of(n, CNIC, &c);
	assert_non_null(r);
	assert_int_equal(map(n, CNIC)->puts, 1);
	assert_true(r->x.flags & CN_FF_PASSTHROUGH);
	assert_true(r->x.flags & CN_FF_RELAYED);
	assert_false(r->x.flags & (CN_FF_PROBES | CN_FF_SLOW | CN_FF_CLOSED));
	assert_int_equal(r->peer_state, CN_FP_RELAYED);
	/* From the receipt: what it needs to take over. */
	assert_int_equal(r->real_isn, c.sisn);
	assert_int_equal(r->x.delta, c.spoof - c.sisn);
}

/* The peer's SYN-ACK is lost, its translated reply is not: the ClientNIC
 * passes the flow without a receipt, so not as relayed. */
static void test_pair_blind_not_relayed(void **state)
{
	struct net *n = net_a(state);
	const struct cn_fast_flow *r;
	struct conn c;

	n->box[CNIC].cfg.peer_mode = CN_PEER_AUTO;
	net_start(n, true);
	conn_init(&c, 4, 17);
	n->lose_synacks = 1;
	pair_conn(n, &c);
	assert_int_equal(n->lose_synacks, 0);
	assert_int_equal(ctr(n, CNIC)->flows_taken_late, 1);
	r = rec_of(n, CNIC, &c);
	assert_non_null(r);
	assert_true(r->x.flags & CN_FF_PASSTHROUGH);
	assert_false(r->x.flags & CN_FF_RELAYED);
	assert_int_equal(r->peer_state, CN_FP_RELAYED_BLIND);
}

/* ---- the kernel path refuses ---------------------------------------- */

/* No record: the engine translates every frame itself, and tries to
 * write one again with the next frame. */
static void test_put_failure_counted(void **state)
{
	struct net *n = net_a(state);
	struct fr_view v;
	struct conn c;

	net_start(n, false);
	map(n, CNIC)->put_err = -ENOSPC;
	conn_init(&c, 4, 18);
	establish(n, &c);
	assert_int_equal(ctr(n, CNIC)->fast_put_failed, 1);
	assert_int_equal(kmap_count(map(n, CNIC)), 0);
	assert_int_equal(ctr(n, CNIC)->frames_flushed, 1);

	s_data(n, &c, FR_ACK | FR_PSH, 700);
	view_last(&n->client, &v);
	assert_int_equal(v.seq, c.spoof + 1);
	assert_int_equal(v.payload_len, 700);
	c_data(n, &c, FR_ACK, 0);
	view_last(&n->server, &v);
	assert_int_equal(v.ack, c.sisn + 1 + 700);
	assert_int_equal(ctr(n, CNIC)->frames_rewritten, 3);
	assert_int_equal(ctr(n, CNIC)->fast_put_failed, 3);
	/* Nothing to read back, nothing to delete. */
	assert_int_equal(map(n, CNIC)->gets, 0);
	assert_int_equal(map(n, CNIC)->dels, 0);

	map(n, CNIC)->put_err = 0;
	c_data(n, &c, FR_ACK, 0);
	assert_non_null(rec_of(n, CNIC, &c));
	assert_int_equal(ctr(n, CNIC)->fast_put_failed, 3);
	assert_int_equal(map(n, CNIC)->puts, 4);
}

/* A record the engine cannot bring up to date would have the kernel go
 * on as before (here: past a FIN the daemon must see): it is deleted. */
static void test_put_failure_drops_stale_record(void **state)
{
	struct net *n = net_a(state);
	struct fr_view v;
	struct conn c;

	net_start(n, false);
	conn_init(&c, 4, 19);
	establish(n, &c);
	assert_non_null(rec_of(n, CNIC, &c));
	map(n, CNIC)->put_err = -ENOSPC;
	c_data(n, &c, FR_ACK | FR_FIN, 0);
	assert_int_equal(ctr(n, CNIC)->fast_put_failed, 1);
	assert_int_equal(map(n, CNIC)->dels, 1);
	assert_int_equal(kmap_count(map(n, CNIC)), 0);
	s_data(n, &c, FR_ACK | FR_FIN, 0);
	view_last(&n->client, &v);
	assert_int_equal(v.seq, c.spoof + 1);
	assert_true(v.flags & FR_FIN);
	c_data(n, &c, FR_ACK, 0);
	/* Closed and freed with no record: no delete of what is not there. */
	tick_at(n, n->now + n->box[CNIC].cfg.close_grace_ns);
	assert_int_equal(cn_engine_flow_count(n->box[CNIC].eng), 0);
	assert_int_equal(map(n, CNIC)->dels, 1);
}

/* ---- flows the kernel closes (CN_FF_KCLOSE) ----------------------------- */

/* Both FINs and their ACKs as the programs record them, with nothing of
 * it through the daemon. */
static void kernel_closes(struct cn_fast_flow *r, const struct conn *c)
{
	uint32_t cfin = c->cisn + 1 + c->csent, sfin = c->sisn + 1 + c->ssent;

	r->dir[CN_CLIENT].fin = r->dir[CN_SERVER].fin = 1;
	r->dir[CN_CLIENT].fin_seq = cfin;
	r->dir[CN_SERVER].fin_seq = sfin;
	r->dir[CN_CLIENT].end = cfin + 1;
	r->dir[CN_SERVER].end = sfin + 1;
	r->dir[CN_CLIENT].ack = sfin + 1;
	r->dir[CN_SERVER].ack = cfin + 1;
	r->dir[CN_CLIENT].ack_seen = r->dir[CN_SERVER].ack_seen = 1;
	r->close_told = 1;
}

/* A ClientNIC that reads the close events, and an established flow. */
static void kclose_start(struct net *n, struct conn *c, uint32_t id)
{
	n->box[CNIC].kclose = true;
	net_start(n, false);
	conn_init(c, 4, id);
	establish(n, c);
}

static int told(struct net *n, const struct conn *c, const struct cn_fast_flow *r)
{
	struct cn_flow_key k;

	conn_key(c, &k);
	return cn_engine_fast_closed(n->box[CNIC].eng, &k, r, n->now);
}

/*
 * The record asks the programs to close the flow; the last ACK's event
 * closes it here without a frame: no record written again, freed after
 * the grace period and its record deleted. A second event for it changes
 * nothing; one after it is freed, or for another connection on the
 * 4-tuple, is counted stale.
 */
static void test_kclose_event_closes(void **state)
{
	struct net *n = net_a(state);
	struct cn_fast_flow *r, ev;
	struct conn c;
	uint64_t closed_at;

	kclose_start(n, &c, 30);
	r = rec_of(n, CNIC, &c);
	assert_non_null(r);
	assert_int_equal(r->x.flags, CN_FF_KCLOSE | CN_FF_TRANSLATE_TS);
	assert_int_equal(map(n, CNIC)->puts, 1);

	/* Half the close only: nothing to do. */
	n->now += MS;
	ev = *r;
	kernel_closes(&ev, &c);
	ev.dir[CN_SERVER].ack_seen = 0;
	assert_int_equal(told(n, &c, &ev), -EALREADY);
	assert_int_equal(ctr(n, CNIC)->flows_closed_kernel, 0);

	n->now += MS;
	kernel_closes(r, &c);
	r->last_seen_ns = n->now;
	ev = *r;
	/* Another connection on the 4-tuple: not this one's close. */
	ev.client_isn++;
	assert_int_equal(told(n, &c, &ev), -ENOENT);
	assert_int_equal(ctr(n, CNIC)->fast_closes_stale, 1);
	ev.client_isn--;
	closed_at = n->now;
	assert_int_equal(told(n, &c, &ev), 0);
	assert_int_equal(ctr(n, CNIC)->flows_closed_kernel, 1);
	assert_int_equal(told(n, &c, &ev), -EALREADY);
	assert_int_equal(map(n, CNIC)->puts, 1);

	tick_at(n, closed_at + n->box[CNIC].cfg.close_grace_ns - 1);
	assert_int_equal(cn_engine_flow_count(n->box[CNIC].eng), 1);
	assert_int_equal(map(n, CNIC)->dels, 0);
	tick_at(n, closed_at + n->box[CNIC].cfg.close_grace_ns);
	assert_int_equal(cn_engine_flow_count(n->box[CNIC].eng), 0);
	assert_int_equal(ctr(n, CNIC)->flows_closed, 1);
	assert_int_equal(fr_cap_events(&map(n, CNIC)->cap, CN_EV_CLOSED), 1);
	assert_int_equal(map(n, CNIC)->dels, 1);
	assert_int_equal(map(n, CNIC)->dels_unknown, 0);
	assert_int_equal(told(n, &c, &ev), -ENOENT);
	assert_int_equal(ctr(n, CNIC)->fast_closes_stale, 2);
	assert_int_equal(map(n, CNIC)->puts, 1);
}

/* A FIN that does reach the daemon (held data flushed with it, a
 * retransmission it looks at) goes into the record; with both known the
 * rest of the close is the daemon's, which closes the flow on the last
 * ACK. */
static void test_kclose_fin_through_daemon(void **state)
{
	struct net *n = net_a(state);
	const uint16_t fl = CN_FF_KCLOSE | CN_FF_FIN | CN_FF_TRANSLATE_TS;
	const struct cn_fast_flow *r;
	struct conn c;

	kclose_start(n, &c, 31);
	c_data(n, &c, FR_ACK | FR_FIN, 0);
	r = rec_of(n, CNIC, &c);
	assert_non_null(r);
	assert_int_equal(r->x.flags, fl);
	assert_true(r->dir[CN_CLIENT].fin);
	s_data(n, &c, FR_ACK | FR_FIN, 0);
	r = rec_of(n, CNIC, &c);
	assert_int_equal(r->x.flags, CN_FF_SLOW | fl);
	c_data(n, &c, FR_ACK, 0);
	r = rec_of(n, CNIC, &c);
	assert_int_equal(r->x.flags, CN_FF_CLOSED | CN_FF_SLOW | fl);
	assert_int_equal(ctr(n, CNIC)->flows_closed_kernel, 0);
	tick_at(n, n->now + n->box[CNIC].cfg.close_grace_ns);
	assert_int_equal(ctr(n, CNIC)->flows_closed, 1);
	assert_int_equal(kmap_count(map(n, CNIC)), 0);
}

/* The client's next connection on the 4-tuple, its SYN read before the
 * close event: the record read for the SYN says the kernel closed the
 * flow, which the SYN replaces (an established one would stay, the SYN
 * challenged by the server). */
static void test_kclose_syn_before_event(void **state)
{
	struct net *n = net_a(state);
	struct cn_fast_flow *r;
	struct conn c, next;

	kclose_start(n, &c, 34);
	n->now += MS;
	r = rec_of(n, CNIC, &c);
	assert_non_null(r);
	kernel_closes(r, &c);
	next = c;
	next.cisn += 1000000;
	n->now += MS;
	c_syn(n, &next);
	assert_int_equal(ctr(n, CNIC)->flows_closed_kernel, 1);
	assert_int_equal(ctr(n, CNIC)->flows_replaced, 1);
	assert_int_equal(ctr(n, CNIC)->syns_challenged, 0);
	assert_int_equal(ctr(n, CNIC)->synacks_spoofed, 2);
	assert_null(rec_of(n, CNIC, &c));
	assert_int_equal(told(n, &c, r), -ENOENT);
}

/* A successor takes a closing flow from a daemon that let the kernel close
 * it: with several workers its record loses the flag (the FINs come to
 * the daemon again); one the kernel closed while nobody read the ring is
 * closed on adoption, freed after the grace period. */
static void test_kclose_adopted(void **state)
{
	struct t *t = *state;
	struct cn_fast_flow rec;
	struct cn_flow_key k;
	struct conn c, d;

	t->a.box[CNIC].kclose = true;
	net_start(&t->a, false);
	net_start(&t->b, false);
	conn_init(&c, 4, 35);
	conn_init(&d, 4, 36);
	establish(&t->a, &c);
	establish(&t->a, &d);

	rec = *rec_of(&t->a, CNIC, &c);
	assert_true(rec.x.flags & CN_FF_KCLOSE);
	kernel_client_fin(&rec, &c);
	conn_key(&c, &k);
	kmap_store(map(&t->b, CNIC), &k, &rec);
	assert_int_equal(cn_engine_adopt(t->b.box[CNIC].eng, &k, &rec, t->b.now), 0);
	assert_int_equal(map(&t->b, CNIC)->last_put.x.flags,
			 CN_FF_FIN | CN_FF_TRANSLATE_TS);

	rec = *rec_of(&t->a, CNIC, &d);
	kernel_closes(&rec, &d);
	conn_key(&d, &k);
	t->b.box[CNIC].kclose = true;
	box_start(&t->b, CNIC);
	kmap_store(map(&t->b, CNIC), &k, &rec);
	assert_int_equal(cn_engine_adopt(t->b.box[CNIC].eng, &k, &rec, t->b.now), 0);
	assert_int_equal(map(&t->b, CNIC)->last_put.x.flags,
			 CN_FF_KCLOSE | CN_FF_CLOSED | CN_FF_SLOW | CN_FF_FIN |
				 CN_FF_TRANSLATE_TS);
	assert_int_equal(cn_engine_fast_closed(t->b.box[CNIC].eng, &k, &rec, t->b.now),
			 -EALREADY);
	tick_at(&t->b, t->b.now + t->b.box[CNIC].cfg.close_grace_ns);
	assert_int_equal(cn_engine_flow_count(t->b.box[CNIC].eng), 0);
	assert_int_equal(kmap_count(map(&t->b, CNIC)), 0);
}

/* Events the ring could not take: the sweep reads the records back and
 * closes the flows the kernel closed, and those only. */
static void test_kclose_sweep(void **state)
{
	struct net *n = net_a(state);
	struct conn a, b;
	struct cn_fast_flow *r;
	uint32_t at = 0;
	unsigned closed = 0, slices = 0;

	n->box[CNIC].kclose = true;
	net_start(n, false);
	conn_init(&a, 4, 32);
	conn_init(&b, 6, 33);
	establish(n, &a);
	establish(n, &b);
	n->now += MS;
	r = rec_of(n, CNIC, &a);
	assert_non_null(r);
	kernel_closes(r, &a);
	r = rec_of(n, CNIC, &b);
	kernel_closes(r, &b);
	r->dir[CN_CLIENT].ack_seen = 0; /* its last ACK still on the way */
	/* In slices of three slots, to the end of the table. */
	do {
		at = cn_engine_fast_sweep(n->box[CNIC].eng, n->now, at, 3, &closed);
		assert_true(at == 0 || at % 3 == 0);
		slices++;
	} while (at);
	assert_int_equal(slices, (n->box[CNIC].cfg.max_flows + 2) / 3);
	assert_int_equal(closed, 1);
	assert_int_equal(ctr(n, CNIC)->flows_closed_kernel, 1);
	closed = 0;
	assert_int_equal(cn_engine_fast_sweep(n->box[CNIC].eng, n->now, 0,
					      UINT32_MAX, &closed), 0);
	assert_int_equal(closed, 0);
	tick_at(n, n->now + n->box[CNIC].cfg.close_grace_ns);
	assert_int_equal(cn_engine_flow_count(n->box[CNIC].eng), 1);
	assert_null(rec_of(n, CNIC, &a));
	assert_non_null(rec_of(n, CNIC, &b));
}

/* ---- no kernel path ---------------------------------------------------- */

static void test_without_fast_callbacks(void **state)
{
	struct net *n = net_a(state);
	struct cn_fast_flow rec = { .x.flags = CN_FF_TRANSLATE_TS };
	struct cn_flow_key k;
	struct fr_view v;
	struct conn c;

	n->box[CNIC].fast = false;
	net_start(n, false);
	conn_init(&c, 4, 20);
	establish(n, &c);
	s_data(n, &c, FR_ACK | FR_PSH, 10);
	view_last(&n->client, &v);
	assert_int_equal(v.seq, c.spoof + 1);
	close_both(n, &c);
	tick_at(n, n->now + n->box[CNIC].cfg.close_grace_ns);
	assert_int_equal(ctr(n, CNIC)->flows_closed, 1);

	conn_init(&c, 4, 21);
	conn_key(&c, &k);
	assert_int_equal(cn_engine_adopt(n->box[CNIC].eng, &k, &rec, n->now), 0);
	assert_int_equal(ctr(n, CNIC)->fast_put_failed, 0);
	cn_engine_destroy(n->box[CNIC].eng);
	n->box[CNIC].eng = NULL;
	assert_int_equal(map(n, CNIC)->puts + map(n, CNIC)->gets +
			 map(n, CNIC)->dels, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_record_at_established),
		T(test_record_flags_follow_options),
		T(test_data_frames_put_nothing),
		T(test_fin_client_first),
		T(test_fin_server_first),
		T(test_rst_record_closed),
		T(test_fold_rst_from_server),
		T(test_fold_rst_from_client),
		T(test_fold_idle_kernel_recent),
		T(test_fold_idle_stale),
		T(test_fold_idle_kernel_ahead_of_clock),
		T(test_fold_before_half_open_eviction),
		T(test_adopt_translates_like_original),
		T(test_adopt_repeated_syn),
		T(test_no_record_before_the_client_speaks),
		T(test_adopt_rst_window_low_seq),
		T(test_adopt_rst_window_high_seq),
		T(test_adopt_rejected),
		T(test_adopt_closed_freed_after_grace),
		T(test_adopt_flags_follow_state),
		T(test_pair_records),
		T(test_pair_blind_not_relayed),
		T(test_put_failure_counted),
		T(test_put_failure_drops_stale_record),
		T(test_kclose_event_closes),
		T(test_kclose_fin_through_daemon),
		T(test_kclose_syn_before_event),
		T(test_kclose_adopted),
		T(test_kclose_sweep),
		T(test_without_fast_callbacks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
