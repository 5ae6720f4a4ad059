// SPDX-License-Identifier: MIT
/*
 * The per-server options cache through src/engine/options_cache.h: entries keyed
 * by server address, port and family (never by the client), the merge of
 * what a SYN-ACK could tell, and the bound: a full set forgets its oldest
 * entry and the cache never holds more than its capacity.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/options_cache.h"

#define ALL (CN_OC_WSCALE | CN_OC_SACK | CN_OC_TS)

static const uint8_t key_a[16] = { 0xa0, 1, 2, 3, 4, 5, 6, 7,
				   8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t key_b[16] = { 0xb0, 1, 2, 3, 4, 5, 6, 7,
				   8, 9, 10, 11, 12, 13, 14, 15 };

/* A flow to server number n (IPv4 for even n, IPv6 for odd n); client
 * picks the client side, which the cache must ignore. */
static void server_key(struct cn_flow_key *k, uint32_t n, uint32_t client)
{
	static const uint8_t doc6[4] = { 0x20, 0x01, 0x0d, 0xb8 };

	memset(k, 0, sizeof(*k));
	k->family = n & 1 ? 6 : 4;
	k->sport = (uint16_t)(80 + (n >> 1) % 1000);
	k->cport = (uint16_t)(30000 + client);
	if (k->family == 4) {
		memcpy(k->saddr, (uint8_t[]){ 198, 51, 100, 0 }, 4);
		k->saddr[3] = (uint8_t)((n >> 1) / 1000);
		memcpy(k->caddr, (uint8_t[]){ 192, 0, 2, 0 }, 4);
		k->caddr[3] = (uint8_t)client;
	} else {
		memcpy(k->saddr, doc6, 4);
		k->saddr[5] = 2;
		k->saddr[15] = (uint8_t)((n >> 1) / 1000);
		memcpy(k->caddr, doc6, 4);
		k->caddr[5] = 1;
		k->caddr[15] = (uint8_t)client;
	}
}

static struct cn_syn_opts opts_of(uint32_t n)
{
	return (struct cn_syn_opts){
		.mss = (uint16_t)(536 + n % 9000),
		.wscale = (int8_t)(n % 15),
		.sack_ok = n & 2,
		.ts = n & 4,
	};
}

static void assert_opts(const struct cn_syn_opts *got,
			const struct cn_syn_opts *want)
{
	assert_int_equal(got->mss, want->mss);
	assert_int_equal(got->wscale, want->wscale);
	assert_int_equal(got->sack_ok, want->sack_ok);
	assert_int_equal(got->ts, want->ts);
}

static bool cached(const struct cn_opt_cache *c, uint32_t n)
{
	struct cn_flow_key k;
	struct cn_syn_opts o;

	server_key(&k, n, 1);
	return cn_oc_get(c, &k, &o) != 0;
}

static void test_init_rejects(void **state)
{
	struct cn_opt_cache c;

	(void)state;
	assert_int_equal(cn_oc_init(&c, 0, key_a), -EINVAL);
	cn_oc_fini(&c);
	assert_int_equal(cn_oc_init(&c, 3, key_a), -EINVAL);
	cn_oc_fini(&c);
	assert_int_equal(cn_oc_init(&c, (1u << 24) + 1, key_a), -EINVAL);
	cn_oc_fini(&c);
	assert_int_equal(cn_oc_init(&c, UINT32_MAX, key_a), -EINVAL);
	cn_oc_fini(&c);
	assert_int_equal(cn_oc_init(&c, 4, key_a), 0);
	assert_int_equal(c.sets, 1);
	cn_oc_fini(&c);
	assert_int_equal(cn_oc_init(&c, 100, key_a), 0);
	assert_true(c.sets * 4 >= 100 && c.sets * 4 < 200);
	assert_int_equal(c.sets & (c.sets - 1), 0);
	cn_oc_fini(&c);
}

static void test_put_get(void **state)
{
	struct cn_syn_opts want = { 1460, 7, true, true }, got;
	struct cn_opt_cache c;
	struct cn_flow_key k, other;

	(void)state;
	assert_int_equal(cn_oc_init(&c, 64, key_a), 0);
	for (uint32_t fam = 0; fam < 2; fam++) {
		server_key(&k, 10 + fam, 1);
		assert_int_equal(cn_oc_get(&c, &k, &got), 0);
		cn_oc_put(&c, &k, &want, ALL);
		memset(&got, 0x55, sizeof(got));
		assert_int_equal(cn_oc_get(&c, &k, &got) & ALL, ALL);
		assert_opts(&got, &want);

		/* Another client of the same server: the same entry. */
		server_key(&other, 10 + fam, 2);
		memset(&got, 0x55, sizeof(got));
		assert_int_equal(cn_oc_get(&c, &other, &got) & ALL, ALL);
		assert_opts(&got, &want);

		/* Another port, another address byte: not known. */
		other = k;
		other.sport++;
		assert_int_equal(cn_oc_get(&c, &other, &got), 0);
		for (size_t b = 0; b < (fam ? 16u : 4u); b++) {
			other = k;
			other.saddr[b] ^= 0x80;
			assert_int_equal(cn_oc_get(&c, &other, &got), 0);
		}
	}
	/* A newer SYN-ACK replaces what was learned. */
	server_key(&k, 10, 3);
	cn_oc_put(&c, &k, &(struct cn_syn_opts){ 1200, 2, false, false }, ALL);
	assert_int_equal(cn_oc_get(&c, &k, &got) & ALL, ALL);
	assert_opts(&got, &(struct cn_syn_opts){ 1200, 2, false, false });
	/* The IPv6 server kept its own. */
	server_key(&k, 11, 1);
	assert_int_not_equal(cn_oc_get(&c, &k, &got), 0);
	assert_opts(&got, &want);
	cn_oc_fini(&c);
}

