// SPDX-License-Identifier: MIT
/*
 * src/engine/admin.c through src/engine/engine.h: the flow list an
 * operator reads (addresses, state, ages, delta, held data, frames and
 * bytes each way, in list order, bounded by max and by the visitor) and
 * limits changed on a running engine (refused whole when unusable, taken
 * by the next tick when good).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <errno.h>

#include <cmocka.h>

#include "engine/engine.h"
#include "frames.h"

#define MS 1000000ULL
#define T0 (1000 * MS)
#define CISN 1000u
#define SISN 50000u

static const uint8_t secret[32] = { 7 };

struct h {
	struct cn_engine *eng;
	struct fr_cap cap;
	uint64_t now;
};

static int setup(void **state)
{
	struct h *h = calloc(1, sizeof(*h));
	struct cn_config c;

	cn_config_defaults(&c);
	c.max_flows = 16;
	c.peer_mode = CN_PEER_OFF;
	c.syn_rto_ns = 100 * MS;
	c.syn_timeout_ns = 1000 * MS;
	c.idle_timeout_ns = 10000 * MS;
	fr_cap_init(&h->cap);
	assert_int_equal(cn_engine_create(&h->eng, &c, secret, &h->cap.io), 0);
	h->now = T0;
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

static uint32_t send(struct h *h, enum cn_side from, const struct fr_spec *s)
{
	struct fr_frame fr;
	uint32_t len = fr_build(&fr, s);

	cn_engine_input(h->eng, from, &fr.f, h->now, NULL);
	return len;
}

static void syn(struct h *h, const struct fr_flow *fl, uint32_t *len)
{
	struct fr_spec s;

	fr_spec_c2s(&s, fl, FR_SYN, CISN, 0);
	fr_opt_linux_syn(&s, 1460, 1, 7);
	*len = send(h, CN_CLIENT, &s);
}

/* The spoofed ISN the box gave the client: its SYN-ACK's. */
static uint32_t spoof_isn(struct h *h)
{
	struct fr_out *o = fr_cap_nth(&h->cap, CN_CLIENT,
				      fr_cap_count(&h->cap, CN_CLIENT) - 1);
	struct fr_view v;

	assert_non_null(o);
	assert_int_equal(fr_read(o->data, o->len, &v), 0);
	return v.seq;
}

static bool count_all(void *ctx, const struct cn_flow_record *r)
{
	(void)r;
	++*(size_t *)ctx;
	return true;
}

static bool stop_at_once(void *ctx, const struct cn_flow_record *r)
{
	(void)r;
	++*(size_t *)ctx;
	return false;
}

static void test_empty(void **state)
{
	struct h *h = *state;
	struct cn_flow_record r[2];
	size_t seen = 0;

	assert_int_equal(cn_engine_flow_dump(h->eng, r, 2, h->now), 0);
	assert_int_equal(cn_engine_flow_walk(h->eng, h->now, count_all, &seen), 0);
	assert_int_equal(seen, 0);
}

static void test_flow_life(void **state)
{
	struct h *h = *state;
	struct cn_flow_record r[4];
	struct fr_flow fl;
	struct fr_spec s;
	uint32_t syn_len, data_len, synack_len, spoof;

	fr_flow_init(&fl, 4, 1);
	syn(h, &fl, &syn_len);
	spoof = spoof_isn(h);
	h->now += 5 * MS;
	/* The client's ACK of the spoofed SYN-ACK with early data: held. */
	fr_spec_c2s(&s, &fl, FR_ACK | FR_PSH, CISN + 1, spoof + 1);
	s.payload_len = 100;
	data_len = send(h, CN_CLIENT, &s);

	assert_int_equal(cn_engine_flow_dump(h->eng, r, 4, h->now + MS), 1);
	assert_int_equal(r[0].key.family, 4);
	assert_memory_equal(r[0].key.caddr, fl.caddr, 4);
	assert_memory_equal(r[0].key.saddr, fl.saddr, 4);
	assert_int_equal(r[0].key.cport, fl.cport);
	assert_int_equal(r[0].key.sport, fl.sport);
	assert_string_equal(r[0].state, "syn_sent");
	assert_string_equal(r[0].peer, "none");
	assert_int_equal(r[0].age_ns, 6 * MS);
	assert_int_equal(r[0].idle_ns, 6 * MS);
	assert_int_equal(r[0].delta, 0);
	assert_int_equal(r[0].held_frames, 1);
	assert_int_equal(r[0].held_bytes, data_len);
	assert_int_equal(r[0].frames[CN_CLIENT], 2);
	assert_int_equal(r[0].bytes[CN_CLIENT], syn_len + data_len);
	assert_int_equal(r[0].frames[CN_SERVER], 0);
	assert_string_equal(r[0].datapath, "");

	/* The real SYN-ACK: established, delta known, nothing held. */
	h->now += 20 * MS;
	fr_spec_s2c(&s, &fl, FR_SYN | FR_ACK, SISN, CISN + 1);
	fr_opt_linux_syn(&s, 1460, 2, 7);
	synack_len = send(h, CN_SERVER, &s);
	h->now += 2 * MS;
	assert_int_equal(cn_engine_flow_dump(h->eng, r, 4, h->now), 1);
	assert_string_equal(r[0].state, "established");
	assert_int_equal(r[0].delta, spoof - SISN);
	assert_int_equal(r[0].held_frames, 0);
	assert_int_equal(r[0].held_bytes, 0);
	assert_int_equal(r[0].age_ns, 27 * MS);
	assert_int_equal(r[0].idle_ns, 2 * MS);
	assert_int_equal(r[0].frames[CN_SERVER], 1);
	assert_int_equal(r[0].bytes[CN_SERVER], synack_len);

	/* An RST closes it: listed closed until the grace ends. */
	fr_spec_c2s(&s, &fl, FR_RST, CISN + 101, 0);
	send(h, CN_CLIENT, &s);
	assert_int_equal(cn_engine_flow_dump(h->eng, r, 4, h->now), 1);
	assert_string_equal(r[0].state, "closed");
	assert_int_equal(r[0].frames[CN_CLIENT], 3);
}

