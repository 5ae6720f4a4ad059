// SPDX-License-Identifier: MIT
/*
 * The sequence-space rewriter through src/engine/rewriter.h, on frames built by
 * frames.c and a hand-filled struct cn_flow. Every rewrite is compared
 * byte for byte with a frame this file patches itself (fields found by its
 * own option walker), and the checksums are recomputed from scratch: in
 * full when the rewriter patched them, after a NIC-style completion when
 * the frame's checksum was still partial.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frames.h"
#include "engine/packet.h"
#include "engine/rewriter.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t rng = 0x853c49e6748fea9bULL;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

/* Values that sit on the 2^32 wrap as often as not. */
static uint32_t rnd_seq(void)
{
	switch (rnd() % 4) {
	case 0:
		return rnd() % 64;
	case 1:
		return UINT32_MAX - rnd() % 64;
	case 2:
		return 0x80000000u + rnd() % 64 - 32;
	default:
		return rnd();
	}
}

static void wr16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static void wr32(uint8_t *b, uint32_t v)
{
	wr16(b, (uint16_t)(v >> 16));
	wr16(b + 2, (uint16_t)v);
}

static uint16_t rd16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static uint32_t rd32(const uint8_t *b)
{
	return (uint32_t)rd16(b) << 16 | rd16(b + 2);
}

/* Frame offset of the first option of this kind, 0 when there is none. */
static uint32_t opt_at(const uint8_t *d, const struct fr_view *v, uint8_t kind)
{
	uint32_t i = v->l4 + 20, end = v->l4 + v->hlen;

	while (i < end && d[i] != 0) {
		if (d[i] == kind)
			return i;
		i += d[i] == 1 ? 1 : d[i + 1];
	}
	return 0;
}

static uint16_t ref_rescale(uint16_t win, unsigned in, unsigned out)
{
	uint64_t w = ((uint64_t)win << in) >> out;

	return w > 0xffff ? 0xffff : (uint16_t)w;
}

/* ---- frames ---------------------------------------------------------- */

static void spec_for(struct fr_spec *s, uint8_t family, uint8_t vlans,
		     bool c2s, uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct fr_flow fl;

	fr_flow_init(&fl, family, 7);
	fl.vlans = vlans;
	fl.vlan_tpid[0] = vlans == 2 ? 0x88a8 : 0x8100;
	fl.vlan_tci[0] = 100;
	fl.vlan_tci[1] = 200;
	if (c2s)
		fr_spec_c2s(s, &fl, flags, seq, ack);
	else
		fr_spec_s2c(s, &fl, flags, seq, ack);
	s->payload_len = 100;
}

static void add_nops(struct fr_spec *s, unsigned n)
{
	while (n--)
		fr_opt_nop(s);
}

static void add_ts(struct fr_spec *s, unsigned nops, uint32_t tsval,
		   uint32_t tsecr)
{
	add_nops(s, nops);
	fr_opt_ts(s, tsval, tsecr);
}

static void add_sack(struct fr_spec *s, unsigned nops, unsigned n,
		     uint32_t first)
{
	uint32_t e[8];

	for (unsigned i = 0; i < 2 * n; i++)
		e[i] = first + 1000 * i + rnd() % 500;
	add_nops(s, nops);
	fr_opt_sack(s, n, e);
}

static void flow_for(struct cn_flow *f, uint32_t delta, uint32_t ts_delta)
{
	memset(f, 0, sizeof(*f));
	f->delta = delta;
	f->ts_delta = ts_delta;
	f->state = CN_FS_ESTABLISHED;
}

/* ---- the model -------------------------------------------------------- */

