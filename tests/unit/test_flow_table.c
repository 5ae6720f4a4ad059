// SPDX-License-Identifier: MIT
/*
 * The flow table through src/engine/flow_table.h: hashing and chaining of many
 * keys (IPv4, IPv6, keys one byte apart), the fixed capacity and the free
 * list, the three age lists against a shadow model, the SYN timer heap
 * against a brute-force minimum, and bucket layouts that depend on the
 * hash key.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engine/flow_table.h"

#define FLOWS(...) ((struct cn_flow *[]){ __VA_ARGS__ })

static const uint8_t key_a[16] = { 1, 2, 3, 4, 5, 6, 7, 8,
				   9, 10, 11, 12, 13, 14, 15, 16 };
static const uint8_t key_b[16] = { 16, 15, 14, 13, 12, 11, 10, 9,
				   8, 7, 6, 5, 4, 3, 2, 1 };

static uint64_t rng = 0x2545f4914f6cdd1dULL;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static uint64_t rnd64(void)
{
	return (uint64_t)rnd() << 32 | rnd();
}

/* Distinct keys for distinct n; even n IPv4, odd n IPv6. */
static void make_key(struct cn_flow_key *k, uint32_t n)
{
	memset(k, 0, sizeof(*k));
	k->family = n & 1 ? 6 : 4;
	k->cport = (uint16_t)(1024 + (n >> 1) % 60000);
	k->sport = 443;
	if (k->family == 4) {
		memcpy(k->caddr, (uint8_t[]){ 10, 0, 0, 0 }, 4);
		k->caddr[2] = (uint8_t)((n >> 1) / 60000);
		memcpy(k->saddr, (uint8_t[]){ 198, 51, 100, 7 }, 4);
	} else {
		memcpy(k->caddr, (uint8_t[]){ 0x20, 0x01, 0x0d, 0xb8 }, 4);
		k->caddr[15] = (uint8_t)((n >> 1) / 60000);
		memcpy(k->saddr, k->caddr, 4);
		k->saddr[5] = 2;
		k->saddr[15] = 1;
	}
}

static void check_fresh(const struct cn_flow_table *ft, const struct cn_flow *f,
			const struct cn_flow_key *k)
{
	assert_non_null(f);
	assert_true(f >= ft->slots && f < ft->slots + ft->capacity);
	assert_memory_equal(&f->key, k, sizeof(*k));
	assert_int_equal(f->state, CN_FS_FREE);
	assert_int_equal(f->list, CN_LIST_NONE);
	assert_int_equal(f->prev, CN_NIL);
	assert_int_equal(f->next, CN_NIL);
	assert_int_equal(f->heap_pos, CN_NIL);
	assert_int_equal(f->delta, 0);
	assert_null(f->held);
	assert_null(f->syn);
}

/* ---- init --------------------------------------------------------------- */

static struct cn_flow *lookup(const struct cn_flow_table *ft,
			      const struct cn_flow_key *k)
{
	return cn_ft_lookup(ft, k, cn_ft_hash(ft, k));
}

static struct cn_flow *alloc(struct cn_flow_table *ft,
			     const struct cn_flow_key *k)
{
	return cn_ft_alloc(ft, k, cn_ft_hash(ft, k));
}

static void test_init_rejects(void **state)
{
	struct cn_flow_table ft;
	struct cn_flow_key k;

	(void)state;
	assert_int_equal(cn_ft_init(&ft, 0, key_a), -EINVAL);
	cn_ft_fini(&ft); /* safe after a refusal */
	assert_int_equal(cn_ft_init(&ft, (1u << 24) + 1, key_a), -EINVAL);
	cn_ft_fini(&ft);
	assert_int_equal(cn_ft_init(&ft, UINT32_MAX, key_a), -EINVAL);
	cn_ft_fini(&ft);

	assert_int_equal(cn_ft_init(&ft, 1, key_a), 0);
	assert_int_equal(ft.capacity, 1);
	assert_int_equal(ft.count, 0);
	for (int l = 0; l < CN_LIST_MAX; l++) {
		assert_null(cn_ft_list_head(&ft, (enum cn_list)l));
		assert_int_equal(ft.len[l], 0);
	}
	assert_null(cn_ft_timer_first(&ft));
	make_key(&k, 1);
	assert_null(lookup(&ft, &k));
	check_fresh(&ft, alloc(&ft, &k), &k);
	make_key(&k, 2);
	assert_null(alloc(&ft, &k));
	cn_ft_fini(&ft);
}