/* Only what the client offered is learned; the rest stays as known. */
static void test_known_merge(void **state)
{
	struct cn_opt_cache c;
	struct cn_flow_key k;
	struct cn_syn_opts got;
	unsigned m;

	(void)state;
	assert_int_equal(cn_oc_init(&c, 16, key_a), 0);
	server_key(&k, 20, 1);

	/* First only window scale was offered: SACK and TS stay unknown. */
	cn_oc_put(&c, &k, &(struct cn_syn_opts){ 1400, 9, true, true },
		  CN_OC_WSCALE);
	m = cn_oc_get(&c, &k, &got);
	assert_int_not_equal(m, 0);
	assert_int_equal(m & ALL, CN_OC_WSCALE);
	assert_int_equal(got.mss, 1400);
	assert_int_equal(got.wscale, 9);

	/* Then everything: all three known. */
	cn_oc_put(&c, &k, &(struct cn_syn_opts){ 1460, 7, true, true }, ALL);
	m = cn_oc_get(&c, &k, &got);
	assert_int_equal(m & ALL, ALL);
	assert_opts(&got, &(struct cn_syn_opts){ 1460, 7, true, true });

	/* A client that offered only SACK, answered without it: SACK is now
	 * known absent, window scale and TS keep their values. */
	cn_oc_put(&c, &k, &(struct cn_syn_opts){ 1380, -1, false, false },
		  CN_OC_SACK);
	m = cn_oc_get(&c, &k, &got);
	assert_int_equal(m & ALL, ALL);
	assert_opts(&got, &(struct cn_syn_opts){ 1380, 7, false, true });

	/* Nothing offered: only the MSS is new. */
	cn_oc_put(&c, &k, &(struct cn_syn_opts){ 1300, -1, true, false }, 0);
	m = cn_oc_get(&c, &k, &got);
	assert_int_equal(m & ALL, ALL);
	assert_opts(&got, &(struct cn_syn_opts){ 1300, 7, false, true });

	/* Timestamps then window scale learned absent. */
	cn_oc_put(&c, &k, &(struct cn_syn_opts){ 1300, -1, true, false },
		  CN_OC_TS | CN_OC_WSCALE);
	m = cn_oc_get(&c, &k, &got);
	assert_opts(&got, &(struct cn_syn_opts){ 1300, -1, false, false });

	/* A fresh server learned with nothing offered is still an entry. */
	server_key(&k, 21, 1);
	cn_oc_put(&c, &k, &(struct cn_syn_opts){ 1440, -1, false, false }, 0);
	m = cn_oc_get(&c, &k, &got);
	assert_int_not_equal(m, 0);
	assert_int_equal(m & ALL, 0);
	assert_int_equal(got.mss, 1440);
	cn_oc_fini(&c);
}

/* Four entries make one set: the fifth server forgets the oldest. */
static void test_one_set_oldest(void **state)
{
	struct cn_opt_cache c;
	struct cn_flow_key k;
	struct cn_syn_opts got, o;

	(void)state;
	assert_int_equal(cn_oc_init(&c, 4, key_a), 0);
	for (uint32_t n = 0; n < 4; n++) {
		server_key(&k, n, 1);
		o = opts_of(n);
		cn_oc_put(&c, &k, &o, ALL);
	}
	for (uint32_t n = 0; n < 4; n++) {
		server_key(&k, n, 1);
		assert_int_not_equal(cn_oc_get(&c, &k, &got), 0);
		o = opts_of(n);
		assert_opts(&got, &o);
	}
	server_key(&k, 4, 1);
	o = opts_of(4);
	cn_oc_put(&c, &k, &o, ALL);
	assert_false(cached(&c, 0));
	for (uint32_t n = 1; n <= 4; n++)
		assert_true(cached(&c, n));

	/* Learning again makes an entry young: 2 is now the oldest. */
	server_key(&k, 1, 5);
	o = opts_of(1);
	cn_oc_put(&c, &k, &o, ALL);
	server_key(&k, 5, 1);
	o = opts_of(5);
	cn_oc_put(&c, &k, &o, ALL);
	assert_false(cached(&c, 2));
	assert_true(cached(&c, 1));
	assert_true(cached(&c, 3));
	assert_true(cached(&c, 4));
	assert_true(cached(&c, 5));
	/* The newcomer carries its own options, not the evicted ones. */
	server_key(&k, 5, 1);
	assert_int_equal(cn_oc_get(&c, &k, &got) & ALL, ALL);
	assert_opts(&got, &o);
	cn_oc_fini(&c);
}

