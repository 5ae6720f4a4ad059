// SPDX-License-Identifier: MIT
#include "worker.h"

#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "event_log.h"
#include "log.h"
#include "pktio.h"

/* Receive bursts per side before the loop looks at signals and timers
 * again: bounds the time a flood on the ports can delay them. */
#define MAX_ROUNDS 16

/* ---- frames ------------------------------------------------------- */

static void capture(struct worker_env *env, const struct port *p, bool out,
		    uint64_t ts_ns, const struct cn_frame *f)
{
	if (!env->pcap)
		return;
	/* libpcap's dump handle is one FILE: one writer at a time. */
	pthread_mutex_lock(&env->pcap_lock);
	pcap_out_frame(env->pcap, &p->pif, out,
		       ts_ns ? ts_ns : cn_log_realtime_ns(), f);
	pthread_mutex_unlock(&env->pcap_lock);
}

/* A received frame goes out by reference (it stays in the receive ring
 * until both ports are flushed); a frame the engine built is copied. */
static void send_frame(struct worker *w, enum cn_side to,
		       const struct cn_frame *f, bool by_ref)
{
	struct port *p = &w->port[to];
	int ret = by_ref ? pktio_send_ref(p->io, f) : pktio_send(p->io, f);

	if (ret < 0) {
		p->tx_dropped++;
		if (p->tx_dropped == 1 || cn_log_enabled(CN_LOG_DEBUG))
			cn_warn("%s: send of a %u-byte frame failed: %s",
				p->ifname, f->len, strerror(-ret));
		return;
	}
	capture(w->env, p, true, 0, f);
}

static void on_emit(void *ctx, enum cn_side to, const struct cn_frame *f)
{
	send_frame(ctx, to, f, false);
}

static void on_event(void *ctx, const struct cn_event *ev)
{
	struct worker *w = ctx;

	w->events++;
	event_log_write(ev, (enum cn_role)w->env->cfg->engine.role);
}

static bool fast_last_is(const struct worker *w, const struct cn_flow_key *key)
{
	return w->fast_last.valid && !memcmp(&w->fast_last.key, key, sizeof(*key));
}

static int on_fast_put(void *ctx, const struct cn_flow_key *key,
		       const struct cn_fast_flow *rec, bool first)
{
	struct worker *w = ctx;
	const struct cn_fast_flow *known =
		!first && fast_last_is(w, key) ? &w->fast_last.rec : NULL;
	int err = fastpath_put(w->env->fast, key, rec, first, known);

	/* A live daemon's slow flow is counted by no program: what was just
	 * written stays the record's counts until the daemon writes again.
	 * (A daemon the programs take for dead, starved past --fail-open,
	 * may lose a few frames' counts this way; they are figures only.) */
	w->fast_last.valid = false;
	if (!err && (rec->x.flags & CN_FF_SLOW)) {
		struct cn_fast_flow keep = *rec;

		if (known || first)
			for (int s = CN_CLIENT; s <= CN_SERVER; s++) {
				keep.dir[s].frames = first ? 0 : known->dir[s].frames;
				keep.dir[s].bytes = first ? 0 : known->dir[s].bytes;
			}
		w->fast_last.valid = known || first;
		w->fast_last.read = false;
		w->fast_last.key = *key;
		w->fast_last.rec = keep;
	}
	return err;
}

static void on_fast_del(void *ctx, const struct cn_flow_key *key)
{
	struct worker *w = ctx;

	if (fast_last_is(w, key))
		w->fast_last.valid = false;
	fastpath_del(w->env->fast, key);
}

/* Before each frame and timer run: the programs may have counted frames
 * of a flow that is not slow since its record was read. */
static void fast_last_turn(struct worker *w)
{
	if (w->fast_last.read)
		w->fast_last.valid = false;
}

static bool on_fast_get(void *ctx, const struct cn_flow_key *key,
			struct cn_fast_flow *rec)
{
	struct worker *w = ctx;
	bool ok = fastpath_get(w->env->fast, key, rec);

