// SPDX-License-Identifier: MIT
/*
 * linkem: a WAN emulator between two interfaces, for kernels without netem.
 *
 * Every frame received on one interface is sent on the other after a
 * per-direction delay, with optional jitter, random loss, duplication,
 * reordering and a rate limit. Both directions run in one thread: one
 * epoll loop over the two packet sockets, a timerfd armed at the earliest
 * release deadline (CLOCK_MONOTONIC, absolute, no timer slack) and a
 * signalfd.
 *
 * Each direction has a preallocated queue: a byte arena that frames are
 * copied into in arrival order, a FIFO of slot descriptors in the same
 * order (their bytes are reclaimed in that order), and a min-heap of the
 * same slots ordered by release time. Frames that keep their order (all of
 * them unless --reorder) get release times that never decrease; a
 * reordered frame is held back by --reorder-gap without raising that
 * floor, so later frames overtake it.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "daemon/pktio.h"

#define LK_FRAME_MAX (65536u + 1024u)
#define LK_ARENA_MIN (8u << 20)
#define LK_ARENA_PER_FRAME 2048u
#define LK_BURST 64u
#define LK_HIST_SUB 13 /* 2^13 sub-buckets per octave: < 0.013 % error */
#define LK_HIST_N ((64 - LK_HIST_SUB + 1) << LK_HIST_SUB)
#define NSEC 1000000000ull

enum lk_exit { LK_EXIT_OK = 0, LK_EXIT_FAIL = 1, LK_EXIT_USAGE = 2 };

struct lk_params {
	uint64_t delay_ns;
	uint64_t jitter_ns;
	uint64_t gap_ns;   /* extra hold of a reordered frame */
	double loss;
	double dup;
	double reorder;
	double rate_mbit;  /* 0: unlimited */
	uint32_t queue;    /* frames */
};

struct lk_counts {
	uint64_t received;
	uint64_t sent;
	uint64_t lost;
	uint64_t duplicated;
	uint64_t reordered;
	uint64_t queue_drops;
	uint64_t tx_errors;
};

struct lk_slot {
	uint64_t end;      /* arena position after this frame (monotonic) */
	uint64_t rx_ns;    /* receive time, CLOCK_MONOTONIC */
	uint64_t release_ns;
	uint64_t seq;      /* heap tie-break: equal deadlines leave in order */
	uint32_t pos;      /* offset of the bytes in the arena */
	uint32_t len;
	struct cn_offload off;
	bool done;
};

struct lk_hist {
	uint64_t count;
	uint64_t min_ns;
	uint64_t max_ns;
	double sum_ns;
	uint32_t *bucket;
};

struct lk_dir {
	const char *name;
	struct pktio *in;
	struct pktio *out;
	struct lk_params p;
	uint8_t *arena;
	uint64_t arena_size;
	uint64_t a_head;      /* oldest byte still in use (monotonic) */
	uint64_t a_tail;      /* next free byte (monotonic) */
	struct lk_slot *slot;
	uint32_t s_head;      /* oldest slot */
	uint32_t s_count;
	uint32_t *heap;       /* slot indices, earliest release first */
	uint32_t heap_n;
	uint64_t seq;
	uint64_t floor_ns;    /* release time of the last in-order frame */
	uint64_t link_free_ns;/* rate limit: when the wire is free again */
	uint64_t rng[4];
	struct lk_counts c;
	struct lk_hist h;
};

struct lk {
	struct lk_dir dir[2];   /* a2b, b2a */
	struct pktio *io[2];    /* a, b */
	const char *ifname[2];
	const char *stats_file;
	uint64_t seed;
	bool no_rt;
	int ep, tfd, sfd;
	uint64_t armed_ns;
	uint64_t mono_minus_real; /* to turn kernel (realtime) stamps into mono */
};

/* ---- clock and random numbers ---------------------------------------- */

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* xoshiro256**: fast, good enough, and the same sequence for a seed. */
static uint64_t rng_next(uint64_t s[4])
{
	uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return r;
}

