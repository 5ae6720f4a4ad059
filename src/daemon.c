// SPDX-License-Identifier: MIT
#include "daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "pcap_out.h"
#include "pktio.h"

#define NSEC_PER_SEC 1000000000ull
/* Receive bursts per side before the loop looks at signals and timers
 * again: bounds the time a flood on the ports can delay them. */
#define MAX_ROUNDS 16
/* How long the counters wait for a running worker's snapshot before they
 * print its previous one. */
#define SNAP_WAIT_NS (200 * 1000000ull)

enum ep_tag {
	TAG_CLIENT = CN_CLIENT,
	TAG_SERVER = CN_SERVER,
	TAG_TIMER,
	TAG_SIGNAL,
	TAG_STATS,
	TAG_WAKE,  /* a worker: the main thread wants a stop or a snapshot */
	TAG_DONE,  /* the main thread: a worker ended on an error */
};

struct cn_daemon;
struct worker;

struct port {
	struct worker *w;
	enum cn_side side;
	const char *role; /* "client" or "server" */
	const char *ifname;
	struct pktio *io;
	struct pcap_out_if pif;
	bool ready;       /* frames may be waiting */
	uint64_t tx_dropped;  /* pktio_send refused even after a flush */
	uint64_t rx_errors;
	uint64_t sock_errors; /* errors the socket reported (SO_ERROR) */
};

struct port_stats {
	struct pktio_stats io;
	uint64_t tx_dropped;
	uint64_t rx_errors;
	uint64_t sock_errors;
};

/* Every figure the counters show of one worker. */
struct worker_stats {
	struct cn_counters c;
	struct cn_drops dr;
	uint64_t flows_active;
	uint64_t buffered_bytes;
	uint64_t events;
	uint64_t ticks;
	struct port_stats port[2];
};

/*
 * One event loop: its own two sockets, engine, epoll and timerfd. With
 * --workers 1 it runs on the main thread, which also owns the signalfd;
 * with more, each runs on a thread of its own and shares nothing with the
 * others but the capture (under a mutex) and stdout (whose FILE lock makes
 * each record one piece). Engines are not thread-safe: one per worker.
 */
struct worker {
	struct cn_daemon *d;
	unsigned id;
	struct port port[2];
	struct cn_engine *eng;
	int epfd;
	int timer_fd;
	int wake_fd;       /* eventfd; -1 with one worker */
	uint64_t now_ns;   /* CLOCK_MONOTONIC, read once per burst */
	uint64_t armed_ns; /* deadline the timerfd holds; UINT64_MAX: none */
	uint64_t ticks;
	uint64_t events;
	int result;        /* the loop's return, once it has ended */
	bool started;      /* its thread exists */
	pthread_t thread;
	/* Counters while threads run: the main thread raises snap_want and
	 * wakes the worker, which copies its figures into snap at the end of
	 * its loop turn. Nothing else of a running worker is read elsewhere. */
	atomic_uint snap_want;
	unsigned snap_seen;  /* the worker's own: last generation served */
	pthread_mutex_t snap_lock;
	pthread_cond_t snap_cond;
	unsigned snap_gen;   /* under snap_lock: generation of snap */
	bool snap_final;     /* under snap_lock: the loop has ended */
	struct worker_stats snap;
};

struct cn_daemon {
	const struct cn_daemon_config *cfg;
	struct worker *w;
	unsigned nw;
	bool threaded;     /* workers run on threads of their own */
	struct pcap_out *pcap;
	pthread_mutex_t pcap_lock;
	int epfd;          /* the main thread's, with several workers */
	int signal_fd;
	int stats_fd;
	int done_fd;       /* eventfd: a worker ended on an error */
	unsigned snap_gen;
	atomic_bool stop;
};

