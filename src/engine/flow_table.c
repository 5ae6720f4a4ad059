// SPDX-License-Identifier: MIT
#include "flow_table.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "siphash.h"

#define CN_FT_MAX_CAPACITY (1u << 24)

/* Only the bytes in use: an IPv4 key is family, ports and two 4-byte
 * addresses, 16 bytes instead of 40, which halves SipHash's rounds. */
uint32_t cn_ft_hash(const struct cn_flow_table *ft,
		    const struct cn_flow_key *key)
{
	uint8_t v4[16];

	if (key->family == 6)
		return (uint32_t)cn_siphash(ft->hash_key, key, sizeof(*key));
	memcpy(v4, key, 12); /* family, pad, ports, client address */
	memcpy(v4 + 12, key->saddr, 4);
	return (uint32_t)cn_siphash(ft->hash_key, v4, sizeof(v4));
}

int cn_ft_init(struct cn_flow_table *ft, uint32_t capacity,
	       const uint8_t hash_key[16])
{
	uint32_t nb = 1;

	memset(ft, 0, sizeof(*ft));
	if (capacity == 0 || capacity > CN_FT_MAX_CAPACITY)
		return -EINVAL;
	while (nb < capacity)
		nb <<= 1;
	ft->slots = aligned_alloc(64, (size_t)capacity * sizeof(*ft->slots));
	ft->buckets = malloc((size_t)nb * sizeof(*ft->buckets));
	ft->heap = malloc((size_t)capacity * sizeof(*ft->heap));
	if (!ft->slots || !ft->buckets || !ft->heap) {
		cn_ft_fini(ft);
		return -ENOMEM;
	}
	memset(ft->slots, 0, (size_t)capacity * sizeof(*ft->slots));
	memcpy(ft->hash_key, hash_key, sizeof(ft->hash_key));
	ft->capacity = capacity;
	ft->mask = nb - 1;
	memset(ft->buckets, 0xff, (size_t)nb * sizeof(*ft->buckets));
	for (uint32_t i = 0; i < capacity; i++)
		ft->slots[i].hnext = i + 1 < capacity ? i + 1 : CN_NIL;
	ft->free_head = 0;
	for (int l = 0; l < CN_LIST_MAX; l++)
		ft->head[l] = ft->tail[l] = CN_NIL;
	return 0;
}

void cn_ft_fini(struct cn_flow_table *ft)
{
	free(ft->slots);
	free(ft->buckets);
	free(ft->heap);
	memset(ft, 0, sizeof(*ft));
}

struct cn_flow *cn_ft_lookup(const struct cn_flow_table *ft,
			     const struct cn_flow_key *key, uint32_t hash)
{
	uint32_t i = ft->buckets[hash & ft->mask];

	while (i != CN_NIL) {
		struct cn_flow *f = &ft->slots[i];

		if (f->hash == hash && !memcmp(&f->key, key, sizeof(*key)))
			return f;
		i = f->hnext;
	}
	return NULL;
}

struct cn_flow *cn_ft_alloc(struct cn_flow_table *ft,
			    const struct cn_flow_key *key, uint32_t hash)
{
	uint32_t i = ft->free_head, b;
	struct cn_flow *f;

	if (i == CN_NIL)
		return NULL;
	f = &ft->slots[i];
	ft->free_head = f->hnext;
	memset(f, 0, sizeof(*f));
	f->key = *key;
	f->prev = f->next = f->heap_pos = CN_NIL;
	f->list = CN_LIST_NONE;
	f->hash = hash;
	b = hash & ft->mask;
	f->hnext = ft->buckets[b];
	ft->buckets[b] = i;
	ft->count++;
	return f;
}

static void list_unlink(struct cn_flow_table *ft, struct cn_flow *f)
{
	enum cn_list l = f->list;

	if (l == CN_LIST_NONE)
		return;
	if (f->prev != CN_NIL)
		ft->slots[f->prev].next = f->next;
	else
		ft->head[l] = f->next;
	if (f->next != CN_NIL)
		ft->slots[f->next].prev = f->prev;
	else
		ft->tail[l] = f->prev;
	f->prev = f->next = CN_NIL;
	f->list = CN_LIST_NONE;
	ft->len[l]--;
}

