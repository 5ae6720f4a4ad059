/* SPDX-License-Identifier: MIT */
/*
 * What each server announced in its last real SYN-ACK (MSS, window scale,
 * SACK-permitted, timestamps), so the next spoofed SYN-ACK to the same
 * server address and port can promise the same. Bounded: 4-way set
 * associative under a seeded hash; a full set forgets its oldest entry.
 */
#ifndef CN_OPTIONS_CACHE_H
#define CN_OPTIONS_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "flow_table.h"

/* Which options an entry knows. A server answers only what the client
 * offered, so a SYN-ACK without SACK says nothing of SACK unless the
 * client's SYN asked for it. */
enum {
	CN_OC_WSCALE = 1u << 0,
	CN_OC_SACK = 1u << 1,
	CN_OC_TS = 1u << 2,
};

struct cn_opt_entry {
	uint8_t family;     /* 0: empty */
	uint8_t known;      /* CN_OC_* */
	uint16_t port;
	uint8_t addr[16];
	uint64_t stamp;     /* insertion order, for replacement (never wraps) */
	uint64_t peer_ns;   /* when a peer last answered for it; 0: none */
	struct cn_syn_opts opts;
};

struct cn_opt_cache {
	struct cn_opt_entry *e;
	uint32_t sets;      /* power of two */
	uint64_t clock;
	uint8_t hash_key[16];
};

int cn_oc_init(struct cn_opt_cache *c, uint32_t entries,
	       const uint8_t hash_key[16]);
void cn_oc_fini(struct cn_opt_cache *c);
/* Returns the CN_OC_* mask of what is known (0: nothing); MSS is known
 * whenever the entry exists. */
unsigned cn_oc_get(const struct cn_opt_cache *c, const struct cn_flow_key *key,
		   struct cn_syn_opts *out);
/* Learn the options in known; what an entry knew of the others stays. */
void cn_oc_put(struct cn_opt_cache *c, const struct cn_flow_key *key,
	       const struct cn_syn_opts *opts, unsigned known);

/* Entries in insertion order, oldest first, up to max; returns how many.
 * Each gets its server in key (family, saddr, sport) and what it knows. */
size_t cn_oc_dump(const struct cn_opt_cache *c, struct cn_flow_key *keys,
		  struct cn_syn_opts *opts, uint8_t *known, size_t max);
static inline size_t cn_oc_capacity(const struct cn_opt_cache *c)
{
	return (size_t)c->sets * 4;
}

/* When a peer last answered for the key's server (0: none or unknown). */
uint64_t cn_oc_peer(const struct cn_opt_cache *c, const struct cn_flow_key *key);
/* Remember (ns > 0) or forget (0) the server's peer; the server must have
 * an entry (cn_oc_put first), else nothing happens. */
void cn_oc_set_peer(struct cn_opt_cache *c, const struct cn_flow_key *key,
		    uint64_t ns);

#endif
