// SPDX-License-Identifier: MIT
/*
 * Load generator for short and persistent TCP connections, one thread,
 * epoll, non-blocking sockets.
 *
 *   loadgen server --listen ADDR:PORT [--close-after BYTES]
 *       echoes what it reads; with --close-after it closes a connection
 *       once it has echoed that many bytes (the server closes first, so
 *       TIME-WAIT lands on the server and client ports are not used up)
 *   loadgen conn --connect ADDR:PORT [--conns N] [--size B] [--seconds T]
 *       N connections in flight; each connects, sends B bytes, reads B
 *       bytes back and the server's FIN, closes, and is replaced
 *   loadgen rr --connect ADDR:PORT [--conns N] [--seconds T]
 *       N persistent connections, one byte back and forth
 *   loadgen synflood --connect ADDR:PORT --iface IF --src-mac MAC
 *                    --dst-mac MAC --src-net A.B.C.D/LEN [--rate PPS] [--seconds T]
 *       IPv4 SYNs from random addresses of the source net and random
 *       ports (Linux's SYN options, valid checksums) out of IF through a
 *       packet socket, as fast as it goes (or PPS a second); nothing is
 *       answered. Prints sent, seconds, rate.
 *
 * The client prints one line of key=value pairs: completed transactions,
 * rate, errors, latency percentiles in microseconds (conn: from
 * connect() to the last reply byte; rr: one round trip) and its own CPU
 * time per transaction in microseconds (cpu_us).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netpacket/packet.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LG_BUF 4096
#define LG_MAX_EVENTS 256

enum lg_mode { LG_SERVER, LG_CONN, LG_RR, LG_SYNFLOOD };

struct lg_opts {
	enum lg_mode mode;
	struct sockaddr_storage addr;
	socklen_t addrlen;
	uint32_t conns;
	uint32_t size;
	uint64_t close_after;
	double seconds;
	/* synflood */
	const char *ifname;
	uint8_t src_mac[6], dst_mac[6];
	bool have_src_mac, have_dst_mac, have_src_net;
	uint32_t src_net; /* host order */
	uint8_t src_len;
	double rate;
};

/* ---- time and latency samples ----------------------------------------- */

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t now_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

struct lg_samples {
	uint32_t *ns;   /* saturates at ~4.29 s */
	size_t n, cap;
};

