// SPDX-License-Identifier: MIT
/*
 * The frames the box creates, through src/engine/spoofer.h: cn_craft from
 * IPv4/IPv6 templates with 0-2 VLAN tags in both directions, read back by
 * frames.c's own reader and checksummed from scratch; SYN-ACK option sets
 * for every combination, parsed back; and the ISN and TSval clocks.
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
#include "engine/spoofer.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define NS_PER_MS 1000000ULL
#define NS_PER_S 1000000000ULL

static const uint8_t key_a[16] = { 0x5a, 1, 2, 3, 4, 5, 6, 7,
				   8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t key_b[16] = { 0x5b, 1, 2, 3, 4, 5, 6, 7,
				   8, 9, 10, 11, 12, 13, 14, 15 };

static uint64_t rng = 0xda3e39cb94b95bdbULL;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

/* A template segment: the client's SYN (with TFO data) or a server's
 * data segment, as the engine would have parsed it. */
struct tmpl {
	uint8_t *data; /* exact-size copy */
	uint32_t len;
	struct cn_pkt p;
	struct fr_view v;
};

static void tmpl_make(struct tmpl *t, uint8_t family, uint8_t vlans,
		      uint8_t ip_optlen, bool from_client)
{
	struct fr_frame fr;
	struct fr_flow fl;
	struct fr_spec s;

	fr_flow_init(&fl, family, rnd());
	fl.vlans = vlans;
	fl.vlan_tpid[0] = vlans == 2 ? 0x88a8 : 0x8100;
	fl.vlan_tci[0] = (uint16_t)(0x2000 | 101);
	fl.vlan_tci[1] = 202;
	if (from_client) {
		fr_spec_c2s(&s, &fl, FR_SYN, rnd(), 0);
		fr_opt_linux_syn(&s, 1460, rnd(), 7);
	} else {
		fr_spec_s2c(&s, &fl, FR_ACK | FR_PSH, rnd(), rnd());
		fr_opt_nop(&s);
		fr_opt_nop(&s);
		fr_opt_ts(&s, rnd(), rnd());
	}
	s.payload_len = 37;
	s.ttl = 17;
	s.trailer = 5;
	if (family == 4)
		s.ip_optlen = ip_optlen;
	fr_build(&fr, &s);
	t->len = fr.f.len;
	t->data = fr_dup(fr.f.data, t->len);
	assert_int_equal(cn_parse(t->data, t->len, &t->p), CN_PARSE_TCP);
	assert_int_equal(fr_read(t->data, t->len, &t->v), 0);
}

static void random_spec(struct cn_tcp_spec *spec, uint8_t flags)
{
	struct cn_syn_opts o = {
		.mss = (uint16_t)(536 + rnd() % 9000),
		.wscale = (int8_t)((int)(rnd() % 16) - 1),
		.sack_ok = rnd() & 1,
		.ts = rnd() & 1,
	};

	memset(spec, 0, sizeof(*spec));
	spec->seq = rnd();
	spec->ack = rnd();
	spec->win = (uint16_t)rnd();
	spec->flags = flags;
	if (rnd() % 4)
		cn_synack_options(spec, &o, rnd(), rnd());
}

/* Craft into an exact CN_CRAFT_MAX buffer (ASan sees any overrun). */
static uint8_t *craft(const struct tmpl *t, bool reverse,
		      const struct cn_tcp_spec *spec, uint32_t *len)
{
	uint8_t *buf = malloc(CN_CRAFT_MAX);

	assert_non_null(buf);
	memset(buf, 0xee, CN_CRAFT_MAX);
	*len = cn_craft(buf, t->data, &t->p, reverse, spec);
	assert_true(*len <= CN_CRAFT_MAX);
	return buf;
}