	/* Read just before the engine acts on the flow's frame, which may
	 * write a new record at once. */
	w->fast_last.valid = ok;
	if (ok) {
		w->fast_last.read = true;
		w->fast_last.key = *key;
		w->fast_last.rec = *rec;
	}
	return ok;
}

int worker_engine_create(struct worker *w, const struct cn_config *cfg,
			 const uint8_t secret[32])
{
	static const struct cn_io io_template = {
		.emit = on_emit,
		.event = on_event,
	};
	struct cn_io io = io_template;

	io.ctx = w;
	if (w->env->fast) {
		io.fast_put = on_fast_put;
		io.fast_del = on_fast_del;
		io.fast_get = on_fast_get;
		io.fast_closes = true;
	}
	return cn_engine_create(&w->eng, cfg, secret, &io);
}

static int on_fast_close(void *ctx, const struct cn_fast_close *ev)
{
	struct worker *w = ctx;

	cn_engine_fast_closed(w->eng, &ev->key, &ev->rec, cn_mono_ns());
	return 0;
}

int worker_closes_open(struct worker *w)
{
	return fastpath_closes_open(w->env->fast, w->id, on_fast_close, w);
}

/* Record reads a sweep makes per call: the heartbeat shares the thread. */
#define SWEEP_SLOTS 1024

/* Before each receive round: what the ring holds costs no system call.
 * Lost events (the ring was full) leave closed flows in the table: a
 * sweep of the records, a slice a call, finds them. */
static void read_closes(struct worker *w)
{
	uint64_t lost;

	if (!w->env->fast)
		return;
	fastpath_closes_read(w->env->fast, w->id);
	lost = fastpath_closes_lost(w->env->fast);
	if (!w->sweep.on && lost == w->sweep.lost)
		return;
	w->now_ns = cn_mono_ns();
	/* At most one a second: under a load the ring cannot keep up with,
	 * sweeping all the time would make it worse. */
	if (!w->sweep.on && w->now_ns - w->sweep.started_ns >= NSEC_PER_SEC) {
		w->sweep.on = true;
		w->sweep.at = 0;
		w->sweep.closed = 0;
		w->sweep.missed = lost - w->sweep.lost;
		w->sweep.lost = lost;
		w->sweep.started_ns = w->now_ns;
	}
	if (!w->sweep.on)
		return;
	fast_last_turn(w);
	w->sweep.at = cn_engine_fast_sweep(w->eng, w->now_ns, w->sweep.at,
					   SWEEP_SLOTS, &w->sweep.closed);
	if (w->sweep.at)
		return;
	w->sweep.on = false;
	cn_warn("kernel path: %llu close events lost (the daemon was too slow "
		"to read them): %u closed flows found in the records",
		(unsigned long long)w->sweep.missed, w->sweep.closed);
}

static void on_rx(void *ctx, struct cn_frame *f, uint64_t ts_ns)
{
	struct port *p = ctx;
	struct worker *w = p->w;
	enum cn_drop reason = CN_DROP_NONE;
	enum cn_verdict v;

	capture(w->env, p, false, ts_ns, f);
	fast_last_turn(w);
	v = cn_engine_input(w->eng, p->side, f, w->now_ns, &reason);
	if (v == CN_FORWARD)
		send_frame(w, cn_other_side(p->side), f, true);
	else if (v == CN_DROP && cn_log_enabled(CN_LOG_DEBUG))
		cn_debug("%s: dropped a %u-byte frame: %s", p->ifname, f->len,
			 cn_drop_name(reason));
}

static void flush_ports(struct worker *w)
{
	for (int i = 0; i < 2; i++) {
		int ret = pktio_flush(w->port[i].io);

		if (ret < 0 && ret != -EAGAIN && ret != -ENOBUFS)
			cn_debug("%s: flush: %s", w->port[i].ifname,
				 strerror(-ret));
	}
}

/* One burst from one port; returns true when it filled the budget (more
 * frames are likely waiting). */
