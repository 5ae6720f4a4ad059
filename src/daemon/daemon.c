// SPDX-License-Identifier: MIT
/*
 * The daemon's setup, run and teardown: capabilities, interfaces, the
 * secret, one engine and two ports per worker, the signalfd and the stats
 * timer; the control events (signals, counters) whichever thread owns them.
 */
#include "daemon.h"

#include <errno.h>
#include <linux/capability.h>
#include <net/if.h>
#include <pthread.h>
#include <signal.h>
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
#include <unistd.h>

#include "iflink.h"
#include "log.h"
#include "pcap_out.h"
#include "cache_file.h"
#include "control.h"
#include "pktio.h"
#include "privs.h"
#include "sd_notify.h"
#include "stats.h"
#include "worker.h"
#include "workers.h"

/* The daemon's own tags, from TAG_CONTROL on (worker.h). */
enum {
	TAG_SIGNAL = TAG_CONTROL,
	TAG_STATS,
	TAG_BEAT,
	TAG_CTL_BASE, /* CONTROL_TAGS of them: control.h */
};

/* The kernel path hears from the daemon this often, well within the
 * shortest --fail-open. */
#define BEAT_NS (20 * 1000000ull)

struct cn_daemon {
	const struct cn_daemon_config *cfg;
	struct worker_env env;
	struct worker_pool pool;
	int signal_fd;
	int stats_fd;
	int beat_fd;
	struct fastpath *fast;
	bool fast_adopted;   /* the maps are a predecessor's */
	struct control control;
};

void cn_daemon_config_defaults(struct cn_daemon_config *cfg)
{
	*cfg = (struct cn_daemon_config){
		.client_if = "eth0",
		.server_if = "eth1",
		.promisc = true,
		.batch = 64,
		.workers = 1,
		.fail_open_ns = 500 * 1000000ull,
	};
	cn_config_defaults(&cfg->engine);
}

/*
 * Every counter by name, summed over the workers: the same function
 * answers SIGUSR1, the periodic --stats-interval dump and the final dump
 * at exit; why says which.
 */
static void print_counters(struct cn_daemon *d, const char *why)
{
	struct worker_stats *per = calloc(d->pool.nw, sizeof(*per));

	if (!per) {
		cn_err("counters (%s): out of memory (try again later)", why);
		return;
	}
	workers_gather(&d->pool, per);
	stats_print(why, per, d->pool.nw, d->env.pcap, &d->env.pcap_lock);
	free(per);
}

static void on_stats_timer(struct cn_daemon *d)
{
	uint64_t expirations;

	if (read(d->stats_fd, &expirations, sizeof(expirations)) > 0)
		print_counters(d, "interval");
}

/* Runs on each worker's thread: the worker's share of the new limits, as
 * create_engine() shares the box's out. */
static void set_limits(struct worker *w, void *arg)
{
	struct cn_config cfg = *(const struct cn_config *)arg;
	uint64_t n = w->env->cfg->workers ? w->env->cfg->workers : 1;

	cfg.buf_total_bytes = (cfg.buf_total_bytes + n - 1) / n;
	if (cn_engine_set_limits(w->eng, &cfg) < 0)
		cn_err("worker %u: the engine refused the new limits (check the "
		       "timeout and buffer keys): it keeps the old ones", w->id);
}

static void reload(struct cn_daemon *d)
{
	struct cn_config engine;
	unsigned missed;

	if (!d->cfg->reload) {
		cn_warn("SIGHUP: no --config file to read again: nothing changes");
		return;
	}
	(void)sd_notify_reloading();
	if (d->cfg->reload(d->cfg->reload_ctx, &engine) > 0) {
		missed = workers_each(&d->pool, set_limits, &engine, 1000);
		if (missed)
			cn_err("SIGHUP: %u workers did not take the new limits "
			       "within 1 s: send SIGHUP again", missed);
	}
	(void)sd_notify_send("READY=1");
}