static void check_crafted(const struct tmpl *t, bool reverse,
			  const struct cn_tcp_spec *spec, const uint8_t *buf,
			  uint32_t len)
{
	const struct fr_view *tv = &t->v;
	size_t alen = tv->family == 4 ? 4 : 16;
	uint32_t iph = tv->family == 4 ? 20 : 40;
	enum cn_side tside = tv->sport == 443 ? CN_SERVER : CN_CLIENT;
	enum cn_side cside = reverse ? cn_other_side(tside) : tside;
	struct cn_flow_key tk, ck;
	struct fr_view v;
	struct cn_pkt p;
	const char *why;

	assert_int_equal(fr_read(buf, len, &v), 0);
	why = fr_verify_bytes(buf, len);
	if (why)
		fail_msg("crafted frame: %s", why);
	/* L2: MACs swapped on reverse, tags exactly the template's. */
	assert_memory_equal(v.dmac, reverse ? tv->smac : tv->dmac, 6);
	assert_memory_equal(v.smac, reverse ? tv->dmac : tv->smac, 6);
	assert_int_equal(v.vlans, tv->vlans);
	for (unsigned i = 0; i < v.vlans; i++) {
		assert_int_equal(v.vlan_tpid[i], tv->vlan_tpid[i]);
		assert_int_equal(v.vlan_tci[i], tv->vlan_tci[i]);
	}
	assert_int_equal(v.ethertype, tv->ethertype);
	/* L3: addresses swapped on reverse, no options, a sane TTL. */
	assert_int_equal(v.family, tv->family);
	assert_memory_equal(v.saddr, reverse ? tv->daddr : tv->saddr, alen);
	assert_memory_equal(v.daddr, reverse ? tv->saddr : tv->daddr, alen);
	assert_int_equal(v.l3, tv->l3);
	assert_int_equal(v.l4, tv->l3 + iph);
	assert_true(v.ttl >= 32);
	if (v.family == 4) {
		assert_int_equal(buf[v.l3], 0x45);
		/* Not a fragment (MF clear, offset 0). */
		assert_int_equal(buf[v.l3 + 6] & 0x3f, 0);
		assert_int_equal(buf[v.l3 + 7], 0);
	}
	/* L4: ports swapped on reverse, the spec's fields, no payload. */
	assert_int_equal(v.sport, reverse ? tv->dport : tv->sport);
	assert_int_equal(v.dport, reverse ? tv->sport : tv->dport);
	assert_int_equal(v.seq, spec->seq);
	assert_int_equal(v.ack, spec->ack);
	assert_int_equal(v.win, spec->win);
	assert_int_equal(v.flags, spec->flags);
	assert_int_equal(v.hlen, 20 + spec->optlen);
	assert_memory_equal(buf + v.l4 + 20, spec->opts, spec->optlen);
	assert_int_equal(v.payload_len, 0);
	assert_int_equal(v.ip_end, len);
	assert_int_equal(len, tv->l3 + iph + 20 + spec->optlen);
	/* The engine finds the same flow in it, from the other side. */
	assert_int_equal(cn_parse(buf, len, &p), CN_PARSE_TCP);
	cn_pkt_flow_key(t->data, &t->p, tside, &tk);
	cn_pkt_flow_key(buf, &p, cside, &ck);
	assert_memory_equal(&tk, &ck, sizeof(tk));
}

/* Frames in both directions from one template layout. */
static void craft_layout(uint8_t fam, uint8_t vlans, uint8_t ip_optlen,
			 bool from_client)
{
	struct tmpl t;

	tmpl_make(&t, fam, vlans, ip_optlen, from_client);
	for (int i = 0; i < 40; i++) {
		bool rev = i & 2;
		struct cn_tcp_spec spec;
		uint32_t len;
		uint8_t *buf;

		random_spec(&spec, CN_TCP_ACK |
			    (i & 1 ? CN_TCP_SYN : CN_TCP_RST));
		buf = craft(&t, rev, &spec, &len);
		check_crafted(&t, rev, &spec, buf, len);
		free(buf);
	}
	free(t.data);
}

/* The two halves of one seed computation. */
static uint32_t spoof_isn(const uint8_t *key, const struct cn_flow_key *k,
			  uint64_t now)
{
	uint32_t isn, tsval;

	cn_spoof_seeds(key, k, now, &isn, &tsval);
	return isn;
}

static uint32_t spoof_tsval(const uint8_t *key, const struct cn_flow_key *k,
			    uint64_t now)
{
	uint32_t isn, tsval;

	cn_spoof_seeds(key, k, now, &isn, &tsval);
	return tsval;
}