void cn_daemon_config_defaults(struct cn_daemon_config *cfg)
{
	*cfg = (struct cn_daemon_config){
		.client_if = "eth0",
		.server_if = "eth1",
		.promisc = true,
		.batch = 64,
		.workers = 1,
	};
	cn_config_defaults(&cfg->engine);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

static bool stopping(struct cn_daemon *d)
{
	return atomic_load_explicit(&d->stop, memory_order_relaxed);
}

static void poke(int efd)
{
	uint64_t one = 1;

	if (efd >= 0 && write(efd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		cn_warn("eventfd write: %s", strerror(errno));
}

static void drain(int efd)
{
	uint64_t v;

	if (read(efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		cn_warn("eventfd read: %s", strerror(errno));
}

/* ---- event log ---------------------------------------------------- */

enum {
	EVF_ISN = 1u << 0,  /* client_isn, spoof_isn */
	EVF_REAL = 1u << 1, /* real_isn, delta */
	EVF_OPTS = 1u << 2, /* mss, wscale, sack, ts */
	EVF_DATA = 1u << 3, /* frames, bytes */
	EVF_AGE = 1u << 4,  /* since the first SYN */
};

static unsigned event_fields(enum cn_event_type t)
{
	switch (t) {
	case CN_EV_SYN_SPOOFED:
	case CN_EV_SYN_RESPOOFED:
		return EVF_ISN | EVF_OPTS;
	case CN_EV_SYN_RESENT:
		return EVF_ISN | EVF_AGE;
	case CN_EV_BUFFERED:
	case CN_EV_FLUSHED:
		return EVF_DATA | EVF_AGE;
	case CN_EV_SYNACK_REAL:
		return EVF_ISN | EVF_REAL | EVF_OPTS | EVF_AGE;
	case CN_EV_REFUSED:
	case CN_EV_SYN_TIMEOUT:
		return EVF_ISN | EVF_DATA | EVF_AGE;
	default:
		return EVF_ISN | EVF_AGE;
	}
}

static enum cn_log_level event_level(enum cn_event_type t)
{
	/* One line per held frame would drown the handshake lines. */
	return t == CN_EV_BUFFERED ? CN_LOG_DEBUG : CN_LOG_INFO;
}

static void format_endpoint(char *buf, size_t len, uint8_t family,
			    const uint8_t *addr, uint16_t port)
{
	char ip[INET6_ADDRSTRLEN];

	if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, ip, sizeof(ip)))
		snprintf(ip, sizeof(ip), "?");
	if (family == 6)
		snprintf(buf, len, "[%s]:%u", ip, port);
	else
		snprintf(buf, len, "%s:%u", ip, port);
}

static void on_event(void *ctx, const struct cn_event *ev)
{
	struct worker *w = ctx;
	unsigned fl = event_fields(ev->type);
	struct cn_log_rec r;
	char ep[INET6_ADDRSTRLEN + 16];

	w->events++;
	if (!cn_log_enabled(event_level(ev->type)))
		return;
	cn_log_rec_begin(&r, cn_log_format_get(), cn_log_realtime_ns(),
			 cn_event_name(ev->type));
	if (ev->key) {
		format_endpoint(ep, sizeof(ep), ev->key->family,
				ev->key->caddr, ev->key->cport);
		cn_log_rec_str(&r, "client", ep);
		format_endpoint(ep, sizeof(ep), ev->key->family,
				ev->key->saddr, ev->key->sport);
		cn_log_rec_str(&r, "server", ep);
	}
	if (fl & EVF_ISN) {
		cn_log_rec_u64(&r, "client_isn", ev->client_isn);
		cn_log_rec_u64(&r, "spoof_isn", ev->spoof_isn);
	}
	if (fl & EVF_REAL) {
		cn_log_rec_u64(&r, "real_isn", ev->real_isn);
		cn_log_rec_u64(&r, "delta", ev->delta);
	}
	if (fl & EVF_OPTS) {
		cn_log_rec_u64(&r, "mss", ev->mss);
		cn_log_rec_i64(&r, "wscale", ev->wscale);
		cn_log_rec_bool(&r, "sack", ev->sack_ok);
		cn_log_rec_bool(&r, "timestamps", ev->ts_ok);
	}
	if (fl & EVF_DATA) {
		cn_log_rec_u64(&r, "frames", ev->frames);
		cn_log_rec_u64(&r, "bytes", ev->bytes);
	}
	if (fl & EVF_AGE)
		cn_log_rec_ms(&r, "age_ms", ev->age_ns);
	cn_log_rec_write(&r, stdout);
}

/* ---- counters ------------------------------------------------------ */

/* Only from the worker's own thread, or once it has ended. */
static void worker_collect(const struct worker *w, struct worker_stats *s)
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
}

/* The worker's side of a snapshot: served at the end of a loop turn. */
static void worker_publish(struct worker *w, bool final)
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

static void snap_deadline(struct timespec *ts)
{
	uint64_t t = mono_ns() + SNAP_WAIT_NS;

	ts->tv_sec = (time_t)(t / NSEC_PER_SEC);
	ts->tv_nsec = (long)(t % NSEC_PER_SEC);
}

/* The main thread's side: the snapshot of generation gen, or, should the
 * worker not answer in time, the one before. */
static void worker_snapshot(struct worker *w, unsigned gen,
			    const struct timespec *deadline,
			    struct worker_stats *out)
{
	pthread_mutex_lock(&w->snap_lock);
	while (w->snap_gen != gen && !w->snap_final)
		if (pthread_cond_timedwait(&w->snap_cond, &w->snap_lock,
					   deadline) == ETIMEDOUT)
			break;
	*out = w->snap;
	pthread_mutex_unlock(&w->snap_lock);
}

/* Every worker's figures into per[], now: directly when no other thread
 * runs a worker, else through a snapshot each. */
static void gather(struct cn_daemon *d, struct worker_stats *per)
{
	struct timespec deadline;
	unsigned gen;

	if (!d->threaded) {
		for (unsigned i = 0; i < d->nw; i++)
			worker_collect(&d->w[i], &per[i]);
		return;
	}
	gen = ++d->snap_gen;
	for (unsigned i = 0; i < d->nw; i++) {
		atomic_store_explicit(&d->w[i].snap_want, gen,
				      memory_order_release);
		poke(d->w[i].wake_fd);
	}
	snap_deadline(&deadline);
	for (unsigned i = 0; i < d->nw; i++)
		worker_snapshot(&d->w[i], gen, &deadline, &per[i]);
}

static void stats_add(struct worker_stats *sum, const struct worker_stats *s)
{
#define CN_X(field, help) sum->c.field += s->c.field;
	CN_COUNTER_LIST(CN_X)
#undef CN_X
	for (int i = 0; i < CN_DROP_MAX; i++)
		sum->dr.by_reason[i] += s->dr.by_reason[i];
	sum->flows_active += s->flows_active;
	sum->buffered_bytes += s->buffered_bytes;
	sum->events += s->events;
	sum->ticks += s->ticks;
	for (int i = 0; i < 2; i++) {
		struct port_stats *a = &sum->port[i];
		const struct port_stats *b = &s->port[i];

		a->io.rx_frames += b->io.rx_frames;
		a->io.rx_bytes += b->io.rx_bytes;
		a->io.rx_kernel_drops += b->io.rx_kernel_drops;
		a->io.rx_truncated += b->io.rx_truncated;
		a->io.tx_frames += b->io.tx_frames;
		a->io.tx_bytes += b->io.tx_bytes;
		a->io.tx_errors += b->io.tx_errors;
		a->tx_dropped += b->tx_dropped;
		a->rx_errors += b->rx_errors;
		a->sock_errors += b->sock_errors;
	}
}

struct stat_sink {
	FILE *f;
	struct cn_log_rec *rec; /* JSON: one object; NULL: text lines */
};

static void stat_put(struct stat_sink *s, const char *name, uint64_t v)
{
	if (s->rec)
		cn_log_rec_u64(s->rec, name, v);
	else
		fprintf(s->f, "  %-28s %" PRIu64 "\n", name, v);
}

static void stat_port(struct stat_sink *s, const char *role,
		      const struct port_stats *p)
{
	char name[64];

#define PORT_STAT(field, value)                                             \
	do {                                                                \
		snprintf(name, sizeof(name), "%s.%s", role, field);         \
		stat_put(s, name, value);                                   \
	} while (0)
	PORT_STAT("rx_frames", p->io.rx_frames);
	PORT_STAT("rx_bytes", p->io.rx_bytes);
	PORT_STAT("rx_kernel_drops", p->io.rx_kernel_drops);
	PORT_STAT("rx_errors", p->rx_errors);
	PORT_STAT("tx_frames", p->io.tx_frames);
	PORT_STAT("tx_bytes", p->io.tx_bytes);
	PORT_STAT("tx_errors", p->io.tx_errors);
	PORT_STAT("tx_dropped", p->tx_dropped);
	PORT_STAT("sock_errors", p->sock_errors);
#undef PORT_STAT
}

/* With several workers: how the flows and frames spread over them. */
static void stat_workers(struct stat_sink *s, const struct worker_stats *per,
			 unsigned nw)
{
	char name[64];

	for (unsigned i = 0; i < nw; i++) {
		snprintf(name, sizeof(name), "worker%u.flows_created", i);
		stat_put(s, name, per[i].c.flows_created);
		snprintf(name, sizeof(name), "worker%u.frames_in", i);
		stat_put(s, name, per[i].c.frames_in_client +
					  per[i].c.frames_in_server);
	}
}

static void stat_all(struct stat_sink *s, struct cn_daemon *d,
		     const struct worker_stats *sum,
		     const struct worker_stats *per)
{
	char name[64];

#define CN_X(field, help) stat_put(s, #field, sum->c.field);
	CN_COUNTER_LIST(CN_X)
#undef CN_X
	for (int i = CN_DROP_NONE + 1; i < CN_DROP_MAX; i++) {
		snprintf(name, sizeof(name), "drop.%s",
			 cn_drop_name((enum cn_drop)i));
		stat_put(s, name, sum->dr.by_reason[i]);
	}
	stat_put(s, "flows_active", sum->flows_active);
	stat_put(s, "buffered_bytes", sum->buffered_bytes);
	stat_put(s, "events", sum->events);
	stat_put(s, "ticks", sum->ticks);
	stat_port(s, "client", &sum->port[CN_CLIENT]);
	stat_port(s, "server", &sum->port[CN_SERVER]);
	if (d->pcap) {
		pthread_mutex_lock(&d->pcap_lock);
		stat_put(s, "pcap.frames", pcap_out_frames(d->pcap));
		stat_put(s, "pcap.truncated", pcap_out_truncated(d->pcap));
		pthread_mutex_unlock(&d->pcap_lock);
	}
	if (d->nw > 1)
		stat_workers(s, per, d->nw);
}

/*
 * Every counter by name: the same function answers SIGUSR1, the periodic
 * --stats-interval dump and the final dump at exit; why says which. The
 * text block goes to stderr in every format, so scripts read it one way;
 * with --log-format json the event log on stdout also gets one "counters"
 * record, so a JSON reader finds everything in one stream. With several
 * workers the figures are their sums.
 */
static void print_counters(struct cn_daemon *d, const char *why)
{
	struct stat_sink s = { .f = stderr };
	struct worker_stats *per = calloc(d->nw, sizeof(*per));
	struct worker_stats sum = { 0 };
	struct cn_log_rec rec;

	if (!per) {
		cn_err("counters (%s): out of memory", why);
		return;
	}
	gather(d, per);
	for (unsigned i = 0; i < d->nw; i++)
		stats_add(&sum, &per[i]);
	fprintf(stderr, "clientnic: counters (%s)\n", why);
	stat_all(&s, d, &sum, per);
	fflush(stderr);
	if (cn_log_format_get() == CN_LOG_JSON) {
		s.rec = &rec;
		cn_log_rec_begin(&rec, CN_LOG_JSON, cn_log_realtime_ns(),
				 "counters");
		cn_log_rec_str(&rec, "why", why);
		stat_all(&s, d, &sum, per);
		cn_log_rec_write(&rec, stdout);
	}
	free(per);
}

/* ---- frames -------------------------------------------------------- */

static void capture(struct cn_daemon *d, const struct port *p, bool out,
		    uint64_t ts_ns, const struct cn_frame *f)
{
	if (!d->pcap)
		return;
	/* libpcap's dump handle is one FILE: one writer at a time. */
	pthread_mutex_lock(&d->pcap_lock);
	pcap_out_frame(d->pcap, &p->pif, out,
		       ts_ns ? ts_ns : cn_log_realtime_ns(), f);
	pthread_mutex_unlock(&d->pcap_lock);
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
	capture(w->d, p, true, 0, f);
}

static void on_emit(void *ctx, enum cn_side to, const struct cn_frame *f)
{
	send_frame(ctx, to, f, false);
}

static void on_rx(void *ctx, struct cn_frame *f, uint64_t ts_ns)
{
	struct port *p = ctx;
	struct worker *w = p->w;
	enum cn_drop reason = CN_DROP_NONE;
	enum cn_verdict v;

	capture(w->d, p, false, ts_ns, f);
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
	uint32_t batch = w->d->cfg->batch;
	int n;

	w->now_ns = mono_ns();
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

/* ---- timers and signals ------------------------------------------- */

static int arm_timer(struct worker *w)
{
	uint64_t dl = cn_engine_next_deadline(w->eng);
	struct itimerspec its = { 0 };

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
	now = mono_ns();
	if (cn_engine_next_deadline(w->eng) <= now) {
		w->ticks++;
		cn_engine_tick(w->eng, now);
		flush_ports(w);
	}
}

static void on_stats_timer(struct cn_daemon *d)
{
	uint64_t expirations;

	if (read(d->stats_fd, &expirations, sizeof(expirations)) > 0)
		print_counters(d, "interval");
}

static void on_signals(struct cn_daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGINT:
		case SIGTERM:
			cn_info("%s: stopping", strsignal((int)si.ssi_signo));
			atomic_store(&d->stop, true);
			break;
		case SIGUSR1:
			print_counters(d, "SIGUSR1");
			/* Lets a reader look at the capture while it runs. */
			if (d->pcap) {
				pthread_mutex_lock(&d->pcap_lock);
				pcap_out_flush(d->pcap);
				pthread_mutex_unlock(&d->pcap_lock);
			}
			break;
		default:
			break;
		}
	}
}

/*
 * The socket reported an error (EPOLLERR): read it, which clears it, or
 * level-triggered epoll would report it forever. A port whose interface
 * went away cannot come back: the daemon stops.
 */
static int on_port_error(struct port *p)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(pktio_fd(p->io), SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		return -errno;
	if (!err)
		return 0;
	p->sock_errors++;
	if (!if_nametoindex(p->ifname)) {
		cn_err("%s: interface is gone (%s)", p->ifname, strerror(err));
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
		drain(w->wake_fd);
		break;
	case TAG_SIGNAL:
		on_signals(w->d);
		break;
	case TAG_STATS:
		on_stats_timer(w->d);
		break;
	}
	return 0;
}

static int worker_loop(struct worker *w)
{
	struct epoll_event evs[8];
	bool timer;
	int n, ret;

	while (!stopping(w->d)) {
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
		service_ports(w);
		if (timer)
			run_timers(w);
		/* The event log goes out once per turn: a line is never later
		 * than the batch that caused it, and a burst costs one write.
		 * Workers share stdout: each record went into the buffer in
		 * one fwrite, and the FILE lock keeps records and flushes of
		 * other threads out of it. */
		fflush(stdout);
		worker_publish(w, false);
	}
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	w->result = worker_loop(w);
	if (w->result < 0 && w->result != -ENODEV)
		cn_err("worker %u: event loop: %s", w->id, strerror(-w->result));
	fflush(stdout);
	worker_publish(w, true);
	if (w->result < 0)
		poke(w->d->done_fd);
	return NULL;
}

/* The main thread while workers run on threads: signals, the stats timer,
 * and the end of a worker that failed, which stops them all. */
static void control_loop(struct cn_daemon *d)
{
	struct epoll_event evs[4];
	int n;

	while (!stopping(d)) {
		n = epoll_wait(d->epfd, evs, 4, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			cn_err("event loop: %s", strerror(errno));
			atomic_store(&d->stop, true);
			break;
		}
		for (int i = 0; i < n; i++) {
			switch (evs[i].data.u32) {
			case TAG_SIGNAL:
				on_signals(d);
				break;
			case TAG_STATS:
				on_stats_timer(d);
				break;
			case TAG_DONE:
				drain(d->done_fd);
				atomic_store(&d->stop, true);
				break;
			}
		}
	}
}

/* Start the worker threads; on failure the ones started are stopped. */
static int start_workers(struct cn_daemon *d)
{
	char name[16]; /* the kernel takes 15 characters */
	int ret;

	for (unsigned i = 0; i < d->nw; i++) {
		struct worker *w = &d->w[i];

		ret = pthread_create(&w->thread, NULL, worker_main, w);
		if (ret) {
			cn_err("worker %u: thread: %s", i, strerror(ret));
			return -ret;
		}
		w->started = true;
		snprintf(name, sizeof(name), "clientnic-w%u", i % 100);
		(void)pthread_setname_np(w->thread, name);
	}
	return 0;
}

/* Stop and join every worker thread; after this their state is the main
 * thread's to read. Returns the first error a worker ended with. */
static int stop_workers(struct cn_daemon *d)
{
	int ret = 0;

	atomic_store(&d->stop, true);
	for (unsigned i = 0; i < d->nw; i++)
		if (d->w[i].started)
			poke(d->w[i].wake_fd);
	for (unsigned i = 0; i < d->nw; i++) {
		struct worker *w = &d->w[i];

		if (!w->started)
			continue;
		pthread_join(w->thread, NULL);
		w->started = false;
		if (w->result < 0 && !ret)
			ret = w->result;
	}
	d->threaded = false;
	return ret;
}

/* ---- setup --------------------------------------------------------- */

static bool has_cap(int cap)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, data) < 0)
		return true; /* unknown: let the open itself decide */
	return data[cap / 32].effective & (1u << (cap % 32));
}

