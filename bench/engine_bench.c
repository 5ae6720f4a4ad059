// SPDX-License-Identifier: MIT
/*
 * Engine benchmark: real frames of N concurrent TCP flows through
 * cn_engine_input() on one core, no interfaces, no system calls.
 *
 * The trace generator plays both TCP endpoints. It cannot know the spoofed
 * ISN and TSval before the engine has answered the SYN, so frames are made
 * against a rehearsal engine that the generator talks to (and whose output
 * it checks), and the same frames, byte for byte and at the same virtual
 * times, are then replayed into a second engine with the same secret and
 * configuration. The engine has no clock and no randomness of its own, so
 * the replayed engine answers exactly as the rehearsal did; only the replay
 * is timed, in chunks of CHUNK frames. Verdict tallies of both engines are
 * compared at the end.
 *
 * Output: one "result NAME VALUE UNIT" line per figure (bench/run.sh reads
 * them) after a human-readable summary on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/perf_event.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define TB_HAVE_CALLGRIND 1
#endif
#endif
#ifndef TB_HAVE_CALLGRIND
#define CALLGRIND_TOGGLE_COLLECT do { } while (0)
#endif

#define CHUNK 8192          /* frames replayed between two clock reads */
#define FRAME_MAX 1600
#define MSS 1448            /* payload of a full data segment (TS option) */
#define STEP_NS 200         /* virtual time between two frames */
#define SACK_EVERY 8        /* one pure ACK in 8 carries a SACK block */

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10

enum scenario { SC_STEADY, SC_HANDSHAKE, SC_PASS, SC_MAX };
static const char *const sc_names[SC_MAX] = { "steady", "handshake",
					      "passthrough" };

/* Both ends of one connection, as the two TCP stacks see it. The server's
 * sequence numbers are kept in its own (real) space; the client sees them
 * moved by spoof_isn - s_isn, its timestamps by spoof_ts0 - s_ts0. */
struct tb_flow {
	uint32_t caddr, saddr;
	uint16_t cport, sport;
	uint32_t c_isn, c_nxt;     /* client's next sequence number */
	uint32_t s_isn, s_nxt;     /* server's, real space */
	uint32_t spoof_isn;        /* learnt from the spoofed SYN-ACK */
	uint32_t s_ts0, spoof_ts0; /* server's SYN-ACK TSval, the spoofed one */
	uint32_t c_tsoff, s_tsoff; /* per-host timestamp clock offsets */
	uint32_t acks;             /* pure ACKs sent, for the SACK cadence */
	uint8_t stage;
	bool spoof_seen;
	bool s_ts_known;           /* the real SYN-ACK was sent */
};

struct tb_ent {
	uint32_t off, len;
	uint64_t now;
	uint8_t side;
};

struct tb_chunk {
	uint8_t *arena;
	size_t used;
	struct tb_ent ent[CHUNK];
	uint32_t n;
};

struct tb_count {
	uint64_t verdict[3];
	uint64_t emitted;
};

struct tb {
	enum scenario sc;
	uint32_t nflows;
	struct tb_flow *flows;
	uint32_t rr;               /* round-robin cursor */
	uint64_t rng;
	uint64_t now;
	uint32_t serial;           /* connections started */
	uint16_t ip_id;
	struct cn_engine *rehearse, *timed;
	struct tb_count cnt_r, cnt_t;
	struct tb_flow *cur;       /* the flow whose frame the rehearsal sees */
	unsigned bad;              /* rehearsal checks that failed */
	char why[160];
	struct tb_chunk *chunk;
	uint8_t scratch[FRAME_MAX];
	uint64_t timed_ns, timed_frames;
	int perf_fd;               /* instructions counter, -1: none */
};

static uint8_t payload_pattern[FRAME_MAX];
static const uint8_t client_mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t server_mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };

/* ---- bytes and checksums (this file's own, not the engine's) --------- */

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static void put32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static uint32_t get32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	       (uint32_t)b[2] << 8 | b[3];
}

static uint64_t sum16(uint64_t sum, const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		sum += (uint32_t)p[n - 1] << 8;
	return sum;
}

static uint16_t fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* Sum of the IPv4 pseudo-header for an L4 segment of len bytes. */
static uint64_t pseudo4(const uint8_t *ip, uint8_t proto, uint32_t len)
{
	return sum16(0, ip + 12, 8) + proto + len;
}

/* ---- frame builder --------------------------------------------------- */