/* ---- alloc, lookup, release ------------------------------------------ */

#define MANY 1000 /* not a power of two: 1024 buckets, chains */

static void test_many_keys(void **state)
{
	static struct cn_flow *got[MANY];
	static bool live[MANY];
	struct cn_flow_table ft;
	struct cn_flow_key k;
	uint32_t n_live = MANY, n_freed = 0;

	(void)state;
	assert_int_equal(cn_ft_init(&ft, MANY, key_a), 0);
	for (uint32_t i = 0; i < MANY; i++) {
		make_key(&k, i);
		assert_null(lookup(&ft, &k));
		got[i] = alloc(&ft, &k);
		check_fresh(&ft, got[i], &k);
		got[i]->client_isn = i;
		live[i] = true;
		assert_int_equal(ft.count, i + 1);
	}
	/* Every slot is distinct and found again. */
	for (uint32_t i = 0; i < MANY; i++) {
		make_key(&k, i);
		assert_ptr_equal(lookup(&ft, &k), got[i]);
		assert_int_equal(got[i]->client_isn, i);
	}
	make_key(&k, MANY);
	assert_null(lookup(&ft, &k));
	/* Full: refused, and nothing already in is disturbed. */
	assert_null(alloc(&ft, &k));
	assert_null(lookup(&ft, &k));
	assert_int_equal(ft.count, MANY);

	/* Release a random half, from anywhere in the chains. */
	for (uint32_t r = 0; r < MANY / 2; r++) {
		uint32_t i = rnd() % MANY;

		while (!live[i])
			i = (i + 1) % MANY;
		cn_ft_release(&ft, got[i]);
		live[i] = false;
		n_live--;
		n_freed++;
		assert_int_equal(ft.count, n_live);
	}
	for (uint32_t i = 0; i < MANY; i++) {
		make_key(&k, i);
		if (live[i])
			assert_ptr_equal(lookup(&ft, &k), got[i]);
		else
			assert_null(lookup(&ft, &k));
	}
	/* Exactly the released room comes back. */
	for (uint32_t i = 0; i < n_freed; i++) {
		make_key(&k, MANY + i);
		check_fresh(&ft, alloc(&ft, &k), &k);
	}
	make_key(&k, 3 * MANY);
	assert_null(alloc(&ft, &k));
	assert_int_equal(ft.count, MANY);
	for (uint32_t i = 0; i < n_freed; i++) {
		make_key(&k, MANY + i);
		assert_non_null(lookup(&ft, &k));
	}
	cn_ft_fini(&ft);
}

/* Keys that differ from a base key in one byte only, in every byte of the
 * ports and addresses, IPv4 and IPv6: all distinct to the table. */
static void test_one_byte_apart(void **state)
{
	static const size_t fields[] = {
		offsetof(struct cn_flow_key, cport),
		offsetof(struct cn_flow_key, sport),
		offsetof(struct cn_flow_key, caddr),
		offsetof(struct cn_flow_key, saddr),
	};
	static const size_t sizes[] = { 2, 2, 16, 16 };
	struct cn_flow_key keys[2 * (1 + 36)];
	struct cn_flow *got[2 * (1 + 36)];
	struct cn_flow_table ft;
	uint32_t n = 0;

	(void)state;
	for (uint32_t fam = 0; fam < 2; fam++) {
		struct cn_flow_key base;

		make_key(&base, 77 + fam);
		keys[n++] = base;
		for (size_t f = 0; f < 4; f++) {
			for (size_t b = 0; b < sizes[f]; b++) {
				struct cn_flow_key k = base;

				((uint8_t *)&k)[fields[f] + b] ^= 0x01;
				keys[n++] = k;
			}
		}
	}
	assert_int_equal(n, sizeof(keys) / sizeof(keys[0]));
	/* Capacity equal to the number of keys: the buckets are shared. */
	assert_int_equal(cn_ft_init(&ft, n, key_a), 0);
	for (uint32_t i = 0; i < n; i++) {
		got[i] = alloc(&ft, &keys[i]);
		check_fresh(&ft, got[i], &keys[i]);
	}
	for (uint32_t i = 0; i < n; i++)
		assert_ptr_equal(lookup(&ft, &keys[i]), got[i]);
	/* One bucket: the whole key is compared, not just the hash. */
	{
		struct cn_flow_table one;

		assert_int_equal(cn_ft_init(&one, 1, key_a), 0);
		assert_int_equal(one.mask, 0);
		for (uint32_t i = 0; i < n; i++) {
			struct cn_flow *f = alloc(&one, &keys[i]);

			assert_ptr_equal(lookup(&one, &keys[i]), f);
			for (uint32_t j = 0; j < n; j++)
				if (j != i)
					assert_null(lookup(&one,
								 &keys[j]));
			cn_ft_release(&one, f);
			assert_null(lookup(&one, &keys[i]));
		}
		cn_ft_fini(&one);
	}
	/* Release one by one; the others stay reachable each time. */
	for (uint32_t i = 0; i < n; i += 2) {
		cn_ft_release(&ft, got[i]);
		for (uint32_t j = 0; j < n; j++) {
			if (j <= i && j % 2 == 0)
				assert_null(lookup(&ft, &keys[j]));
			else
				assert_ptr_equal(lookup(&ft, &keys[j]),
						 got[j]);
		}
	}
	cn_ft_fini(&ft);
}