static int get_mac(const char *ifname, uint8_t mac[6])
{
	struct ifreq ifr = { 0 };
	int fd, ret = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
		ret = -errno;
	else
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return ret;
}

static int check_interfaces(const struct cn_daemon_config *cfg)
{
	const char *names[2] = { cfg->client_if, cfg->server_if };
	const char *roles[2] = { "client", "server" };

	for (int i = 0; i < 2; i++) {
		if (!if_nametoindex(names[i])) {
			cn_err("%s interface %s: %s (see --%s-if)", roles[i],
			       names[i],
			       errno == ENODEV ? "no such interface" :
						 strerror(errno),
			       roles[i]);
			return CN_EXIT_NOIF;
		}
	}
	if (!has_cap(CAP_NET_RAW)) {
		cn_err("opening packet sockets needs CAP_NET_RAW: run as root "
		       "or grant it (setcap cap_net_raw,cap_net_admin+ep)");
		return CN_EXIT_NOPERM;
	}
	/* Promiscuous mode through PACKET_MR_PROMISC needs only CAP_NET_RAW;
	 * CAP_NET_ADMIN lets the socket buffers grow past the sysctl limits,
	 * which a burst of GSO frames needs. */
	if (!has_cap(CAP_NET_ADMIN))
		cn_warn("no CAP_NET_ADMIN: socket buffers are capped by "
			"net.core.rmem_max and wmem_max");
	return CN_EXIT_OK;
}