static void test_craft_layouts(void **state)
{
	(void)state;
	for (uint8_t vlans = 0; vlans <= 2; vlans++) {
		for (int dir = 0; dir < 2; dir++) {
			craft_layout(4, vlans, 0, dir == 0);
			craft_layout(4, vlans, 12, dir == 0);
			craft_layout(6, vlans, 0, dir == 0);
		}
	}
}

/* The largest frame: two tags, IPv6, 20 option bytes, exactly the bound. */
static void test_craft_max(void **state)
{
	struct cn_syn_opts o = { 1440, 14, true, true };
	struct cn_tcp_spec spec = { .seq = 1, .ack = 2, .win = 3,
				    .flags = CN_TCP_SYN | CN_TCP_ACK };
	struct tmpl t;
	uint32_t len;
	uint8_t *buf;

	(void)state;
	tmpl_make(&t, 6, 2, 0, true);
	cn_synack_options(&spec, &o, 10, 20);
	assert_int_equal(spec.optlen, 20);
	buf = craft(&t, true, &spec, &len);
	assert_int_equal(len, CN_CRAFT_MAX);
	check_crafted(&t, true, &spec, buf, len);
	free(buf);
	free(t.data);
}

/* Option bytes are only NOPs and options the parser knows, no EOL. */
static void check_option_bytes(const uint8_t *o, uint8_t n)
{
	for (uint8_t i = 0; i < n;) {
		if (o[i] == CN_TCPOPT_NOP) {
			i++;
			continue;
		}
		assert_true(o[i] == CN_TCPOPT_MSS ||
			    o[i] == CN_TCPOPT_WSCALE ||
			    o[i] == CN_TCPOPT_SACK_PERM ||
			    o[i] == CN_TCPOPT_TS);
		assert_true(i + 1 < n);
		assert_true(o[i + 1] >= 2 && i + o[i + 1] <= n);
		i = (uint8_t)(i + o[i + 1]);
	}
}

static void test_synack_options_all(void **state)
{
	static const uint16_t msss[] = { 536, 1220, 1380, 1460, 8960, 65535 };
	static const int8_t wss[] = { -1, 0, 1, 7, 14 };
	struct tmpl t;

	(void)state;
	tmpl_make(&t, 4, 1, 0, true);
	for (size_t m = 0; m < ARRAY_LEN(msss); m++) {
		for (size_t w = 0; w < ARRAY_LEN(wss); w++) {
			for (int bits = 0; bits < 4; bits++) {
				struct cn_syn_opts o = { msss[m], wss[w],
							 bits & 1, bits & 2 };
				struct cn_tcp_spec spec;
				uint32_t tsval = rnd(), tsecr = rnd(), len;
				unsigned need = 4 + (o.ts ? 10 : 0) +
						(o.sack_ok ? 2 : 0) +
						(o.wscale >= 0 ? 3 : 0);
				struct fr_view v;
				struct cn_pkt p;
				uint8_t *buf;

				memset(&spec, 0xaa, sizeof(spec));
				spec.seq = rnd();
				spec.ack = rnd();
				spec.win = 65535;
				spec.flags = CN_TCP_SYN | CN_TCP_ACK;
				cn_synack_options(&spec, &o, tsval, tsecr);
				assert_int_equal(spec.optlen % 4, 0);
				assert_true(spec.optlen <= 20);
				assert_int_equal(spec.optlen, (need + 3) & ~3u);
				check_option_bytes(spec.opts, spec.optlen);

				buf = craft(&t, true, &spec, &len);
				check_crafted(&t, true, &spec, buf, len);
				assert_int_equal(cn_parse(buf, len, &p),
						 CN_PARSE_TCP);
				assert_int_equal(p.opt.mss, o.mss);
				assert_int_equal(p.opt.wscale, o.wscale);
				assert_int_equal(p.opt.sack_ok, o.sack_ok);
				assert_int_equal(p.opt.ts, o.ts);
				assert_int_equal(p.opt.sack_blocks, 0);
				assert_false(p.opt.fastopen);
				if (o.ts) {
					assert_int_equal(p.opt.tsval, tsval);
					assert_int_equal(p.opt.tsecr, tsecr);
				}
				/* frames.c's reader agrees. */
				assert_int_equal(fr_read(buf, len, &v), 0);
				assert_int_equal(v.mss, o.mss);
				assert_int_equal(v.ws, o.wscale);
				assert_int_equal(v.sack_perm, o.sack_ok);
				assert_int_equal(v.ts, o.ts);
				free(buf);
			}
		}
	}
	free(t.data);
}