/* Uniform in [0, 1). */
static double rng_unit(uint64_t s[4])
{
	return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

static bool rng_chance(uint64_t s[4], double p)
{
	return p > 0 && (p >= 1 || rng_unit(s) < p);
}

/* ---- delay histogram ------------------------------------------------- */

static uint32_t hist_index(uint64_t v)
{
	int e;

	if (v < (1ull << LK_HIST_SUB))
		return (uint32_t)v;
	e = 63 - __builtin_clzll(v);
	return (uint32_t)(((uint64_t)(e - LK_HIST_SUB + 1) << LK_HIST_SUB) +
			  ((v >> (e - LK_HIST_SUB)) - (1ull << LK_HIST_SUB)));
}

/* Midpoint of a bucket. */
static uint64_t hist_value(uint32_t i)
{
	uint32_t g = i >> LK_HIST_SUB, m = i & ((1u << LK_HIST_SUB) - 1);
	uint64_t lo;

	if (!g)
		return m;
	lo = ((1ull << LK_HIST_SUB) + m) << (g - 1);
	return lo + ((1ull << (g - 1)) >> 1);
}

static void hist_add(struct lk_hist *h, uint64_t v)
{
	h->bucket[hist_index(v)]++;
	if (!h->count || v < h->min_ns)
		h->min_ns = v;
	if (v > h->max_ns)
		h->max_ns = v;
	h->sum_ns += (double)v;
	h->count++;
}

static uint64_t hist_quantile(const struct lk_hist *h, double q)
{
	uint64_t want, seen = 0;

	if (!h->count)
		return 0;
	want = (uint64_t)ceil(q * (double)h->count);
	if (want < 1)
		want = 1;
	for (uint32_t i = 0; i < LK_HIST_N; i++) {
		seen += h->bucket[i];
		if (seen >= want) {
			uint64_t v = hist_value(i);

			/* Never report outside what was measured. */
			return v < h->min_ns ? h->min_ns :
			       v > h->max_ns ? h->max_ns : v;
		}
	}
	return h->max_ns;
}

/* ---- the queue of one direction -------------------------------------- */

static bool heap_before(const struct lk_dir *d, uint32_t a, uint32_t b)
{
	const struct lk_slot *x = &d->slot[a], *y = &d->slot[b];

	return x->release_ns != y->release_ns ? x->release_ns < y->release_ns :
						x->seq < y->seq;
}

static void heap_push(struct lk_dir *d, uint32_t s)
{
	uint32_t i = d->heap_n++;

	while (i) {
		uint32_t parent = (i - 1) / 2;

		if (!heap_before(d, s, d->heap[parent]))
			break;
		d->heap[i] = d->heap[parent];
		i = parent;
	}
	d->heap[i] = s;
}

static void heap_pop(struct lk_dir *d)
{
	uint32_t last = d->heap[--d->heap_n], i = 0;

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= d->heap_n)
			break;
		if (c + 1 < d->heap_n && heap_before(d, d->heap[c + 1], d->heap[c]))
			c++;
		if (!heap_before(d, d->heap[c], last))
			break;
		d->heap[i] = d->heap[c];
		i = c;
	}
	if (d->heap_n)
		d->heap[i] = last;
}

/* A slot and arena bytes for len bytes, or NULL when the queue is full.
 * Frames never wrap around the arena end: the tail gap is skipped. */
static struct lk_slot *queue_alloc(struct lk_dir *d, uint32_t len,
				   uint32_t *idx)
{
	uint64_t pos = d->a_tail % d->arena_size, start = d->a_tail;
	struct lk_slot *s;

	if (d->s_count == d->p.queue)
		return NULL;
	if (pos + len > d->arena_size) {
		start += d->arena_size - pos;
		pos = 0;
	}
	if (start + len - d->a_head > d->arena_size)
		return NULL;
	*idx = (d->s_head + d->s_count) % d->p.queue;
	d->s_count++;
	s = &d->slot[*idx];
	s->pos = (uint32_t)pos;
	s->len = len;
	s->end = start + len;
	s->done = false;
	d->a_tail = s->end;
	return s;
}