static int open_port(struct worker *w, enum cn_side side, const char *ifname,
		     uint32_t *fanout)
{
	const struct cn_daemon_config *cfg = w->d->cfg;
	struct port *p = &w->port[side];
	struct pktio_config pc = {
		.ifname = ifname,
		.rx_ring_bytes = cfg->rx_ring_bytes,
		.tx_ring_bytes = cfg->tx_ring_bytes,
		.promisc = cfg->promisc,
		.qdisc_bypass = cfg->qdisc_bypass,
		.fanout_group = *fanout,
	};
	const char *msg = NULL;
	int ret;

	p->w = w;
	p->side = side;
	p->role = side == CN_CLIENT ? "client" : "server";
	p->ifname = ifname;
	ret = pktio_open(&p->io, &pc, &msg);
	if (ret == -EPERM || ret == -EACCES) {
		cn_err("%s: %s: %s: needs %s", ifname, msg ? msg : "open",
		       strerror(-ret),
		       !has_cap(CAP_NET_RAW) ? "CAP_NET_RAW" : "CAP_NET_ADMIN");
		return CN_EXIT_NOPERM;
	}
	if (ret == -ENODEV || ret == -ENXIO) {
		cn_err("%s: %s: no such interface", ifname, msg ? msg : "open");
		return CN_EXIT_NOIF;
	}
	if (ret < 0) {
		cn_err("%s: %s: %s", ifname, msg ? msg : "open",
		       strerror(-ret));
		return CN_EXIT_FAIL;
	}
	if (*fanout)
		*fanout = pktio_fanout_group(p->io);
	p->pif.ifindex = if_nametoindex(ifname);
	ret = get_mac(ifname, p->pif.mac);
	if (ret < 0 && w->id == 0)
		cn_warn("%s: no MAC address (%s): the capture marks no frame "
			"as for this host", ifname, strerror(-ret));
	return CN_EXIT_OK;
}

