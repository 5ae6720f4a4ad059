// SPDX-License-Identifier: MIT
/*
 * What the operator asks of a running engine: the list of its flows, and
 * new limits (timeouts, early-data bounds) without a restart. Read-only
 * walks and a few plain stores, no system calls, like the rest of the
 * engine; the caller runs them on the engine's own thread.
 */
#include <errno.h>
#include <string.h>

#include "engine.h"
#include "flow_table.h"
#include "machine.h"

static const char *const state_names[] = {
	[CN_FS_FREE] = "free",
	[CN_FS_SYN_SENT] = "syn_sent",
	[CN_FS_ESTABLISHED] = "established",
	[CN_FS_CLOSED] = "closed",
};

static const char *const peer_names[] = {
	[CN_FP_NONE] = "none",
	[CN_FP_ASKED] = "asked",
	[CN_FP_EARLY] = "early",
	[CN_FP_FALLBACK] = "fallback",
	[CN_FP_RELAYED] = "relayed",
	[CN_FP_RELAYED_BLIND] = "relayed_blind",
};

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

const char *cn_flow_state_name(unsigned i)
{
	/* A free slot is never a flow of the walk. */
	i += CN_FS_FREE + 1;
	return i < N_ELEMS(state_names) ? state_names[i] : NULL;
}

static void flow_record(const struct cn_engine *eng, const struct cn_flow *f,
			uint64_t now, struct cn_flow_record *r)
{
	*r = (struct cn_flow_record){
		.key = f->key,
		.state = f->state < N_ELEMS(state_names) ?
				 state_names[f->state] : "?",
		.age_ns = now > f->syn_at ? now - f->syn_at : 0,
		.idle_ns = now > f->last_seen ? now - f->last_seen : 0,
		.delta = f->state == CN_FS_SYN_SENT ? 0 : f->delta,
		.held_frames = f->held_frames,
		.held_bytes = f->held_bytes,
		.frames = { f->frames[CN_CLIENT], f->frames[CN_SERVER] },
		.bytes = { f->bytes[CN_CLIENT], f->bytes[CN_SERVER] },
	};
	/* The kernel path carries its plain segments (fast.c). */
	if (f->fast_pub && !(f->fast_flags & CN_FF_SLOW))
		memcpy(r->datapath, "kernel", sizeof("kernel"));
	if (sm_servernic(eng))
		r->peer = "taken_over";
	else
		r->peer = f->peer_state < N_ELEMS(peer_names) ?
				  peer_names[f->peer_state] : "?";
}

size_t cn_engine_flow_walk(const struct cn_engine *eng, uint64_t now_ns,
			   cn_flow_visit fn, void *ctx)
{
	static const enum cn_list order[] = {
		CN_LIST_EMBRYONIC, CN_LIST_ACTIVE, CN_LIST_CLOSED,
	};
	const struct cn_flow_table *ft = &eng->ft;
	struct cn_flow_record r;
	size_t n = 0;

	for (size_t l = 0; l < N_ELEMS(order); l++) {
		/* Bounded by the table: a list never holds more flows than
		 * there are slots, even were its links damaged. */
		uint32_t i = ft->head[order[l]];

		for (uint32_t left = ft->capacity; i != CN_NIL && left; left--) {
			const struct cn_flow *f = &ft->slots[i];

			flow_record(eng, f, now_ns, &r);
			n++;
			if (!fn(ctx, &r))
				return n;
			i = f->next;
		}
	}
	return n;
}

struct dump_ctx {
	struct cn_flow_record *out;
	size_t n, max;
};

static bool dump_one(void *ctx, const struct cn_flow_record *r)
{
	struct dump_ctx *d = ctx;

	if (d->n < d->max)
		d->out[d->n++] = *r;
	return d->n < d->max;
}

size_t cn_engine_flow_dump(const struct cn_engine *eng,
			   struct cn_flow_record *out, size_t max,
			   uint64_t now_ns)
{
	struct dump_ctx d = { .out = out, .max = max };

	if (max)
		cn_engine_flow_walk(eng, now_ns, dump_one, &d);
	return d.n;
}

int cn_engine_set_limits(struct cn_engine *eng, const struct cn_config *cfg)
{
	struct cn_config *c = &eng->cfg;

	if (!cfg->syn_rto_ns || !cfg->syn_timeout_ns || !cfg->idle_timeout_ns ||
	    !cfg->buf_flow_frames ||
	    (!sm_servernic(eng) && cfg->syn_rto_ns > cfg->syn_timeout_ns))
		return -EINVAL;
	c->syn_rto_ns = cfg->syn_rto_ns;
	c->syn_timeout_ns = cfg->syn_timeout_ns;
	c->idle_timeout_ns = cfg->idle_timeout_ns;
	c->close_grace_ns = cfg->close_grace_ns;
	c->buf_flow_bytes = cfg->buf_flow_bytes;
	c->buf_flow_frames = cfg->buf_flow_frames;
	c->buf_total_bytes = cfg->buf_total_bytes;
	eng->touch_ns = sm_touch_ns(cfg->idle_timeout_ns);
	return 0;
}