/* Give back the bytes of released frames, oldest first. */
static void queue_reclaim(struct lk_dir *d)
{
	while (d->s_count && d->slot[d->s_head].done) {
		d->a_head = d->slot[d->s_head].end;
		d->s_head = (d->s_head + 1) % d->p.queue;
		d->s_count--;
	}
	if (!d->s_count)
		d->a_head = d->a_tail;
}

/* Bytes on the wire: a GSO super-frame counts as the segments it becomes,
 * each with its own copy of the headers. */
static uint64_t wire_bytes(const struct cn_frame *f)
{
	const struct cn_offload *o = &f->off;
	uint32_t hlen = o->hdr_len, payload, segs;

	if (o->gso_type == CN_GSO_NONE || !o->gso_size)
		return f->len;
	if ((o->flags & CN_OFF_CSUM_PARTIAL) &&
	    (uint32_t)o->csum_start + 13 < f->len) {
		/* The kernel's hdr_len may be the linear length; the exact
		 * header length is where L4 starts plus its own length. */
		hlen = o->csum_start;
		if ((o->gso_type & ~CN_GSO_ECN) == CN_GSO_TCPV4 ||
		    (o->gso_type & ~CN_GSO_ECN) == CN_GSO_TCPV6)
			hlen += (f->data[o->csum_start + 12] >> 4) * 4u;
		else
			hlen += 8;
	}
	if (hlen >= f->len)
		return f->len;
	payload = f->len - hlen;
	segs = (payload + o->gso_size - 1) / o->gso_size;
	return (uint64_t)f->len + (uint64_t)(segs - 1) * hlen;
}

static uint64_t release_time(struct lk_dir *d, const struct cn_frame *f,
			     uint64_t rx_ns, bool first)
{
	const struct lk_params *p = &d->p;
	uint64_t t = rx_ns;

	if (p->rate_mbit > 0) {
		/* A bottleneck link: serialise, then propagate. */
		uint64_t start = d->link_free_ns > rx_ns ? d->link_free_ns : rx_ns;

		d->link_free_ns = start + (uint64_t)((double)wire_bytes(f) * 8e3 /
						     p->rate_mbit);
		t = d->link_free_ns;
	}
	t += p->delay_ns;
	if (p->jitter_ns) {
		double j = (rng_unit(d->rng) * 2 - 1) * (double)p->jitter_ns;

		t = j < 0 && (uint64_t)-j > t ? 0 : (uint64_t)((double)t + j);
	}
	if (first && rng_chance(d->rng, p->reorder)) {
		d->c.reordered++;
		return (t > d->floor_ns ? t : d->floor_ns) + p->gap_ns;
	}
	if (t < d->floor_ns)
		t = d->floor_ns; /* jitter alone never reorders */
	d->floor_ns = t;
	return t;
}

static void enqueue(struct lk_dir *d, const struct cn_frame *f, uint64_t rx_ns)
{
	int copies = 1;

	d->c.received++;
	if (rng_chance(d->rng, d->p.loss)) {
		d->c.lost++;
		return;
	}
	if (rng_chance(d->rng, d->p.dup)) {
		d->c.duplicated++;
		copies = 2;
	}
	for (int i = 0; i < copies; i++) {
		uint32_t idx;
		struct lk_slot *s = f->len <= LK_FRAME_MAX ?
			queue_alloc(d, f->len, &idx) : NULL;

		if (!s) {
			d->c.queue_drops++;
			continue;
		}
		memcpy(d->arena + s->pos, f->data, f->len);
		s->off = f->off;
		s->rx_ns = rx_ns;
		s->seq = d->seq++;
		s->release_ns = release_time(d, f, rx_ns, i == 0);
		heap_push(d, idx);
	}
}

/* Send every frame that is due; returns the next deadline (0: none). */
static uint64_t release_due(struct lk_dir *d)
{
	bool sent = false;

	while (d->heap_n) {
		struct lk_slot *s = &d->slot[d->heap[0]];
		uint64_t now = clock_ns(CLOCK_MONOTONIC);
		struct cn_frame f = {
			.data = d->arena + s->pos, .len = s->len, .off = s->off,
		};

		if (s->release_ns > now)
			break;
		if (pktio_send(d->out, &f) < 0) {
			d->c.tx_errors++;
		} else {
			d->c.sent++;
			hist_add(&d->h, now - s->rx_ns);
			sent = true;
		}
		s->done = true;
		heap_pop(d);
	}
	if (sent)
		pktio_flush(d->out);
	queue_reclaim(d);
	return d->heap_n ? d->slot[d->heap[0]].release_ns : 0;
}