static void on_signals(struct cn_daemon *d)
{
	struct signalfd_siginfo si;

	while (read(d->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGINT:
		case SIGTERM:
			cn_info("%s: stopping", strsignal((int)si.ssi_signo));
			atomic_store(&d->env.stop, true);
			break;
		case SIGHUP:
			reload(d);
			break;
		case SIGUSR1:
			print_counters(d, "SIGUSR1");
			/* Lets a reader look at the capture while it runs. */
			if (d->env.pcap) {
				pthread_mutex_lock(&d->env.pcap_lock);
				pcap_out_flush(d->env.pcap);
				pthread_mutex_unlock(&d->env.pcap_lock);
			}
			break;
		default:
			break;
		}
	}
}

static void on_beat(struct cn_daemon *d)
{
	uint64_t expirations;
	int ret;

	if (read(d->beat_fd, &expirations, sizeof(expirations)) <= 0)
		return;
	if ((ret = fastpath_beat(d->fast, cn_mono_ns())) < 0)
		cn_warn("kernel path: heartbeat: %s", strerror(-ret));
}

/* A control event, on whichever thread's epoll holds the fds. */
static void on_control(void *ctx, uint32_t tag)
{
	struct cn_daemon *d = ctx;

	if (tag == TAG_SIGNAL)
		on_signals(d);
	else if (tag == TAG_STATS)
		on_stats_timer(d);
	else if (tag == TAG_BEAT)
		on_beat(d);
	else if (tag >= TAG_CTL_BASE && tag < TAG_CTL_BASE + CONTROL_TAGS)
		control_event(&d->control, tag);
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

/* fanout: the groups of its sockets (pktio.h), in and out. */
static int open_port(struct worker *w, enum cn_side side, const char *ifname,
		     uint32_t fanout[PKTIO_SOCKS])
{
	const struct cn_daemon_config *cfg = w->env->cfg;
	struct port *p = &w->port[side];
	struct pktio_config pc = {
		.ifname = ifname,
		.rx_ring_bytes = cfg->rx_ring_bytes,
		.tx_ring_bytes = cfg->tx_ring_bytes,
		.promisc = cfg->promisc,
		.qdisc_bypass = cfg->qdisc_bypass,
		.fanout_group = fanout[0],
		.bpf_fanout = w->env->fast ? fastpath_fanout(w->env->fast, side) : -1,
		/* The kernel path's tc program leaves the daemon its frames
		 * (TC_ACT_OK): nothing it forwards reaches a socket. */
		.after_tc = w->env->fast != NULL,
		.fanout_after_tc = { fanout[1], fanout[2], fanout[3], fanout[4] },
	};
	const char *msg = NULL;
	bool grouped = false;
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
		cn_err("%s: %s: no such interface (it went away: check "
		       "`ip link`)", ifname, msg ? msg : "open");
		return CN_EXIT_NOIF;
	}
	if (ret < 0) {
		cn_err("%s: %s: %s (check the interface with `ip link`, and "
		       "--rx-ring-bytes and --tx-ring-bytes against the "
		       "memory limits)", ifname, msg ? msg : "open",
		       strerror(-ret));
		return CN_EXIT_FAIL;
	}
	/* The first worker started the groups (PKTIO_FANOUT_NEW in all, a
	 * socket that receives nothing joins none): the others join them. */
	for (unsigned k = 0; k < PKTIO_SOCKS; k++)
		grouped |= fanout[k] != 0;
	for (unsigned k = 0; grouped && k < PKTIO_SOCKS; k++)
		fanout[k] = pktio_fanout_group_of(p->io, k);
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
	if (d->fast) {
		struct itimerspec its = {
			.it_value.tv_nsec = BEAT_NS,
			.it_interval.tv_nsec = BEAT_NS,
		};

		d->beat_fd = timerfd_create(CLOCK_MONOTONIC,
					    TFD_NONBLOCK | TFD_CLOEXEC);
		if (d->beat_fd < 0 ||
		    timerfd_settime(d->beat_fd, 0, &its, NULL) < 0)
			return -errno;
	}
	if (d->pool.nw == 1)
		return 0;
	d->pool.epfd = epoll_create1(EPOLL_CLOEXEC);
	d->pool.done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (d->pool.epfd < 0 || d->pool.done_fd < 0)
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
	if (!ret && d->beat_fd >= 0)
		ret = ep_add(epfd, d->beat_fd, TAG_BEAT);
	if (!ret && d->pool.done_fd >= 0)
		ret = ep_add(epfd, d->pool.done_fd, TAG_DONE);
	return ret;
}