static int ep_add(int epfd, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* The signalfd, the stats timer and, with worker threads, the main
 * thread's own epoll and the eventfd workers end with. */
static int setup_main_fds(struct cn_daemon *d, const sigset_t *sigs)
{
	uint32_t iv = d->cfg->stats_interval_s;

	d->signal_fd = signalfd(-1, sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->signal_fd < 0)
		return -errno;
	if (iv) {
		struct itimerspec its = {
			.it_value.tv_sec = iv,
			.it_interval.tv_sec = iv,
		};

		d->stats_fd = timerfd_create(CLOCK_MONOTONIC,
					     TFD_NONBLOCK | TFD_CLOEXEC);
		if (d->stats_fd < 0 ||
		    timerfd_settime(d->stats_fd, 0, &its, NULL) < 0)
			return -errno;
	}
	if (d->nw == 1)
		return 0;
	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->epfd < 0 || d->done_fd < 0)
		return -errno;
	return 0;
}

/* Which epoll gets the signalfd and the stats timer: the only worker's,
 * which then runs on the main thread, or the main thread's own. */
static int add_main_fds(struct cn_daemon *d, int epfd)
{
	int ret = ep_add(epfd, d->signal_fd, TAG_SIGNAL);

	if (!ret && d->stats_fd >= 0)
		ret = ep_add(epfd, d->stats_fd, TAG_STATS);
	if (!ret && d->done_fd >= 0)
		ret = ep_add(epfd, d->done_fd, TAG_DONE);
	return ret;
}