static bool rx_burst(struct worker *w, struct port *p)
{
	uint32_t batch = w->env->cfg->batch;
	int n;

	w->now_ns = cn_mono_ns();
	n = pktio_rx_burst(p->io, batch, on_rx, p);
	flush_ports(w);
	pktio_rx_release(p->io);
	if (n < 0) {
		if (n != -EAGAIN && n != -EINTR) {
			p->rx_errors++;
			if (p->rx_errors == 1 || cn_log_enabled(CN_LOG_DEBUG))
				cn_warn("%s: receive: %s", p->ifname,
					strerror(-n));
		}
		return false;
	}
	return (unsigned)n >= batch;
}

/*
 * Alternate bursts between the two ports while either has frames, so a
 * busy side never starves the other, and stop after MAX_ROUNDS to let
 * signals and timers in. Level-triggered epoll reports a port again if
 * frames remain.
 */
static void service_ports(struct worker *w)
{
	for (int round = 0; round < MAX_ROUNDS; round++) {
		bool more = false;

		/* Closes the kernel saw come before the frames read after
		 * them (a new SYN on a closed flow's 4-tuple). */
		read_closes(w);
		for (int i = 0; i < 2; i++) {
			struct port *p = &w->port[i];

			if (!p->ready)
				continue;
			p->ready = rx_burst(w, p);
			more |= p->ready;
		}
		if (!more)
			break;
	}
}

/* ---- timers and the loop ------------------------------------------ */

/* The close rings wake a worker only when half full: an idle one reads
 * its own at least this often (with one worker the heartbeat turns the
 * loop every 20 ms anyway). */
#define CLOSES_READ_NS (50 * 1000000ull)