struct tb_seg {
	const struct tb_flow *fl;
	bool from_server;
	uint8_t flags;
	uint32_t seq, ack;
	uint32_t tsval, tsecr;
	uint8_t nsack;
	uint32_t sack[2];          /* one block: left, right edge */
	uint32_t paylen;
};

static uint32_t build_eth_ip(uint8_t *b, struct tb *t, bool from_server,
			     uint32_t src, uint32_t dst, uint8_t proto,
			     uint32_t l4len)
{
	uint8_t *ip = b + 14;

	memcpy(b, from_server ? client_mac : server_mac, 6);
	memcpy(b + 6, from_server ? server_mac : client_mac, 6);
	put16(b + 12, 0x0800);
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, (uint16_t)(20 + l4len));
	put16(ip + 4, t->ip_id++);
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = proto;
	put16(ip + 10, 0);
	put32(ip + 12, src);
	put32(ip + 16, dst);
	put16(ip + 10, fold(sum16(0, ip, 20)));
	return 34;
}

/* TCP options: the Linux SYN set, or NOP NOP TS and an optional SACK. */
static uint32_t build_opts(uint8_t *o, const struct tb_seg *s)
{
	uint32_t n = 0;

	if (s->flags & TH_SYN) {
		o[n++] = 2; o[n++] = 4; put16(o + n, 1460); n += 2;
		o[n++] = 4; o[n++] = 2;
		o[n++] = 8; o[n++] = 10;
		put32(o + n, s->tsval); put32(o + n + 4, s->tsecr); n += 8;
		o[n++] = 1;
		o[n++] = 3; o[n++] = 3; o[n++] = 7;
		return n;
	}
	o[n++] = 1; o[n++] = 1; o[n++] = 8; o[n++] = 10;
	put32(o + n, s->tsval); put32(o + n + 4, s->tsecr); n += 8;
	if (s->nsack) {
		o[n++] = 1; o[n++] = 1; o[n++] = 5; o[n++] = 10;
		put32(o + n, s->sack[0]); put32(o + n + 4, s->sack[1]); n += 8;
	}
	return n;
}

static uint32_t build_tcp(uint8_t *b, struct tb *t, const struct tb_seg *s)
{
	const struct tb_flow *fl = s->fl;
	uint8_t opts[40];
	uint32_t optlen = build_opts(opts, s), hl = 20 + optlen;
	uint32_t l4len = hl + s->paylen, off;
	uint8_t *th;
	uint64_t sum;

	off = build_eth_ip(b, t, s->from_server,
			   s->from_server ? fl->saddr : fl->caddr,
			   s->from_server ? fl->caddr : fl->saddr, 6, l4len);
	th = b + off;
	put16(th, s->from_server ? fl->sport : fl->cport);
	put16(th + 2, s->from_server ? fl->cport : fl->sport);
	put32(th + 4, s->seq);
	put32(th + 8, s->ack);
	th[12] = (uint8_t)(hl / 4 << 4);
	th[13] = s->flags;
	put16(th + 14, (s->flags & TH_SYN) ? 64240 : 2048);
	put16(th + 16, 0);
	put16(th + 18, 0);
	memcpy(th + 20, opts, optlen);
	memcpy(th + hl, payload_pattern, s->paylen);
	sum = pseudo4(b + 14, 6, l4len);
	sum = sum16(sum, th, l4len);
	put16(th + 16, fold(sum));
	return off + l4len;
}

static uint32_t build_udp(uint8_t *b, struct tb *t, const struct tb_flow *fl,
			  bool from_server, uint32_t paylen)
{
	uint32_t l4len = 8 + paylen;
	uint32_t off = build_eth_ip(b, t, from_server,
				    from_server ? fl->saddr : fl->caddr,
				    from_server ? fl->caddr : fl->saddr, 17,
				    l4len);
	uint8_t *uh = b + off;
	uint16_t c;

	put16(uh, from_server ? 53 : fl->cport);
	put16(uh + 2, from_server ? fl->cport : 53);
	put16(uh + 4, (uint16_t)l4len);
	put16(uh + 6, 0);
	memcpy(uh + 8, payload_pattern, paylen);
	c = fold(sum16(pseudo4(b + 14, 17, l4len), uh, l4len));
	put16(uh + 6, c ? c : 0xffff);
	return off + l4len;
}

/* ---- the two endpoints ----------------------------------------------- */

static uint64_t rng_next(struct tb *t)
{
	t->rng ^= t->rng << 13;
	t->rng ^= t->rng >> 7;
	t->rng ^= t->rng << 17;
	return t->rng;
}

static uint32_t ts_clock(const struct tb *t, uint32_t off)
{
	return (uint32_t)(t->now / 1000000) + off;
}