static int setup_worker_fds(struct worker *w)
{
	int ret;

	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->timer_fd = timerfd_create(CLOCK_MONOTONIC,
				     TFD_NONBLOCK | TFD_CLOEXEC);
	if (w->epfd < 0 || w->timer_fd < 0)
		return -errno;
	if (w->d->nw > 1) {
		w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (w->wake_fd < 0)
			return -errno;
		ret = ep_add(w->epfd, w->wake_fd, TAG_WAKE);
		if (ret < 0)
			return ret;
	}
	for (int i = 0; i < 2; i++) {
		ret = ep_add(w->epfd, pktio_fd(w->port[i].io), (uint32_t)i);
		if (ret < 0)
			return ret;
	}
	return ep_add(w->epfd, w->timer_fd, TAG_TIMER);
}

static int get_secret(uint8_t secret[32])
{
	size_t got = 0;

	while (got < 32) {
		ssize_t n = getrandom(secret + got, 32 - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)n;
	}
	return 0;
}

/* Every worker's engine gets the same secret: a flow's ISNs do not depend
 * on the worker the kernel's hash gave it to. */
static int create_engine(struct worker *w, const uint8_t secret[32])
{
	static const struct cn_io io_template = {
		.emit = on_emit,
		.event = on_event,
	};
	struct cn_io io = io_template;
	struct cn_config cfg = w->d->cfg->engine;
	uint32_t n = w->d->nw;
	int ret;

	/* The flow table and the early-data budget are the box's: each
	 * worker gets its share (the kernel's hash spreads flows evenly). */
	cfg.max_flows = (uint32_t)(((uint64_t)cfg.max_flows + n - 1) / n);
	cfg.buf_total_bytes = (cfg.buf_total_bytes + n - 1) / n;
	io.ctx = w;
	ret = cn_engine_create(&w->eng, &cfg, secret, &io);
	if (ret == -EINVAL) {
		cn_err("the engine rejected the configuration (check the "
		       "buffer, MSS and timeout options)");
		return CN_EXIT_USAGE;
	}
	if (ret < 0) {
		cn_err("engine: %s", strerror(-ret));
		return CN_EXIT_FAIL;
	}
	return CN_EXIT_OK;
}

