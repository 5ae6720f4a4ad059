// SPDX-License-Identifier: MIT
/* The frame parser on frames built byte by byte: every supported layout,
 * everything it must refuse, and truncation at every offset. Buffers are
 * exact-size heap copies, so an out-of-bounds read trips ASan. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frames.h"
#include "engine/packet.h"

static enum cn_parse_result parse_exact(const uint8_t *d, uint32_t len,
					struct cn_pkt *p)
{
	uint8_t *c = fr_dup(d, len);
	enum cn_parse_result r = cn_parse(c, len, p);

	free(c);
	return r;
}

/* A SYN with every option the parser knows, as a Linux client sends it
 * plus SACK blocks and a TFO cookie. */
static void full_spec(struct fr_spec *s, const struct fr_flow *fl)
{
	static const uint8_t cookie[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	fr_spec_c2s(s, fl, FR_SYN, 0x11223344, 0);
	fr_opt_mss(s, 1460);
	fr_opt_sack_perm(s);
	fr_opt_ts(s, 0xaabbccdd, 0x01020304);
	fr_opt_nop(s);
	fr_opt_ws(s, 7);
	fr_opt_tfo(s, cookie, sizeof(cookie));
	s->payload_len = 33;
}

/* The parser's view agrees with the reader's. */
static void check_same(const struct fr_frame *fr, const struct cn_pkt *p)
{
	struct fr_view v;

	assert_int_equal(fr_read(fr->f.data, fr->f.len, &v), 0);
	assert_int_equal(p->family, v.family);
	assert_int_equal(p->vlans, v.vlans);
	assert_int_equal(p->l3_off, v.l3);
	assert_int_equal(p->l4_off, v.l4);
	assert_int_equal(p->ip_end, v.ip_end);
	assert_int_equal(p->tcp_hlen, v.hlen);
	assert_int_equal(p->payload_len, v.payload_len);
	assert_int_equal(p->flags, v.flags);
	assert_int_equal(p->seq, v.seq);
	assert_int_equal(p->ack, v.ack);
	assert_int_equal(p->win, v.win);
	assert_int_equal(p->opt.mss, v.mss < 0 ? 0 : v.mss);
	assert_int_equal(p->opt.wscale, v.ws);
	assert_int_equal(p->opt.sack_ok, v.sack_perm);
	assert_int_equal(p->opt.ts, v.ts);
	if (v.ts) {
		assert_int_equal(p->opt.tsval, v.tsval);
		assert_int_equal(p->opt.tsecr, v.tsecr);
		assert_int_equal(fr->f.data[p->opt.ts_off], 8);
		assert_int_equal(fr->f.data[p->opt.ts_off + 1], 10);
	}
	assert_int_equal(p->opt.sack_blocks, v.sack_n);
	if (v.sack_n)
		assert_int_equal(fr->f.data[p->opt.sack_off], 5);
	assert_int_equal(p->opt.fastopen, v.tfo);
}

static void parse_layout(uint8_t family, uint8_t vlans, uint8_t ip_optlen)
{
	struct fr_flow fl;
	struct fr_spec s;
	struct fr_frame fr;
	struct cn_pkt p;

	fr_flow_init(&fl, family, 7);
	fl.vlans = vlans;
	fl.vlan_tpid[0] = vlans == 2 ? 0x88a8 : 0x8100;
	fl.vlan_tci[0] = 100;
	fl.vlan_tci[1] = 200;
	full_spec(&s, &fl);
	s.ip_optlen = family == 4 ? ip_optlen : 0;
	memset(s.ip_opts, 1, s.ip_optlen); /* NOPs */
	fr_build(&fr, &s);
	assert_null(fr_verify(&fr.f));
	assert_int_equal(parse_exact(fr.f.data, fr.f.len, &p), CN_PARSE_TCP);
	check_same(&fr, &p);
	assert_int_equal(p.l3_off, 14 + 4 * vlans);
	assert_int_equal(p.l4_off, p.l3_off + (family == 4 ? 20 + s.ip_optlen : 40));
	assert_int_equal(p.opt.mss, 1460);
	assert_int_equal(p.opt.wscale, 7);
	assert_true(p.opt.sack_ok && p.opt.ts && p.opt.fastopen);
	assert_int_equal(p.opt.tsval, 0xaabbccdd);
	assert_int_equal(p.opt.tsecr, 0x01020304);
	assert_int_equal(p.payload_len, 33);
	assert_int_equal(cn_pkt_seg_len(&p), 34);
}

static void test_layouts(void **state)
{
	(void)state;
	for (uint8_t vlans = 0; vlans <= 2; vlans++) {
		parse_layout(4, vlans, 0);
		parse_layout(4, vlans, 4);
		parse_layout(4, vlans, 40);
		parse_layout(6, vlans, 0);
	}
}

static void test_flow_key_both_sides(void **state)
{
	struct fr_flow fl;
	struct fr_spec s;
	struct fr_frame a, b;
	struct cn_pkt pa, pb;
	struct cn_flow_key ka, kb;

	(void)state;
	for (uint8_t family = 4; family <= 6; family += 2) {
		fr_flow_init(&fl, family, 1234);
		fr_spec_c2s(&s, &fl, FR_ACK, 1, 2);
		fr_build(&a, &s);
		fr_spec_s2c(&s, &fl, FR_ACK, 2, 1);
		fr_build(&b, &s);
		assert_int_equal(cn_parse(a.f.data, a.f.len, &pa), CN_PARSE_TCP);
		assert_int_equal(cn_parse(b.f.data, b.f.len, &pb), CN_PARSE_TCP);
		cn_pkt_flow_key(a.f.data, &pa, CN_CLIENT, &ka);
		cn_pkt_flow_key(b.f.data, &pb, CN_SERVER, &kb);
		assert_memory_equal(&ka, &kb, sizeof(ka));
		assert_int_equal(ka.family, family);
		assert_int_equal(ka.cport, fl.cport);
		assert_int_equal(ka.sport, fl.sport);
		assert_memory_equal(ka.caddr, fl.caddr, family == 4 ? 4 : 16);
		assert_memory_equal(ka.saddr, fl.saddr, family == 4 ? 4 : 16);
		assert_memory_equal(cn_pkt_saddr(a.f.data, &pa), fl.caddr,
				    family == 4 ? 4 : 16);
		assert_memory_equal(cn_pkt_daddr(a.f.data, &pa), fl.saddr,
				    family == 4 ? 4 : 16);
	}
}

/* Ethernet padding after a short IP packet is not payload. */
static void test_ethernet_padding(void **state)
{
	struct fr_flow fl;
	struct fr_spec s;
	struct fr_frame fr;
	struct cn_pkt p;

	(void)state;
	fr_flow_init(&fl, 4, 1);
	fr_spec_c2s(&s, &fl, FR_ACK, 1, 2);
	s.trailer = 6; /* 54 -> 60 bytes, the Ethernet minimum */
	fr_build(&fr, &s);
	assert_int_equal(fr.f.len, 60);
	assert_int_equal(parse_exact(fr.f.data, fr.f.len, &p), CN_PARSE_TCP);
	assert_int_equal(p.payload_len, 0);
	assert_int_equal(p.ip_end, 54);
}

static void test_not_tcp(void **state)
{
	struct fr_flow fl;
	struct fr_spec s;
	struct fr_frame fr;
	struct cn_pkt p;

	(void)state;
	fr_flow_init(&fl, 4, 1);
	fr_spec_c2s(&s, &fl, 0, 0, 0);
	s.ethertype = 0x0806; /* ARP */
	fr_build(&fr, &s);
	assert_int_equal(parse_exact(fr.f.data, fr.f.len, &p), CN_PARSE_NOT_TCP);
	s.ethertype = 0;
	s.proto = 1; /* ICMP */
	fr_build(&fr, &s);
	assert_int_equal(parse_exact(fr.f.data, fr.f.len, &p), CN_PARSE_NOT_TCP);
	s.proto = 17; /* UDP */
	fr_build(&fr, &s);
	assert_int_equal(parse_exact(fr.f.data, fr.f.len, &p), CN_PARSE_NOT_TCP);
	fr_flow_init(&fl, 6, 1);
	fr_spec_c2s(&s, &fl, 0, 0, 0);
	s.proto = 58; /* ICMPv6 */
	fr_build(&fr, &s);
	assert_int_equal(parse_exact(fr.f.data, fr.f.len, &p), CN_PARSE_NOT_TCP);
	s.proto = 17;
	fr.f.len = fr_build(&fr, &s);
	assert_int_equal(parse_exact(fr.f.data, fr.f.len, &p), CN_PARSE_NOT_TCP);
	/* Three tags deep: more than the parser follows. */
	fr_flow_init(&fl, 4, 1);
	fl.vlans = 2;
	fr_spec_c2s(&s, &fl, FR_ACK, 0, 0);
	s.ethertype = 0x8100;
	fr_build(&fr, &s);
	assert_int_not_equal(parse_exact(fr.f.data, fr.f.len, &p), CN_PARSE_TCP);
}

static void test_ip_ext(void **state)
{
	static const uint8_t ext[] = { 0, 43, 44, 60 };
	struct fr_flow fl;
	struct fr_spec s;
	struct fr_frame fr;
	struct cn_pkt p;

	(void)state;
	fr_flow_init(&fl, 6, 1);
	for (size_t i = 0; i < sizeof(ext); i++) {
		fr_spec_c2s(&s, &fl, FR_ACK, 1, 1);
		s.proto = 17;
		fr_build(&fr, &s);
		fr.f.data[14 + 6] = ext[i]; /* 0 is hop-by-hop, not "default" */
		assert_int_equal(parse_exact(fr.f.data, fr.f.len, &p),
				 CN_PARSE_IP_EXT);
	}
	fr_flow_init(&fl, 4, 1);
	fr_spec_c2s(&s, &fl, FR_ACK, 1, 1);
	s.frag = 0x2000; /* more fragments */
	fr_build(&fr, &s);
	assert_int_equal(parse_exact(fr.f.data, fr.f.len, &p), CN_PARSE_IP_EXT);
	s.frag = 0x0010; /* offset 128 */
	fr_build(&fr, &s);
	assert_int_equal(parse_exact(fr.f.data, fr.f.len, &p), CN_PARSE_IP_EXT);
	s.frag = 0x4000; /* DF alone: a whole segment */
	fr_build(&fr, &s);
	assert_int_equal(parse_exact(fr.f.data, fr.f.len, &p), CN_PARSE_TCP);
}

/* Every prefix of a valid frame: never TCP, never out of bounds. */
static void truncate_all(const struct fr_frame *fr)
{
	struct cn_pkt p;

	for (uint32_t len = 0; len < fr->f.len; len++) {
		enum cn_parse_result r = parse_exact(fr->f.data, len, &p);

		if (r == CN_PARSE_TCP)
			fail_msg("prefix of %u of %u bytes parsed as TCP", len,
				 fr->f.len);
	}
	assert_int_equal(parse_exact(fr->f.data, fr->f.len, &p), CN_PARSE_TCP);
}

static void test_truncated(void **state)
{
	struct fr_flow fl;
	struct fr_spec s;
	struct fr_frame fr;

	(void)state;
	for (uint8_t family = 4; family <= 6; family += 2) {
		for (uint8_t vlans = 0; vlans <= 2; vlans++) {
			fr_flow_init(&fl, family, 3);
			fl.vlans = vlans;
			full_spec(&s, &fl);
			if (family == 4) {
				s.ip_optlen = 8;
				memset(s.ip_opts, 1, 8);
			}
			fr_build(&fr, &s);
			truncate_all(&fr);
		}
	}
}

/* Frame s with one byte at frame offset off set to v must parse as want. */
static void expect_poke(const struct fr_spec *s, uint32_t off, uint8_t v,
			enum cn_parse_result want)
{
	struct fr_frame fr;
	struct cn_pkt p;

	fr_build(&fr, s);
	fr.f.data[off] = v;
	assert_int_equal(parse_exact(fr.f.data, fr.f.len, &p), want);
}

static void test_bad_ip_headers(void **state)
{
	struct fr_flow fl;
	struct fr_spec s;
	struct fr_frame fr;
	uint32_t len;

	(void)state;
	fr_flow_init(&fl, 4, 1);
	fr_spec_c2s(&s, &fl, FR_ACK, 1, 1);
	s.payload_len = 10;
	len = fr_build(&fr, &s);
	for (uint8_t ihl = 0; ihl < 5; ihl++)
		expect_poke(&s, 14, (uint8_t)(0x40 | ihl), CN_PARSE_MALFORMED);
	expect_poke(&s, 14, 0x4f, CN_PARSE_MALFORMED); /* 60 > 50 bytes */
	expect_poke(&s, 14, 0x55, CN_PARSE_MALFORMED); /* version 5 */
	/* Total length past the frame, and shorter than the header. */
	expect_poke(&s, 16, 0xff, CN_PARSE_MALFORMED);
	expect_poke(&s, 17, (uint8_t)(len - 14 + 1), CN_PARSE_MALFORMED);
	expect_poke(&s, 17, 19, CN_PARSE_MALFORMED);
	/* Total length leaving no room for a TCP header. */
	expect_poke(&s, 17, 20 + 19, CN_PARSE_MALFORMED);
	/* IPv6 payload length past the frame. */
	fr_flow_init(&fl, 6, 1);
	fr_spec_c2s(&s, &fl, FR_ACK, 1, 1);
	expect_poke(&s, 14 + 4, 0x01, CN_PARSE_MALFORMED);
	expect_poke(&s, 14 + 5, 19, CN_PARSE_MALFORMED);
	expect_poke(&s, 14, 0x40, CN_PARSE_MALFORMED); /* version 4 */
}

static void test_bad_data_offset(void **state)
{
	struct fr_flow fl;
	struct fr_spec s;
	uint32_t doff_at = 14 + 20 + 12;

	(void)state;
	fr_flow_init(&fl, 4, 1);
	fr_spec_c2s(&s, &fl, FR_ACK, 1, 1);
	fr_opt_ts(&s, 1, 2);
	/* 32-byte header, no payload. */
	for (uint8_t doff = 0; doff < 5; doff++)
		expect_poke(&s, doff_at, (uint8_t)(doff << 4), CN_PARSE_MALFORMED);
	for (uint8_t doff = 9; doff < 16; doff++)
		expect_poke(&s, doff_at, (uint8_t)(doff << 4), CN_PARSE_MALFORMED);
	expect_poke(&s, doff_at, 5 << 4, CN_PARSE_TCP);
	expect_poke(&s, doff_at, 8 << 4, CN_PARSE_TCP);
}

/* TCP options: bad lengths make the option list BAD_OPTIONS (the fixed
 * header stays usable, so the engine can find the flow). */
static void expect_opts(const uint8_t *o, uint8_t n, enum cn_parse_result want)
{
	struct fr_flow fl;
	struct fr_spec s;
	struct fr_frame fr;
	struct cn_pkt p;

	fr_flow_init(&fl, 4, 1);
	fr_spec_c2s(&s, &fl, FR_SYN, 1, 0);
	fr_opt_raw(&s, o, n);
	s.payload_len = 20; /* bytes past the header must not be taken as options */
	fr_build(&fr, &s);
	assert_int_equal(parse_exact(fr.f.data, fr.f.len, &p), want);
}

static void test_bad_options(void **state)
{
	(void)state;
	expect_opts((const uint8_t[]){ 2, 0, 5, 0xb4 }, 4, CN_PARSE_BAD_OPTIONS);
	expect_opts((const uint8_t[]){ 2, 1, 5, 0xb4 }, 4, CN_PARSE_BAD_OPTIONS);
	expect_opts((const uint8_t[]){ 2, 8, 5, 0xb4 }, 4, CN_PARSE_BAD_OPTIONS);
	expect_opts((const uint8_t[]){ 99, 0, 1, 1 }, 4, CN_PARSE_BAD_OPTIONS);
	expect_opts((const uint8_t[]){ 99, 1, 1, 1 }, 4, CN_PARSE_BAD_OPTIONS);
	expect_opts((const uint8_t[]){ 1, 1, 1, 99 }, 4, CN_PARSE_BAD_OPTIONS);
	expect_opts((const uint8_t[]){ 1, 1, 99, 3 }, 4, CN_PARSE_BAD_OPTIONS);
	expect_opts((const uint8_t[]){ 8, 10, 0, 0 }, 4, CN_PARSE_BAD_OPTIONS);
	expect_opts((const uint8_t[]){ 5, 12, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1 },
		    12, CN_PARSE_BAD_OPTIONS); /* SACK of 10 bytes: not blocks of 8 */
	expect_opts((const uint8_t[]){ 5, 2, 1, 1 }, 4, CN_PARSE_BAD_OPTIONS);
	expect_opts((const uint8_t[]){ 3, 4, 7, 1 }, 4, CN_PARSE_BAD_OPTIONS);
	expect_opts((const uint8_t[]){ 4, 3, 0, 1 }, 4, CN_PARSE_BAD_OPTIONS);
	/* Unknown option of sane length, EOL with junk after it: fine. */
	expect_opts((const uint8_t[]){ 99, 4, 0, 0 }, 4, CN_PARSE_TCP);
	expect_opts((const uint8_t[]){ 0, 2, 0, 5 }, 4, CN_PARSE_TCP);
}

static void test_wscale_clamped(void **state)
{
	struct fr_flow fl;
	struct fr_spec s;
	struct fr_frame fr;
	struct cn_pkt p;

	(void)state;
	fr_flow_init(&fl, 4, 1);
	fr_spec_c2s(&s, &fl, FR_SYN, 1, 0);
	fr_opt_ws(&s, 200);
	fr_build(&fr, &s);
	assert_int_equal(parse_exact(fr.f.data, fr.f.len, &p), CN_PARSE_TCP);
	assert_int_equal(p.opt.wscale, 14);
}

static void test_sack_blocks(void **state)
{
	static const uint32_t e[8] = { 10, 20, 30, 40, 50, 60, 0xfffffff0, 5 };
	struct fr_flow fl;
	struct fr_spec s;
	struct fr_frame fr;
	struct cn_pkt p;

	(void)state;
	fr_flow_init(&fl, 6, 1);
	for (unsigned n = 1; n <= 4; n++) {
		fr_spec_c2s(&s, &fl, FR_ACK, 1, 1);
		fr_opt_nop(&s);
		fr_opt_nop(&s);
		fr_opt_sack(&s, n, e);
		fr_build(&fr, &s);
		assert_int_equal(parse_exact(fr.f.data, fr.f.len, &p), CN_PARSE_TCP);
		check_same(&fr, &p);
		assert_int_equal(p.opt.sack_blocks, n);
		assert_int_equal(p.opt.sack_off, p.l4_off + 22);
	}
}

/* Random corruption of valid frames: whatever the verdict, the offsets of
 * a TCP result stay inside the buffer (and ASan sees every read). */
static void test_random_corruption(void **state)
{
	uint64_t x = 0x243f6a8885a308d3ULL;
	struct fr_flow fl;
	struct fr_spec s;
	struct fr_frame fr;

	(void)state;
	for (int iter = 0; iter < 20000; iter++) {
		struct cn_pkt p;
		uint8_t *c;
		uint32_t len;

		fr_flow_init(&fl, iter & 1 ? 6 : 4, 1);
		fl.vlans = (uint8_t)(iter % 3);
		full_spec(&s, &fl);
		len = fr_build(&fr, &s);
		for (int k = 0; k < 1 + iter % 4; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			fr.f.data[(x >> 8) % len] = (uint8_t)x;
		}
		len -= (uint32_t)((x >> 40) % 4 == 0 ? (x >> 20) % len : 0);
		c = fr_dup(fr.f.data, len);
		if (cn_parse(c, len, &p) == CN_PARSE_TCP) {
			assert_true(p.l4_off + p.tcp_hlen <= p.ip_end);
			assert_true(p.ip_end <= len);
			assert_int_equal(p.ip_end - p.l4_off - p.tcp_hlen,
					 p.payload_len);
			assert_true(p.opt.wscale <= CN_MAX_WSCALE);
			if (p.opt.ts)
				assert_true(p.opt.ts_off + 10u <=
					    p.l4_off + p.tcp_hlen);
			if (p.opt.sack_blocks)
				assert_true(p.opt.sack_off + 2u +
					    8u * p.opt.sack_blocks <=
					    p.l4_off + p.tcp_hlen);
		}
		free(c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layouts),
		cmocka_unit_test(test_flow_key_both_sides),
		cmocka_unit_test(test_ethernet_padding),
		cmocka_unit_test(test_not_tcp),
		cmocka_unit_test(test_ip_ext),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_bad_ip_headers),
		cmocka_unit_test(test_bad_data_offset),
		cmocka_unit_test(test_bad_options),
		cmocka_unit_test(test_wscale_clamped),
		cmocka_unit_test(test_sack_blocks),
		cmocka_unit_test(test_random_corruption),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
