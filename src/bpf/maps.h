/* SPDX-License-Identifier: MIT */
/*
 * The programs' maps, with the types user space shares
 * (src/engine/fast_flow.h). The loader sizes cn_flows; the rest are fixed.
 * A successor reuses cn_flows, cn_state and cn_stats; the event rings,
 * their loss count and the per-CPU segment (cn_scratch, classify.h) are
 * each load's own (a successor finds a flow that closed while nobody read
 * its ring closed in its record when it adopts it).
 */
#ifndef CN_BPF_MAPS_H
#define CN_BPF_MAPS_H

#include <linux/bpf.h>

#include <bpf/bpf_helpers.h>

#include "engine/fast_flow.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, struct cn_flow_key);
	__type(value, struct cn_fast_flow);
} cn_flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cn_fast_state);
} cn_state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct cn_fast_stats);
} cn_stats SEC(".maps");

/* Close events (struct cn_fast_close), a ring per daemon worker, which
 * reads its own every turn of its loop and is woken when it is half full.
 * The loader puts the rings in; a flow's goes to the worker its frames go
 * to (cn_fast_key_hash(key) % cn_workers, as the fanout picks it). */
struct cn_ring {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CN_EVENTS_BYTES);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, CN_MAX_WORKERS);
	__type(key, __u32);
	__array(values, struct cn_ring);
} cn_events SEC(".maps");

/* Set by the loader. */
const volatile __u32 cn_workers = 1;

/* Events the full ring refused: the daemon then looks for closed flows in
 * the records itself. */
__u64 cn_events_lost;

#endif
