// SPDX-License-Identifier: MIT
#include "daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
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

enum ep_tag {
	TAG_CLIENT = CN_CLIENT,
	TAG_SERVER = CN_SERVER,
	TAG_TIMER,
	TAG_SIGNAL,
	TAG_STATS,
};

struct cn_daemon;

struct port {
	struct cn_daemon *d;
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

struct cn_daemon {
	const struct cn_daemon_config *cfg;
	struct port port[2];
	struct cn_engine *eng;
	struct pcap_out *pcap;
	int epfd;
	int timer_fd;
	int signal_fd;
	int stats_fd;
	uint64_t now_ns;   /* CLOCK_MONOTONIC, read once per burst */
	uint64_t armed_ns; /* deadline the timerfd holds; UINT64_MAX: none */
	uint64_t ticks;
	uint64_t events;
	bool stop;
};

void cn_daemon_config_defaults(struct cn_daemon_config *cfg)
{
	*cfg = (struct cn_daemon_config){
		.client_if = "eth0",
		.server_if = "eth1",
		.promisc = true,
		.batch = 64,
	};
	cn_config_defaults(&cfg->engine);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
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
	struct cn_daemon *d = ctx;
	unsigned fl = event_fields(ev->type);
	struct cn_log_rec r;
	char ep[INET6_ADDRSTRLEN + 16];

	d->events++;
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

static void stat_port(struct stat_sink *s, const struct port *p)
{
	struct pktio_stats st = { 0 };
	char name[64];

	if (p->io)
		pktio_get_stats(p->io, &st);
#define PORT_STAT(field, value)                                             \
	do {                                                                \
		snprintf(name, sizeof(name), "%s.%s", p->role, field);      \
		stat_put(s, name, value);                                   \
	} while (0)
	PORT_STAT("rx_frames", st.rx_frames);
	PORT_STAT("rx_bytes", st.rx_bytes);
	PORT_STAT("rx_kernel_drops", st.rx_kernel_drops);
	PORT_STAT("rx_errors", p->rx_errors);
	PORT_STAT("tx_frames", st.tx_frames);
	PORT_STAT("tx_bytes", st.tx_bytes);
	PORT_STAT("tx_errors", st.tx_errors);
	PORT_STAT("tx_dropped", p->tx_dropped);
	PORT_STAT("sock_errors", p->sock_errors);
#undef PORT_STAT
}

static void stat_all(struct stat_sink *s, const struct cn_daemon *d)
{
	const struct cn_counters *c = cn_engine_counters(d->eng);
	const struct cn_drops *dr = cn_engine_drops(d->eng);
	char name[64];

#define CN_X(field, help) stat_put(s, #field, c->field);
	CN_COUNTER_LIST(CN_X)
#undef CN_X
	for (int i = CN_DROP_NONE + 1; i < CN_DROP_MAX; i++) {
		snprintf(name, sizeof(name), "drop.%s",
			 cn_drop_name((enum cn_drop)i));
		stat_put(s, name, dr->by_reason[i]);
	}
	stat_put(s, "flows_active", cn_engine_flow_count(d->eng));
	stat_put(s, "buffered_bytes", cn_engine_buffered_bytes(d->eng));
	stat_put(s, "events", d->events);
	stat_put(s, "ticks", d->ticks);
	for (int i = 0; i < 2; i++)
		stat_port(s, &d->port[i]);
	if (d->pcap) {
		stat_put(s, "pcap.frames", pcap_out_frames(d->pcap));
		stat_put(s, "pcap.truncated", pcap_out_truncated(d->pcap));
	}
}

/*
 * Every counter by name: the same function answers SIGUSR1, the periodic
 * --stats-interval dump and the final dump at exit; why says which. The
 * text block goes to stderr in every format, so scripts read it one way;
 * with --log-format json the event log on stdout also gets one "counters"
 * record, so a JSON reader finds everything in one stream.
 */
static void print_counters(const struct cn_daemon *d, const char *why)
{
	struct stat_sink s = { .f = stderr };
	struct cn_log_rec rec;

	fprintf(stderr, "clientnic: counters (%s)\n", why);
	stat_all(&s, d);
	fflush(stderr);
	if (cn_log_format_get() != CN_LOG_JSON)
		return;
	s.rec = &rec;
	cn_log_rec_begin(&rec, CN_LOG_JSON, cn_log_realtime_ns(), "counters");
	cn_log_rec_str(&rec, "why", why);
	stat_all(&s, d);
	cn_log_rec_write(&rec, stdout);
}

/* ---- frames -------------------------------------------------------- */

static void capture(struct cn_daemon *d, const struct port *p, bool out,
		    uint64_t ts_ns, const struct cn_frame *f)
{
	if (d->pcap)
		pcap_out_frame(d->pcap, &p->pif, out,
			       ts_ns ? ts_ns : cn_log_realtime_ns(), f);
}

/* A received frame goes out by reference (it stays in the receive ring
 * until both ports are flushed); a frame the engine built is copied. */
static void send_frame(struct cn_daemon *d, enum cn_side to,
		       const struct cn_frame *f, bool by_ref)
{
	struct port *p = &d->port[to];
	int ret = by_ref ? pktio_send_ref(p->io, f) : pktio_send(p->io, f);

	if (ret < 0) {
		p->tx_dropped++;
		if (p->tx_dropped == 1 || cn_log_enabled(CN_LOG_DEBUG))
			cn_warn("%s: send of a %u-byte frame failed: %s",
				p->ifname, f->len, strerror(-ret));
		return;
	}
	capture(d, p, true, 0, f);
}

static void on_emit(void *ctx, enum cn_side to, const struct cn_frame *f)
{
	send_frame(ctx, to, f, false);
}

static void on_rx(void *ctx, struct cn_frame *f, uint64_t ts_ns)
{
	struct port *p = ctx;
	struct cn_daemon *d = p->d;
	enum cn_drop reason = CN_DROP_NONE;
	enum cn_verdict v;

	capture(d, p, false, ts_ns, f);
	v = cn_engine_input(d->eng, p->side, f, d->now_ns, &reason);
	if (v == CN_FORWARD)
		send_frame(d, cn_other_side(p->side), f, true);
	else if (v == CN_DROP && cn_log_enabled(CN_LOG_DEBUG))
		cn_debug("%s: dropped a %u-byte frame: %s", p->ifname, f->len,
			 cn_drop_name(reason));
}

static void flush_ports(struct cn_daemon *d)
{
	for (int i = 0; i < 2; i++) {
		int ret = pktio_flush(d->port[i].io);

		if (ret < 0 && ret != -EAGAIN && ret != -ENOBUFS)
			cn_debug("%s: flush: %s", d->port[i].ifname,
				 strerror(-ret));
	}
}

/* One burst from one port; returns true when it filled the budget (more
 * frames are likely waiting). */
static bool rx_burst(struct cn_daemon *d, struct port *p)
{
	int n;

	d->now_ns = mono_ns();
	n = pktio_rx_burst(p->io, d->cfg->batch, on_rx, p);
	flush_ports(d);
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
	return (unsigned)n >= d->cfg->batch;
}

/*
 * Alternate bursts between the two ports while either has frames, so a
 * busy side never starves the other, and stop after MAX_ROUNDS to let
 * signals and timers in. Level-triggered epoll reports a port again if
 * frames remain.
 */
static void service_ports(struct cn_daemon *d)
{
	for (int round = 0; round < MAX_ROUNDS; round++) {
		bool more = false;

		for (int i = 0; i < 2; i++) {
			struct port *p = &d->port[i];

			if (!p->ready)
				continue;
			p->ready = rx_burst(d, p);
			more |= p->ready;
		}
		if (!more)
			break;
	}
}

/* ---- timers and signals ------------------------------------------- */

static int arm_timer(struct cn_daemon *d)
{
	uint64_t dl = cn_engine_next_deadline(d->eng);
	struct itimerspec its = { 0 };

	/* A deadline that moved later (an idle timer pushed back by traffic)
	 * leaves the earlier timer armed: it fires early, finds nothing due
	 * and re-arms. That saves a system call per loop turn under load. */
	if (dl >= d->armed_ns)
		return 0;
	/* An all-zero value would disarm: a deadline at 0 (already due)
	 * becomes 1 ns, which fires at once. */
	if (!dl)
		dl = 1;
	its.it_value.tv_sec = (time_t)(dl / NSEC_PER_SEC);
	its.it_value.tv_nsec = (long)(dl % NSEC_PER_SEC);
	if (timerfd_settime(d->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		return -errno;
	d->armed_ns = dl;
	return 0;
}

static void run_timers(struct cn_daemon *d)
{
	uint64_t expirations;
	uint64_t now;

	if (read(d->timer_fd, &expirations, sizeof(expirations)) < 0 &&
	    errno != EAGAIN)
		cn_warn("timerfd read: %s", strerror(errno));
	/* A one-shot timer that fired is disarmed; arm_timer() sets it anew. */
	d->armed_ns = UINT64_MAX;
	now = mono_ns();
	if (cn_engine_next_deadline(d->eng) <= now) {
		d->ticks++;
		cn_engine_tick(d->eng, now);
		flush_ports(d);
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
			d->stop = true;
			break;
		case SIGUSR1:
			print_counters(d, "SIGUSR1");
			/* Lets a reader look at the capture while it runs. */
			if (d->pcap)
				pcap_out_flush(d->pcap);
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

static int loop(struct cn_daemon *d)
{
	struct epoll_event evs[8];
	bool timer;
	int n, ret;

	while (!d->stop) {
		ret = arm_timer(d);
		if (ret < 0)
			return ret;
		n = epoll_wait(d->epfd, evs, 8, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		timer = false;
		for (int i = 0; i < n; i++) {
			uint32_t tag = evs[i].data.u32;

			switch (tag) {
			case TAG_CLIENT:
			case TAG_SERVER:
				if (evs[i].events & EPOLLERR) {
					ret = on_port_error(&d->port[tag]);
					if (ret < 0)
						return ret;
				}
				if (evs[i].events & EPOLLIN)
					d->port[tag].ready = true;
				break;
			case TAG_TIMER:
				timer = true;
				break;
			case TAG_SIGNAL:
				on_signals(d);
				break;
			case TAG_STATS:
				on_stats_timer(d);
				break;
			}
		}
		service_ports(d);
		if (timer)
			run_timers(d);
		/* The event log goes out once per turn: a line is never later
		 * than the batch that caused it, and a burst costs one write. */
		fflush(stdout);
	}
	return 0;
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

static int open_port(struct cn_daemon *d, enum cn_side side,
		     const char *ifname)
{
	const struct cn_daemon_config *cfg = d->cfg;
	struct port *p = &d->port[side];
	struct pktio_config pc = {
		.ifname = ifname,
		.rx_ring_bytes = cfg->rx_ring_bytes,
		.tx_ring_bytes = cfg->tx_ring_bytes,
		.promisc = cfg->promisc,
		.qdisc_bypass = cfg->qdisc_bypass,
	};
	const char *msg = NULL;
	int ret;

	p->d = d;
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
	p->pif.ifindex = if_nametoindex(ifname);
	ret = get_mac(ifname, p->pif.mac);
	if (ret < 0)
		cn_warn("%s: no MAC address (%s): the capture marks no frame "
			"as for this host", ifname, strerror(-ret));
	return CN_EXIT_OK;
}

static int ep_add(int epfd, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int setup_fds(struct cn_daemon *d, const sigset_t *sigs)
{
	uint32_t iv = d->cfg->stats_interval_s;
	int ret;

	d->epfd = epoll_create1(EPOLL_CLOEXEC);
	d->timer_fd = timerfd_create(CLOCK_MONOTONIC,
				     TFD_NONBLOCK | TFD_CLOEXEC);
	d->signal_fd = signalfd(-1, sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->epfd < 0 || d->timer_fd < 0 || d->signal_fd < 0)
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
		ret = ep_add(d->epfd, d->stats_fd, TAG_STATS);
		if (ret < 0)
			return ret;
	}
	for (int i = 0; i < 2; i++) {
		ret = ep_add(d->epfd, pktio_fd(d->port[i].io), (uint32_t)i);
		if (ret < 0)
			return ret;
	}
	ret = ep_add(d->epfd, d->timer_fd, TAG_TIMER);
	if (!ret)
		ret = ep_add(d->epfd, d->signal_fd, TAG_SIGNAL);
	return ret;
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

static int create_engine(struct cn_daemon *d)
{
	static const struct cn_io io_template = {
		.emit = on_emit,
		.event = on_event,
	};
	struct cn_io io = io_template;
	uint8_t secret[32];
	int ret;

	ret = get_secret(secret);
	if (ret < 0) {
		cn_err("getrandom: %s", strerror(-ret));
		return CN_EXIT_FAIL;
	}
	io.ctx = d;
	ret = cn_engine_create(&d->eng, &d->cfg->engine, secret, &io);
	explicit_bzero(secret, sizeof(secret));
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

static int start(struct cn_daemon *d, const sigset_t *sigs)
{
	const struct cn_daemon_config *cfg = d->cfg;
	char errbuf[256];
	int rc, ret;

	rc = check_interfaces(cfg);
	if (rc)
		return rc;
	rc = create_engine(d);
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
	rc = open_port(d, CN_CLIENT, cfg->client_if);
	if (!rc)
		rc = open_port(d, CN_SERVER, cfg->server_if);
	if (rc)
		return rc;
	ret = setup_fds(d, sigs);
	if (ret < 0) {
		cn_err("event loop setup: %s", strerror(-ret));
		return CN_EXIT_FAIL;
	}
	return CN_EXIT_OK;
}

static void teardown(struct cn_daemon *d)
{
	int fds[] = { d->epfd, d->timer_fd, d->signal_fd, d->stats_fd };

	for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	for (int i = 0; i < 2; i++)
		if (d->port[i].io)
			pktio_close(d->port[i].io);
	if (d->pcap && pcap_out_close(d->pcap) < 0)
		cn_err("--pcap %s: writing the capture failed",
		       d->cfg->pcap_path);
	if (d->eng)
		cn_engine_destroy(d->eng);
}

int cn_daemon_run(const struct cn_daemon_config *cfg)
{
	struct cn_daemon d = {
		.cfg = cfg,
		.epfd = -1,
		.timer_fd = -1,
		.signal_fd = -1,
		.stats_fd = -1,
		.armed_ns = UINT64_MAX,
	};
	sigset_t sigs;
	int rc, ret;

	/* Blocked before anything is opened: a SIGTERM during startup waits
	 * in the signalfd and ends the daemon cleanly. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGUSR1);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	rc = start(&d, &sigs);
	if (rc)
		goto out;
	cn_info("client side %s (ifindex %u), server side %s (ifindex %u)%s%s",
		cfg->client_if, d.port[CN_CLIENT].pif.ifindex, cfg->server_if,
		d.port[CN_SERVER].pif.ifindex, cfg->pcap_path ? ", capture " : "",
		cfg->pcap_path ? cfg->pcap_path : "");
	cn_log_status("ready");
	ret = loop(&d);
	if (ret < 0) {
		if (ret != -ENODEV)
			cn_err("event loop: %s", strerror(-ret));
		rc = CN_EXIT_FAIL;
	}
	print_counters(&d, "exit");
out:
	teardown(&d);
	return rc;
}