/* Released slots are what the next allocations get, zeroed again. */
static void test_free_list_reuse(void **state)
{
	struct cn_flow *got[8], *f;
	struct cn_flow_table ft;
	struct cn_flow_key k;
	bool seen[8] = { false };

	(void)state;
	assert_int_equal(cn_ft_init(&ft, 8, key_a), 0);
	for (uint32_t i = 0; i < 8; i++) {
		make_key(&k, i);
		got[i] = alloc(&ft, &k);
		assert_non_null(got[i]);
	}
	/* One free slot: it must be the one released, cleared. */
	got[3]->state = CN_FS_ESTABLISHED;
	got[3]->delta = 12345;
	cn_ft_list_move(&ft, got[3], CN_LIST_ACTIVE, 10);
	cn_ft_timer_set(&ft, got[3], 99);
	cn_ft_release(&ft, got[3]);
	assert_int_equal(got[3]->state, CN_FS_FREE);
	assert_int_equal(ft.len[CN_LIST_ACTIVE], 0);
	assert_null(cn_ft_timer_first(&ft));
	make_key(&k, 100);
	f = alloc(&ft, &k);
	assert_ptr_equal(f, got[3]);
	check_fresh(&ft, f, &k);
	make_key(&k, 101);
	assert_null(alloc(&ft, &k));

	/* Three released: the next three allocations are those three. */
	cn_ft_release(&ft, got[5]);
	cn_ft_release(&ft, got[0]);
	cn_ft_release(&ft, got[7]);
	for (uint32_t i = 0; i < 3; i++) {
		make_key(&k, 200 + i);
		f = alloc(&ft, &k);
		assert_non_null(f);
		assert_true(f == got[5] || f == got[0] || f == got[7]);
		assert_false(seen[cn_ft_index(&ft, f)]);
		seen[cn_ft_index(&ft, f)] = true;
	}
	make_key(&k, 300);
	assert_null(alloc(&ft, &k));
	cn_ft_fini(&ft);
}

/* ---- age lists ----------------------------------------------------------- */

/* List l holds exactly want[0..n) in that order, links both ways. */
static void check_list(const struct cn_flow_table *ft, enum cn_list l,
		       struct cn_flow *const *want, uint32_t n)
{
	uint32_t i = ft->head[l], prev = CN_NIL;

	assert_int_equal(ft->len[l], n);
	if (n == 0) {
		assert_null(cn_ft_list_head(ft, l));
		assert_int_equal(ft->tail[l], CN_NIL);
		return;
	}
	assert_ptr_equal(cn_ft_list_head(ft, l), want[0]);
	for (uint32_t k = 0; k < n; k++) {
		assert_int_not_equal(i, CN_NIL);
		assert_ptr_equal(&ft->slots[i], want[k]);
		assert_int_equal(want[k]->list, l);
		assert_int_equal(want[k]->prev, prev);
		prev = i;
		i = want[k]->next;
	}
	assert_int_equal(i, CN_NIL);
	assert_int_equal(ft->tail[l], prev);
}

