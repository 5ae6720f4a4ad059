// SPDX-License-Identifier: MIT
/*
 * The engine's side of the kernel fast path: the record a flow is carried
 * by in the kernel, what the programs wrote back folded into the flow, and
 * flows a predecessor left there taken over.
 */
#include "fast.h"

#include <errno.h>
#include <string.h>

#include "machine.h"

static uint16_t fast_flags(const struct cn_engine *eng, const struct cn_flow *f)
{
	unsigned fins = f->peer[CN_CLIENT].fin + f->peer[CN_SERVER].fin;
	uint16_t fl = 0;

	if (f->state == CN_FS_CLOSED)
		fl |= CN_FF_CLOSED | CN_FF_SLOW;
	/*
	 * Both FINs and their ACKs close the flow, where one side sees them
	 * all. Where the daemon reads the programs' close events the kernel
	 * closes it and says so. A FIN the daemon sees (held data flushed
	 * with it, a retransmission it looks at) goes into the record with
	 * CN_FF_FIN; once the daemon knows both, every frame is its own, or
	 * the kernel could see the last ACK without the FIN only the daemon
	 * saw. With one, the ACK of that FIN may cross the kernel: it is
	 * folded in before the second FIN is acted on, and the second's ACK
	 * comes to the daemon.
	 */
	if (eng->io.fast_closes)
		fl |= CN_FF_KCLOSE;
	if (f->held || fins == 2)
		fl |= CN_FF_SLOW;
	if (fins)
		fl |= CN_FF_FIN;
	if (f->passthrough)
		fl |= CN_FF_PASSTHROUGH;
	if (f->peer_state == CN_FP_RELAYED && f->passthrough)
		fl |= CN_FF_RELAYED;
	if (eng->cfg.role == CN_ROLE_SERVERNIC)
		fl |= CN_FF_PROBES;
	if (f->translate_ts)
		fl |= CN_FF_TRANSLATE_TS;
	if (f->strip_ts_c2s)
		fl |= CN_FF_STRIP_TS_C2S;
	if (f->strip_sack_c2s)
		fl |= CN_FF_STRIP_SACK_C2S;
	if (f->strip_sack_s2c)
		fl |= CN_FF_STRIP_SACK_S2C;
	return fl;
}

static struct cn_fast_opts opts_out(const struct cn_syn_opts *o)
{
	return (struct cn_fast_opts){
		.mss = o->mss,
		.wscale = o->wscale,
		.flags = (uint8_t)((o->sack_ok ? 1 : 0) | (o->ts ? 2 : 0)),
	};
}

static struct cn_syn_opts opts_in(const struct cn_fast_opts *o)
{
	return (struct cn_syn_opts){
		.mss = o->mss,
		.wscale = o->wscale,
		.sack_ok = o->flags & 1,
		.ts = o->flags & 2,
	};
}

void cn_fast_export(const struct cn_engine *eng, const struct cn_flow *f,
		    struct cn_fast_flow *rec)
{
	memset(rec, 0, sizeof(*rec));
	rec->x = (struct cn_fast_xlate){
		.delta = f->delta,
		.ts_delta = f->ts_delta,
		.flags = fast_flags(eng, f),
		.cut_mss = f->cut_mss,
		.c2s_shift_in = f->c2s_shift_in,
		.c2s_shift_out = f->c2s_shift_out,
		.s2c_shift_in = f->s2c_shift_in,
		.s2c_shift_out = f->s2c_shift_out,
	};
	rec->client_isn = f->client_isn;
	rec->spoof_isn = f->spoof_isn;
	rec->real_isn = f->real_isn;
	rec->spoof_tsval = f->spoof_tsval;
	rec->client_tsval = f->client_tsval;
	rec->client = opts_out(&f->client);
	rec->spoofed = opts_out(&f->spoofed);
	rec->real = opts_out(&f->real);
	rec->peer_state = f->peer_state;
	rec->born_ns = f->syn_at;
	rec->last_seen_ns = f->last_seen;
	for (int s = CN_CLIENT; s <= CN_SERVER; s++) {
		const struct cn_peer *p = &f->peer[s];
		struct cn_fast_end *e = &rec->dir[s];

		e->end = p->end;
		e->ack = p->ack;
		e->max_win = p->max_win;
		e->fin_seq = p->fin_seq;
		e->ack_seen = p->ack_seen;
		e->fin = p->fin;
		/* As if both ends had just been heard: the record is new
		 * or the daemon just saw the flow. */
		e->seen_ms = (uint32_t)(f->last_seen / 1000000);
	}
}