/* The frame as it must look after the rewrite (checksum aside). */
static void expect(uint8_t *e, const struct fr_view *v, bool c2s,
		   const struct cn_flow *f)
{
	uint8_t *th = e + v->l4;
	uint32_t ts = opt_at(e, v, 8), sack = opt_at(e, v, 5);
	uint32_t sack_len = sack ? e[sack + 1] : 0;
	unsigned in = c2s ? f->c2s_shift_in : f->s2c_shift_in;
	unsigned out = c2s ? f->c2s_shift_out : f->s2c_shift_out;

	if (c2s && (v->flags & FR_ACK))
		wr32(th + 8, v->ack - f->delta);
	if (!c2s)
		wr32(th + 4, v->seq + f->delta);
	if (!(v->flags & FR_SYN) && in != out)
		wr16(th + 14, ref_rescale(v->win, in, out));
	if (ts && c2s && f->strip_ts_c2s)
		memset(e + ts, 1, 10);
	else if (ts && c2s && f->translate_ts && (v->flags & FR_ACK))
		wr32(e + ts + 6, v->tsecr - f->ts_delta);
	else if (ts && !c2s && f->translate_ts)
		wr32(e + ts + 2, v->tsval + f->ts_delta);
	if (sack && (c2s ? f->strip_sack_c2s : f->strip_sack_s2c)) {
		memset(e + sack, 1, sack_len);
	} else if (sack && c2s) {
		for (uint32_t i = sack + 2; i < sack + sack_len; i += 4)
			wr32(e + i, rd32(e + i) - f->delta);
	}
}

struct rw_result {
	struct fr_view before, after;
	uint32_t len;
	uint8_t *data; /* the rewritten frame, owned by the caller */
};

/* Build, rewrite (patching checksums unless the spec is partial), compare
 * with the model and check the checksums from scratch. */
static void run(const struct fr_spec *s, bool c2s, const struct cn_flow *f,
		struct rw_result *r)
{
	struct fr_frame fr;
	struct cn_frame cf;
	struct cn_pkt p;
	uint8_t *want;
	uint32_t l4;
	const char *why;

	r->len = fr_build(&fr, s);
	r->data = fr_dup(fr.f.data, r->len);
	want = fr_dup(fr.f.data, r->len);
	assert_int_equal(fr_read(r->data, r->len, &r->before), 0);
	assert_int_equal(cn_parse(r->data, r->len, &p), CN_PARSE_TCP);
	cf = fr.f;
	cf.data = r->data;
	assert_true(cn_rewrite_offload_ok(&cf, &p));

	if (c2s)
		cn_rewrite_c2s(r->data, &p, f, !s->partial);
	else
		cn_rewrite_s2c(r->data, &p, f, !s->partial);

	expect(want, &r->before, c2s, f);
	l4 = r->before.l4;
	assert_memory_equal(r->data, want, l4 + 16);
	assert_memory_equal(r->data + l4 + 18, want + l4 + 18,
			    r->len - l4 - 18);
	if (s->partial) {
		/* The pseudo-header sum is for the NIC to finish: untouched. */
		assert_memory_equal(r->data + l4 + 16, fr.f.data + l4 + 16, 2);
		why = fr_verify(&cf);
		if (why)
			fail_msg("after completion: %s", why);
		assert_int_equal(fr_complete(&cf), 0);
	}
	why = fr_verify_bytes(r->data, r->len);
	if (why)
		fail_msg("%s", why);
	assert_int_equal(fr_read(r->data, r->len, &r->after), 0);
	/* Still a segment the engine can parse. */
	assert_int_equal(cn_parse(r->data, r->len, &p), CN_PARSE_TCP);
	free(want);
}

static void run_free(const struct fr_spec *s, bool c2s, const struct cn_flow *f)
{
	struct rw_result r;

	run(s, c2s, f, &r);
	free(r.data);
}

/* ---- tests --------------------------------------------------------------- */

static void test_ack_and_seq(void **state)
{
	struct cn_flow f;
	struct fr_spec s;
	struct rw_result r;

	(void)state;
	/* The plain case, by hand. */
	flow_for(&f, 100, 0);
	spec_for(&s, 4, 0, true, FR_ACK, 5000, 1000);
	run(&s, true, &f, &r);
	assert_int_equal(r.after.seq, 5000);
	assert_int_equal(r.after.ack, 900);
	free(r.data);
	spec_for(&s, 4, 0, false, FR_ACK, 1000, 5000);
	run(&s, false, &f, &r);
	assert_int_equal(r.after.seq, 1100);
	assert_int_equal(r.after.ack, 5000);
	free(r.data);

	/* Around the wrap, every layout. */
	for (int i = 0; i < 600; i++) {
		uint8_t fam = i & 1 ? 6 : 4, vlans = (uint8_t)(i / 2 % 3);
		uint8_t flags = i % 7 == 0 ? FR_RST :
				(uint8_t)(FR_ACK | (i % 5 ? 0 : FR_FIN));

		flow_for(&f, rnd_seq(), rnd());
		spec_for(&s, fam, vlans, true, flags, rnd_seq(), rnd_seq());
		s.payload_len = rnd() % 300;
		run(&s, true, &f, &r);
		assert_int_equal(r.after.ack, flags & FR_ACK ?
				 r.before.ack - f.delta : r.before.ack);
		free(r.data);
		spec_for(&s, fam, vlans, false, flags, rnd_seq(), rnd_seq());
		s.payload_len = rnd() % 300;
		run(&s, false, &f, &r);
		assert_int_equal(r.after.seq, r.before.seq + f.delta);
		free(r.data);
	}
}