static void test_lists_order(void **state)
{
	struct cn_flow_table ft;
	struct cn_flow_key k;
	struct cn_flow *f[6];

	(void)state;
	assert_int_equal(cn_ft_init(&ft, 16, key_a), 0);
	for (uint32_t i = 0; i < 6; i++) {
		make_key(&k, i);
		f[i] = alloc(&ft, &k);
	}
	for (int l = 0; l < CN_LIST_MAX; l++)
		check_list(&ft, (enum cn_list)l, NULL, 0);

	cn_ft_list_move(&ft, f[0], CN_LIST_EMBRYONIC, 1);
	cn_ft_list_move(&ft, f[1], CN_LIST_EMBRYONIC, 2);
	cn_ft_list_move(&ft, f[2], CN_LIST_EMBRYONIC, 3);
	check_list(&ft, CN_LIST_EMBRYONIC, FLOWS(f[0], f[1], f[2]), 3);
	assert_int_equal(f[1]->list_at, 2);

	/* Moving onto the list it is on sends it to the tail. */
	cn_ft_list_move(&ft, f[0], CN_LIST_EMBRYONIC, 4);
	check_list(&ft, CN_LIST_EMBRYONIC, FLOWS(f[1], f[2], f[0]), 3);
	assert_int_equal(f[0]->list_at, 4);
	/* The middle one, the tail and the head leave for other lists. */
	cn_ft_list_move(&ft, f[2], CN_LIST_ACTIVE, 5);
	check_list(&ft, CN_LIST_EMBRYONIC, FLOWS(f[1], f[0]), 2);
	check_list(&ft, CN_LIST_ACTIVE, FLOWS(f[2]), 1);
	cn_ft_list_move(&ft, f[0], CN_LIST_ACTIVE, 6);
	cn_ft_list_move(&ft, f[3], CN_LIST_ACTIVE, 7);
	check_list(&ft, CN_LIST_ACTIVE, FLOWS(f[2], f[0], f[3]), 3);
	check_list(&ft, CN_LIST_EMBRYONIC, FLOWS(f[1]), 1);
	cn_ft_list_move(&ft, f[1], CN_LIST_CLOSED, 8);
	check_list(&ft, CN_LIST_EMBRYONIC, NULL, 0);
	check_list(&ft, CN_LIST_CLOSED, FLOWS(f[1]), 1);
	assert_int_equal(f[1]->list_at, 8);
	cn_ft_list_move(&ft, f[4], CN_LIST_CLOSED, 9);
	cn_ft_list_move(&ft, f[5], CN_LIST_CLOSED, 10);
	cn_ft_list_move(&ft, f[4], CN_LIST_CLOSED, 11);
	check_list(&ft, CN_LIST_CLOSED, FLOWS(f[1], f[5], f[4]), 3);

	/* Release unlinks from the middle, the head and the tail. */
	cn_ft_release(&ft, f[0]);
	check_list(&ft, CN_LIST_ACTIVE, FLOWS(f[2], f[3]), 2);
	cn_ft_release(&ft, f[1]);
	check_list(&ft, CN_LIST_CLOSED, FLOWS(f[5], f[4]), 2);
	cn_ft_release(&ft, f[4]);
	check_list(&ft, CN_LIST_CLOSED, FLOWS(f[5]), 1);
	cn_ft_release(&ft, f[5]);
	check_list(&ft, CN_LIST_CLOSED, NULL, 0);
	check_list(&ft, CN_LIST_ACTIVE, FLOWS(f[2], f[3]), 2);
	cn_ft_fini(&ft);
}

/* Random moves, releases and allocations against a shadow of the lists. */
#define LCAP 48

struct shadow {
	struct cn_flow *l[CN_LIST_MAX][LCAP];
	uint32_t n[CN_LIST_MAX];
};

static void shadow_remove(struct shadow *s, struct cn_flow *f)
{
	for (int l = 0; l < CN_LIST_MAX; l++) {
		for (uint32_t i = 0; i < s->n[l]; i++) {
			if (s->l[l][i] != f)
				continue;
			memmove(&s->l[l][i], &s->l[l][i + 1],
				(s->n[l] - i - 1) * sizeof(s->l[l][0]));
			s->n[l]--;
			return;
		}
	}
}