/* ---- receive --------------------------------------------------------- */

struct rx_ctx {
	struct lk *lk;
	struct lk_dir *d;
	uint64_t now;
};

static void on_rx(void *ctx, struct cn_frame *f, uint64_t ts_ns)
{
	struct rx_ctx *rc = ctx;
	uint64_t rx = ts_ns + rc->lk->mono_minus_real;

	/* The kernel stamp says when the frame really arrived; trust it
	 * unless the wall clock stepped. */
	if (!ts_ns || rx > rc->now || rc->now - rx > NSEC)
		rx = rc->now;
	enqueue(rc->d, f, rx);
}

static int rx_side(struct lk *lk, int side)
{
	struct rx_ctx rc = { .lk = lk, .d = &lk->dir[side] };
	int n, total = 0;

	for (int round = 0; round < 16; round++) {
		rc.now = clock_ns(CLOCK_MONOTONIC);
		lk->mono_minus_real = rc.now - clock_ns(CLOCK_REALTIME);
		n = pktio_rx_burst(lk->io[side], LK_BURST, on_rx, &rc);
		if (n < 0)
			return n;
		total += n;
		/* Zero delay: frames are due at once, keep them moving. */
		release_due(&lk->dir[side]);
		if ((unsigned)n < LK_BURST)
			break;
	}
	return total;
}

/* ---- statistics ------------------------------------------------------ */

static void stats_print(const struct lk *lk, FILE *f)
{
	for (int i = 0; i < 2; i++) {
		const struct lk_dir *d = &lk->dir[i];
		const struct lk_hist *h = &d->h;

		fprintf(f, "linkem: %s received %" PRIu64 " sent %" PRIu64
			" lost %" PRIu64 " duplicated %" PRIu64
			" reordered %" PRIu64 " queue_drops %" PRIu64
			" tx_errors %" PRIu64 "\n",
			d->name, d->c.received, d->c.sent, d->c.lost,
			d->c.duplicated, d->c.reordered, d->c.queue_drops,
			d->c.tx_errors);
		fprintf(f, "linkem: %s delay_us count %" PRIu64
			" min %.1f p50 %.1f p99 %.1f max %.1f mean %.1f\n",
			d->name, h->count, (double)h->min_ns / 1e3,
			(double)hist_quantile(h, 0.5) / 1e3,
			(double)hist_quantile(h, 0.99) / 1e3,
			(double)h->max_ns / 1e3,
			h->count ? h->sum_ns / (double)h->count / 1e3 : 0.0);
	}
	for (int i = 0; i < 2; i++) {
		struct pktio_stats st;

		pktio_get_stats(lk->io[i], &st);
		fprintf(f, "linkem: %s rx_frames %" PRIu64 " rx_kernel_drops %"
			PRIu64 " rx_truncated %" PRIu64 " tx_frames %" PRIu64
			" tx_errors %" PRIu64 "\n", lk->ifname[i], st.rx_frames,
			st.rx_kernel_drops, st.rx_truncated, st.tx_frames,
			st.tx_errors);
	}
	fflush(f);
}

static void stats_json_dir(const struct lk_dir *d, FILE *f)
{
	const struct lk_hist *h = &d->h;

	fprintf(f, "  \"%s\": {\"received\": %" PRIu64 ", \"sent\": %" PRIu64
		", \"lost\": %" PRIu64 ", \"duplicated\": %" PRIu64
		", \"reordered\": %" PRIu64 ", \"queue_drops\": %" PRIu64
		", \"tx_errors\": %" PRIu64 ",\n", d->name, d->c.received,
		d->c.sent, d->c.lost, d->c.duplicated, d->c.reordered,
		d->c.queue_drops, d->c.tx_errors);
	fprintf(f, "    \"delay_us\": {\"count\": %" PRIu64 ", \"min\": %.1f"
		", \"p50\": %.1f, \"p99\": %.1f, \"max\": %.1f, \"mean\": %.1f}}",
		h->count, (double)h->min_ns / 1e3,
		(double)hist_quantile(h, 0.5) / 1e3,
		(double)hist_quantile(h, 0.99) / 1e3, (double)h->max_ns / 1e3,
		h->count ? h->sum_ns / (double)h->count / 1e3 : 0.0);
}