static void samples_add(struct lg_samples *s, uint64_t ns)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 65536;
		uint32_t *p = realloc(s->ns, cap * sizeof(*p));

		if (!p)
			return; /* keep the samples we have */
		s->ns = p;
		s->cap = cap;
	}
	s->ns[s->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static double pct_us(const struct lg_samples *s, double p)
{
	size_t i;

	if (!s->n)
		return 0;
	i = (size_t)(p / 100.0 * (double)(s->n - 1) + 0.5);
	return s->ns[i] / 1000.0;
}

/* ---- sockets -------------------------------------------------------- */

static int parse_addr(const char *arg, struct lg_opts *o)
{
	struct addrinfo hints = {
		.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV,
		.ai_socktype = SOCK_STREAM,
	}, *res;
	char host[128];
	const char *colon = strrchr(arg, ':');
	size_t hl;

	if (!colon || colon == arg)
		return -EINVAL;
	hl = (size_t)(colon - arg);
	if (arg[0] == '[' && hl >= 2 && arg[hl - 1] == ']') {
		arg++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, arg, hl);
	host[hl] = '\0';
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return -EINVAL;
	memcpy(&o->addr, res->ai_addr, res->ai_addrlen);
	o->addrlen = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static int ep_ctl(int ep, int op, int fd, uint32_t events, uint64_t data)
{
	struct epoll_event ev = { .events = events, .data.u64 = data };

	return epoll_ctl(ep, op, fd, &ev) ? -errno : 0;
}

/* ---- server ---------------------------------------------------------- */

struct lg_sconn {
	uint64_t echoed;
	uint32_t pend_off, pend_len;  /* bytes the socket did not take yet */
	uint8_t pend[LG_BUF];
};

struct lg_server {
	int ep, lfd;
	struct lg_sconn **conns; /* by fd */
	size_t nconns;
	uint64_t close_after;
};

static void server_drop(struct lg_server *s, int fd)
{
	free(s->conns[fd]);
	s->conns[fd] = NULL;
	close(fd);
}

static void server_accept(struct lg_server *s)
{
	int fd;

	while ((fd = accept4(s->lfd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if ((size_t)fd >= s->nconns ||
		    !(s->conns[fd] = calloc(1, sizeof(struct lg_sconn)))) {
			close(fd);
			continue;
		}
		nodelay(fd);
		if (ep_ctl(s->ep, EPOLL_CTL_ADD, fd, EPOLLIN, (uint64_t)fd))
			server_drop(s, fd);
	}
}

/* Flush pending bytes; 1 when all went out, 0 when the socket is full,
 * negative on error. */
static int server_flush(struct lg_server *s, int fd, struct lg_sconn *c)
{
	while (c->pend_len) {
		ssize_t n = send(fd, c->pend + c->pend_off, c->pend_len,
				 MSG_NOSIGNAL);

		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		c->pend_off += (uint32_t)n;
		c->pend_len -= (uint32_t)n;
		c->echoed += (uint64_t)n;
	}
	c->pend_off = 0;
	if (s->close_after && c->echoed >= s->close_after)
		return -ECONNRESET; /* done: close it */
	return 1;
}

static void server_io(struct lg_server *s, int fd, uint32_t events)
{
	struct lg_sconn *c = s->conns[fd];
	int r;

	if (c->pend_len) {
		r = server_flush(s, fd, c);
		if (r < 0)
			goto drop;
		if (r == 0)
			return;
		ep_ctl(s->ep, EPOLL_CTL_MOD, fd, EPOLLIN, (uint64_t)fd);
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (;;) {
		ssize_t n = recv(fd, c->pend, sizeof(c->pend), 0);

		if (n == 0 || (n < 0 && errno != EAGAIN))
			goto drop;
		if (n < 0)
			return;
		c->pend_len = (uint32_t)n;
		r = server_flush(s, fd, c);
		if (r < 0)
			goto drop;
		if (r == 0) {
			ep_ctl(s->ep, EPOLL_CTL_MOD, fd, EPOLLOUT, (uint64_t)fd);
			return;
		}
	}
drop:
	server_drop(s, fd);
}

static volatile sig_atomic_t lg_stop;

static void on_signal(int sig)
{
	(void)sig;
	lg_stop = 1;
}

static int run_server(const struct lg_opts *o)
{
	struct lg_server s = { .ep = -1, .lfd = -1,
			       .close_after = o->close_after };
	struct epoll_event evs[LG_MAX_EVENTS];
	struct rlimit rl;
	int one = 1, err = 0;

	getrlimit(RLIMIT_NOFILE, &rl);
	s.nconns = rl.rlim_cur > 1u << 20 ? 1u << 20 : rl.rlim_cur;
	s.conns = calloc(s.nconns, sizeof(*s.conns));
	s.ep = epoll_create1(EPOLL_CLOEXEC);
	s.lfd = socket(o->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (!s.conns || s.ep < 0 || s.lfd < 0) {
		err = -errno;
		goto out;
	}
	setsockopt(s.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(s.lfd, (const struct sockaddr *)&o->addr, o->addrlen) ||
	    listen(s.lfd, 4096)) {
		err = -errno;
		goto out;
	}
	err = ep_ctl(s.ep, EPOLL_CTL_ADD, s.lfd, EPOLLIN, UINT64_MAX);
	if (err)
		goto out;
	fprintf(stderr, "loadgen: listening\n");
	while (!lg_stop) {
		int n = epoll_wait(s.ep, evs, LG_MAX_EVENTS, 200);

		for (int i = 0; i < n; i++) {
			if (evs[i].data.u64 == UINT64_MAX)
				server_accept(&s);
			else if (s.conns[evs[i].data.u64])
				server_io(&s, (int)evs[i].data.u64,
					  evs[i].events);
		}
	}
out:
	if (err)
		fprintf(stderr, "loadgen: server: %s\n", strerror(-err));
	for (size_t i = 0; s.conns && i < s.nconns; i++)
		if (s.conns[i])
			server_drop(&s, (int)i);
	free(s.conns);
	if (s.lfd >= 0)
		close(s.lfd);
	if (s.ep >= 0)
		close(s.ep);
	return err ? 1 : 0;
}

/* ---- clients --------------------------------------------------------- */

enum lg_state { CS_CONNECTING, CS_READING, CS_DRAINING };

struct lg_cconn {
	int fd;
	uint8_t state;
	uint32_t got;
	uint64_t t0;
};

struct lg_client {
	const struct lg_opts *o;
	int ep;
	struct lg_cconn *c;
	struct lg_samples lat;
	uint64_t done, errors;
	uint8_t req[LG_BUF];
	bool measuring;
};

static int client_open(struct lg_client *cl, uint32_t i)
{
	struct lg_cconn *c = &cl->c[i];
	int fd = socket(cl->o->addr.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	nodelay(fd);
	c->fd = fd;
	c->got = 0;
	c->state = CS_CONNECTING;
	c->t0 = now_ns();
	if (connect(fd, (const struct sockaddr *)&cl->o->addr,
		    cl->o->addrlen) && errno != EINPROGRESS) {
		close(fd);
		c->fd = -1;
		return -errno;
	}
	return ep_ctl(cl->ep, EPOLL_CTL_ADD, fd, EPOLLOUT, i);
}

static void client_close(struct lg_client *cl, uint32_t i, bool ok)
{
	struct lg_cconn *c = &cl->c[i];

	close(c->fd);
	c->fd = -1;
	if (!ok && cl->measuring)
		cl->errors++;
}

/* Send the request (it fits in the socket buffer of a new connection). */
static int client_send(struct lg_client *cl, struct lg_cconn *c, uint32_t len)
{
	ssize_t n = send(c->fd, cl->req, len, MSG_NOSIGNAL);

	if (n < 0)
		return -errno;
	return (uint32_t)n == len ? 0 : -EMSGSIZE;
}

static void transaction_done(struct lg_client *cl, uint64_t t0)
{
	uint64_t t = now_ns();

	if (!cl->measuring)
		return;
	cl->done++;
	samples_add(&cl->lat, t - t0);
}

/* One event for connection i; false when it must be replaced. */
static bool client_io(struct lg_client *cl, uint32_t i, uint32_t events)
{
	struct lg_cconn *c = &cl->c[i];
	bool rr = cl->o->mode == LG_RR;
	uint32_t size = rr ? 1 : cl->o->size;
	uint8_t buf[LG_BUF];
	int soerr = 0;
	socklen_t sl = sizeof(soerr);

	if (c->state == CS_CONNECTING) {
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
		if (soerr || client_send(cl, c, size))
			return false;
		c->state = CS_READING;
		if (rr)
			c->t0 = now_ns();
		return ep_ctl(cl->ep, EPOLL_CTL_MOD, c->fd, EPOLLIN, i) == 0;
	}
	if (!(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return true;
	for (;;) {
		ssize_t n = recv(c->fd, buf, sizeof(buf), 0);

		if (n < 0)
			return errno == EAGAIN;
		if (n == 0) {
			/* The server closes after its reply. */
			if (rr || c->state != CS_DRAINING)
				return false;
			client_close(cl, i, true);
			return false;
		}
		c->got += (uint32_t)n;
		if (c->state == CS_READING && c->got >= size) {
			transaction_done(cl, c->t0);
			if (!rr) {
				c->state = CS_DRAINING;
				continue;
			}
			c->got = 0;
			c->t0 = now_ns();
			if (client_send(cl, c, 1))
				return false;
		}
	}
}

static int run_client(const struct lg_opts *o)
{
	struct lg_client cl = { .o = o, .ep = -1 };
	struct epoll_event evs[LG_MAX_EVENTS];
	uint64_t start, warm, end, t, cpu = 0;
	int err = 0;

	memset(cl.req, 'q', sizeof(cl.req));
	cl.c = calloc(o->conns, sizeof(*cl.c));
	cl.ep = epoll_create1(EPOLL_CLOEXEC);
	if (!cl.c || cl.ep < 0) {
		err = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < o->conns; i++) {
		cl.c[i].fd = -1;
		err = client_open(&cl, i);
		if (err)
			goto out;
	}
	start = now_ns();
	/* The first tenth (at most a second) warms up and is not counted. */
	warm = start + (uint64_t)(o->seconds * 1e8 < 1e9 ? o->seconds * 1e8 : 1e9);
	end = warm + (uint64_t)(o->seconds * 1e9);
	while ((t = now_ns()) < end && !lg_stop) {
		int n = epoll_wait(cl.ep, evs, LG_MAX_EVENTS, 10);

		if (!cl.measuring && t >= warm) {
			cl.measuring = true;
			start = t;
			cpu = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
		}
		for (int k = 0; k < n; k++) {
			uint32_t i = (uint32_t)evs[k].data.u64;

			if (cl.c[i].fd < 0 || client_io(&cl, i, evs[k].events))
				continue;
			if (cl.c[i].fd >= 0)
				client_close(&cl, i, false);
			if (client_open(&cl, i) && cl.measuring)
				cl.errors++;
		}
	}
	t = now_ns();
	/* The client's own CPU over the measured time, per operation: user
	 * and system time, the softirq work done in its context included
	 * (on a veth that is the path its frames take, up to a socket or a
	 * packet ring). */
	cpu = cl.measuring ? clock_ns(CLOCK_PROCESS_CPUTIME_ID) - cpu : 0;
	qsort(cl.lat.ns, cl.lat.n, sizeof(cl.lat.ns[0]), cmp_u32);
	printf("mode=%s completed=%" PRIu64 " seconds=%.3f rate=%.1f errors=%"
	       PRIu64 " p50_us=%.1f p90_us=%.1f p99_us=%.1f max_us=%.1f"
	       " cpu_us=%.1f\n",
	       o->mode == LG_RR ? "rr" : "conn", cl.done,
	       (double)(t - start) / 1e9, (double)cl.done * 1e9 / (double)(t - start),
	       cl.errors, pct_us(&cl.lat, 50), pct_us(&cl.lat, 90),
	       pct_us(&cl.lat, 99), pct_us(&cl.lat, 100),
	       cl.done ? (double)cpu / 1e3 / (double)cl.done : 0.0);
out:
	if (err)
		fprintf(stderr, "loadgen: client: %s\n", strerror(-err));
	for (uint32_t i = 0; cl.c && i < o->conns; i++)
		if (cl.c[i].fd >= 0)
			close(cl.c[i].fd);
	free(cl.c);
	free(cl.lat.ns);
	if (cl.ep >= 0)
		close(cl.ep);
	return err ? 1 : 0;
}

/* ---- SYN flood -------------------------------------------------------- */

#define LG_SYN_LEN 74 /* Ethernet, IPv4, TCP with 20 bytes of options */
#define LG_SYN_BATCH 64

static uint64_t lg_rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd64(void) /* xorshift64* */
{
	lg_rng ^= lg_rng >> 12;
	lg_rng ^= lg_rng << 25;
	lg_rng ^= lg_rng >> 27;
	return lg_rng * 0x2545f4914f6cdd1dull;
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* A SYN as Linux sends it (MSS, SACK permitted, timestamps, window
 * scale), from a random address of the source net and a random port,
 * with a random ISN, TSval and IP id. */
static void syn_fill(uint8_t *f, const struct lg_opts *o)
{
	static const uint8_t opts[20] = { 2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0,
					  0, 0, 0, 0, 0, 0, 1, 3, 3, 7 };
	const struct sockaddr_in *dst = (const struct sockaddr_in *)&o->addr;
	uint8_t *ip = f + 14, *tcp = ip + 20;
	uint64_t r = rnd64(), r2 = rnd64();
	uint32_t host = o->src_len >= 32 ? 0 : (uint32_t)r & (0xffffffffu >> o->src_len);
	uint32_t sum;

	memcpy(f, o->dst_mac, 6);
	memcpy(f + 6, o->src_mac, 6);
	put16(f + 12, ETHERTYPE_IP);
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, 60);
	put16(ip + 4, (uint32_t)(r >> 32) & 0xffff);
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = IPPROTO_TCP;
	put32(ip + 12, o->src_net | host);
	memcpy(ip + 16, &dst->sin_addr, 4);
	put16(ip + 10, csum_fold(csum_add(0, ip, 20)));
	put16(tcp, 1024 + (uint32_t)((r >> 48) % 64512));
	memcpy(tcp + 2, &dst->sin_port, 2);
	put32(tcp + 4, (uint32_t)r2);
	put32(tcp + 8, 0);
	tcp[12] = 10 << 4; /* 40-byte header */
	tcp[13] = 0x02;    /* SYN */
	put16(tcp + 14, 64240);
	put16(tcp + 16, 0);
	put16(tcp + 18, 0);
	memcpy(tcp + 20, opts, sizeof(opts));
	put32(tcp + 28, (uint32_t)(r2 >> 32)); /* TSval */
	sum = csum_add(0, ip + 12, 8) + IPPROTO_TCP + 40;
	put16(tcp + 16, csum_fold(csum_add(sum, tcp, 40)));
}

static int run_synflood(const struct lg_opts *o)
{
	static uint8_t frames[LG_SYN_BATCH][LG_SYN_LEN];
	struct mmsghdr msgs[LG_SYN_BATCH];
	struct iovec iov[LG_SYN_BATCH];
	struct sockaddr_ll ll = { .sll_family = AF_PACKET,
				  .sll_protocol = htons(ETH_P_IP) };
	uint64_t sent = 0, errors = 0, start, end, t;
	int fd, one = 1;

	ll.sll_ifindex = (int)if_nametoindex(o->ifname);
	if (!ll.sll_ifindex) {
		fprintf(stderr, "loadgen: synflood: no interface %s\n", o->ifname);
		return 1;
	}
	/* Protocol 0: this socket sends only, it receives nothing. */
	fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ll, sizeof(ll))) {
		fprintf(stderr, "loadgen: synflood: packet socket on %s: %s\n",
			o->ifname, strerror(errno));
		return 1;
	}
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	lg_rng ^= now_ns() ^ ((uint64_t)getpid() << 32);
	memset(msgs, 0, sizeof(msgs));
	for (int i = 0; i < LG_SYN_BATCH; i++) {
		iov[i].iov_base = frames[i];
		iov[i].iov_len = LG_SYN_LEN;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	fprintf(stderr, "loadgen: flooding\n");
	start = now_ns();
	end = start + (uint64_t)(o->seconds * 1e9);
	while ((t = now_ns()) < end && !lg_stop) {
		int n;

		if (o->rate > 0) {
			uint64_t due = start + (uint64_t)((double)sent * 1e9 / o->rate);

			if (due > t) {
				struct timespec ts = { 0, (long)(due - t < 1000000 ? due - t : 1000000) };

				nanosleep(&ts, NULL);
				continue;
			}
		}
		for (int i = 0; i < LG_SYN_BATCH; i++)
			syn_fill(frames[i], o);
		n = sendmmsg(fd, msgs, LG_SYN_BATCH, 0);
		if (n > 0)
			sent += (uint64_t)n;
		if (n < LG_SYN_BATCH)
			errors++;
	}
	t = now_ns();
	printf("mode=synflood sent=%" PRIu64 " seconds=%.3f rate=%.1f send_errors=%" PRIu64 "\n",
	       sent, (double)(t - start) / 1e9, (double)sent * 1e9 / (double)(t - start),
	       errors);
	close(fd);
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	char tail;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &v[0], &v[1], &v[2], &v[3], &v[4],
		   &v[5], &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (v[i] > 0xff)
			return -EINVAL;
		mac[i] = (uint8_t)v[i];
	}
	return 0;
}

static int parse_net(const char *s, struct lg_opts *o)
{
	char buf[32], *slash, *end;
	struct in_addr a;
	unsigned long len;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (!slash)
		return -EINVAL;
	*slash = '\0';
	len = strtoul(slash + 1, &end, 10);
	if (*end || end == slash + 1 || len > 32 || inet_pton(AF_INET, buf, &a) != 1)
		return -EINVAL;
	o->src_len = (uint8_t)len;
	o->src_net = ntohl(a.s_addr) & (len ? 0xffffffffu << (32 - len) : 0);
	return 0;
}

/* ---- command line ---------------------------------------------------- */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: loadgen server --listen ADDR:PORT [--close-after BYTES]\n"
		"       loadgen conn --connect ADDR:PORT [--conns N] [--size B] [--seconds T]\n"
		"       loadgen rr --connect ADDR:PORT [--conns N] [--seconds T]\n"
		"       loadgen synflood --connect ADDR:PORT --iface IF --src-mac MAC --dst-mac MAC\n"
		"                        --src-net A.B.C.D/LEN [--rate PPS] [--seconds T]\n"
		"  --conns N        connections in flight (default 64; rr: 1)\n"
		"  --size B         request and reply bytes for conn (default 100)\n"
		"  --seconds T      measured time after a warm-up of T/10, at most 1 s (default 5;\n"
		"                   synflood: how long it floods, no warm-up)\n"
		"  --close-after B  server: close once B bytes were echoed (default never)\n"
		"  --iface IF       synflood: send out of IF (a packet socket)\n"
		"  --src-mac MAC, --dst-mac MAC  synflood: the frames' Ethernet addresses\n"
		"  --src-net NET    synflood: random source addresses from NET (e.g. 198.18.0.0/15)\n"
		"  --rate PPS       synflood: SYNs per second (default 0: as fast as it goes)\n");
}

static int parse_opts(int argc, char **argv, struct lg_opts *o)
{
	static const struct option lopts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "connect", required_argument, NULL, 'c' },
		{ "conns", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 't' },
		{ "close-after", required_argument, NULL, 'a' },
		{ "iface", required_argument, NULL, 'i' },
		{ "src-mac", required_argument, NULL, 'm' },
		{ "dst-mac", required_argument, NULL, 'M' },
		{ "src-net", required_argument, NULL, 'N' },
		{ "rate", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool have_addr = false;
	int c;

	if (argc < 2)
		return -EINVAL;
	if (!strcmp(argv[1], "server"))
		o->mode = LG_SERVER;
	else if (!strcmp(argv[1], "conn"))
		o->mode = LG_CONN;
	else if (!strcmp(argv[1], "rr"))
		o->mode = LG_RR;
	else if (!strcmp(argv[1], "synflood"))
		o->mode = LG_SYNFLOOD;
	else if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		exit(0);
	} else
		return -EINVAL;
	o->conns = o->mode == LG_RR ? 1 : 64;
	o->size = 100;
	o->seconds = 5;
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (c) {
		case 'l':
		case 'c':
			if (parse_addr(optarg, o))
				return -EINVAL;
			have_addr = true;
			break;
		case 'n':
			o->conns = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 's':
			o->size = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 't':
			o->seconds = strtod(optarg, NULL);
			break;
		case 'a':
			o->close_after = strtoull(optarg, NULL, 10);
			break;
		case 'i':
			o->ifname = optarg;
			break;
		case 'm':
			if (parse_mac(optarg, o->src_mac))
				return -EINVAL;
			o->have_src_mac = true;
			break;
		case 'M':
			if (parse_mac(optarg, o->dst_mac))
				return -EINVAL;
			o->have_dst_mac = true;
			break;
		case 'N':
			if (parse_net(optarg, o))
				return -EINVAL;
			o->have_src_net = true;
			break;
		case 'r':
			o->rate = strtod(optarg, NULL);
			if (!(o->rate >= 0))
				return -EINVAL;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (!have_addr || optind != argc || o->conns < 1 ||
	    o->conns > 100000 || o->size < 1 || o->size > LG_BUF ||
	    !(o->seconds > 0 && o->seconds <= 3600))
		return -EINVAL;
	if (o->mode == LG_SYNFLOOD &&
	    (!o->ifname || !o->have_src_mac || !o->have_dst_mac ||
	     !o->have_src_net || o->addr.ss_family != AF_INET))
		return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	struct lg_opts o = { 0 };
	struct sigaction sa = { .sa_handler = on_signal };

	if (parse_opts(argc, argv, &o)) {
		usage(stderr);
		return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if (o.mode == LG_SYNFLOOD)
		return run_synflood(&o);
	return o.mode == LG_SERVER ? run_server(&o) : run_client(&o);
}