/* SACK blocks acknowledge server bytes: each edge - delta towards the
 * server, untouched towards the client. 1..4 blocks behind 0..3 NOPs, with
 * and without timestamps before them, so edges sit at odd and even
 * offsets. */
static void sack_case(unsigned n, unsigned nops, bool ts, bool c2s)
{
	struct cn_flow f;
	struct fr_spec s;
	struct rw_result r;

	flow_for(&f, rnd_seq(), rnd());
	spec_for(&s, c2s ? 4 : 6, 1, c2s, FR_ACK, rnd_seq(), rnd_seq());
	if (ts)
		add_ts(&s, 2, rnd(), rnd());
	add_sack(&s, nops, n, rnd_seq());
	run(&s, c2s, &f, &r);
	assert_int_equal(r.after.sack_n, n);
	for (unsigned e = 0; e < 2 * n; e++)
		assert_int_equal(r.after.sack[e],
				 r.before.sack[e] - (c2s ? f.delta : 0));
	free(r.data);
}

static void test_sack_edges(void **state)
{
	(void)state;
	for (unsigned n = 1; n <= 4; n++) {
		for (unsigned nops = 0; nops <= 3; nops++) {
			for (unsigned ts = 0; ts <= 1; ts++) {
				if (ts * 12 + nops + 2 + 8 * n > 40)
					continue;
				sack_case(n, nops, ts, true);
				sack_case(n, nops, ts, false);
			}
		}
	}
}

/* The client echoes spoofed TSvals: TSecr - ts_delta towards the server;
 * the server's TSval + ts_delta towards the client. */
static void ts_case(unsigned nops, bool translate, bool ack)
{
	uint8_t fl = ack ? FR_ACK : FR_RST;
	struct cn_flow f;
	struct fr_spec s;
	struct rw_result r;

	flow_for(&f, rnd(), rnd_seq());
	f.translate_ts = translate;
	spec_for(&s, nops & 1 ? 6 : 4, (uint8_t)(nops % 3), true, fl,
		 rnd(), rnd());
	add_ts(&s, nops, rnd_seq(), rnd_seq());
	run(&s, true, &f, &r);
	assert_true(r.after.ts);
	assert_int_equal(r.after.tsval, r.before.tsval);
	assert_int_equal(r.after.tsecr, translate && ack ?
			 r.before.tsecr - f.ts_delta : r.before.tsecr);
	free(r.data);

	spec_for(&s, nops & 1 ? 4 : 6, 0, false, fl, rnd(), rnd());
	add_ts(&s, nops, rnd_seq(), rnd_seq());
	fr_opt_mss(&s, 1460); /* something after it */
	run(&s, false, &f, &r);
	assert_int_equal(r.after.tsval, translate ?
			 r.before.tsval + f.ts_delta : r.before.tsval);
	assert_int_equal(r.after.tsecr, r.before.tsecr);
	assert_int_equal(r.after.mss, 1460);
	free(r.data);
}

static void test_timestamps(void **state)
{
	(void)state;
	for (unsigned nops = 0; nops <= 3; nops++)
		for (unsigned bits = 0; bits < 4; bits++)
			ts_case(nops, bits & 1, bits & 2);
}