/* Written to a temporary name and renamed, so a reader never sees half. */
static int stats_write(const struct lk *lk)
{
	char tmp[4096];
	FILE *f;

	if (!lk->stats_file)
		return 0;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", lk->stats_file) >=
	    sizeof(tmp))
		return -ENAMETOOLONG;
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "{\n  \"seed\": %" PRIu64 ",\n", lk->seed);
	stats_json_dir(&lk->dir[0], f);
	fputs(",\n", f);
	stats_json_dir(&lk->dir[1], f);
	fputs("\n}\n", f);
	if (fclose(f) || rename(tmp, lk->stats_file))
		return -errno;
	return 0;
}

/* ---- command line ---------------------------------------------------- */

enum lk_key { K_DELAY, K_JITTER, K_LOSS, K_DUP, K_REORDER, K_GAP, K_RATE,
	      K_QUEUE, K_NKEYS };

static const struct lk_opt {
	const char *name;
	const char *arg;
	const char *help;
} lk_opts[K_NKEYS] = {
	[K_DELAY] = { "delay", "T", "one-way delay (default 0)" },
	[K_JITTER] = { "jitter", "T",
		       "uniform jitter: delay +- T; keeps order (default 0)" },
	[K_LOSS] = { "loss", "P", "drop a frame with probability P (default 0)" },
	[K_DUP] = { "dup", "P", "send a frame twice with probability P (default 0)" },
	[K_REORDER] = { "reorder", "P",
			"hold a frame back by the reorder gap with probability P,\n"
			"                          so later frames overtake it (default 0)" },
	[K_GAP] = { "reorder-gap", "T",
		    "extra hold of a reordered frame (default 1ms)" },
	[K_RATE] = { "rate", "MBIT",
		     "rate limit in Mbit/s of Ethernet frame bytes; a GSO\n"
		     "                          frame counts as its segments (default 0: none)" },
	[K_QUEUE] = { "queue", "FRAMES",
		      "queue bound: FRAMES frames and max(8 MiB, FRAMES x 2 KiB)\n"
		      "                          bytes; overflow is counted (default 4096)" },
};

static void usage(FILE *f)
{
	fputs("usage: linkem -a IF -b IF [OPTION...]\n"
	      "Bridge two interfaces and emulate a WAN link between them.\n"
	      "Direction a2b carries frames received on -a out of -b; b2a the other way.\n\n"
	      "  -a, --a IF              first interface (required)\n"
	      "  -b, --b IF              second interface (required)\n", f);
	for (int k = 0; k < K_NKEYS; k++) {
		char left[40];

		snprintf(left, sizeof(left), "--%s %s", lk_opts[k].name,
			 lk_opts[k].arg);
		fprintf(f, "  %-22s  %s\n", left, lk_opts[k].help);
	}
	fputs("  --a2b-OPTION, --b2a-OPTION\n"
	      "                          any option above for one direction only,\n"
	      "                          e.g. --a2b-loss 1 drops everything from a to b\n"
	      "  --seed N                random seed; the same seed repeats a run (default 1)\n"
	      "  --no-rt                 stay a normal process; by default linkem asks for\n"
	      "                          SCHED_FIFO and locked memory, so that a busy machine\n"
	      "                          does not delay its deadlines by a scheduler slice\n"
	      "  --stats-file FILE       write counters and the achieved delay distribution\n"
	      "                          as JSON on exit and on SIGUSR1\n"
	      "  -h, --help              this text\n\n"
	      "T is a time: a number with suffix us, ms or s; no suffix means microseconds.\n"
	      "P is a probability from 0 to 1. Loss, duplication and reordering apply per\n"
	      "frame as received, so a GSO super-frame is one frame.\n"
	      "On start linkem prints 'linkem: ready' on stderr; on SIGINT or SIGTERM it\n"
	      "prints per-direction counters and the achieved delay (release time minus\n"
	      "receive time: count, min, p50, p99, max) and exits 0.\n"
	      "Exit status: 0 stopped by a signal, 1 runtime error, 2 bad command line.\n",
	      f);
}

