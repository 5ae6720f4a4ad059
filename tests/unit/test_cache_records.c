// SPDX-License-Identifier: MIT
/*
 * The options cache as records, through src/engine/engine.h: what a file
 * keeps across restarts. Dumped in learning order, learned back to the
 * same spoofed SYN-ACK options, and records no server could have sent are
 * refused whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <errno.h>

#include <cmocka.h>

#include "engine/engine.h"
#include "frames.h"

static const uint8_t secret[32] = { 42 };

static struct cn_engine *engine(struct fr_cap *cap)
{
	struct cn_config c;
	struct cn_engine *eng;

	cn_config_defaults(&c);
	c.cache_entries = 16;
	c.peer_mode = CN_PEER_OFF;
	fr_cap_init(cap);
	assert_int_equal(cn_engine_create(&eng, &c, secret, &cap->io), 0);
	return eng;
}

static struct cn_cache_record rec(uint8_t family, uint8_t last, uint16_t port)
{
	struct cn_cache_record r = {
		.family = family,
		.known = 1 | 2 | 4,
		.port = port,
		.mss = 1220,
		.wscale = 3,
		.sack_ok = false,
		.ts = false,
	};

	if (family == 4) {
		r.addr[0] = 198, r.addr[1] = 51, r.addr[2] = 100, r.addr[3] = last;
	} else {
		r.addr[0] = 0x20, r.addr[1] = 0x01, r.addr[15] = last;
	}
	return r;
}

static void test_round_trip(void **state)
{
	struct fr_cap ca, cb;
	struct cn_engine *a = engine(&ca), *b = engine(&cb);
	struct cn_cache_record in[3] = { rec(4, 1, 80), rec(6, 2, 443),
					 rec(4, 3, 8080) }, out[8], back[8];
	size_t n;

	(void)state;
	in[1].ts = true;
	for (int i = 0; i < 3; i++)
		assert_int_equal(cn_engine_cache_learn(a, &in[i]), 0);
	n = cn_engine_cache_dump(a, out, 8);
	assert_int_equal(n, 3);
	for (int i = 0; i < 3; i++)
		assert_memory_equal(&out[i], &in[i], sizeof(in[i]));
	assert_int_equal(cn_engine_cache_dump(a, out, 2), 2);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(cn_engine_cache_learn(b, &out[i]), 0);
	assert_int_equal(cn_engine_cache_dump(b, back, 8), 3);
	assert_memory_equal(back, in, sizeof(in));
	cn_engine_destroy(a);
	cn_engine_destroy(b);
	fr_cap_fini(&ca);
	fr_cap_fini(&cb);
}

/* Learned from a record, the next SYN to that server is answered with its
 * options: window scale 3, MSS 1220, no SACK (timestamps are offered all
 * the same: taken out where the server lacks them, they could not be put
 * in where it wants them). */
static void test_record_makes_the_synack(void **state)
{
	struct fr_cap cap;
	struct cn_engine *eng = engine(&cap);
	struct cn_cache_record r = rec(4, 0, 0);
	struct fr_flow fl;
	struct fr_spec s;
	struct fr_frame f;
	struct fr_view v;

	(void)state;
	fr_flow_init(&fl, 4, 1);
	memcpy(r.addr, fl.saddr, 4);
	r.port = fl.sport;
	assert_int_equal(cn_engine_cache_learn(eng, &r), 0);
	fr_spec_c2s(&s, &fl, FR_SYN, 1000, 0);
	fr_opt_linux_syn(&s, 1460, 77, 7);
	fr_build(&f, &s);
	assert_int_equal(cn_engine_input(eng, CN_CLIENT, &f.f, 1, NULL),
			 CN_FORWARD);
	assert_int_equal(fr_cap_count(&cap, CN_CLIENT), 1);
	assert_int_equal(fr_read(fr_cap_nth(&cap, CN_CLIENT, 0)->data,
				 fr_cap_nth(&cap, CN_CLIENT, 0)->len, &v), 0);
	assert_int_equal(v.mss, 1220);
	assert_int_equal(v.ws, 3);
	assert_true(v.ts);
	assert_false(v.sack_perm);
	assert_int_equal(cn_engine_counters(eng)->cache_hits, 1);
	cn_engine_destroy(eng);
	fr_cap_fini(&cap);
}

static void test_bad_records(void **state)
{
	struct fr_cap cap;
	struct cn_engine *eng = engine(&cap);
	struct cn_cache_record r, out[1];

	(void)state;
	r = rec(5, 1, 80);
	assert_int_equal(cn_engine_cache_learn(eng, &r), -EINVAL);
	r = rec(4, 1, 80);
	r.addr[9] = 1; /* bytes past an IPv4 address */
	assert_int_equal(cn_engine_cache_learn(eng, &r), -EINVAL);
	r = rec(4, 1, 0);
	assert_int_equal(cn_engine_cache_learn(eng, &r), -EINVAL);
	r = rec(4, 1, 80);
	r.known = 8;
	assert_int_equal(cn_engine_cache_learn(eng, &r), -EINVAL);
	r = rec(4, 1, 80);
	r.mss = 63;
	assert_int_equal(cn_engine_cache_learn(eng, &r), -EINVAL);
	r = rec(4, 1, 80);
	r.wscale = 15;
	assert_int_equal(cn_engine_cache_learn(eng, &r), -EINVAL);
	r = rec(4, 1, 80);
	r.wscale = -2;
	assert_int_equal(cn_engine_cache_learn(eng, &r), -EINVAL);
	assert_int_equal(cn_engine_cache_dump(eng, out, 1), 0);
	r = rec(4, 1, 80);
	r.mss = 0; /* a server that announced none */
	assert_int_equal(cn_engine_cache_learn(eng, &r), 0);
	cn_engine_destroy(eng);
	fr_cap_fini(&cap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_record_makes_the_synack),
		cmocka_unit_test(test_bad_records),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