static void test_rescale_window(void **state)
{
	static const uint16_t wins[] = { 0, 1, 2, 3, 127, 128, 255, 256, 502,
					 1000, 0x7fff, 0x8000, 0xfffe, 0xffff };

	(void)state;
	assert_int_equal(cn_rescale_window(1000, 7, 0), 0xffff);
	assert_int_equal(cn_rescale_window(1000, 0, 7), 7);
	assert_int_equal(cn_rescale_window(3, 2, 0), 12);
	assert_int_equal(cn_rescale_window(0xffff, 14, 14), 0xffff);
	assert_int_equal(cn_rescale_window(0xffff, 0, 14), 3);
	assert_int_equal(cn_rescale_window(0xffff, 14, 0), 0xffff);
	assert_int_equal(cn_rescale_window(1, 14, 0), 0x4000);
	assert_int_equal(cn_rescale_window(4, 14, 0), 0xffff);
	assert_int_equal(cn_rescale_window(1, 13, 0), 0x2000);
	for (unsigned in = 0; in <= 14; in++)
		for (unsigned out = 0; out <= 14; out++)
			for (size_t i = 0; i < ARRAY_LEN(wins); i++)
				assert_int_equal(cn_rescale_window(wins[i],
						 (uint8_t)in, (uint8_t)out),
						 ref_rescale(wins[i], in, out));
}

static void test_window_in_frames(void **state)
{
	(void)state;
	for (unsigned in = 0; in <= 14; in++) {
		for (unsigned out = 0; out <= 14; out++) {
			for (unsigned dir = 0; dir < 2; dir++) {
				struct cn_flow f;
				struct fr_spec s;
				struct rw_result r;
				uint16_t win = (uint16_t)rnd();

				flow_for(&f, rnd(), 0);
				f.c2s_shift_in = f.s2c_shift_in = (uint8_t)in;
				f.c2s_shift_out = (uint8_t)out;
				f.s2c_shift_out = (uint8_t)out;
				spec_for(&s, 4, 0, !dir, FR_ACK, rnd(), rnd());
				s.win = win;
				run(&s, !dir, &f, &r);
				assert_int_equal(r.after.win,
						 ref_rescale(win, in, out));
				free(r.data);

				/* Never the window of a SYN (RFC 7323 2.2). */
				spec_for(&s, 6, 1, !dir, FR_SYN | FR_ACK * dir,
					 rnd(), dir ? rnd() : 0);
				s.win = win;
				run(&s, !dir, &f, &r);
				assert_int_equal(r.after.win, win);
				free(r.data);
			}
		}
	}
}

/* Options the other end never agreed to become NOPs, in place. */
static void test_strip(void **state)
{
	(void)state;
	for (unsigned nops = 0; nops <= 3; nops++) {
		for (unsigned n = 1; n <= 3; n++) {
			struct cn_flow f;
			struct fr_spec s;
			struct rw_result r;
			unsigned sack_len = 2 + 8 * n;

			/* TS stripped, SACK still translated. */
			flow_for(&f, rnd_seq(), rnd());
			f.strip_ts_c2s = true;
			f.translate_ts = true; /* stripping wins */
			spec_for(&s, 4, (uint8_t)(n % 3), true, FR_ACK, rnd(),
				 rnd());
			add_ts(&s, nops, rnd(), rnd());
			add_sack(&s, 3 - nops, n, rnd_seq());
			run(&s, true, &f, &r);
			assert_false(r.after.ts);
			assert_int_equal(r.after.nops, r.before.nops + 10);
			assert_int_equal(r.after.sack_n, n);
			assert_int_equal(r.after.sack[0],
					 r.before.sack[0] - f.delta);
			free(r.data);

			/* SACK stripped towards the server, TS translated. */
			flow_for(&f, rnd_seq(), rnd());
			f.strip_sack_c2s = true;
			f.translate_ts = true;
			spec_for(&s, 6, 2, true, FR_ACK, rnd(), rnd());
			add_sack(&s, nops, n, rnd_seq());
			add_ts(&s, 1, rnd(), rnd());
			run(&s, true, &f, &r);
			assert_int_equal(r.after.sack_n, 0);
			assert_int_equal(r.after.nops,
					 r.before.nops + sack_len);
			assert_true(r.after.ts);
			assert_int_equal(r.after.tsecr,
					 r.before.tsecr - f.ts_delta);
			free(r.data);

			/* SACK stripped towards the client. */
			flow_for(&f, rnd_seq(), rnd());
			f.strip_sack_s2c = true;
			spec_for(&s, 4, 0, false, FR_ACK, rnd(), rnd());
			add_sack(&s, nops, n, rnd_seq());
			run(&s, false, &f, &r);
			assert_int_equal(r.after.sack_n, 0);
			assert_int_equal(r.after.nops,
					 r.before.nops + sack_len);
			free(r.data);

			/* The other direction's strip flags do nothing. */
			flow_for(&f, rnd_seq(), rnd());
			f.strip_sack_s2c = true;
			spec_for(&s, 6, 0, true, FR_ACK, rnd(), rnd());
			add_sack(&s, nops, n, rnd_seq());
			run(&s, true, &f, &r);
			assert_int_equal(r.after.sack_n, n);
			free(r.data);
			flow_for(&f, rnd_seq(), rnd());
			f.strip_sack_c2s = f.strip_ts_c2s = true;
			spec_for(&s, 6, 0, false, FR_ACK, rnd(), rnd());
			add_ts(&s, nops, rnd(), rnd());
			add_sack(&s, 0, n, rnd_seq());
			run(&s, false, &f, &r);
			assert_true(r.after.ts);
			assert_int_equal(r.after.sack_n, n);
			free(r.data);
		}
	}
}