static void test_ts_option(void **state)
{
	struct cn_tcp_spec spec;
	struct cn_pkt p;
	struct tmpl t;
	uint32_t len;
	uint8_t *buf;

	(void)state;
	tmpl_make(&t, 6, 0, 0, false);
	memset(&spec, 0xaa, sizeof(spec));
	spec.seq = 5;
	spec.ack = 6;
	spec.win = 7;
	spec.flags = CN_TCP_ACK;
	cn_ts_option(&spec, 0xfedcba98, 0x01234567);
	assert_int_equal(spec.optlen, 12);
	check_option_bytes(spec.opts, spec.optlen);
	buf = craft(&t, true, &spec, &len);
	check_crafted(&t, true, &spec, buf, len);
	assert_int_equal(cn_parse(buf, len, &p), CN_PARSE_TCP);
	assert_true(p.opt.ts);
	assert_int_equal(p.opt.tsval, 0xfedcba98);
	assert_int_equal(p.opt.tsecr, 0x01234567);
	assert_int_equal(p.opt.mss, 0);
	assert_int_equal(p.opt.wscale, -1);
	assert_false(p.opt.sack_ok);
	free(buf);
	free(t.data);
}

/* ---- ISN and TSval ------------------------------------------------------- */

static void flow_key(struct cn_flow_key *k, uint8_t family, uint32_t n)
{
	static const uint8_t doc6[4] = { 0x20, 0x01, 0x0d, 0xb8 };

	memset(k, 0, sizeof(*k));
	k->family = family;
	k->cport = (uint16_t)(20000 + n);
	k->sport = 443;
	if (family == 4) {
		memcpy(k->caddr, (uint8_t[]){ 192, 0, 2, 10 }, 4);
		memcpy(k->saddr, (uint8_t[]){ 198, 51, 100, 20 }, 4);
	} else {
		memcpy(k->caddr, doc6, 4);
		memcpy(k->saddr, doc6, 4);
		k->caddr[5] = 1;
		k->saddr[5] = 2;
		k->caddr[15] = 10;
		k->saddr[15] = 20;
	}
}

#define T0 (1234 * NS_PER_S)

static void test_isn_key_and_tuple(void **state)
{
	static const size_t fields[] = {
		offsetof(struct cn_flow_key, family),
		offsetof(struct cn_flow_key, cport),
		offsetof(struct cn_flow_key, cport) + 1,
		offsetof(struct cn_flow_key, sport),
		offsetof(struct cn_flow_key, sport) + 1,
	};
	struct cn_flow_key base, k;
	uint32_t isn[1000];

	(void)state;
	for (uint8_t fam = 4; fam <= 6; fam += 2) {
		uint32_t b;

		flow_key(&base, fam, 0);
		b = spoof_isn(key_a, &base, T0);
		assert_int_equal(spoof_isn(key_a, &base, T0), b);
		assert_int_not_equal(spoof_isn(key_b, &base, T0), b);
		for (size_t f = 0; f < ARRAY_LEN(fields); f++) {
			k = base;
			((uint8_t *)&k)[fields[f]] ^= 0x02;
			assert_int_not_equal(spoof_isn(key_a, &k, T0), b);
		}
		for (size_t i = 0; i < (fam == 4 ? 4u : 16u); i++) {
			k = base;
			k.caddr[i] ^= 0x01;
			assert_int_not_equal(spoof_isn(key_a, &k, T0), b);
			k = base;
			k.saddr[i] ^= 0x01;
			assert_int_not_equal(spoof_isn(key_a, &k, T0), b);
		}
	}
	/* Consecutive client ports: distinct ISNs, no common step. */
	for (uint32_t n = 0; n < 1000; n++) {
		flow_key(&k, 4, n);
		isn[n] = spoof_isn(key_a, &k, T0);
		assert_int_not_equal(isn[n], spoof_isn(key_b, &k, T0));
	}
	for (uint32_t n = 0; n < 1000; n++)
		for (uint32_t m = n + 1; m < 1000; m++)
			assert_int_not_equal(isn[n], isn[m]);
	assert_int_not_equal(isn[1] - isn[0], isn[2] - isn[1]);
}