static int alloc_workers(struct cn_daemon *d)
{
	d->w = calloc(d->nw, sizeof(*d->w));
	if (!d->w)
		return -ENOMEM;
	for (unsigned i = 0; i < d->nw; i++) {
		struct worker *w = &d->w[i];
		pthread_condattr_t ca;

		w->d = d;
		w->id = i;
		w->epfd = -1;
		w->timer_fd = -1;
		w->wake_fd = -1;
		w->armed_ns = UINT64_MAX;
		/* The timed wait for a snapshot counts on the monotonic clock,
		 * like everything else here. */
		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&w->snap_cond, &ca);
		pthread_condattr_destroy(&ca);
		pthread_mutex_init(&w->snap_lock, NULL);
	}
	return 0;
}

/*
 * Workers open their sockets in order, client port then server port, so
 * that worker i is member i of both fanout groups: the symmetric hash then
 * sends both directions of a flow to the same worker.
 */
static int open_ports(struct cn_daemon *d)
{
	uint32_t fanout[2] = { 0, 0 };
	int rc, ret;

	if (d->nw > 1)
		fanout[CN_CLIENT] = fanout[CN_SERVER] = PKTIO_FANOUT_NEW;
	for (unsigned i = 0; i < d->nw; i++) {
		struct worker *w = &d->w[i];

		rc = open_port(w, CN_CLIENT, d->cfg->client_if,
			       &fanout[CN_CLIENT]);
		if (!rc)
			rc = open_port(w, CN_SERVER, d->cfg->server_if,
				       &fanout[CN_SERVER]);
		if (rc)
			return rc;
		ret = setup_worker_fds(w);
		if (ret < 0) {
			cn_err("event loop setup: %s", strerror(-ret));
			return CN_EXIT_FAIL;
		}
	}
	return CN_EXIT_OK;
}