/* Exact values across 2^32, by hand. */
static void test_wraparound(void **state)
{
	struct cn_flow f;
	struct fr_spec s;
	struct rw_result r;

	(void)state;
	flow_for(&f, 10, 0x20);
	f.translate_ts = true;
	spec_for(&s, 4, 0, true, FR_ACK, 0xfffffff0, 5);
	fr_opt_nop(&s);
	fr_opt_nop(&s);
	fr_opt_ts(&s, 0xfffffffe, 0x10);
	fr_opt_nop(&s);
	fr_opt_sack(&s, 2, (uint32_t[]){ 4, 0x20, 0xfffffff0, 0x3 });
	run(&s, true, &f, &r);
	assert_int_equal(r.after.seq, 0xfffffff0);
	assert_int_equal(r.after.ack, 0xfffffffbu);
	assert_int_equal(r.after.tsval, 0xfffffffeu);
	assert_int_equal(r.after.tsecr, 0xfffffff0u);
	assert_int_equal(r.after.sack[0], 0xfffffffau);
	assert_int_equal(r.after.sack[1], 0x16);
	assert_int_equal(r.after.sack[2], 0xffffffe6u);
	assert_int_equal(r.after.sack[3], 0xfffffff9u);
	free(r.data);

	flow_for(&f, 0x20, 0x7);
	f.translate_ts = true;
	spec_for(&s, 6, 2, false, FR_ACK | FR_PSH, 0xfffffff0, 0xffffffff);
	fr_opt_ts(&s, 0xfffffffc, 0xffffffff);
	run(&s, false, &f, &r);
	assert_int_equal(r.after.seq, 0x10);
	assert_int_equal(r.after.ack, 0xffffffffu);
	assert_int_equal(r.after.tsval, 0x3);
	assert_int_equal(r.after.tsecr, 0xffffffffu);
	free(r.data);
}

/* A frame whose checksum the NIC will complete: the rewriter must leave the
 * pseudo-header sum alone, and the completed checksum must be right. */
static void test_partial_checksum(void **state)
{
	(void)state;
	for (int i = 0; i < 200; i++) {
		struct cn_flow f;
		struct fr_spec s;
		bool c2s = i & 1;
		unsigned n = 1 + rnd() % 3;

		flow_for(&f, rnd_seq(), rnd_seq());
		f.translate_ts = rnd() & 1;
		f.strip_ts_c2s = i % 5 == 0;
		f.strip_sack_c2s = i % 7 == 0;
		f.strip_sack_s2c = i % 6 == 0;
		f.c2s_shift_in = f.s2c_shift_in = (uint8_t)(rnd() % 15);
		f.c2s_shift_out = f.s2c_shift_out = (uint8_t)(rnd() % 15);
		spec_for(&s, i & 2 ? 6 : 4, (uint8_t)(i % 3), c2s, FR_ACK,
			 rnd_seq(), rnd_seq());
		add_ts(&s, rnd() % 4, rnd_seq(), rnd_seq());
		add_sack(&s, rnd() % 2, n, rnd_seq());
		s.payload_len = rnd() % 1400;
		s.partial = true;
		run_free(&s, c2s, &f);
	}
}