/* A new connection in the flow slot: fresh port (and address once the
 * ports of one address are used up), fresh ISNs. */
static void flow_start(struct tb *t, struct tb_flow *fl)
{
	uint32_t k = t->serial++;

	memset(fl, 0, sizeof(*fl));
	fl->caddr = 0x0a800000u + k / 60000;      /* 10.128.0.0/9 */
	fl->saddr = 0xc6336401u + (k % 7);         /* a few servers */
	fl->cport = (uint16_t)(1024 + k % 60000);
	fl->sport = 443;
	fl->c_isn = (uint32_t)rng_next(t);
	fl->s_isn = (uint32_t)rng_next(t);
	fl->c_tsoff = (uint32_t)rng_next(t);
	fl->s_tsoff = (uint32_t)rng_next(t);
	fl->c_nxt = fl->c_isn;
	fl->s_nxt = fl->s_isn + 1; /* its SYN-ACK takes s_isn */
}

/* What the client sees of the server's numbers. */
static uint32_t c_view_seq(const struct tb_flow *fl, uint32_t real)
{
	return real - fl->s_isn + fl->spoof_isn;
}

static uint32_t c_view_ts(const struct tb_flow *fl, uint32_t real)
{
	return real - fl->s_ts0 + fl->spoof_ts0;
}

/* ---- rehearsal: the engine the generator talks to -------------------- */

static void fail_check(struct tb *t, const char *what, uint32_t want,
		       uint32_t got)
{
	if (!t->bad++)
		snprintf(t->why, sizeof(t->why), "%s: want %" PRIu32
			 ", got %" PRIu32, what, want, got);
}

static bool tcp_csum_ok(const uint8_t *b, uint32_t len)
{
	const uint8_t *ip = b + 14;
	uint32_t l4len = get16(ip + 2) - 20u;

	if (len < 34 + l4len)
		return false;
	return fold(sum16(pseudo4(ip, 6, l4len), ip + 20, l4len)) == 0 &&
	       fold(sum16(0, ip, 20)) == 0;
}

/* TSval of the timestamp option of a TCP segment at th, 0 when absent. */
static bool find_ts(const uint8_t *th, uint32_t *tsval, uint32_t *tsecr)
{
	uint32_t hl = (uint32_t)(th[12] >> 4) * 4, i = 20;

	while (i < hl) {
		uint8_t kind = th[i];

		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= hl || th[i + 1] < 2 || i + th[i + 1] > hl)
			break;
		if (kind == 8 && th[i + 1] == 10) {
			*tsval = get32(th + i + 2);
			*tsecr = get32(th + i + 6);
			return true;
		}
		i += th[i + 1];
	}
	return false;
}

static void rehearse_emit(void *ctx, enum cn_side to, const struct cn_frame *f)
{
	struct tb *t = ctx;
	struct tb_flow *fl = t->cur;
	const uint8_t *th = f->data + 34;
	uint32_t tsval = 0, tsecr = 0;

	t->cnt_r.emitted++;
	if (!fl || f->len < 54 || get16(f->data + 12) != 0x0800)
		return;
	if (!tcp_csum_ok(f->data, f->len))
		fail_check(t, "checksum of an emitted frame", 0, 1);
	if (to == CN_CLIENT && th[13] == (TH_SYN | TH_ACK)) {
		fl->spoof_isn = get32(th + 4);
		if (find_ts(th, &tsval, &tsecr))
			fl->spoof_ts0 = tsval;
		fl->spoof_seen = true;
		return;
	}
	/* A held client frame released to the server: in server space. */
	if (to == CN_SERVER && (th[13] & TH_ACK) &&
	    get32(th + 8) != fl->s_isn + 1)
		fail_check(t, "ack of a released client frame", fl->s_isn + 1,
			   get32(th + 8));
}

static void rehearse_event(void *ctx, const struct cn_event *ev)
{
	(void)ctx;
	(void)ev;
}

static void timed_emit(void *ctx, enum cn_side to, const struct cn_frame *f)
{
	struct tb *t = ctx;

	(void)to;
	(void)f;
	t->cnt_t.emitted++;
}