static int parse_time(const char *s, uint64_t *ns)
{
	char *end;
	double v, mul = 1e3;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !(v >= 0) || v > 3600e6)
		return -EINVAL;
	if (!strcmp(end, "ms"))
		mul = 1e6;
	else if (!strcmp(end, "s"))
		mul = 1e9;
	else if (*end && strcmp(end, "us"))
		return -EINVAL;
	*ns = (uint64_t)llround(v * mul);
	return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= lo && v <= hi))
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (*s == '-')
		return -EINVAL;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static int set_param(struct lk_params *p, enum lk_key k, const char *v)
{
	uint64_t u;
	int err;

	switch (k) {
	case K_DELAY: return parse_time(v, &p->delay_ns);
	case K_JITTER: return parse_time(v, &p->jitter_ns);
	case K_GAP: return parse_time(v, &p->gap_ns);
	case K_LOSS: return parse_double(v, 0, 1, &p->loss);
	case K_DUP: return parse_double(v, 0, 1, &p->dup);
	case K_REORDER: return parse_double(v, 0, 1, &p->reorder);
	case K_RATE: return parse_double(v, 0, 1e6, &p->rate_mbit);
	case K_QUEUE:
		err = parse_u64(v, 1, 1u << 22, &u);
		p->queue = (uint32_t)u;
		return err;
	default: return -EINVAL;
	}
}

enum { OPT_SEED = 1000, OPT_STATS, OPT_NORT, OPT_PARAM = 2000 };

static int parse_args(struct lk *lk, int argc, char **argv)
{
	static char names[K_NKEYS][3][32];
	struct option opts[K_NKEYS * 3 + 7];
	static const char *const pre[3] = { "", "a2b-", "b2a-" };
	const struct lk_params def = { .gap_ns = 1000000, .queue = 4096 };
	struct lk_params check;
	bool set[2][K_NKEYS] = { { false } };
	const char *val[2][K_NKEYS] = { { NULL } };
	int n = 0, c;

	for (int k = 0; k < K_NKEYS; k++)
		for (int v = 0; v < 3; v++) {
			snprintf(names[k][v], sizeof(names[k][v]), "%s%s", pre[v],
				 lk_opts[k].name);
			opts[n++] = (struct option){ names[k][v], required_argument,
						     NULL, OPT_PARAM + k * 3 + v };
		}
	opts[n++] = (struct option){ "a", required_argument, NULL, 'a' };
	opts[n++] = (struct option){ "b", required_argument, NULL, 'b' };
	opts[n++] = (struct option){ "seed", required_argument, NULL, OPT_SEED };
	opts[n++] = (struct option){ "stats-file", required_argument, NULL, OPT_STATS };
	opts[n++] = (struct option){ "no-rt", no_argument, NULL, OPT_NORT };
	opts[n++] = (struct option){ "help", no_argument, NULL, 'h' };
	opts[n] = (struct option){ 0 };

	lk->seed = 1;
	while ((c = getopt_long(argc, argv, "a:b:h", opts, NULL)) != -1) {
		if (c >= OPT_PARAM) {
			int k = (c - OPT_PARAM) / 3, v = (c - OPT_PARAM) % 3;

			if (set_param(&check, (enum lk_key)k, optarg)) {
				fprintf(stderr, "linkem: bad value '%s' for --%s\n",
					optarg, names[k][v]);
				return -EINVAL;
			}
			/* Direction options win over the shared one,
			 * whatever their order on the command line. */
			for (int d = 0; d < 2; d++)
				if (v == 0 ? !set[d][k] : v == d + 1) {
					val[d][k] = optarg;
					set[d][k] = v != 0;
				}
			continue;
		}
		switch (c) {
		case 'a': lk->ifname[0] = optarg; break;
		case 'b': lk->ifname[1] = optarg; break;
		case OPT_SEED:
			if (parse_u64(optarg, 0, UINT64_MAX, &lk->seed)) {
				fprintf(stderr, "linkem: bad --seed '%s'\n", optarg);
				return -EINVAL;
			}
			break;
		case OPT_STATS: lk->stats_file = optarg; break;
		case OPT_NORT: lk->no_rt = true; break;
		case 'h': usage(stdout); exit(LK_EXIT_OK);
		default: usage(stderr); return -EINVAL;
		}
	}
	if (optind < argc || !lk->ifname[0] || !lk->ifname[1]) {
		fprintf(stderr, "linkem: %s\n", optind < argc ?
			"unexpected argument" : "both -a IF and -b IF are required");
		usage(stderr);
		return -EINVAL;
	}
	if (!strcmp(lk->ifname[0], lk->ifname[1])) {
		fprintf(stderr, "linkem: -a and -b name the same interface\n");
		return -EINVAL;
	}
	for (int d = 0; d < 2; d++) {
		lk->dir[d].p = def;
		for (int k = 0; k < K_NKEYS; k++)
			if (val[d][k])
				(void)set_param(&lk->dir[d].p, (enum lk_key)k,
						val[d][k]);
	}
	return 0;
}