/* A box learning 50000 SYN-ACKs a second makes 2^32 insertions within a
 * day. Replacement must still take the oldest entry of a set across that
 * point, not the one learned just after it. The clock is set close to it
 * here instead of making 2^32 insertions. */
static void test_stamp_wrap_oldest(void **state)
{
	struct cn_opt_cache c;
	struct cn_flow_key k;
	struct cn_syn_opts o;

	(void)state;
	assert_int_equal(cn_oc_init(&c, 4, key_a), 0);
	c.clock = UINT32_MAX - 1;
	for (uint32_t n = 0; n < 4; n++) {
		server_key(&k, n, 1);
		o = opts_of(n);
		cn_oc_put(&c, &k, &o, ALL);
	}
	/* Learned in the order 0, 1, 2, 3; the clock wrapped after 0. */
	for (uint32_t n = 4; n < 8; n++) {
		server_key(&k, n, 1);
		o = opts_of(n);
		cn_oc_put(&c, &k, &o, ALL);
		if (cached(&c, n - 4))
			fail_msg("after server %u: server %u, the oldest, is "
				 "still cached and a newer one was forgotten "
				 "(insertion stamps compared without wrap)",
				 n, n - 4);
		for (uint32_t m = n - 3; m <= n; m++)
			assert_true(cached(&c, m));
	}
	cn_oc_fini(&c);
}

/* Thousands of servers: never more than the capacity remembered, the
 * newest always, and a different hash key spreads them differently. */
static void test_bounded(void **state)
{
	enum { SERVERS = 4000 };
	struct cn_opt_cache a, b;
	struct cn_flow_key k;
	uint32_t in_a = 0, in_b = 0, differ = 0;

	(void)state;
	assert_int_equal(cn_oc_init(&a, 64, key_a), 0);
	assert_int_equal(cn_oc_init(&b, 64, key_b), 0);
	for (uint32_t n = 0; n < SERVERS; n++) {
		struct cn_syn_opts o = opts_of(n), got;

		server_key(&k, n, n % 7);
		cn_oc_put(&a, &k, &o, ALL);
		cn_oc_put(&b, &k, &o, ALL);
		assert_int_equal(cn_oc_get(&a, &k, &got) & ALL, ALL);
		assert_opts(&got, &o);
	}
	for (uint32_t n = 0; n < SERVERS; n++) {
		bool ia = cached(&a, n), ib = cached(&b, n);

		in_a += ia;
		in_b += ib;
		differ += ia != ib;
	}
	/* Every set was filled many times over: each holds four. */
	assert_int_equal(in_a, a.sets * 4);
	assert_int_equal(in_b, b.sets * 4);
	assert_int_equal(a.sets * 4, 64);
	assert_true(differ > 0);
	/* The entries still answer with their own options. */
	for (uint32_t n = 0; n < SERVERS; n++) {
		struct cn_syn_opts got, o = opts_of(n);

		server_key(&k, n, 0);
		if (cn_oc_get(&a, &k, &got))
			assert_opts(&got, &o);
	}
	cn_oc_fini(&a);
	cn_oc_fini(&b);
}

/* An IPv4 and an IPv6 server with the same leading address bytes and the
 * same port are different servers, even within one set. */
static void test_families_distinct(void **state)
{
	struct cn_syn_opts o4 = { 1460, 7, true, true };
	struct cn_syn_opts o6 = { 1440, 3, false, false };
	struct cn_flow_key k4, k6;
	struct cn_opt_cache c;
	struct cn_syn_opts got;

	(void)state;
	assert_int_equal(cn_oc_init(&c, 4, key_a), 0);
	memset(&k4, 0, sizeof(k4));
	k4.family = 4;
	k4.sport = 443;
	memcpy(k4.saddr, (uint8_t[]){ 203, 0, 113, 9 }, 4);
	k6 = k4;
	k6.family = 6;

	cn_oc_put(&c, &k4, &o4, ALL);
	assert_int_equal(cn_oc_get(&c, &k6, &got), 0);
	cn_oc_put(&c, &k6, &o6, ALL);
	assert_int_not_equal(cn_oc_get(&c, &k4, &got), 0);
	assert_opts(&got, &o4);
	assert_int_not_equal(cn_oc_get(&c, &k6, &got), 0);
	assert_opts(&got, &o6);
	/* Learning one family leaves the other alone. */
	cn_oc_put(&c, &k4, &(struct cn_syn_opts){ 1000, 1, false, true }, ALL);
	assert_int_not_equal(cn_oc_get(&c, &k6, &got), 0);
	assert_opts(&got, &o6);
	cn_oc_fini(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_rejects),
		cmocka_unit_test(test_put_get),
		cmocka_unit_test(test_known_merge),
		cmocka_unit_test(test_one_set_oldest),
		cmocka_unit_test(test_stamp_wrap_oldest),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_families_distinct),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
