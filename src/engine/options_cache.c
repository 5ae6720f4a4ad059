// SPDX-License-Identifier: MIT
#include "options_cache.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "siphash.h"

#define WAYS 4
/* Set in what cn_oc_get() returns so an entry never reads as "nothing". */
#define CN_OC_MSS_KNOWN (1u << 7)

struct server_id {
	uint8_t family;
	uint8_t pad;
	uint16_t port;
	uint8_t addr[16];
};

static void server_id(const struct cn_flow_key *key, struct server_id *id)
{
	memset(id, 0, sizeof(*id));
	id->family = key->family;
	id->port = key->sport;
	memcpy(id->addr, key->saddr, sizeof(id->addr));
}

static struct cn_opt_entry *set_of(const struct cn_opt_cache *c,
				   const struct server_id *id)
{
	uint64_t h = cn_siphash(c->hash_key, id, sizeof(*id));

	return &c->e[(h & (c->sets - 1)) * WAYS];
}

static bool same(const struct cn_opt_entry *e, const struct server_id *id)
{
	return e->family == id->family && e->port == id->port &&
	       !memcmp(e->addr, id->addr, sizeof(e->addr));
}

int cn_oc_init(struct cn_opt_cache *c, uint32_t entries,
	       const uint8_t hash_key[16])
{
	uint32_t sets = 1;

	memset(c, 0, sizeof(*c));
	if (entries < WAYS || entries > (1u << 24))
		return -EINVAL;
	while (sets * WAYS < entries)
		sets <<= 1;
	c->e = calloc((size_t)sets * WAYS, sizeof(*c->e));
	if (!c->e)
		return -ENOMEM;
	c->sets = sets;
	memcpy(c->hash_key, hash_key, sizeof(c->hash_key));
	return 0;
}

void cn_oc_fini(struct cn_opt_cache *c)
{
	free(c->e);
	memset(c, 0, sizeof(*c));
}

static struct cn_opt_entry *find(const struct cn_opt_cache *c,
				 const struct cn_flow_key *key)
{
	struct server_id id;
	struct cn_opt_entry *set;

	server_id(key, &id);
	set = set_of(c, &id);
	for (int w = 0; w < WAYS; w++)
		if (set[w].family && same(&set[w], &id))
			return &set[w];
	return NULL;
}

unsigned cn_oc_get(const struct cn_opt_cache *c, const struct cn_flow_key *key,
		   struct cn_syn_opts *out)
{
	const struct cn_opt_entry *e = find(c, key);

	if (!e)
		return 0;
	*out = e->opts;
	return e->known | CN_OC_MSS_KNOWN;
}

uint64_t cn_oc_peer(const struct cn_opt_cache *c, const struct cn_flow_key *key)
{
	const struct cn_opt_entry *e = find(c, key);

	return e ? e->peer_ns : 0;
}

void cn_oc_set_peer(struct cn_opt_cache *c, const struct cn_flow_key *key,
		    uint64_t ns)
{
	struct cn_opt_entry *e = find(c, key);

	if (e)
		e->peer_ns = ns;
}

static void merge(struct cn_opt_entry *e, const struct cn_syn_opts *o,
		  unsigned known)
{
	e->opts.mss = o->mss;
	if (known & CN_OC_WSCALE)
		e->opts.wscale = o->wscale;
	if (known & CN_OC_SACK)
		e->opts.sack_ok = o->sack_ok;
	if (known & CN_OC_TS)
		e->opts.ts = o->ts;
	e->known |= (uint8_t)known;
}

void cn_oc_put(struct cn_opt_cache *c, const struct cn_flow_key *key,
	       const struct cn_syn_opts *opts, unsigned known)
{
	struct server_id id;
	struct cn_opt_entry *set, *victim;

	server_id(key, &id);
	set = set_of(c, &id);
	victim = &set[0];
	for (int w = 0; w < WAYS; w++) {
		if (set[w].family && same(&set[w], &id)) {
			victim = &set[w];
			break;
		}
		if (!set[w].family ||
		    (victim->family && set[w].stamp < victim->stamp))
			victim = &set[w];
	}
	if (!victim->family || !same(victim, &id)) {
		memset(victim, 0, sizeof(*victim));
		victim->family = id.family;
		victim->port = id.port;
		memcpy(victim->addr, id.addr, sizeof(victim->addr));
	}
	victim->stamp = ++c->clock;
	merge(victim, opts, known);
}

static int by_stamp(const void *a, const void *b)
{
	const struct cn_opt_entry *x = *(const struct cn_opt_entry *const *)a;
	const struct cn_opt_entry *y = *(const struct cn_opt_entry *const *)b;

	return x->stamp < y->stamp ? -1 : x->stamp > y->stamp;
}

size_t cn_oc_dump(const struct cn_opt_cache *c, struct cn_flow_key *keys,
		  struct cn_syn_opts *opts, uint8_t *known, size_t max)
{
	size_t cap = cn_oc_capacity(c), n = 0;
	const struct cn_opt_entry **v = malloc(cap * sizeof(*v));

	if (!v)
		return 0;
	for (size_t i = 0; i < cap; i++)
		if (c->e[i].family)
			v[n++] = &c->e[i];
	qsort(v, n, sizeof(*v), by_stamp);
	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++) {
		memset(&keys[i], 0, sizeof(keys[i]));
		keys[i].family = v[i]->family;
		keys[i].sport = v[i]->port;
		memcpy(keys[i].saddr, v[i]->addr, sizeof(keys[i].saddr));
		opts[i] = v[i]->opts;
		known[i] = v[i]->known;
	}
	free(v);
	return n;
}