/* ---- setup and main loop --------------------------------------------- */

static int dir_init(struct lk_dir *d, const char *name, uint64_t seed)
{
	uint64_t x = seed;

	d->name = name;
	d->arena_size = (uint64_t)d->p.queue * LK_ARENA_PER_FRAME;
	if (d->arena_size < LK_ARENA_MIN)
		d->arena_size = LK_ARENA_MIN;
	d->arena_size += LK_FRAME_MAX;
	d->arena = malloc(d->arena_size);
	d->slot = calloc(d->p.queue, sizeof(*d->slot));
	d->heap = calloc(d->p.queue, sizeof(*d->heap));
	d->h.bucket = calloc(LK_HIST_N, sizeof(*d->h.bucket));
	if (!d->arena || !d->slot || !d->heap || !d->h.bucket)
		return -ENOMEM;
	for (int i = 0; i < 4; i++)
		d->rng[i] = splitmix64(&x);
	return 0;
}

static void dir_free(struct lk_dir *d)
{
	free(d->arena);
	free(d->slot);
	free(d->heap);
	free(d->h.bucket);
}

static int open_ports(struct lk *lk)
{
	for (int i = 0; i < 2; i++) {
		struct pktio_config cfg = {
			.ifname = lk->ifname[i],
			.promisc = true, /* a bridge port: frames for any MAC */
			.bpf_fanout = -1,
		};
		const char *msg = NULL;
		int err = pktio_open(&lk->io[i], &cfg, &msg);

		if (err) {
			fprintf(stderr, "linkem: %s: %s: %s\n", lk->ifname[i],
				msg ? msg : "open failed", strerror(-err));
			return err;
		}
	}
	lk->dir[0].in = lk->io[0];
	lk->dir[0].out = lk->io[1];
	lk->dir[1].in = lk->io[1];
	lk->dir[1].out = lk->io[0];
	return 0;
}

static int ep_add(int ep, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) ? -errno : 0;
}

enum { TAG_A, TAG_B, TAG_TIMER, TAG_SIGNAL };

static int loop_init(struct lk *lk)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	if (sigprocmask(SIG_BLOCK, &set, NULL))
		return -errno;
	lk->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	lk->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	lk->ep = epoll_create1(EPOLL_CLOEXEC);
	if (lk->sfd < 0 || lk->tfd < 0 || lk->ep < 0)
		return -errno;
	/* The default 50 us slack would blur every deadline. */
	(void)prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	return ep_add(lk->ep, pktio_fd(lk->io[0]), TAG_A) ?:
	       ep_add(lk->ep, pktio_fd(lk->io[1]), TAG_B) ?:
	       ep_add(lk->ep, lk->tfd, TAG_TIMER) ?:
	       ep_add(lk->ep, lk->sfd, TAG_SIGNAL);
}

/*
 * A WAN link keeps its timing whatever else the machine does; a normal
 * process waits up to a scheduler slice (milliseconds) behind busy
 * neighbours. The priority is low among real-time ones, and linkem sleeps
 * in epoll_wait whenever nothing is due. Without the privilege it runs on
 * as a normal process.
 */