static int arm_timer(struct worker *w)
{
	uint64_t dl = cn_engine_next_deadline(w->eng);
	struct itimerspec its = { 0 };

	/* An armed timer was set at most that long ahead: only an unarmed
	 * one needs the clock. */
	if (w->env->fast && w->armed_ns == UINT64_MAX) {
		uint64_t by = cn_mono_ns() + CLOSES_READ_NS;

		if (dl > by)
			dl = by;
	}

	/* A deadline that moved later (an idle timer pushed back by traffic)
	 * leaves the earlier timer armed: it fires early, finds nothing due
	 * and re-arms. That saves a system call per loop turn under load. */
	if (dl >= w->armed_ns)
		return 0;
	/* An all-zero value would disarm: a deadline at 0 (already due)
	 * becomes 1 ns, which fires at once. */
	if (!dl)
		dl = 1;
	its.it_value.tv_sec = (time_t)(dl / NSEC_PER_SEC);
	its.it_value.tv_nsec = (long)(dl % NSEC_PER_SEC);
	if (timerfd_settime(w->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		return -errno;
	w->armed_ns = dl;
	return 0;
}

static void run_timers(struct worker *w)
{
	uint64_t expirations;
	uint64_t now;

	if (read(w->timer_fd, &expirations, sizeof(expirations)) < 0 &&
	    errno != EAGAIN)
		cn_warn("timerfd read: %s", strerror(errno));
	/* A one-shot timer that fired is disarmed; arm_timer() sets it anew. */
	w->armed_ns = UINT64_MAX;
	now = cn_mono_ns();
	if (cn_engine_next_deadline(w->eng) <= now) {
		w->ticks++;
		fast_last_turn(w);
		cn_engine_tick(w->eng, now);
		flush_ports(w);
	}
}

/*
 * The socket reported an error (EPOLLERR): read it, which clears it, or
 * level-triggered epoll would report it forever. A port whose interface
 * went away cannot come back: the daemon stops.
 */
static int on_port_error(struct port *p)
{
	int err = pktio_sock_error(p->io);

	if (err <= 0)
		return err;
	p->sock_errors++;
	if (!if_nametoindex(p->ifname)) {
		cn_err("%s: interface is gone (%s): the daemon stops; start "
		       "it again once the interface is back", p->ifname,
		       strerror(err));
		return -ENODEV;
	}
	cn_warn("%s: %s", p->ifname, strerror(err));
	return 0;
}

/* One epoll event of a worker's loop; sets *timer for the timerfd. */
static int worker_event(struct worker *w, const struct epoll_event *ev,
			bool *timer)
{
	uint32_t tag = ev->data.u32;
	int ret;

	switch (tag) {
	case TAG_CLIENT:
	case TAG_SERVER:
		if (ev->events & EPOLLERR) {
			ret = on_port_error(&w->port[tag]);
			if (ret < 0)
				return ret;
		}
		if (ev->events & EPOLLIN)
			w->port[tag].ready = true;
		break;
	case TAG_TIMER:
		*timer = true;
		break;
	case TAG_WAKE:
		worker_wake_drain(w->wake_fd);
		break;
	case TAG_CLOSES: /* read every turn */
		break;
	default:
		if (tag >= TAG_CONTROL)
			w->env->control(w->env->control_ctx, tag);
		break;
	}
	return 0;
}

int worker_loop(struct worker *w)
{
	struct epoll_event evs[8];
	bool timer;
	int n, ret;

	while (!worker_env_stopping(w->env)) {
		ret = arm_timer(w);
		if (ret < 0)
			return ret;
		n = epoll_wait(w->epfd, evs, 8, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		timer = false;
		for (int i = 0; i < n; i++) {
			ret = worker_event(w, &evs[i], &timer);
			if (ret < 0)
				return ret;
		}
		service_ports(w); /* reads the close rings first */
		if (timer)
			run_timers(w);
		/* The event log goes out once per turn, as far as stdout
		 * takes it without blocking (log.c keeps records whole and
		 * workers apart). */
		cn_log_flush(0);
		worker_publish(w, false);
		worker_query_serve(w, &w->query);
	}
	return 0;
}

void worker_collect(const struct worker *w, struct worker_stats *s)
{
	*s = (struct worker_stats){
		.c = *cn_engine_counters(w->eng),
		.dr = *cn_engine_drops(w->eng),
		.flows_active = cn_engine_flow_count(w->eng),
		.buffered_bytes = cn_engine_buffered_bytes(w->eng),
		.events = w->events,
		.ticks = w->ticks,
	};
	for (int i = 0; i < 2; i++) {
		const struct port *p = &w->port[i];

		if (p->io)
			pktio_get_stats(p->io, &s->port[i].io);
		s->port[i].tx_dropped = p->tx_dropped;
		s->port[i].rx_errors = p->rx_errors;
		s->port[i].sock_errors = p->sock_errors;
	}
	/* The kernel path's counters are the box's: counted once. */
	if (w->env->fast && w->id == 0) {
		fastpath_stats(w->env->fast, &s->kernel);
		s->has_kernel = true;
	}
}

/* ---- snapshots for the main thread ------------------------------- */

void worker_wake_drain(int efd)
{
	uint64_t v;

	if (read(efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		cn_warn("eventfd read: %s", strerror(errno));
}

void worker_snap_init(struct worker *w)
{
	pthread_condattr_t ca;

	/* The timed wait for a snapshot counts on the monotonic clock,
	 * like everything else here. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->snap_cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&w->snap_lock, NULL);
}

void worker_snap_destroy(struct worker *w)
{
	pthread_mutex_destroy(&w->snap_lock);
	pthread_cond_destroy(&w->snap_cond);
}

void worker_publish(struct worker *w, bool final)
{
	unsigned want = atomic_load_explicit(&w->snap_want, memory_order_acquire);
	struct worker_stats s;

	if (want == w->snap_seen && !final)
		return;
	w->snap_seen = want;
	worker_collect(w, &s);
	pthread_mutex_lock(&w->snap_lock);
	w->snap = s;
	w->snap_gen = want;
	w->snap_final |= final;
	pthread_cond_broadcast(&w->snap_cond);
	pthread_mutex_unlock(&w->snap_lock);
}