static int create_engines(struct cn_daemon *d)
{
	uint8_t secret[32];
	int rc = CN_EXIT_OK, ret;

	if (alloc_workers(d) < 0) {
		cn_err("out of memory for %u workers", d->nw);
		return CN_EXIT_FAIL;
	}
	ret = get_secret(secret);
	if (ret < 0) {
		cn_err("getrandom: %s", strerror(-ret));
		return CN_EXIT_FAIL;
	}
	for (unsigned i = 0; i < d->nw && !rc; i++)
		rc = create_engine(&d->w[i], secret);
	explicit_bzero(secret, sizeof(secret));
	return rc;
}

static int start(struct cn_daemon *d, const sigset_t *sigs)
{
	const struct cn_daemon_config *cfg = d->cfg;
	char errbuf[256];
	int rc, ret;

	rc = check_interfaces(cfg);
	if (!rc)
		rc = create_engines(d);
	if (rc)
		return rc;
	if (cfg->pcap_path) {
		ret = pcap_out_open(&d->pcap, cfg->pcap_path, errbuf,
				    sizeof(errbuf));
		if (ret < 0) {
			cn_err("--pcap %s: %s", cfg->pcap_path, errbuf);
			return CN_EXIT_FAIL;
		}
	}
	rc = open_ports(d);
	if (rc)
		return rc;
	ret = setup_main_fds(d, sigs);
	if (!ret)
		ret = add_main_fds(d, d->nw == 1 ? d->w[0].epfd : d->epfd);
	if (ret < 0) {
		cn_err("event loop setup: %s", strerror(-ret));
		return CN_EXIT_FAIL;
	}
	return CN_EXIT_OK;
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

static void teardown(struct cn_daemon *d)
{
	for (unsigned i = 0; d->w && i < d->nw; i++) {
		struct worker *w = &d->w[i];

		close_fd(w->epfd);
		close_fd(w->timer_fd);
		close_fd(w->wake_fd);
		for (int k = 0; k < 2; k++)
			if (w->port[k].io)
				pktio_close(w->port[k].io);
		if (w->eng)
			cn_engine_destroy(w->eng);
		pthread_mutex_destroy(&w->snap_lock);
		pthread_cond_destroy(&w->snap_cond);
	}
	free(d->w);
	close_fd(d->epfd);
	close_fd(d->signal_fd);
	close_fd(d->stats_fd);
	close_fd(d->done_fd);
	if (d->pcap && pcap_out_close(d->pcap) < 0)
		cn_err("--pcap %s: writing the capture failed",
		       d->cfg->pcap_path);
	pthread_mutex_destroy(&d->pcap_lock);
}

/* Run the workers until a signal stops them; returns an enum cn_exit. */
static int run(struct cn_daemon *d)
{
	int ret;

	if (d->nw == 1) {
		/* One worker: the main thread runs it, as it always did. */
		ret = worker_loop(&d->w[0]);
		if (ret < 0 && ret != -ENODEV)
			cn_err("event loop: %s", strerror(-ret));
		return ret < 0 ? CN_EXIT_FAIL : CN_EXIT_OK;
	}
	d->threaded = true;
	ret = start_workers(d);
	if (!ret)
		control_loop(d);
	if (stop_workers(d) < 0 || ret < 0)
		return CN_EXIT_FAIL;
	return CN_EXIT_OK;
}

int cn_daemon_run(const struct cn_daemon_config *cfg)
{
	struct cn_daemon d = {
		.cfg = cfg,
		.nw = cfg->workers ? cfg->workers : 1,
		.pcap_lock = PTHREAD_MUTEX_INITIALIZER,
		.epfd = -1,
		.signal_fd = -1,
		.stats_fd = -1,
		.done_fd = -1,
	};
	sigset_t sigs;
	int rc;

	/* Blocked before anything is opened, and inherited by every worker
	 * thread: a signal waits in the signalfd, and a SIGTERM during
	 * startup ends the daemon cleanly. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = start(&d, &sigs);
	if (rc)
		goto out;
	cn_info("client side %s (ifindex %u), server side %s (ifindex %u)%s%s",
		cfg->client_if, d.w[0].port[CN_CLIENT].pif.ifindex,
		cfg->server_if, d.w[0].port[CN_SERVER].pif.ifindex,
		cfg->pcap_path ? ", capture " : "",
		cfg->pcap_path ? cfg->pcap_path : "");
	if (d.nw > 1)
		cn_info("%u workers, one PACKET_FANOUT hash group per interface",
			d.nw);
	cn_log_status("ready");
	rc = run(&d);
	print_counters(&d, "exit");
out:
	teardown(&d);
	return rc;
}