void cn_fast_fold(struct cn_flow *f, const struct cn_fast_flow *rec,
		  uint64_t now)
{
	/* A program may stamp a frame after the caller read its clock: a
	 * time ahead of now would make the flow's idle time wrap. */
	uint64_t seen = rec->last_seen_ns < now ? rec->last_seen_ns : now;

	if (seen > f->last_seen)
		f->last_seen = seen;
	for (int s = CN_CLIENT; s <= CN_SERVER; s++) {
		const struct cn_fast_end *e = &rec->dir[s];
		struct cn_peer *p = &f->peer[s];

		if (cn_seq_lt(p->end, e->end))
			p->end = e->end;
		if (e->ack_seen && (!p->ack_seen || cn_seq_lt(p->ack, e->ack))) {
			p->ack = e->ack;
			p->ack_seen = true;
		}
		if (e->max_win > p->max_win)
			p->max_win = e->max_win;
		/* The programs record a FIN while the daemon is away, or
		 * always with CN_FF_KCLOSE. */
		if (e->fin && !p->fin) {
			p->fin = true;
			p->fin_seq = e->fin_seq;
		}
	}
}

void sm_fast_refresh(struct cn_engine *eng, struct cn_flow *f, uint64_t now)
{
	struct cn_fast_flow rec;

	/* The programs leave every frame of a slow flow to a live daemon
	 * and track none of them: nothing to read back. */
	if (f->fast_flags & CN_FF_SLOW)
		return;
	if (f->fast_pub && eng->io.fast_get &&
	    eng->io.fast_get(eng->io.ctx, &f->key, &rec))
		cn_fast_fold(f, &rec, now);
}

static bool closed_there(struct cn_engine *eng, struct cn_flow *f, uint64_t now)
{
	if (f->state != CN_FS_ESTABLISHED || !(f->fast_flags & CN_FF_KCLOSE) ||
	    !sm_both_fins_acked(f))
		return false;
	/* The record stays as it is: the programs translate the stragglers
	 * of the grace period (and send a new SYN on the 4-tuple here). */
	eng->ctr.flows_closed_kernel++;
	sm_flow_close(eng, f, now);
	return true;
}

bool sm_fast_sync(struct cn_engine *eng, struct cn_flow *f, uint64_t now)
{
	sm_fast_refresh(eng, f, now);
	return closed_there(eng, f, now);
}

int cn_engine_fast_closed(struct cn_engine *eng, const struct cn_flow_key *key,
			  const struct cn_fast_flow *rec, uint64_t now)
{
	struct cn_flow *f = cn_ft_lookup(&eng->ft, key, cn_ft_hash(&eng->ft, key));

	/* Freed since (expired, reset), a new connection on the 4-tuple
	 * whose record the programs have not closed, or a flow translated
	 * here since its peer vanished (the record is in another space). */
	if (!f || !f->fast_pub || f->client_isn != rec->client_isn ||
	    f->spoof_isn != rec->spoof_isn ||
	    ((rec->x.flags ^ f->fast_flags) & CN_FF_PASSTHROUGH)) {
		eng->ctr.fast_closes_stale++;
		return -ENOENT;
	}
	if (f->state != CN_FS_ESTABLISHED)
		return -EALREADY;
	cn_fast_fold(f, rec, now);
	return closed_there(eng, f, now) ? 0 : -EALREADY;
}

uint32_t cn_engine_fast_sweep(struct cn_engine *eng, uint64_t now,
			      uint32_t from, uint32_t slots, unsigned *closed)
{
	uint32_t cap = eng->ft.capacity;
	uint32_t end = from < cap && slots < cap - from ? from + slots : cap;

	for (uint32_t i = from; i < end; i++) {
		struct cn_flow *f = &eng->ft.slots[i];

		if (f->state != CN_FS_ESTABLISHED || !f->fast_pub ||
		    !(f->fast_flags & CN_FF_KCLOSE))
			continue;
		*closed += sm_fast_sync(eng, f, now);
	}
	return end < cap ? end : 0;
}

void sm_fast_publish(struct cn_engine *eng, struct cn_flow *f)
{
	struct cn_fast_flow rec;

	if (!eng->io.fast_put || f->state == CN_FS_SYN_SENT)
		return;
	/* A client that has not spoken may be a forged source (a SYN
	 * flood): nothing for the kernel to carry until it does, and the
	 * server sends nothing before it has. */
	if (!f->fast_pub && !f->client_acked && !f->peer[CN_CLIENT].ack_seen)
		return;
	cn_fast_export(eng, f, &rec);
	if (f->fast_pub && rec.x.flags == f->fast_flags)
		return;
	/* The write replaces what the programs recorded since the frame's
	 * read: a FIN only the kernel saw would be lost, and with it the
	 * close. Read it again just before (rare: a flag changed). */
	if (f->fast_pub && (f->fast_flags & (CN_FF_KCLOSE | CN_FF_SLOW)) == CN_FF_KCLOSE) {
		sm_fast_sync(eng, f, f->last_seen);
		cn_fast_export(eng, f, &rec);
	}
	if (eng->io.fast_put(eng->io.ctx, &f->key, &rec, !f->fast_pub)) {
		/* Without a record the kernel would pass the server's
		 * segments untranslated: keep the flow out of it. */
		eng->ctr.fast_put_failed++;
		if (f->fast_pub) {
			eng->io.fast_del(eng->io.ctx, &f->key);
			f->fast_pub = false;
		}
		return;
	}
	f->fast_pub = true;
	f->fast_flags = rec.x.flags;
}

