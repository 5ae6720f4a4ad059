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

struct cn_opt_entry {
	uint8_t family;     /* 0: empty */
	uint16_t port;
	uint8_t addr[16];
	uint32_t stamp;     /* insertion order, for replacement */
	struct cn_syn_opts opts;
};

struct cn_opt_cache {
	struct cn_opt_entry *e;
	uint32_t sets;      /* power of two */
	uint32_t clock;
	uint8_t hash_key[16];
};

int cn_oc_init(struct cn_opt_cache *c, uint32_t entries,
	       const uint8_t hash_key[16]);
void cn_oc_fini(struct cn_opt_cache *c);
bool cn_oc_get(const struct cn_opt_cache *c, const struct cn_flow_key *key,
	       struct cn_syn_opts *out);
void cn_oc_put(struct cn_opt_cache *c, const struct cn_flow_key *key,
	       const struct cn_syn_opts *opts);

#endif