/* RFC 6528: ISN = M + F(tuple, key), M ticking every 4 microseconds. */
static void test_isn_clock(void **state)
{
	struct cn_flow_key k, k2;
	uint32_t a, prev;

	(void)state;
	flow_key(&k, 4, 1);
	flow_key(&k2, 6, 2);
	a = spoof_isn(key_a, &k, T0);
	/* One second: about 250000 ticks (4 us, or 4.096 us per tick). */
	{
		uint32_t d = spoof_isn(key_a, &k, T0 + NS_PER_S) - a;

		assert_true(d >= NS_PER_S / 4200 && d <= NS_PER_S / 3900);
	}
	/* One millisecond: about 250. */
	{
		uint32_t d = spoof_isn(key_a, &k, T0 + NS_PER_MS) - a;

		assert_true(d >= 1000000 / 4200 && d <= 1000000 / 3900 + 1);
	}
	/* Every microsecond for 10 ms: never backwards, steps of 0 or 1. */
	prev = a;
	for (uint64_t us = 1; us <= 10000; us++) {
		uint32_t x = spoof_isn(key_a, &k, T0 + us * 1000);

		assert_true(x - prev <= 1);
		prev = x;
	}
	assert_true(prev - a >= 10000 / 4 - 100);
	/* The clock term is the same for every flow and key. */
	for (uint64_t dt = 1; dt < 100 * NS_PER_S; dt = dt * 3 + 7) {
		uint32_t d1 = spoof_isn(key_a, &k, T0 + dt) - a;
		uint32_t d2 = spoof_isn(key_b, &k2, T0 + dt) -
			      spoof_isn(key_b, &k2, T0);

		assert_int_equal(d1, d2);
	}
	/* Far in the future the clock wraps without harm. */
	(void)spoof_isn(key_a, &k, UINT64_MAX);
}

static void test_tsval_clock(void **state)
{
	struct cn_flow_key k, k2;
	uint32_t a, v[200];

	(void)state;
	flow_key(&k, 6, 1);
	a = spoof_tsval(key_a, &k, T0);
	assert_int_equal(spoof_tsval(key_a, &k, T0 + NS_PER_MS - 1), a);
	assert_int_equal(spoof_tsval(key_a, &k, T0 + NS_PER_MS), a + 1);
	assert_int_equal(spoof_tsval(key_a, &k, T0 + NS_PER_S), a + 1000);
	assert_int_equal(spoof_tsval(key_a, &k, T0 + 3600 * NS_PER_S),
			 a + 3600000);
	/* A per-flow, per-key offset. */
	assert_int_not_equal(spoof_tsval(key_b, &k, T0), a);
	flow_key(&k2, 6, 2);
	assert_int_not_equal(spoof_tsval(key_a, &k2, T0), a);
	for (uint32_t n = 0; n < 200; n++) {
		flow_key(&k2, n & 1 ? 6 : 4, n);
		v[n] = spoof_tsval(key_a, &k2, T0);
		assert_int_equal(spoof_tsval(key_a, &k2, T0 + 5 * NS_PER_S),
				 v[n] + 5000);
	}
	for (uint32_t n = 0; n < 200; n++)
		for (uint32_t m = n + 1; m < 200; m++)
			assert_int_not_equal(v[n], v[m]);
	/* Not the ISN under another name. */
	assert_int_not_equal(a, spoof_isn(key_a, &k, T0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_craft_layouts),
		cmocka_unit_test(test_craft_max),
		cmocka_unit_test(test_synack_options_all),
		cmocka_unit_test(test_ts_option),
		cmocka_unit_test(test_isn_key_and_tuple),
		cmocka_unit_test(test_isn_clock),
		cmocka_unit_test(test_tsval_clock),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