/* Check a forwarded frame against what its receiver expects. */
static void check_forwarded(struct tb *t, const struct tb_seg *s,
			    const uint8_t *b, uint32_t len)
{
	const struct tb_flow *fl = s->fl;
	const uint8_t *th = b + 34;
	uint32_t tsval = 0, tsecr = 0;

	if (!tcp_csum_ok(b, len))
		fail_check(t, "checksum of a rewritten frame", 0, 1);
	find_ts(th, &tsval, &tsecr);
	if (s->from_server) {
		if (get32(th + 4) != c_view_seq(fl, s->seq))
			fail_check(t, "server seq after rewrite",
				   c_view_seq(fl, s->seq), get32(th + 4));
		if (tsval != c_view_ts(fl, s->tsval))
			fail_check(t, "server TSval after rewrite",
				   c_view_ts(fl, s->tsval), tsval);
		return;
	}
	if (get32(th + 8) != fl->s_nxt)
		fail_check(t, "client ack after rewrite", fl->s_nxt,
			   get32(th + 8));
	if (tsecr != fl->s_ts0 + (s->tsecr - fl->spoof_ts0))
		fail_check(t, "client TSecr after rewrite",
			   fl->s_ts0 + (s->tsecr - fl->spoof_ts0), tsecr);
}

/* Record the frame in the chunk and show it to the rehearsal engine. */
static void feed(struct tb *t, struct tb_flow *fl, bool from_server,
		 const uint8_t *b, uint32_t len, enum cn_verdict want,
		 const struct tb_seg *s)
{
	struct tb_chunk *c = t->chunk;
	struct tb_ent *e = &c->ent[c->n++];
	struct cn_frame f = { .data = t->scratch, .len = len };
	enum cn_verdict v;

	e->off = (uint32_t)c->used;
	e->len = len;
	e->now = t->now;
	e->side = from_server ? CN_SERVER : CN_CLIENT;
	memcpy(c->arena + c->used, b, len);
	c->used += (len + 63) & ~63u;
	if (b != t->scratch)
		memcpy(t->scratch, b, len);
	t->cur = fl;
	v = cn_engine_input(t->rehearse, (enum cn_side)e->side, &f, t->now, NULL);
	t->cur = NULL;
	t->cnt_r.verdict[v]++;
	if (v != want)
		fail_check(t, "verdict", want, v);
	else if (v == CN_FORWARD && s && s->fl->spoof_seen)
		check_forwarded(t, s, t->scratch, len);
	t->now += STEP_NS;
}

static void send_seg(struct tb *t, struct tb_flow *fl, struct tb_seg *s,
		     enum cn_verdict want)
{
	uint32_t len;

	s->fl = fl;
	len = build_tcp(t->scratch, t, s);
	feed(t, fl, s->from_server, t->scratch, len, want,
	     s->flags & TH_SYN ? NULL : s);
}

/* Client segment: its own numbers, the server's as it sees them. */
static void client_seg(struct tb *t, struct tb_flow *fl, uint8_t flags,
		       uint32_t paylen, bool sack, enum cn_verdict want)
{
	struct tb_seg s = {
		.flags = flags,
		.seq = fl->c_nxt,
		.ack = c_view_seq(fl, fl->s_nxt),
		.tsval = ts_clock(t, fl->c_tsoff),
		/* The echo of the last TSval it saw: before the server has
		 * sent anything, the spoofed SYN-ACK's. */
		.tsecr = fl->s_ts_known ?
			 c_view_ts(fl, ts_clock(t, fl->s_tsoff)) :
			 fl->spoof_ts0,
		.paylen = paylen,
	};

	if (sack) {
		/* A hole of one segment above the cumulative ACK. */
		s.nsack = 1;
		s.sack[0] = s.ack + MSS;
		s.sack[1] = s.ack + 2 * MSS;
	}
	send_seg(t, fl, &s, want);
	fl->c_nxt += paylen + !!(flags & (TH_SYN | TH_FIN));
}

static void server_seg(struct tb *t, struct tb_flow *fl, uint8_t flags,
		       uint32_t paylen, bool sack, enum cn_verdict want)
{
	struct tb_seg s = {
		.from_server = true,
		.flags = flags,
		.seq = fl->s_nxt,
		.ack = fl->c_nxt,
		.tsval = ts_clock(t, fl->s_tsoff),
		.tsecr = ts_clock(t, fl->c_tsoff),
		.paylen = paylen,
	};

	if (sack) {
		s.nsack = 1;
		s.sack[0] = s.ack + MSS;
		s.sack[1] = s.ack + 2 * MSS;
	}
	send_seg(t, fl, &s, want);
	fl->s_nxt += paylen + !!(flags & (TH_SYN | TH_FIN));
}

/* ---- scenarios ------------------------------------------------------- */

/*
 * One frame of a short connection per call; a flow slot cycles through
 *   client SYN              forwarded, spoofed SYN-ACK emitted
 *   client ACK              held (the real SYN-ACK is an RTT away)
 *   server SYN-ACK          absorbed, the held ACK released
 *   client FIN, server FIN, client ACK (all translated)
 * and then starts a new connection on a fresh port.
 */