static void realtime(const struct lk *lk)
{
	struct sched_param sp = { .sched_priority = 10 };

	if (lk->no_rt)
		return;
	if (sched_setscheduler(0, SCHED_FIFO, &sp))
		fprintf(stderr, "linkem: no real-time scheduling (%s); "
			"deadlines may slip on a busy machine\n", strerror(errno));
	/* Queue memory faulted in now, not on the first frames. */
	(void)mlockall(MCL_CURRENT | MCL_FUTURE);
}

static void arm_timer(struct lk *lk, uint64_t when)
{
	struct itimerspec its = { 0 };

	if (when == lk->armed_ns)
		return;
	lk->armed_ns = when;
	its.it_value.tv_sec = (time_t)(when / NSEC);
	its.it_value.tv_nsec = (long)(when % NSEC);
	/* when == 0 disarms. */
	timerfd_settime(lk->tfd, TFD_TIMER_ABSTIME, &its, NULL);
}

static uint64_t next_deadline(struct lk *lk)
{
	uint64_t t0 = release_due(&lk->dir[0]), t1 = release_due(&lk->dir[1]);

	if (!t0 || !t1)
		return t0 | t1;
	return t0 < t1 ? t0 : t1;
}

/* 1: stop, 0: go on. */
static int on_signal(struct lk *lk)
{
	struct signalfd_siginfo si;
	int stop = 0;

	while (read(lk->sfd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGUSR1) {
			stats_print(lk, stderr);
			if (stats_write(lk))
				fprintf(stderr, "linkem: cannot write %s\n",
					lk->stats_file);
		} else {
			stop = 1;
		}
	}
	return stop;
}

static int run(struct lk *lk)
{
	struct epoll_event ev[4];

	for (;;) {
		int n;

		arm_timer(lk, next_deadline(lk));
		n = epoll_wait(lk->ep, ev, 4, -1);
		if (n < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; i < n; i++) {
			uint64_t tag = ev[i].data.u64, x;
			int err = 0;

			if (tag == TAG_SIGNAL && on_signal(lk))
				return 0;
			if (tag == TAG_TIMER) {
				(void)!read(lk->tfd, &x, sizeof(x));
				lk->armed_ns = 0;
			}
			if (tag == TAG_A || tag == TAG_B)
				err = rx_side(lk, (int)tag);
			if (err < 0 && err != -EAGAIN && err != -EINTR) {
				fprintf(stderr, "linkem: %s: receive: %s\n",
					lk->ifname[tag], strerror(-err));
				return err;
			}
		}
	}
}

int main(int argc, char **argv)
{
	struct lk lk = { .ep = -1, .tfd = -1, .sfd = -1 };
	int rc = LK_EXIT_FAIL, err;

	if (parse_args(&lk, argc, argv))
		return LK_EXIT_USAGE;
	if (dir_init(&lk.dir[0], "a2b", lk.seed) ||
	    dir_init(&lk.dir[1], "b2a", lk.seed ^ 0x6b2a6b2a6b2a6b2aull)) {
		fprintf(stderr, "linkem: out of memory for the queues\n");
		goto out;
	}
	if (open_ports(&lk))
		goto out;
	if ((err = loop_init(&lk))) {
		fprintf(stderr, "linkem: event loop setup: %s\n", strerror(-err));
		goto out;
	}
	realtime(&lk);
	fprintf(stderr, "linkem: ready\n");
	err = run(&lk);
	stats_print(&lk, stderr);
	if (stats_write(&lk))
		fprintf(stderr, "linkem: cannot write %s\n", lk.stats_file);
	rc = err ? LK_EXIT_FAIL : LK_EXIT_OK;
out:
	for (int i = 0; i < 2; i++) {
		pktio_close(lk.io[i]);
		dir_free(&lk.dir[i]);
	}
	if (lk.ep >= 0)
		close(lk.ep);
	if (lk.tfd >= 0)
		close(lk.tfd);
	if (lk.sfd >= 0)
		close(lk.sfd);
	return rc;
}