void sm_fast_forget(struct cn_engine *eng, struct cn_flow *f)
{
	if (!f->fast_pub)
		return;
	eng->io.fast_del(eng->io.ctx, &f->key);
	f->fast_pub = false;
}

static bool record_ok(const struct cn_flow_key *key,
		      const struct cn_fast_flow *rec)
{
	const struct cn_fast_xlate *x = &rec->x;
	const struct cn_fast_opts *opts[] = { &rec->client, &rec->spoofed,
					      &rec->real };

	if (key->family != 4 && key->family != 6)
		return false;
	if (x->c2s_shift_in > CN_MAX_WSCALE || x->c2s_shift_out > CN_MAX_WSCALE ||
	    x->s2c_shift_in > CN_MAX_WSCALE || x->s2c_shift_out > CN_MAX_WSCALE)
		return false;
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if (opts[i]->wscale < -1 || opts[i]->wscale > CN_MAX_WSCALE ||
		    opts[i]->flags > 3)
			return false;
	return rec->peer_state <= CN_FP_RELAYED_BLIND &&
	       !(x->flags & ~CN_FF_ALL);
}

int cn_engine_adopt(struct cn_engine *eng, const struct cn_flow_key *key,
		    const struct cn_fast_flow *rec, uint64_t now)
{
	const struct cn_fast_xlate *x = &rec->x;
	uint32_t hash = cn_ft_hash(&eng->ft, key);
	bool closed = x->flags & CN_FF_CLOSED;
	struct cn_flow *f;

	if (!record_ok(key, rec))
		return -EINVAL;
	if (cn_ft_lookup(&eng->ft, key, hash))
		return -EEXIST;
	if (!(f = cn_ft_alloc(&eng->ft, key, hash)))
		return -ENOSPC;
	f->held_tail = &f->held;
	f->state = closed ? CN_FS_CLOSED : CN_FS_ESTABLISHED;
	f->delta = x->delta;
	f->ts_delta = x->ts_delta;
	f->cut_mss = x->cut_mss;
	f->c2s_shift_in = x->c2s_shift_in;
	f->c2s_shift_out = x->c2s_shift_out;
	f->s2c_shift_in = x->s2c_shift_in;
	f->s2c_shift_out = x->s2c_shift_out;
	f->passthrough = x->flags & CN_FF_PASSTHROUGH;
	f->translate_ts = x->flags & CN_FF_TRANSLATE_TS;
	f->strip_ts_c2s = x->flags & CN_FF_STRIP_TS_C2S;
	f->strip_sack_c2s = x->flags & CN_FF_STRIP_SACK_C2S;
	f->strip_sack_s2c = x->flags & CN_FF_STRIP_SACK_S2C;
	f->client_isn = rec->client_isn;
	f->spoof_isn = rec->spoof_isn;
	f->real_isn = rec->real_isn;
	f->spoof_tsval = rec->spoof_tsval;
	f->client_tsval = rec->client_tsval;
	f->client = opts_in(&rec->client);
	f->spoofed = opts_in(&rec->spoofed);
	f->real = opts_in(&rec->real);
	f->peer_state = rec->peer_state;
	f->client_acked = true;
	f->syn_at = rec->born_ns <= now ? rec->born_ns : now;
	f->last_seen = rec->last_seen_ns <= now ? rec->last_seen_ns : now;
	/* Taken as they are: folding into zeroed edges would keep every
	 * edge of the upper half of the sequence space at 0. */
	for (int s = CN_CLIENT; s <= CN_SERVER; s++) {
		const struct cn_fast_end *e = &rec->dir[s];

		f->peer[s] = (struct cn_peer){
			.end = e->end,
			.ack = e->ack,
			.max_win = e->max_win,
			.fin_seq = e->fin_seq,
			.fin = e->fin,
			.ack_seen = e->ack_seen,
		};
	}
	/* Closed while the kernel carried it alone. */
	if (!closed && sm_both_fins_acked(f)) {
		closed = true;
		f->state = CN_FS_CLOSED;
	}
	cn_ft_list_move(&eng->ft, f, closed ? CN_LIST_CLOSED : CN_LIST_ACTIVE,
			now);
	f->fast_pub = eng->io.fast_put != NULL;
	f->fast_flags = x->flags;
	eng->ctr.flows_adopted++;
	sm_event(eng, CN_EV_ADOPTED, f, now);
	/* Flags follow the flow's state, which this engine may see
	 * differently (its role, a FIN the programs recorded). */
	sm_fast_publish(eng, f);
	return 0;
}