static void test_lists_random(void **state)
{
	static struct shadow s;
	struct cn_flow *slot[LCAP] = { NULL };
	struct cn_flow_table ft;
	struct cn_flow_key k;
	uint32_t next_key = 0;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(cn_ft_init(&ft, LCAP, key_a), 0);
	for (uint32_t op = 0; op < 5000; op++) {
		uint32_t i = rnd() % LCAP, what = rnd() % 8;

		if (!slot[i]) {
			make_key(&k, next_key++);
			slot[i] = alloc(&ft, &k);
			assert_non_null(slot[i]);
		} else if (what == 0) {
			shadow_remove(&s, slot[i]);
			cn_ft_release(&ft, slot[i]);
			slot[i] = NULL;
		} else {
			enum cn_list l = (enum cn_list)(rnd() % CN_LIST_MAX);

			shadow_remove(&s, slot[i]);
			s.l[l][s.n[l]++] = slot[i];
			cn_ft_list_move(&ft, slot[i], l, op);
			assert_int_equal(slot[i]->list_at, op);
		}
		for (int l = 0; l < CN_LIST_MAX; l++)
			check_list(&ft, (enum cn_list)l, s.l[l], s.n[l]);
	}
	cn_ft_fini(&ft);
}

/* ---- SYN timer heap ----------------------------------------------------- */

#define HCAP 256

/* The heap's own bookkeeping: each set flow sits where it says, below a
 * parent that is not later. */
static void check_heap(const struct cn_flow_table *ft, const bool *set,
		       uint32_t nset)
{
	assert_int_equal(ft->heap_len, nset);
	for (uint32_t i = 0; i < ft->capacity; i++) {
		const struct cn_flow *f = &ft->slots[i];

		if (!set[i]) {
			assert_int_equal(f->heap_pos, CN_NIL);
			continue;
		}
		assert_true(f->heap_pos < ft->heap_len);
		assert_int_equal(ft->heap[f->heap_pos], i);
		if (f->heap_pos > 0) {
			uint32_t parent = ft->heap[(f->heap_pos - 1) / 2];

			assert_true(ft->slots[parent].deadline <= f->deadline);
		}
	}
}

static uint64_t random_deadline(void)
{
	switch (rnd() % 4) {
	case 0:
		return rnd() % 16; /* many ties */
	case 1:
		return UINT64_MAX - rnd() % 4;
	default:
		return rnd64();
	}
}

static void test_timer_random(void **state)
{
	static uint64_t want[HCAP];
	static bool set[HCAP];
	struct cn_flow *slot[HCAP];
	struct cn_flow_table ft;
	struct cn_flow_key k;
	uint32_t nset = 0, next_key = HCAP;

	(void)state;
	memset(set, 0, sizeof(set));
	assert_int_equal(cn_ft_init(&ft, HCAP, key_b), 0);
	for (uint32_t i = 0; i < HCAP; i++) {
		make_key(&k, i);
		slot[i] = alloc(&ft, &k);
		assert_int_equal(cn_ft_index(&ft, slot[i]), i);
	}
	for (uint32_t op = 0; op < 20000; op++) {
		uint32_t i = rnd() % HCAP, what = rnd() % 10;
		const struct cn_flow *first;
		uint64_t min = UINT64_MAX;

		if (what < 5) {          /* set or update */
			want[i] = random_deadline();
			nset += !set[i];
			set[i] = true;
			cn_ft_timer_set(&ft, slot[i], want[i]);
		} else if (what < 9) {   /* clear, also when not set */
			nset -= set[i];
			set[i] = false;
			cn_ft_timer_clear(&ft, slot[i]);
		} else {                 /* release clears the timer */
			nset -= set[i];
			set[i] = false;
			cn_ft_release(&ft, slot[i]);
			make_key(&k, next_key++);
			slot[i] = alloc(&ft, &k);
			assert_int_equal(cn_ft_index(&ft, slot[i]), i);
		}
		for (uint32_t j = 0; j < HCAP; j++)
			if (set[j] && want[j] < min)
				min = want[j];
		first = cn_ft_timer_first(&ft);
		if (!nset) {
			assert_null(first);
		} else {
			uint32_t fi;

			assert_non_null(first);
			fi = cn_ft_index(&ft, first);
			assert_true(set[fi]);
			assert_true(first->deadline == want[fi]);
			assert_true(want[fi] == min);
		}
		if (op % 64 == 0)
			check_heap(&ft, set, nset);
	}
	check_heap(&ft, set, nset);
	cn_ft_fini(&ft);
}