static int setup_worker_fds(struct worker *w, unsigned nw)
{
	int ret;

	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->timer_fd = timerfd_create(CLOCK_MONOTONIC,
				     TFD_NONBLOCK | TFD_CLOEXEC);
	if (w->epfd < 0 || w->timer_fd < 0)
		return -errno;
	if (nw > 1) {
		w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
		if (w->wake_fd < 0)
			return -errno;
		ret = ep_add(w->epfd, w->wake_fd, TAG_WAKE);
		if (ret < 0)
			return ret;
	}
	if (w->env->fast) {
		if ((ret = worker_closes_open(w)) < 0 ||
		    (ret = ep_add(w->epfd, ret, TAG_CLOSES)) < 0)
			return ret;
	}
	for (int i = 0; i < 2; i++) {
		int fds[PKTIO_SOCKS];
		unsigned n = pktio_fds(w->port[i].io, fds);

		for (unsigned k = 0; k < n; k++)
			if ((ret = ep_add(w->epfd, fds[k], (uint32_t)i)) < 0)
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
static int create_engine(struct worker *w, unsigned nw,
			 const uint8_t secret[32])
{
	struct cn_config cfg = w->env->cfg->engine;
	uint32_t n = nw;
	int ret;

	/* The flow table and the early-data budget are the box's: each
	 * worker gets its share (the kernel's hash spreads flows evenly). */
	cfg.max_flows = (uint32_t)(((uint64_t)cfg.max_flows + n - 1) / n);
	cfg.buf_total_bytes = (cfg.buf_total_bytes + n - 1) / n;
	ret = worker_engine_create(w, &cfg, secret);
	explicit_bzero(cfg.peer_key, sizeof(cfg.peer_key));
	if (ret == -EINVAL) {
		cn_err("the engine rejected the configuration (check the "
		       "buffer, MSS and timeout options)");
		return CN_EXIT_USAGE;
	}
	if (ret < 0) {
		cn_err("engine: %s (lower --max-flows or --cache-entries)",
		       strerror(-ret));
		return CN_EXIT_FAIL;
	}
	return CN_EXIT_OK;
}

static int alloc_workers(struct cn_daemon *d)
{
	struct worker_pool *pool = &d->pool;

	pool->w = calloc(pool->nw, sizeof(*pool->w));
	if (!pool->w)
		return -ENOMEM;
	for (unsigned i = 0; i < pool->nw; i++) {
		struct worker *w = &pool->w[i];

		w->env = &d->env;
		w->id = i;
		w->epfd = -1;
		w->timer_fd = -1;
		w->wake_fd = -1;
		w->done_fd = -1;
		w->armed_ns = UINT64_MAX;
		worker_snap_init(w);
		worker_query_init(&w->query);
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
	uint32_t fanout[2][PKTIO_SOCKS] = { { 0 } };
	int rc, ret;

	for (int s = 0; d->pool.nw > 1 && s < 2; s++)
		for (int k = 0; k < PKTIO_SOCKS; k++)
			fanout[s][k] = PKTIO_FANOUT_NEW;
	for (unsigned i = 0; i < d->pool.nw; i++) {
		struct worker *w = &d->pool.w[i];

		rc = open_port(w, CN_CLIENT, d->cfg->client_if,
			       fanout[CN_CLIENT]);
		if (!rc)
			rc = open_port(w, CN_SERVER, d->cfg->server_if,
				       fanout[CN_SERVER]);
		if (rc)
			return rc;
		ret = setup_worker_fds(w, d->pool.nw);
		if (ret < 0) {
			cn_err("event loop setup: %s (out of file "
			       "descriptors? see ulimit -n)", strerror(-ret));
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
		cn_err("out of memory for %u workers (lower --workers)",
		       d->pool.nw);
		return CN_EXIT_FAIL;
	}
	ret = get_secret(secret);
	if (ret < 0) {
		cn_err("getrandom: %s (the kernel gives no random bytes: "
		       "check its entropy source)", strerror(-ret));
		return CN_EXIT_FAIL;
	}
	for (unsigned i = 0; i < d->pool.nw && !rc; i++)
		rc = create_engine(&d->pool.w[i], d->pool.nw, secret);
	explicit_bzero(secret, sizeof(secret));
	return rc;
}

/* ---- the kernel path ---------------------------------------------- */

static bool ports_one_pair(const struct cn_daemon_config *cfg)
{
	unsigned c = if_nametoindex(cfg->client_if);
	unsigned s = if_nametoindex(cfg->server_if);
	unsigned cl, sl;

	return c && s && c != s && !iflink_local(c, &cl) &&
	       !iflink_local(s, &sl) && cl == s && sl == c;
}

/*
 * Every frame through the daemon: a predecessor's programs still on the
 * ports would forward each frame the daemon forwards too, so they go
 * (their flows with them).
 */
static void without_fast(const char *client_if, const char *server_if)
{
	const unsigned ifindex[2] = { if_nametoindex(client_if),
				      if_nametoindex(server_if) };
	int n = fastpath_remove(ifindex);

	if (n > 0)
		cn_warn("kernel path of a predecessor taken off the ports: every "
			"frame goes through this daemon, the flows it carried "
			"are not taken over");
	else if (n < 0 && n != -EPERM)
		cn_warn("looking for a predecessor's kernel path: %s",
			strerror(-n));
}

static int open_fast(struct cn_daemon *d)
{
	const struct cn_daemon_config *cfg = d->cfg;
	struct fastpath_config fc = {
		.ifindex = { if_nametoindex(cfg->client_if),
			     if_nametoindex(cfg->server_if) },
		/* Every flow of every worker's table fits (create_engine()
		 * rounds the share up). */
		.max_flows = (uint32_t)((cfg->engine.max_flows + d->pool.nw - 1) /
					d->pool.nw * d->pool.nw),
		.role = (enum cn_role)cfg->engine.role,
		.timeout_ns = cfg->fail_open_ns,
		.workers = d->pool.nw,
	};
	const char *msg = "?";
	int ret;

	if (cfg->datapath == CN_DATAPATH_AFPACKET)
		return CN_EXIT_OK;
	if (ports_one_pair(cfg)) {
		if (cfg->datapath == CN_DATAPATH_BPF) {
			cn_err("--datapath bpf: %s and %s are the two ends of one "
			       "veth pair: frames would loop between them for "
			       "ever (give the box two links)", cfg->client_if,
			       cfg->server_if);
			return CN_EXIT_USAGE;
		}
		cn_warn("%s and %s are the two ends of one veth pair: no kernel "
			"path, whose loop would outlive the daemon", cfg->client_if,
			cfg->server_if);
		return CN_EXIT_OK;
	}
	/* A capture is of every frame, which only the daemon sees. */
	if (cfg->pcap_path && cfg->datapath == CN_DATAPATH_AUTO) {
		cn_info("--pcap: every frame through the daemon, so that the "
			"capture holds them all (--datapath bpf would capture "
			"only what the kernel path leaves to it)");
		return CN_EXIT_OK;
	}
	if (cfg->pcap_path)
		cn_warn("--pcap with --datapath bpf: the capture holds only the "
			"frames the kernel path leaves to the daemon");
	ret = fastpath_open(&d->fast, &fc, &d->fast_adopted, &msg);
	if (!ret) {
		d->env.fast = d->fast;
		cn_info("kernel path: tc programs on %s and %s%s",
			cfg->client_if, cfg->server_if,
			d->fast_adopted ? ", flows of a predecessor taken over" :
					  "");
		if (fastpath_orphaned(d->fast))
			cn_warn("kernel path: a predecessor's programs were on "
				"the ports, but opening them needs CAP_SYS_ADMIN: "
				"they were replaced and the flows they carried "
				"are lost");
		return CN_EXIT_OK;
	}
	d->fast = NULL;
	if (cfg->datapath == CN_DATAPATH_BPF) {
		cn_err("--datapath bpf: %s: %s (or run with --datapath "
		       "afpacket)", msg, strerror(-ret));
		return ret == -EPERM || ret == -EACCES ? CN_EXIT_NOPERM :
							 CN_EXIT_FAIL;
	}
	cn_warn("kernel path unavailable, every frame goes through the "
		"daemon: %s: %s (--datapath afpacket says so without this "
		"warning)", msg, strerror(-ret));
	return CN_EXIT_OK;
}

struct adoption {
	struct worker_pool *pool;
	uint64_t now;
	unsigned adopted, no_slot, unknown;
};

static int adopt_one(void *ctx, const struct cn_flow_key *key,
		     const struct cn_fast_flow *rec)
{
	struct adoption *a = ctx;
	/* The worker the fanout program sends the flow's frames to. */
	struct worker *w = &a->pool->w[cn_fast_key_hash(key) % a->pool->nw];
	int ret = cn_engine_adopt(w->eng, key, rec, a->now);

	if (!ret || ret == -EEXIST) {
		a->adopted += !ret;
		return 0;
	}
	/* No slot for it, or nothing this engine wrote (another version's
	 * record): the kernel would carry it with nobody to close or expire
	 * it. */
	if (ret == -ENOSPC)
		a->no_slot++;
	else
		a->unknown++;
	return 1;
}

/* The flows the kernel carried for a predecessor, now this daemon's. */
static void adopt_flows(struct cn_daemon *d)
{
	struct adoption a = { .pool = &d->pool, .now = cn_mono_ns() };
	unsigned seen = fastpath_each(d->fast, adopt_one, &a);

	cn_info("kernel path: %u of %u flows of a predecessor adopted",
		a.adopted, seen);
	if (a.no_slot)
		cn_warn("kernel path: %u flows of a predecessor dropped (no "
			"free slot: raise --max-flows)", a.no_slot);
	if (a.unknown)
		cn_warn("kernel path: %u flows of a predecessor dropped (their "
			"records are not of this version's making)", a.unknown);
}

/* Everything that needs a privilege is open: let it go. */
static int drop_privileges(const char *user)
{
	const char *step;
	int ret = privs_drop(user, &step);

	if (ret == -ENOENT) {
		cn_err("--user %s: no such user (create it, e.g. with the "
		       "installed sysusers.d file, or name another)", user);
		return CN_EXIT_USAGE;
	}
	if (ret < 0) {
		cn_err("--user %s: could not %s: %s (switching users needs "
		       "root, or CAP_SETUID and CAP_SETGID)", user, step,
		       strerror(-ret));
		return CN_EXIT_NOPERM;
	}
	cn_info("running as %s, with no capabilities", user);
	return CN_EXIT_OK;
}

static struct cn_engine **engines(struct cn_daemon *d)
{
	struct cn_engine **e = calloc(d->pool.nw, sizeof(*e));

	for (unsigned i = 0; e && i < d->pool.nw; i++)
		e[i] = d->pool.w[i].eng;
	return e;
}

/* A cache file that cannot be used costs the first connections their
 * right options, nothing more: a warning, and on. */
static void load_cache(struct cn_daemon *d)
{
	const char *path = d->cfg->cache_path, *why;
	struct cn_engine **e = engines(d);
	int ret;

	if (!e) {
		cn_warn("--cache-file %s: out of memory: not loaded", path);
		return;
	}
	ret = cache_file_load(path, e, d->pool.nw, &why);
	free(e);
	if (ret == -EINVAL)
		cn_warn("--cache-file %s: refused, %s: starting with an empty "
			"cache (the file is replaced on a clean stop)", path, why);
	else if (ret < 0)
		cn_warn("--cache-file %s: %s: starting with an empty cache",
			path, strerror(-ret));
	else
		cn_info("--cache-file %s: %d servers' options loaded", path, ret);
}

static void save_cache(struct cn_daemon *d)
{
	const char *path = d->cfg->cache_path;
	struct cn_engine **e = engines(d);
	int ret = e ? cache_file_save(path, e, d->pool.nw) : -ENOMEM;

	free(e);
	if (ret < 0)
		cn_warn("--cache-file %s: not written: %s (under --user, the "
			"folder must be writable by that user)", path,
			strerror(-ret));
	else
		cn_info("--cache-file %s: %d servers' options written", path,
			ret);
}

static int start(struct cn_daemon *d, const sigset_t *sigs)
{
	const struct cn_daemon_config *cfg = d->cfg;
	char errbuf[256];
	int rc, ret;

	rc = check_interfaces(cfg);
	if (!rc)
		rc = open_fast(d);
	if (!rc && !d->fast)
		without_fast(cfg->client_if, cfg->server_if);
	if (!rc)
		rc = create_engines(d);
	if (rc)
		return rc;
	if (cfg->pcap_path) {
		ret = pcap_out_open(&d->env.pcap, cfg->pcap_path, errbuf,
				    sizeof(errbuf));
		if (ret < 0) {
			cn_err("--pcap %s: %s (the folder must exist and be "
			       "writable)", cfg->pcap_path, errbuf);
			return CN_EXIT_FAIL;
		}
	}
	rc = open_ports(d);
	if (rc)
		return rc;
	if (d->fast_adopted)
		adopt_flows(d);
	ret = setup_main_fds(d, sigs);
	if (!ret)
		ret = add_main_fds(d, d->pool.nw == 1 ? d->pool.w[0].epfd
						      : d->pool.epfd);
	if (ret < 0) {
		cn_err("event loop setup: %s (out of file descriptors? see "
		       "ulimit -n)", strerror(-ret));
		return CN_EXIT_FAIL;
	}
	/* As root: the socket's folder may be root's alone (/run). */
	rc = control_open(&d->control, cfg, &d->pool, &d->env,
			  cn_log_name());
	if (rc)
		return rc;
	ret = control_attach(&d->control, d->pool.nw == 1 ? d->pool.w[0].epfd
							   : d->pool.epfd,
			     TAG_CTL_BASE);
	if (ret < 0) {
		cn_err("control socket setup: %s (or run with --control "
		       "none)", strerror(-ret));
		return CN_EXIT_FAIL;
	}
	rc = cfg->user ? drop_privileges(cfg->user) : CN_EXIT_OK;
	/* Read with no privilege left: the file is another program's input,
	 * and under --user it is that user's (written by it at the stop). */
	if (!rc && cfg->cache_path)
		load_cache(d);
	return rc;
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

static void teardown(struct cn_daemon *d)
{
	control_close(&d->control);
	for (unsigned i = 0; d->pool.w && i < d->pool.nw; i++) {
		struct worker *w = &d->pool.w[i];

		close_fd(w->epfd);
		close_fd(w->timer_fd);
		close_fd(w->wake_fd);
		for (int k = 0; k < 2; k++)
			if (w->port[k].io)
				pktio_close(w->port[k].io);
		if (w->eng)
			cn_engine_destroy(w->eng);
		worker_snap_destroy(w);
		worker_query_destroy(&w->query);
	}
	free(d->pool.w);
	close_fd(d->pool.epfd);
	close_fd(d->signal_fd);
	close_fd(d->stats_fd);
	close_fd(d->beat_fd);
	close_fd(d->pool.done_fd);
	fastpath_close(d->fast);
	if (d->env.pcap && pcap_out_close(d->env.pcap) < 0)
		cn_err("--pcap %s: writing the capture failed (is the disk "
		       "full?)",
		       d->cfg->pcap_path);
	pthread_mutex_destroy(&d->env.pcap_lock);
}

/*
 * The daemon goes: the kernel fails open at once rather than after the
 * heartbeat times out, and keeps carrying the established flows for the
 * next daemon, unless told to go with it.
 */
static void stop_fast(struct cn_daemon *d)
{
	int ret;

	if (d->cfg->detach) {
		ret = fastpath_detach(d->fast);
		if (ret < 0)
			cn_warn("--detach: taking the tc programs off: %s "
				"(tc filter del dev IF ingress removes them)",
				strerror(-ret));
		else
			cn_info("kernel path taken off %s and %s",
				d->cfg->client_if, d->cfg->server_if);
		return;
	}
	if ((ret = fastpath_beat(d->fast, 0)) < 0)
		cn_warn("kernel path: heartbeat: %s", strerror(-ret));
}

/* Run the workers until a signal stops them; returns an enum cn_exit. */
static int run(struct cn_daemon *d)
{
	int ret;

	if (d->pool.nw == 1) {
		/* One worker: the main thread runs it, as it always did. */
		ret = worker_loop(&d->pool.w[0]);
		if (ret < 0 && ret != -ENODEV)
			cn_err("event loop: %s (the daemon stops: restart it)",
			       strerror(-ret));
		return ret < 0 ? CN_EXIT_FAIL : CN_EXIT_OK;
	}
	return workers_run(&d->pool);
}

int cn_daemon_run(const struct cn_daemon_config *cfg)
{
	struct cn_daemon d = {
		.cfg = cfg,
		.env = {
			.cfg = cfg,
			.pcap_lock = PTHREAD_MUTEX_INITIALIZER,
			.control = on_control,
		},
		.pool = {
			.nw = cfg->workers ? cfg->workers : 1,
			.epfd = -1,
			.done_fd = -1,
		},
		.signal_fd = -1,
		.stats_fd = -1,
		.beat_fd = -1,
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
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	d.env.control_ctx = &d;
	d.pool.env = &d.env;
	rc = start(&d, &sigs);
	if (rc)
		goto out;
	cn_info("client side %s (ifindex %u), server side %s (ifindex %u)%s%s",
		cfg->client_if, d.pool.w[0].port[CN_CLIENT].pif.ifindex,
		cfg->server_if, d.pool.w[0].port[CN_SERVER].pif.ifindex,
		cfg->pcap_path ? ", capture " : "",
		cfg->pcap_path ? cfg->pcap_path : "");
	if (d.pool.nw > 1)
		cn_info("%u workers, one PACKET_FANOUT %s group per interface",
			d.pool.nw, d.fast ? "eBPF (by flow key)" : "hash");
	/* The sockets listen: the kernel may leave frames to the daemon. */
	if (d.fast && (rc = fastpath_beat(d.fast, cn_mono_ns())) < 0) {
		cn_err("kernel path: heartbeat: %s", strerror(-rc));
		rc = CN_EXIT_FAIL;
		goto out;
	}
	cn_log_status("ready");
	(void)sd_notify_send("READY=1");
	rc = run(&d);
	if (d.fast)
		stop_fast(&d);
	(void)sd_notify_send("STOPPING=1");
	if (!rc && cfg->cache_path)
		save_cache(&d);
	print_counters(&d, "exit");
	/* What the log still holds, given a second for a slow reader. */
	cn_log_flush(1000);
out:
	teardown(&d);
	return rc;
}