static void handshake_step(struct tb *t, struct tb_flow *fl)
{
	switch (fl->stage++) {
	case 0:
		flow_start(t, fl);
		fl->stage = 1;
		client_seg(t, fl, TH_SYN, 0, false, CN_FORWARD);
		break;
	case 1:
		if (!fl->spoof_seen)
			fail_check(t, "spoofed SYN-ACK for a SYN", 1, 0);
		client_seg(t, fl, TH_ACK, 0, false, CN_STOLEN);
		break;
	case 2: {
		struct tb_seg s = {
			.from_server = true,
			.flags = TH_SYN | TH_ACK,
			.seq = fl->s_isn,
			.ack = fl->c_nxt,
			.tsval = ts_clock(t, fl->s_tsoff),
			.tsecr = ts_clock(t, fl->c_tsoff),
		};

		fl->s_ts0 = s.tsval;
		fl->s_ts_known = true;
		send_seg(t, fl, &s, CN_STOLEN);
		break;
	}
	case 3:
		client_seg(t, fl, TH_FIN | TH_ACK, 0, false, CN_FORWARD);
		break;
	case 4:
		server_seg(t, fl, TH_FIN | TH_ACK, 0, false, CN_FORWARD);
		break;
	default:
		client_seg(t, fl, TH_ACK, 0, false, CN_FORWARD);
		fl->stage = 0;
		break;
	}
}

/*
 * Bulk data both ways: two client segments, a server ACK, two server
 * segments, a client ACK. Every data segment carries an ACK and the TS
 * option; one pure ACK in SACK_EVERY reports a hole with a SACK block.
 */
static void steady_step(struct tb *t, struct tb_flow *fl)
{
	bool sack = fl->stage % 3 == 2 && ++fl->acks % SACK_EVERY == 0;

	switch (fl->stage++) {
	case 0:
	case 1:
		client_seg(t, fl, TH_ACK | TH_PSH, MSS, false, CN_FORWARD);
		break;
	case 2:
		server_seg(t, fl, TH_ACK, 0, sack, CN_FORWARD);
		break;
	case 3:
	case 4:
		server_seg(t, fl, TH_ACK | TH_PSH, MSS, false, CN_FORWARD);
		break;
	default:
		client_seg(t, fl, TH_ACK, 0, sack, CN_FORWARD);
		fl->stage = 0;
		break;
	}
}

/* DNS-sized UDP both ways: the engine parses and passes them. */
static void pass_step(struct tb *t, struct tb_flow *fl)
{
	bool reply = fl->stage++ & 1;
	uint32_t len = build_udp(t->scratch, t, fl, reply, reply ? 180 : 40);

	feed(t, fl, reply, t->scratch, len, CN_FORWARD, NULL);
}

/* Establish every flow slot (SYN, ACK, real SYN-ACK) for steady state. */
static void steady_setup(struct tb *t, struct tb_flow *fl)
{
	fl->stage = 0;
	handshake_step(t, fl);
	handshake_step(t, fl);
	handshake_step(t, fl);
	fl->stage = 0;
}

static struct tb_flow *next_flow(struct tb *t)
{
	if (t->sc == SC_HANDSHAKE) {
		t->rr = t->rr + 1 < t->nflows ? t->rr + 1 : 0;
		return &t->flows[t->rr];
	}
	return &t->flows[rng_next(t) % t->nflows];
}

static void gen_one(struct tb *t)
{
	struct tb_flow *fl = next_flow(t);

	switch (t->sc) {
	case SC_STEADY:
		steady_step(t, fl);
		break;
	case SC_HANDSHAKE:
		handshake_step(t, fl);
		break;
	default:
		pass_step(t, fl);
		break;
	}
}

/* ---- instruction counter --------------------------------------------- */

/* A hardware instruction counter for this thread, user and kernel space;
 * -1 where the machine has none (many VMs). */
static int perf_open(void)
{
	struct perf_event_attr a = {
		.type = PERF_TYPE_HARDWARE,
		.size = sizeof(a),
		.config = PERF_COUNT_HW_INSTRUCTIONS,
		.disabled = 1,
		.exclude_hv = 1,
	};

	return (int)syscall(SYS_perf_event_open, &a, 0, -1, -1, 0);
}