/* Everything at once, random: the model decides. */
static void test_random(void **state)
{
	(void)state;
	for (int i = 0; i < 3000; i++) {
		struct cn_flow f;
		struct fr_spec s;
		bool c2s = rnd() & 1;
		unsigned room = 40;
		uint8_t flags = (uint8_t)(rnd() % 4 ? FR_ACK : 0);

		flow_for(&f, rnd_seq(), rnd_seq());
		f.translate_ts = rnd() & 1;
		f.strip_ts_c2s = rnd() % 4 == 0;
		f.strip_sack_c2s = rnd() % 4 == 0;
		f.strip_sack_s2c = rnd() % 4 == 0;
		f.c2s_shift_in = (uint8_t)(rnd() % 15);
		f.c2s_shift_out = (uint8_t)(rnd() % 15);
		f.s2c_shift_in = (uint8_t)(rnd() % 15);
		f.s2c_shift_out = (uint8_t)(rnd() % 15);
		flags |= (uint8_t)(rnd() % 8 == 0 ? FR_SYN : 0);
		flags |= (uint8_t)(rnd() % 8 == 0 ? FR_FIN : 0);
		flags |= (uint8_t)(rnd() % 2 ? FR_PSH : 0);
		spec_for(&s, rnd() & 1 ? 6 : 4, (uint8_t)(rnd() % 3), c2s,
			 flags, rnd_seq(), rnd_seq());
		s.win = (uint16_t)rnd();
		s.payload_len = rnd() % 600;
		s.trailer = rnd() % 4 == 0 ? rnd() % 20 : 0;
		s.partial = rnd() % 3 == 0;
		if (s.family == 4 && rnd() % 4 == 0)
			s.ip_optlen = (uint8_t)(4 * (1 + rnd() % 3));
		if (rnd() & 1) {
			unsigned nops = rnd() % 4;

			add_ts(&s, nops, rnd_seq(), rnd_seq());
			room -= 10 + nops;
		}
		if (rnd() % 3 && room >= 11) {
			unsigned nops = rnd() % 4;
			unsigned n = 1 + rnd() % 4;

			while (nops + 2 + 8 * n > room)
				n--;
			if (n)
				add_sack(&s, nops, n, rnd_seq());
		}
		run_free(&s, c2s, &f);
	}
}

static void test_offload_ok(void **state)
{
	struct fr_frame fr;
	struct fr_spec s;
	struct cn_pkt p;

	(void)state;
	for (uint8_t vlans = 0; vlans <= 2; vlans++) {
		spec_for(&s, vlans == 1 ? 6 : 4, vlans, true, FR_ACK, 1, 2);
		fr_build(&fr, &s);
		assert_int_equal(cn_parse(fr.f.data, fr.f.len, &p),
				 CN_PARSE_TCP);
		/* A complete checksum: no offsets to agree with. */
		fr.f.off.csum_start = 3;
		assert_true(cn_rewrite_offload_ok(&fr.f, &p));
		fr.f.off.flags = CN_OFF_CSUM_VALID;
		assert_true(cn_rewrite_offload_ok(&fr.f, &p));

		s.partial = true;
		fr_build(&fr, &s);
		assert_true(cn_rewrite_offload_ok(&fr.f, &p));
		fr.f.off.csum_start = (uint16_t)(p.l4_off + 4);
		assert_false(cn_rewrite_offload_ok(&fr.f, &p));
		fr.f.off.csum_start = (uint16_t)(p.l4_off - 4);
		assert_false(cn_rewrite_offload_ok(&fr.f, &p));
		fr.f.off.csum_start = p.l4_off;
		fr.f.off.csum_offset = 6; /* UDP's */
		assert_false(cn_rewrite_offload_ok(&fr.f, &p));
		fr.f.off.csum_offset = 16;
		assert_true(cn_rewrite_offload_ok(&fr.f, &p));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ack_and_seq),
		cmocka_unit_test(test_sack_edges),
		cmocka_unit_test(test_timestamps),
		cmocka_unit_test(test_rescale_window),
		cmocka_unit_test(test_window_in_frames),
		cmocka_unit_test(test_strip),
		cmocka_unit_test(test_wraparound),
		cmocka_unit_test(test_partial_checksum),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_offload_ok),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