/* Popping the first timer over and over yields the deadlines sorted. */
static void test_timer_drain(void **state)
{
	struct cn_flow_table ft;
	struct cn_flow_key k;
	uint64_t last = 0;
	uint32_t popped = 0;
	const uint32_t n = 200;

	(void)state;
	assert_int_equal(cn_ft_init(&ft, n, key_a), 0);
	for (uint32_t i = 0; i < n; i++) {
		struct cn_flow *f;

		make_key(&k, i);
		f = alloc(&ft, &k);
		cn_ft_timer_set(&ft, f, random_deadline());
		if (i % 3 == 0) /* and move some later or earlier */
			cn_ft_timer_set(&ft, f, random_deadline());
	}
	for (struct cn_flow *f; (f = cn_ft_timer_first(&ft)) != NULL;) {
		assert_true(f->deadline >= last);
		last = f->deadline;
		cn_ft_timer_clear(&ft, f);
		assert_int_equal(f->heap_pos, CN_NIL);
		popped++;
	}
	assert_int_equal(popped, n);
	assert_int_equal(ft.heap_len, 0);
	cn_ft_fini(&ft);
}

/* ---- keyed buckets --------------------------------------------------- */

/* bucket[i]: the bucket whose chain holds slot i. */
static void bucket_layout(const struct cn_flow_table *ft, uint32_t *bucket)
{
	uint32_t seen = 0;

	for (uint32_t i = 0; i < ft->capacity; i++)
		bucket[i] = CN_NIL;
	for (uint32_t b = 0; b <= ft->mask; b++) {
		for (uint32_t i = ft->buckets[b]; i != CN_NIL;
		     i = ft->slots[i].hnext) {
			assert_true(i < ft->capacity);
			assert_int_equal(bucket[i], CN_NIL);
			bucket[i] = b;
			seen++;
		}
	}
	assert_int_equal(seen, ft->count);
}

static void test_buckets_keyed(void **state)
{
	static uint32_t la[HCAP], la2[HCAP], lb[HCAP];
	struct cn_flow_table a, a2, b;
	struct cn_flow_key k;
	uint32_t differ = 0;

	(void)state;
	assert_int_equal(cn_ft_init(&a, HCAP, key_a), 0);
	assert_int_equal(cn_ft_init(&a2, HCAP, key_a), 0);
	assert_int_equal(cn_ft_init(&b, HCAP, key_b), 0);
	assert_int_equal(a.mask, b.mask);
	for (uint32_t i = 0; i < HCAP; i++) {
		make_key(&k, i);
		assert_int_equal(cn_ft_index(&a, alloc(&a, &k)), i);
		assert_int_equal(cn_ft_index(&a2, alloc(&a2, &k)), i);
		assert_int_equal(cn_ft_index(&b, alloc(&b, &k)), i);
	}
	bucket_layout(&a, la);
	bucket_layout(&a2, la2);
	bucket_layout(&b, lb);
	assert_memory_equal(la, la2, sizeof(la));
	for (uint32_t i = 0; i < HCAP; i++)
		differ += la[i] != lb[i];
	/* Same bucket under both keys by chance: about 1 in 256. */
	assert_true(differ > HCAP * 3 / 4);
	for (uint32_t i = 0; i < HCAP; i++) {
		make_key(&k, i);
		assert_ptr_equal(lookup(&b, &k), &b.slots[i]);
	}
	cn_ft_fini(&a);
	cn_ft_fini(&a2);
	cn_ft_fini(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_rejects),
		cmocka_unit_test(test_many_keys),
		cmocka_unit_test(test_one_byte_apart),
		cmocka_unit_test(test_free_list_reuse),
		cmocka_unit_test(test_lists_order),
		cmocka_unit_test(test_lists_random),
		cmocka_unit_test(test_timer_random),
		cmocka_unit_test(test_timer_drain),
		cmocka_unit_test(test_buckets_keyed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