static uint64_t perf_read(int fd)
{
	uint64_t v = 0;

	if (fd < 0 || read(fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return 0;
	return v;
}

/* ---- replay ---------------------------------------------------------- */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void replay_chunk(struct tb *t, bool timed)
{
	struct tb_chunk *c = t->chunk;
	uint64_t t0, t1, last = t->now;

	cn_engine_tick(t->rehearse, last);
	if (timed) {
		CALLGRIND_TOGGLE_COLLECT;
		if (t->perf_fd >= 0)
			ioctl(t->perf_fd, PERF_EVENT_IOC_ENABLE, 0);
	}
	t0 = mono_ns();
	for (uint32_t i = 0; i < c->n; i++) {
		const struct tb_ent *e = &c->ent[i];
		struct cn_frame f = { .data = c->arena + e->off, .len = e->len };
		enum cn_verdict v;

		v = cn_engine_input(t->timed, (enum cn_side)e->side, &f, e->now,
				    NULL);
		t->cnt_t.verdict[v]++;
	}
	cn_engine_tick(t->timed, last);
	t1 = mono_ns();
	if (timed) {
		if (t->perf_fd >= 0)
			ioctl(t->perf_fd, PERF_EVENT_IOC_DISABLE, 0);
		CALLGRIND_TOGGLE_COLLECT;
		t->timed_ns += t1 - t0;
		t->timed_frames += c->n;
	}
	c->n = 0;
	c->used = 0;
}

/* Generate and replay at least n frames (whole setup steps fit a chunk:
 * a step makes at most 3 frames). */
static void run_frames(struct tb *t, uint64_t n, bool timed)
{
	uint64_t done = 0;

	while (done < n) {
		while (t->chunk->n < CHUNK - 4 && done < n) {
			gen_one(t);
			done++;
		}
		replay_chunk(t, timed);
	}
}

static void setup_flows(struct tb *t)
{
	for (uint32_t i = 0; i < t->nflows; i++) {
		if (t->chunk->n >= CHUNK - 4)
			replay_chunk(t, false);
		if (t->sc == SC_STEADY)
			steady_setup(t, &t->flows[i]);
		else if (t->sc == SC_PASS)
			flow_start(t, &t->flows[i]);
	}
	replay_chunk(t, false);
}

/* ---- engines, runs, results ------------------------------------------ */

static uint32_t table_size(uint32_t nflows)
{
	return nflows * 2 > 65536 ? nflows * 2 : 65536;
}

static int tb_init(struct tb *t, enum scenario sc, uint32_t nflows)
{
	struct cn_config cfg;
	struct cn_io io_r = { .emit = rehearse_emit, .event = rehearse_event, .ctx = t };
	struct cn_io io_t = { .emit = timed_emit, .ctx = t };
	uint8_t secret[32];
	int err;

	memset(t, 0, sizeof(*t));
	t->perf_fd = perf_open();
	t->sc = sc;
	t->nflows = nflows;
	t->rng = 0x9e3779b97f4a7c15ull ^ nflows;
	t->now = 1000000000ull;
	for (unsigned i = 0; i < sizeof(secret); i++)
		secret[i] = (uint8_t)(i * 37 + 11);
	cn_config_defaults(&cfg);
	/* The ClientNIC alone: the pair is measured live. */
	cfg.peer_mode = CN_PEER_OFF;
	cfg.max_flows = table_size(nflows);
	t->flows = calloc(nflows, sizeof(*t->flows));
	t->chunk = calloc(1, sizeof(*t->chunk));
	if (!t->flows || !t->chunk)
		return -ENOMEM;
	t->chunk->arena = malloc((size_t)CHUNK * ((FRAME_MAX + 63) & ~63u));
	if (!t->chunk->arena)
		return -ENOMEM;
	err = cn_engine_create(&t->rehearse, &cfg, secret, &io_r);
	if (!err)
		err = cn_engine_create(&t->timed, &cfg, secret, &io_t);
	return err;
}

static void tb_fini(struct tb *t)
{
	if (t->perf_fd >= 0)
		close(t->perf_fd);
	cn_engine_destroy(t->rehearse);
	cn_engine_destroy(t->timed);
	if (t->chunk)
		free(t->chunk->arena);
	free(t->chunk);
	free(t->flows);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static const char *flows_label(uint32_t n, char *buf, size_t len)
{
	if (n >= 1000 && n % 1000 == 0)
		snprintf(buf, len, "%" PRIu32 "k", n / 1000);
	else
		snprintf(buf, len, "%" PRIu32, n);
	return buf;
}

static void result(const char *sc, const char *flows, const char *what,
		   double v, const char *unit)
{
	printf("result engine.%s.%s.%s %.6g %s\n", sc, flows, what, v, unit);
}

/* Both engines must have seen and said the same; the rehearsal must have
 * met every expectation of the endpoints. */
static int tb_verify(const struct tb *t)
{
	const struct cn_drops *d = cn_engine_drops(t->timed);
	uint64_t drops = 0;

	for (int i = 0; i < CN_DROP_MAX; i++)
		drops += d->by_reason[i];
	if (t->bad) {
		fprintf(stderr, "engine_bench: %u failed checks, first: %s\n",
			t->bad, t->why);
		return -EPROTO;
	}
	if (memcmp(&t->cnt_r, &t->cnt_t, sizeof(t->cnt_r)) != 0) {
		fprintf(stderr, "engine_bench: replay diverged from rehearsal\n");
		return -EPROTO;
	}
	if (drops) {
		fprintf(stderr, "engine_bench: %" PRIu64 " drops\n", drops);
		return -EPROTO;
	}
	return 0;
}

struct opts {
	uint64_t frames;
	unsigned runs;
	int only_sc;      /* -1: all */
	uint32_t only_flows; /* 0: all */
	bool memory;
};

static int bench_one(const struct opts *o, enum scenario sc, uint32_t nflows)
{
	double ns[32];
	char fl[16];
	unsigned runs = o->runs;
	struct tb *t = malloc(sizeof(*t));
	int err;

	if (!t)
		return -ENOMEM;
	err = tb_init(t, sc, nflows);
	if (err)
		goto out;
	setup_flows(t);
	run_frames(t, o->frames, false); /* warm-up: steady table and caches */
	for (unsigned r = 0; r < runs; r++) {
		t->timed_ns = t->timed_frames = 0;
		run_frames(t, o->frames, true);
		ns[r] = (double)t->timed_ns / (double)t->timed_frames;
	}
	err = tb_verify(t);
	if (err)
		goto out;
	qsort(ns, runs, sizeof(ns[0]), cmp_double);
	flows_label(nflows, fl, sizeof(fl));
	fprintf(stderr, "  %-11s %6s flows: %7.1f ns/frame (min %.1f, max %.1f)"
		", %.2f Mpps, %u runs x %" PRIu64 " frames, %" PRIu32
		" flows in table\n", sc_names[sc], fl, ns[runs / 2], ns[0],
		ns[runs - 1], 1e3 / ns[runs / 2], runs, o->frames,
		cn_engine_flow_count(t->timed));
	result(sc_names[sc], fl, "ns_per_frame", ns[runs / 2], "ns/frame");
	result(sc_names[sc], fl, "mpps", 1e3 / ns[runs / 2], "Mpps");
	if (t->perf_fd >= 0 && perf_read(t->perf_fd))
		result(sc_names[sc], fl, "instructions_per_frame",
		       (double)perf_read(t->perf_fd) /
		       (double)((uint64_t)runs * o->frames), "instr/frame");
	if (sc == SC_HANDSHAKE)
		result(sc_names[sc], fl, "conns_per_s", 1e9 / ns[runs / 2] / 6,
		       "conn/s");
	fflush(stdout);
out:
	tb_fini(t);
	free(t);
	return err;
}

static long rss_bytes(void)
{
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
		rss = -1;
	fclose(f);
	return rss < 0 ? -1 : rss * sysconf(_SC_PAGESIZE);
}

/*
 * Memory per flow as an operator sizes it: a table of exactly N flows,
 * then N established flows. RSS is measured before the engine exists,
 * after it was created and after the flows are up; the generator's own
 * per-flow state is allocated and touched before the first reading.
 */
static int bench_memory(uint32_t nflows)
{
	struct tb *t = malloc(sizeof(*t));
	struct cn_config cfg;
	struct cn_io io = { .emit = rehearse_emit, .ctx = t };
	uint8_t secret[32] = { 1 };
	long rss0, rss1, rss2;
	int err = -ENOMEM;

	if (!t)
		return err;
	memset(t, 0, sizeof(*t));
	t->perf_fd = -1;
	t->sc = SC_STEADY;
	t->nflows = nflows;
	t->rng = 42;
	t->now = 1000000000ull;
	t->flows = calloc(nflows, sizeof(*t->flows));
	t->chunk = calloc(1, sizeof(*t->chunk));
	if (!t->flows || !t->chunk)
		goto out;
	t->chunk->arena = malloc((size_t)CHUNK * ((FRAME_MAX + 63) & ~63u));
	if (!t->chunk->arena)
		goto out;
	memset(t->flows, 1, (size_t)nflows * sizeof(*t->flows));
	memset(t->chunk->arena, 0, (size_t)CHUNK * ((FRAME_MAX + 63) & ~63u));
	cn_config_defaults(&cfg);
	/* The ClientNIC alone: the pair is measured live. */
	cfg.peer_mode = CN_PEER_OFF;
	cfg.max_flows = nflows;
	rss0 = rss_bytes();
	err = cn_engine_create(&t->rehearse, &cfg, secret, &io);
	if (err)
		goto out;
	rss1 = rss_bytes();
	for (uint32_t i = 0; i < nflows; i++) {
		steady_setup(t, &t->flows[i]);
		t->chunk->n = 0;
		t->chunk->used = 0;
	}
	rss2 = rss_bytes();
	if (t->bad || cn_engine_flow_count(t->rehearse) != nflows) {
		fprintf(stderr, "engine_bench: memory run: %" PRIu32
			" flows of %" PRIu32 " (%s)\n",
			cn_engine_flow_count(t->rehearse), nflows, t->why);
		err = -EIO;
		goto out;
	}
	fprintf(stderr, "  memory: footprint %zu B/flow; RSS +%.1f MiB for a"
		" %" PRIu32 "-flow table, +%.1f MiB for %" PRIu32
		" established flows: %.0f B/flow in all\n",
		cn_engine_flow_footprint(), (double)(rss1 - rss0) / 1048576,
		nflows, (double)(rss2 - rss1) / 1048576, nflows,
		(double)(rss2 - rss0) / nflows);
	printf("result engine.memory.footprint.bytes_per_flow %zu B/flow\n",
	       cn_engine_flow_footprint());
	printf("result engine.memory.rss.bytes_per_flow %.0f B/flow\n",
	       (double)(rss2 - rss0) / nflows);
out:
	cn_engine_destroy(t->rehearse);
	if (t->chunk)
		free(t->chunk->arena);
	free(t->chunk);
	free(t->flows);
	free(t);
	return err;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: engine_bench [options]\n"
		"  --frames N     frames per timed run (default 1000000)\n"
		"  --runs N       timed runs, the median is reported (default 5)\n"
		"  --scenario S   steady, handshake or passthrough (default all)\n"
		"  --flows N      concurrent flows (default 1, 1000 and 100000)\n"
		"  --memory       only the memory-per-flow measurement\n"
		"Under valgrind --tool=callgrind --collect-atstart=no only the\n"
		"timed replays are counted.\n");
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lopts[] = {
		{ "frames", required_argument, NULL, 'f' },
		{ "runs", required_argument, NULL, 'r' },
		{ "scenario", required_argument, NULL, 's' },
		{ "flows", required_argument, NULL, 'n' },
		{ "memory", no_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){ .frames = 1000000, .runs = 5, .only_sc = -1 };
	while ((c = getopt_long(argc, argv, "", lopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o->frames = strtoull(optarg, NULL, 10);
			break;
		case 'r':
			o->runs = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			for (int i = 0; i < SC_MAX; i++)
				if (!strcmp(optarg, sc_names[i]))
					o->only_sc = i;
			if (o->only_sc < 0)
				return -EINVAL;
			break;
		case 'n':
			o->only_flows = (uint32_t)strtoul(optarg, NULL, 10);
			break;
		case 'm':
			o->memory = true;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -EINVAL;
		}
	}
	if (o->frames < 1000 || o->runs < 1 || o->runs > 31 ||
	    o->only_flows > 10000000 || optind != argc)
		return -EINVAL;
	return 0;
}

int main(int argc, char **argv)
{
	static const uint32_t flow_counts[] = { 1, 1000, 100000 };
	struct opts o;
	int err = 0;

	if (parse_opts(argc, argv, &o)) {
		usage(stderr);
		return 2;
	}
	for (unsigned i = 0; i < sizeof(payload_pattern); i++)
		payload_pattern[i] = (uint8_t)(i * 7 + 3);
	if (o.memory)
		return bench_memory(o.only_flows ? o.only_flows : 100000) ? 1 : 0;
	for (int sc = 0; sc < SC_MAX && !err; sc++) {
		if (o.only_sc >= 0 && sc != o.only_sc)
			continue;
		for (unsigned i = 0; i < 3 && !err; i++) {
			uint32_t n = o.only_flows ? o.only_flows : flow_counts[i];

			err = bench_one(&o, (enum scenario)sc, n);
			if (o.only_flows)
				break;
		}
	}
	if (err) {
		fprintf(stderr, "engine_bench: %s\n", strerror(err < 0 ? -err : EIO));
		return 1;
	}
	return 0;
}