void cn_ft_list_move(struct cn_flow_table *ft, struct cn_flow *f,
		     enum cn_list l, uint64_t now)
{
	uint32_t i = cn_ft_index(ft, f);

	list_unlink(ft, f);
	f->list = (uint8_t)l;
	f->list_at = now;
	f->prev = ft->tail[l];
	if (f->prev != CN_NIL)
		ft->slots[f->prev].next = i;
	else
		ft->head[l] = i;
	ft->tail[l] = i;
	ft->len[l]++;
}

struct cn_flow *cn_ft_list_head(const struct cn_flow_table *ft,
				enum cn_list l)
{
	return ft->head[l] == CN_NIL ? NULL : &ft->slots[ft->head[l]];
}

void cn_ft_release(struct cn_flow_table *ft, struct cn_flow *f)
{
	uint32_t i = cn_ft_index(ft, f);
	uint32_t *pp = &ft->buckets[f->hash & ft->mask];

	cn_ft_timer_clear(ft, f);
	list_unlink(ft, f);
	while (*pp != i)
		pp = &ft->slots[*pp].hnext;
	*pp = f->hnext;
	f->state = CN_FS_FREE;
	f->hnext = ft->free_head;
	ft->free_head = i;
	ft->count--;
}

/* Binary min-heap on deadline; each flow knows its slot (heap_pos). */
static uint64_t heap_key(const struct cn_flow_table *ft, uint32_t pos)
{
	return ft->slots[ft->heap[pos]].deadline;
}

static void heap_place(struct cn_flow_table *ft, uint32_t pos, uint32_t idx)
{
	ft->heap[pos] = idx;
	ft->slots[idx].heap_pos = pos;
}

static void heap_up(struct cn_flow_table *ft, uint32_t pos)
{
	uint32_t idx = ft->heap[pos];
	uint64_t key = ft->slots[idx].deadline;

	while (pos > 0) {
		uint32_t parent = (pos - 1) / 2;

		if (heap_key(ft, parent) <= key)
			break;
		heap_place(ft, pos, ft->heap[parent]);
		pos = parent;
	}
	heap_place(ft, pos, idx);
}

static void heap_down(struct cn_flow_table *ft, uint32_t pos)
{
	uint32_t idx = ft->heap[pos];
	uint64_t key = ft->slots[idx].deadline;

	for (;;) {
		uint32_t c = 2 * pos + 1;

		if (c >= ft->heap_len)
			break;
		if (c + 1 < ft->heap_len && heap_key(ft, c + 1) < heap_key(ft, c))
			c++;
		if (key <= heap_key(ft, c))
			break;
		heap_place(ft, pos, ft->heap[c]);
		pos = c;
	}
	heap_place(ft, pos, idx);
}

void cn_ft_timer_set(struct cn_flow_table *ft, struct cn_flow *f,
		     uint64_t deadline)
{
	f->deadline = deadline;
	if (f->heap_pos == CN_NIL) {
		f->heap_pos = ft->heap_len++;
		ft->heap[f->heap_pos] = cn_ft_index(ft, f);
	}
	heap_up(ft, f->heap_pos);
	heap_down(ft, f->heap_pos);
}

void cn_ft_timer_clear(struct cn_flow_table *ft, struct cn_flow *f)
{
	uint32_t pos = f->heap_pos, last;

	if (pos == CN_NIL)
		return;
	f->heap_pos = CN_NIL;
	last = ft->heap[--ft->heap_len];
	if (pos == ft->heap_len)
		return;
	heap_place(ft, pos, last);
	heap_up(ft, pos);
	heap_down(ft, ft->slots[last].heap_pos);
}

struct cn_flow *cn_ft_timer_first(const struct cn_flow_table *ft)
{
	return ft->heap_len ? &ft->slots[ft->heap[0]] : NULL;
}