static void test_order_and_bounds(void **state)
{
	struct h *h = *state;
	struct cn_flow_record r[8];
	struct fr_flow fl[3];
	struct fr_spec s;
	uint32_t len;
	size_t seen = 0;

	for (uint32_t i = 0; i < 3; i++) {
		fr_flow_init(&fl[i], i == 2 ? 6 : 4, 10 + i);
		syn(h, &fl[i], &len);
		h->now += MS;
	}
	/* The first one established: listed after the two waiting. */
	fr_spec_s2c(&s, &fl[0], FR_SYN | FR_ACK, SISN, CISN + 1);
	fr_opt_linux_syn(&s, 1460, 2, 7);
	send(h, CN_SERVER, &s);
	assert_int_equal(cn_engine_flow_dump(h->eng, r, 8, h->now), 3);
	assert_int_equal(r[0].key.cport, fl[1].cport);
	assert_int_equal(r[1].key.cport, fl[2].cport);
	assert_int_equal(r[1].key.family, 6);
	assert_memory_equal(r[1].key.caddr, fl[2].caddr, 16);
	assert_int_equal(r[2].key.cport, fl[0].cport);
	assert_string_equal(r[2].state, "established");
	/* max and the visitor both stop the walk. */
	assert_int_equal(cn_engine_flow_dump(h->eng, r, 2, h->now), 2);
	assert_int_equal(cn_engine_flow_dump(h->eng, r, 0, h->now), 0);
	assert_int_equal(cn_engine_flow_walk(h->eng, h->now, stop_at_once, &seen), 1);
	assert_int_equal(seen, 1);
	seen = 0;
	assert_int_equal(cn_engine_flow_walk(h->eng, h->now, count_all, &seen), 3);
}

static void test_set_limits(void **state)
{
	struct h *h = *state;
	struct cn_flow_record r[2];
	struct cn_config c;
	struct fr_flow fl;
	struct fr_spec s;
	uint32_t len;

	cn_config_defaults(&c);
	c.syn_rto_ns = 0;
	assert_int_equal(cn_engine_set_limits(h->eng, &c), -EINVAL);
	cn_config_defaults(&c);
	c.syn_rto_ns = 2000 * MS;
	c.syn_timeout_ns = 1000 * MS;
	assert_int_equal(cn_engine_set_limits(h->eng, &c), -EINVAL);
	cn_config_defaults(&c);
	c.buf_flow_frames = 0;
	assert_int_equal(cn_engine_set_limits(h->eng, &c), -EINVAL);

	/* An established flow, then a shorter idle timeout: it goes at the
	 * first tick past the new one, not the old 10 s. */
	fr_flow_init(&fl, 4, 3);
	syn(h, &fl, &len);
	fr_spec_s2c(&s, &fl, FR_SYN | FR_ACK, SISN, CISN + 1);
	fr_opt_linux_syn(&s, 1460, 2, 7);
	send(h, CN_SERVER, &s);
	assert_int_equal(cn_engine_flow_dump(h->eng, r, 2, h->now), 1);
	assert_string_equal(r[0].state, "established");
	cn_config_defaults(&c);
	c.idle_timeout_ns = 50 * MS;
	c.max_flows = 1; /* not a limit: ignored */
	assert_int_equal(cn_engine_set_limits(h->eng, &c), 0);
	h->now += 100 * MS;
	assert_true(cn_engine_next_deadline(h->eng) <= h->now);
	cn_engine_tick(h->eng, h->now);
	assert_int_equal(cn_engine_flow_count(h->eng), 0);
	assert_int_equal(cn_engine_counters(h->eng)->flows_expired, 1);

	/* A lower per-flow frame bound: the second early frame is refused. */
	cn_config_defaults(&c);
	c.buf_flow_frames = 1;
	assert_int_equal(cn_engine_set_limits(h->eng, &c), 0);
	fr_flow_init(&fl, 4, 4);
	syn(h, &fl, &len);
	for (uint32_t i = 0; i < 2; i++) {
		fr_spec_c2s(&s, &fl, FR_ACK | FR_PSH, CISN + 1 + 10 * i,
			    spoof_isn(h) + 1);
		s.payload_len = 10;
		send(h, CN_CLIENT, &s);
	}
	assert_int_equal(cn_engine_flow_dump(h->eng, r, 2, h->now), 1);
	assert_int_equal(r[0].held_frames, 1);
	assert_int_equal(cn_engine_drops(h->eng)->by_reason[CN_DROP_buf_flow_full], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flow_life, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_and_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_limits, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
