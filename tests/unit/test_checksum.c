// SPDX-License-Identifier: MIT
/* src/engine/checksum.c against the plain RFC 1071 sum of frames.c: full sums on
 * random data of every parity, and incremental updates (RFC 1624 eqn. 3)
 * against a full recompute, including the 0x0000/0xFFFF corners. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "engine/checksum.h"
#include "frames.h"

#define WORDS 32      /* a 64-byte "header" */
#define CHECK_AT 16   /* where its checksum lives (as in TCP) */

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static void fill(uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)rnd();
}

static uint16_t get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static void set16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

/* The checksum field for hdr as computed from scratch. */
static uint16_t full(uint8_t *hdr)
{
	uint8_t c[WORDS * 2];

	memcpy(c, hdr, sizeof(c));
	set16(c + CHECK_AT, 0);
	return fr_csum(c, sizeof(c), 0);
}

static void seal(uint8_t *hdr)
{
	set16(hdr + CHECK_AT, 0);
	set16(hdr + CHECK_AT, fr_csum(hdr, WORDS * 2, 0));
}

static void test_full_sum_random(void **state)
{
	static uint8_t buf[2000];

	(void)state;
	for (int iter = 0; iter < 2000; iter++) {
		size_t len = rnd() % sizeof(buf);

		fill(buf, len);
		assert_int_equal(cn_csum_fold(cn_csum_add(0, buf, len)),
				 fr_csum(buf, len, 0));
	}
	/* All ones: the largest carries. */
	memset(buf, 0xff, sizeof(buf));
	for (size_t len = 0; len < 64; len++)
		assert_int_equal(cn_csum_fold(cn_csum_add(0, buf, len)),
				 fr_csum(buf, len, 0));
	/* Long enough to overflow a careless 16-bit accumulator many times. */
	assert_int_equal(cn_csum_fold(cn_csum_add(0, buf, sizeof(buf))),
			 fr_csum(buf, sizeof(buf), 0));
}

static void test_full_sum_chained(void **state)
{
	uint8_t buf[1500];

	(void)state;
	for (int iter = 0; iter < 500; iter++) {
		size_t len = rnd() % sizeof(buf), cut = (rnd() % (len + 1)) & ~1u;
		uint32_t s;

		fill(buf, len);
		s = cn_csum_add(0, buf, cut);
		s = cn_csum_add(s, buf + cut, len - cut);
		assert_int_equal(cn_csum_fold(s), fr_csum(buf, len, 0));
	}
}

static void test_fold_corners(void **state)
{
	(void)state;
	assert_int_equal(cn_csum_fold(0), 0xffff);
	assert_int_equal(cn_csum_fold(0xffff), 0x0000);
	assert_int_equal(cn_csum_fold(0x1fffe), 0x0000);
	assert_int_equal(cn_csum_fold(0x10000), 0xfffe);
	assert_int_equal(cn_csum_fold(0xffffffff), 0x0000);
	assert_int_equal(cn_csum_fold(0x00012345), (uint16_t)~0x2346);
}

/* Pseudo-header laid out as bytes in front of the segment, summed by the
 * reference code: an independent route to the same value. */
static uint16_t ref_tcp(const uint8_t *s, const uint8_t *d, size_t alen,
			const uint8_t *seg, size_t len)
{
	static uint8_t b[40 + 2000];
	size_t o = 0;

	memcpy(b, s, alen);
	memcpy(b + alen, d, alen);
	o = 2 * alen;
	if (alen == 4) {
		b[o++] = 0;
		b[o++] = 6;
		set16(b + o, (uint16_t)len);
		o += 2;
	} else {
		memset(b + o, 0, 8);
		set16(b + o + 2, (uint16_t)len);
		b[o + 7] = 6;
		o += 8;
	}
	memcpy(b + o, seg, len);
	return fr_csum(b, o + len, 0);
}

static void test_tcp_checksum_random(void **state)
{
	uint8_t s[16], d[16], seg[1800];

	(void)state;
	for (int iter = 0; iter < 2000; iter++) {
		size_t alen = iter & 1 ? 16 : 4, len = 20 + rnd() % 1700;

		fill(s, sizeof(s));
		fill(d, sizeof(d));
		fill(seg, len);
		seg[16] = seg[17] = 0;
		assert_int_equal(cn_tcp_checksum(s, d, alen, seg, len),
				 ref_tcp(s, d, alen, seg, len));
	}
}

static void check_replace16(uint8_t *hdr, size_t at, uint16_t nv)
{
	uint16_t old = get16(hdr + at);

	set16(hdr + at, nv);
	cn_csum_replace16(hdr + CHECK_AT, old, nv);
	if (get16(hdr + CHECK_AT) != full(hdr))
		fail_msg("replace16 %04x->%04x at %zu: got %04x want %04x", old,
			 nv, at, get16(hdr + CHECK_AT), full(hdr));
	assert_int_equal(fr_csum(hdr, WORDS * 2, 0), 0);
}

static void check_replace32(uint8_t *hdr, size_t at, uint32_t nv)
{
	uint32_t old = (uint32_t)get16(hdr + at) << 16 | get16(hdr + at + 2);

	set16(hdr + at, (uint16_t)(nv >> 16));
	set16(hdr + at + 2, (uint16_t)nv);
	cn_csum_replace32(hdr + CHECK_AT, old, nv);
	if (get16(hdr + CHECK_AT) != full(hdr))
		fail_msg("replace32 %08x->%08x at %zu: got %04x want %04x", old,
			 nv, at, get16(hdr + CHECK_AT), full(hdr));
	assert_int_equal(fr_csum(hdr, WORDS * 2, 0), 0);
}

/* Any even offset but the checksum field itself. */
static size_t field_at(size_t width)
{
	for (;;) {
		size_t at = (rnd() % (WORDS * 2 - width + 1)) & ~(size_t)1;

		if (at + width <= CHECK_AT || at >= CHECK_AT + 2)
			return at;
	}
}

static void test_incremental_random(void **state)
{
	uint8_t hdr[WORDS * 2];

	(void)state;
	fill(hdr, sizeof(hdr));
	seal(hdr);
	/* Chained updates: an error would accumulate and show. */
	for (int iter = 0; iter < 100000; iter++) {
		if (iter & 1)
			check_replace32(hdr, field_at(4), rnd() << 8 ^ rnd());
		else
			check_replace16(hdr, field_at(2), (uint16_t)rnd());
	}
}

/* The value that makes the data sum to 0xFFFF (checksum 0x0000) when put
 * at offset at. */
static uint16_t zero_maker(uint8_t *hdr, size_t at)
{
	uint8_t c[WORDS * 2];

	memcpy(c, hdr, sizeof(c));
	set16(c + CHECK_AT, 0);
	set16(c + at, 0);
	/* sum(c) + x == 0xFFFF in ones' complement: x = ~sum(c) = fr_csum(c) */
	return fr_csum(c, sizeof(c), 0);
}

static void test_incremental_corners(void **state)
{
	uint8_t hdr[WORDS * 2];

	(void)state;
	for (int iter = 0; iter < 2000; iter++) {
		size_t at = field_at(2);
		uint16_t z;

		fill(hdr, sizeof(hdr));
		seal(hdr);
		/* Into a checksum of 0x0000 ... */
		z = zero_maker(hdr, at);
		check_replace16(hdr, at, z);
		assert_int_equal(get16(hdr + CHECK_AT), 0x0000);
		/* ... out of it, and into it via 32-bit fields. */
		check_replace16(hdr, at, (uint16_t)rnd());
		/* The two zeros of ones' complement: 0x0000 <-> 0xFFFF. */
		check_replace16(hdr, at, 0x0000);
		check_replace16(hdr, at, 0xffff);
		check_replace16(hdr, at, 0x0000);
		check_replace16(hdr, at, 0x0000); /* no change at all */
		at = field_at(4);
		check_replace32(hdr, at, 0xffffffff);
		check_replace32(hdr, at, 0x00000000);
		check_replace32(hdr, at, 0xffff0000);
		check_replace32(hdr, at, 0x0000ffff);
		set16(hdr + at, 0);
		seal(hdr);
		z = zero_maker(hdr, at + 2);
		check_replace32(hdr, at, z);
		assert_int_equal(get16(hdr + CHECK_AT), 0x0000);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_sum_random),
		cmocka_unit_test(test_full_sum_chained),
		cmocka_unit_test(test_fold_corners),
		cmocka_unit_test(test_tcp_checksum_random),
		cmocka_unit_test(test_incremental_random),
		cmocka_unit_test(test_incremental_corners),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
