// SPDX-License-Identifier: MIT
/*
 * The kernel fast path (src/bpf/) against the engine, through
 * BPF_PROG_TEST_RUN: every frame goes through the tc program of its side,
 * and what it did is held to a model of the decision written from the
 * engine's parser (cn_parse) and a record made by cn_fast_export(); a
 * translated frame must come out byte for byte as cn_rewrite_c2s() or
 * cn_rewrite_s2c() leave it, the record's tracking fields as the model's.
 * Directed cases, then the fuzz corpus's flows and random frames. Needs
 * root (skipped otherwise).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/pkt_cls.h>

#include "fastpath.skel.h"
#include "frames.h"
#include "engine/fast.h"
#include "engine/machine.h"
#include "engine/packet.h"
#include "engine/rewriter.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define IFINDEX 1 /* lo: the test runs never send */

static struct fastpath_bpf *skel;
static const char *skip_why;
static uint64_t load_ns;                /* fastpath_bpf__open_and_load() */
static struct cn_engine *eng_c, *eng_s; /* ClientNIC, ServerNIC */
static uint32_t cur_out;                /* the state map's ifindex */
static struct ring_buffer *closes;      /* the programs' close events */
static int ring_fd = -1;                /* their one worker's ring */
static struct cn_fast_close last_close;
static unsigned n_closes;

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int fd_of(const struct bpf_map *m)
{
	return bpf_map__fd(m);
}

/* ---- the maps ---------------------------------------------------------- */

static void set_state(bool alive, uint32_t out)
{
	struct cn_fast_state st = {
		.abi = CN_FAST_ABI,
		.ifindex = { out, out },
		.beat_ns = alive ? mono_ns() : 0,
		.timeout_ns = 1000000000ull,
	};
	uint32_t zero = 0;

	cur_out = out;
	assert_int_equal(bpf_map_update_elem(fd_of(skel->maps.cn_state), &zero,
					     &st, BPF_ANY), 0);
}

static void put_rec(const struct cn_flow_key *k, const struct cn_fast_flow *r)
{
	assert_int_equal(bpf_map_update_elem(fd_of(skel->maps.cn_flows), k, r,
					     BPF_ANY), 0);
}

static bool get_rec(const struct cn_flow_key *k, struct cn_fast_flow *r)
{
	return !bpf_map_lookup_elem(fd_of(skel->maps.cn_flows), k, r);
}

static void del_rec(const struct cn_flow_key *k)
{
	bpf_map_delete_elem(fd_of(skel->maps.cn_flows), k);
}

static void stats_sum(struct cn_fast_stats *out)
{
	int n = libbpf_num_possible_cpus();
	struct cn_fast_stats *per = calloc((size_t)n, sizeof(*per));
	uint32_t zero = 0;

	assert_non_null(per);
	memset(out, 0, sizeof(*out));
	assert_int_equal(bpf_map_lookup_elem(fd_of(skel->maps.cn_stats), &zero,
					     per), 0);
	for (int c = 0; c < n; c++) {
		const uint64_t *in = (const uint64_t *)&per[c];
		uint64_t *sum = (uint64_t *)out;

		for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++)
			sum[i] += in[i];
	}
	free(per);
}

static int on_close(void *ctx, void *data, size_t len)
{
	(void)ctx;
	assert_int_equal(len, sizeof(last_close));
	memcpy(&last_close, data, sizeof(last_close));
	n_closes++;
	return 0;
}

/* The close events the programs wrote since the last call. */
static unsigned closes_read(void)
{
	n_closes = 0;
	assert_true(ring_buffer__consume(closes) >= 0);
	return n_closes;
}

/* ---- running the programs ---------------------------------------------- */

struct run {
	int tc;              /* tc verdict */
	uint8_t out[FR_MAX]; /* the frame after the tc program */
	uint32_t out_len;
};

static int prog_fd(enum cn_side side)
{
	return bpf_program__fd(side == CN_CLIENT ? skel->progs.cn_tc_client :
						   skel->progs.cn_tc_server);
}

static void run_progs(enum cn_side side, const uint8_t *frame, uint32_t len,
		      uint16_t gso_size, struct run *r)
{
	struct __sk_buff ctx = { .gso_size = gso_size };
	DECLARE_LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame,
			    .data_size_in = len, .data_out = r->out,
			    .data_size_out = sizeof(r->out), .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx), .repeat = 1);

	assert_true(len <= FR_MAX);
	assert_int_equal(bpf_prog_test_run_opts(prog_fd(side), &o), 0);
	r->tc = (int)o.retval;
	r->out_len = o.data_size_out;
}

/* ---- the model ----------------------------------------------------------- */

enum verdict { V_LOCAL, V_PASS, V_FAILOPEN, V_TRACK, V_XLATE, V_DAEMON, V_DROP };

static const char *const vname[] = { "local", "pass", "failopen", "track",
				     "xlate", "daemon", "drop" };

static uint16_t g16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static bool seq_lt(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) < 0;
}

static bool seq_leq(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b) <= 0;
}

static uint32_t max32(uint32_t a, uint32_t b)
{
	return a > b ? a : b;
}

/* What the programs must do with the frame, from the engine's parse of it
 * and the rules of the kernel path (the spec, not the BPF code). */
static enum verdict model(enum cn_side side, const uint8_t *d, uint32_t len,
			  bool alive, uint16_t gso_size,
			  const struct cn_fast_flow *rec, struct cn_pkt *p,
			  struct cn_flow_key *key)
{
	enum verdict slow = alive ? V_DAEMON : V_FAILOPEN;
	uint16_t et = g16(d + 12);
	enum cn_parse_result pr;
	uint32_t seg_len, ctl;
	bool bad, daemon = false;
	uint16_t fl;

	if (!cur_out)
		return V_LOCAL;
	if (et == 0x8100 || et == 0x88a8)
		return slow;
	if (et == 0x0800) {
		const uint8_t *ip = d + 14;
		uint32_t ihl, tot;

		if (len < 34 || ip[0] >> 4 != 4 || (ip[0] & 15) < 5)
			return slow;
		ihl = (ip[0] & 15u) * 4;
		tot = g16(ip + 2);
		if (tot < ihl || 14 + tot > len)
			return slow;
		if (ip[9] != 6)
			return V_PASS;
		if (ihl != 20)
			return slow;
		if (g16(ip + 6) & 0x3fff)
			return V_PASS;
	} else if (et == 0x86dd) {
		if (len < 54 || d[14] >> 4 != 6 || 54u + g16(d + 18) > len)
			return slow;
		if (d[20] != 6)
			return V_PASS;
	} else {
		return V_PASS;
	}
	pr = cn_parse(d, len, p);
	if (pr == CN_PARSE_MALFORMED)
		return slow;
	assert_true(pr == CN_PARSE_TCP || pr == CN_PARSE_BAD_OPTIONS);
	bad = pr == CN_PARSE_BAD_OPTIONS;
	cn_pkt_flow_key(d, p, side, key);
	ctl = p->flags & (CN_TCP_SYN | CN_TCP_FIN | CN_TCP_RST);
	seg_len = cn_pkt_seg_len(p);
	if (!rec)
		return ctl || side == CN_CLIENT ? slow : V_PASS;
	if (bad)
		return V_DROP;
	fl = rec->x.flags;
	/* The kernel closes these: a FIN is a segment like the others. */
	if (fl & CN_FF_KCLOSE)
		ctl &= ~(uint32_t)CN_TCP_FIN;
	if ((fl & CN_FF_SLOW) || ctl) {
		daemon = true;
	} else if (fl & CN_FF_PASSTHROUGH) {
		const struct cn_fast_end *c = &rec->dir[CN_CLIENT];
		const struct cn_fast_end *s = &rec->dir[CN_SERVER];

		if (!(fl & CN_FF_RELAYED)) {
			daemon = false;
		} else if (side == CN_CLIENT) {
			uint32_t quiet = (uint32_t)(mono_ns() / 1000000) - s->seen_ms;

			daemon = seg_len && quiet >= CN_FAST_RESEND_QUIET_MS &&
				 seq_lt(p->seq, c->end) &&
				 !(s->ack_seen && seq_leq(p->seq + seg_len, s->ack));
		} else {
			uint32_t lo = c->ack_seen ? c->ack : s->end;
			uint32_t w = max32(c->max_win, 0xffff);

			daemon = !(seq_leq(lo - w, p->seq) &&
				   seq_leq(p->seq, s->end + w));
		}
	} else if (side == CN_CLIENT) {
		const struct cn_fast_end *c = &rec->dir[CN_CLIENT];
		const struct cn_fast_end *s = &rec->dir[CN_SERVER];
		uint32_t a = p->ack - rec->x.delta;
		uint32_t lo = c->ack_seen ? c->ack : s->end;

		if ((fl & CN_FF_PROBES) && seg_len && (p->flags & CN_TCP_ACK) &&
		    !(seq_leq(lo - max32(s->max_win, 0xffff), a) &&
		      seq_leq(a, s->end)))
			daemon = true;
		if (!daemon && rec->x.cut_mss) {
			uint32_t opts = p->tcp_hlen - 20u;

			if (rec->x.cut_mss > opts) {
				uint32_t max = rec->x.cut_mss - opts;

				daemon = gso_size ? gso_size > max :
						    p->payload_len > max;
			}
		}
	}
	if (alive && daemon)
		return V_DAEMON;
	if (fl & CN_FF_PASSTHROUGH)
		return V_TRACK;
	if (alive)
		return V_XLATE;
	if ((p->flags & (CN_TCP_SYN | CN_TCP_ACK)) == CN_TCP_SYN)
		return V_FAILOPEN;
	return V_XLATE;
}

/* The engine's track() as the programs do it on the record; true when the
 * segment completes a close the programs tell the daemon of. */
static bool model_track(enum cn_side side, const struct cn_pkt *p,
			uint32_t frame_len, struct cn_fast_flow *r)
{
	const struct cn_fast_end *c = &r->dir[CN_CLIENT], *s = &r->dir[CN_SERVER];
	struct cn_fast_end *d = &r->dir[side];
	bool pt = r->x.flags & CN_FF_PASSTHROUGH;
	uint32_t ack = side == CN_CLIENT && !pt ? p->ack - r->x.delta : p->ack;
	uint8_t shift = side == CN_CLIENT ? r->x.c2s_shift_in :
			pt ? r->x.s2c_shift_out : r->x.s2c_shift_in;
	uint32_t end = p->seq + cn_pkt_seg_len(p), win;

	if (!(p->flags & CN_TCP_RST)) {
		if (seq_lt(d->end, end))
			d->end = end;
		if (p->flags & CN_TCP_ACK) {
			if (!d->ack_seen || seq_lt(d->ack, ack))
				d->ack = ack;
			d->ack_seen = 1;
		}
		win = (uint32_t)p->win << shift;
		if (win > d->max_win)
			d->max_win = win;
		if ((p->flags & CN_TCP_FIN) && !d->fin) {
			d->fin = 1;
			d->fin_seq = p->seq + p->payload_len;
		}
	}
	d->frames++;
	d->bytes += frame_len;
	if (!(r->x.flags & CN_FF_KCLOSE) || (p->flags & CN_TCP_RST) ||
	    r->close_told || !c->fin || !s->fin || !c->ack_seen ||
	    !s->ack_seen || !seq_lt(c->fin_seq, s->ack) ||
	    !seq_lt(s->fin_seq, c->ack))
		return false;
	r->close_told = 1;
	return true;
}

/* ---- one frame, checked ---------------------------------------------- */

struct tally {
	unsigned compared, translated, declined, passed, dropped;
};

static void tally_print(const char *what, const struct tally *t)
{
	printf("  fast_bpf %s: %u frames compared, %u translated, %u declined "
	       "(daemon), %u passed, %u dropped\n", what, t->compared,
	       t->translated, t->declined, t->passed, t->dropped);
}

/*
 * Put the record of flow f (NULL: none) for the frame's key, run the
 * frame, check everything against the model; returns the verdict.
 */
static enum verdict check_frame(enum cn_side side, const uint8_t *frame,
				uint32_t len, bool alive, uint16_t gso_size,
				const struct cn_engine *eng,
				const struct cn_flow *f, struct tally *t)
{
	struct cn_fast_flow rec, got;
	struct cn_flow_key key;
	struct cn_pkt p;
	enum verdict want;
	struct run *r = malloc(sizeof(*r));
	uint8_t *exp = fr_dup(frame, len);
	uint64_t before = mono_ns();
	bool have = false;

	assert_non_null(r);
	memset(&p, 0, sizeof(p));
	memset(&key, 0, sizeof(key));
	/* The key as the engine builds it, when the frame has one. */
	if (cn_parse(frame, len, &p) == CN_PARSE_TCP ||
	    cn_parse(frame, len, &p) == CN_PARSE_BAD_OPTIONS) {
		cn_pkt_flow_key(frame, &p, side, &key);
		del_rec(&key);
		if (f) {
			cn_fast_export(eng, f, &rec);
			put_rec(&key, &rec);
			have = true;
		}
	}
	want = model(side, frame, len, alive, gso_size, have ? &rec : NULL,
		     &p, &key);
	run_progs(side, frame, len, gso_size, r);
	t->compared++;
	switch (want) {
	case V_DAEMON:
		t->declined++;
		/* On to the sockets served after tc, as it came (a test run
		 * leaves a VLAN tag in the frame, where that socket's kernel
		 * path puts it back). */
		if (r->tc != TC_ACT_OK)
			fail_msg("tc verdict %d, want daemon (ok)", r->tc);
		if (r->out_len != len || memcmp(r->out, frame, len))
			fail_msg("a frame left to the daemon came out changed");
		break;
	case V_DROP:
		t->dropped++;
		if (r->tc != TC_ACT_SHOT)
			fail_msg("tc verdict %d, want %s (shot)", r->tc, vname[want]);
		break;
	case V_LOCAL:
		assert_int_equal(r->tc, TC_ACT_OK);
		break;
	case V_XLATE:
		t->translated++;
		if (side == CN_CLIENT)
			cn_rewrite_c2s(exp, &p, f, true);
		else
			cn_rewrite_s2c(exp, &p, f, true);
		/* fallthrough */
	default:
		if (want != V_XLATE)
			t->passed++;
		if (r->tc != TC_ACT_REDIRECT)
			fail_msg("tc verdict %d, want %s (redirect)", r->tc,
				 vname[want]);
		assert_int_equal(r->out_len, len);
		if (memcmp(r->out, exp, len)) {
			uint32_t i = 0;

			while (r->out[i] == exp[i])
				i++;
			if (want == V_XLATE && p.l4_off + 16u == (i & ~1u) &&
			    !memcmp(r->out + i + 2 - (i & 1), exp + i + 2 - (i & 1),
				    len - (i & ~1u) - 2))
				fail_msg("checksum %02x%02x, engine %02x%02x",
					 r->out[p.l4_off + 16], r->out[p.l4_off + 17],
					 exp[p.l4_off + 16], exp[p.l4_off + 17]);
			fail_msg("%s frame differs at byte %u (%#x, engine %#x)",
				 vname[want], i, r->out[i], exp[i]);
		}
		break;
	}
	if (have) {
		bool told = false;

		assert_true(get_rec(&key, &got));
		if (want == V_XLATE || want == V_TRACK) {
			told = model_track(side, &p, len, &rec);
			assert_true(got.last_seen_ns >= before);
			assert_true(got.last_seen_ns <= mono_ns());
			rec.last_seen_ns = got.last_seen_ns;
			rec.dir[side].seen_ms =
				(uint32_t)(got.last_seen_ns / 1000000);
		}
		if (memcmp(&got, &rec, sizeof(rec)))
			fail_msg("record after a %s frame is not the model's",
				 vname[want]);
		/* The event: the key and the record as the frame left it. */
		if (closes_read() != told)
			fail_msg("%u close events after a %s frame, want %d",
				 n_closes, vname[want], told);
		if (told && (memcmp(&last_close.key, &key, sizeof(key)) ||
			     memcmp(&last_close.rec, &got, sizeof(got))))
			fail_msg("the close event is not the record");
		del_rec(&key);
	} else {
		assert_int_equal(closes_read(), 0);
	}
	free(exp);
	free(r);
	return want;
}

/* ---- flows and frames ----------------------------------------------------- */

static void flow_init(struct cn_flow *f, const struct fr_flow *fl)
{
	memset(f, 0, sizeof(*f));
	f->state = CN_FS_ESTABLISHED;
	f->key.family = fl->family;
	f->delta = 0x10203040;
	f->ts_delta = 0x01020304;
	f->peer[CN_CLIENT] = (struct cn_peer){ .end = 5000, .ack = 900,
					       .max_win = 65535, .ack_seen = true };
	f->peer[CN_SERVER] = (struct cn_peer){ .end = 1000, .ack = 5000,
					       .max_win = 65535, .ack_seen = true };
}

static uint32_t build(struct fr_frame *fr, const struct fr_spec *s)
{
	return fr_build(fr, s);
}

static void sack_edges(uint32_t *e, unsigned n, uint32_t first)
{
	for (unsigned i = 0; i < 2 * n; i++)
		e[i] = first + 1000 * i + rnd() % 500;
}

/* ---- setup ------------------------------------------------------------------ */

static int setup(void **state)
{
	struct cn_fast_state st;
	uint32_t zero = 0;

	(void)state;
	if (geteuid() != 0) {
		skip_why = "not root: BPF_PROG_TEST_RUN needs CAP_BPF and CAP_NET_ADMIN";
		return 0;
	}
	/* CN_FAST_BPF_LOG=1: libbpf's messages, the verifier's log among
	 * them, when the programs do not load. */
	if (!getenv("CN_FAST_BPF_LOG"))
		libbpf_set_print(NULL);
	load_ns = mono_ns();
	skel = fastpath_bpf__open_and_load();
	load_ns = mono_ns() - load_ns;
	if (!skel) {
		skip_why = "the BPF programs do not load here (no BPF?)";
		return 0;
	}
	assert_int_equal(bpf_map_lookup_elem(fd_of(skel->maps.cn_state), &zero,
					     &st), 0);
	eng_c = calloc(1, sizeof(*eng_c));
	eng_s = calloc(1, sizeof(*eng_s));
	if (!eng_c || !eng_s)
		return -1;
	eng_c->cfg.role = CN_ROLE_CLIENTNIC;
	eng_s->cfg.role = CN_ROLE_SERVERNIC;
	/* One worker's ring, as the loader puts it in. */
	ring_fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "cn_ring", 0, 0,
				 CN_EVENTS_BYTES, NULL);
	assert_true(ring_fd >= 0);
	assert_int_equal(bpf_map_update_elem(fd_of(skel->maps.cn_events), &zero,
					     &ring_fd, BPF_ANY), 0);
	closes = ring_buffer__new(ring_fd, on_close, NULL, NULL);
	assert_non_null(closes);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ring_buffer__free(closes);
	if (ring_fd >= 0)
		close(ring_fd);
	fastpath_bpf__destroy(skel);
	free(eng_c);
	free(eng_s);
	return 0;
}

#define NEED_BPF()                                                     \
	do {                                                           \
		if (!skel) {                                           \
			printf("  fast_bpf: skipped: %s\n", skip_why); \
			skip();                                        \
		}                                                      \
	} while (0)

/* ---- directed tests -------------------------------------------------------- */

/* Every layout of TS and SACK, both families, both ways, with and without
 * stripping, rescaling and the ACK flag. */
static void test_translate(void **state)
{
	struct tally t = { 0 };

	(void)state;
	NEED_BPF();
	set_state(true, IFINDEX);
	for (unsigned fam = 4; fam <= 6; fam += 2)
		for (unsigned i = 0; i < 384; i++) {
			enum cn_side side = i & 1 ? CN_SERVER : CN_CLIENT;
			unsigned nops = i >> 1 & 3, blocks = i >> 3 & 7;
			struct fr_frame fr;
			struct fr_spec s;
			struct fr_flow fl;
			struct cn_flow f;
			uint32_t e[8], len;

			if (blocks > 4)
				blocks -= 4;
			if (blocks == 4 && i % 3)
				blocks = 3; /* with TS: 40 bytes at most */
			fr_flow_init(&fl, (uint8_t)fam, i);
			flow_init(&f, &fl);
			if (side == CN_CLIENT)
				fr_spec_c2s(&s, &fl, FR_ACK | FR_PSH, 4000, 900 + f.delta);
			else
				fr_spec_s2c(&s, &fl, FR_ACK, 1000, 5000);
			if (i >> 6 & 1)
				s.flags = side == CN_CLIENT ? 0 : FR_ACK; /* no ACK c2s */
			s.payload_len = i % 7 * 13;
			s.win = (uint16_t)(1000 + i * 37);
			for (unsigned k = 0; k < nops; k++)
				fr_opt_nop(&s);
			if (i % 3)
				fr_opt_ts(&s, 0x11223344 + i, 0x55667788 - i);
			if (blocks) {
				if (i % 5 == 0)
					fr_opt_nop(&s);
				sack_edges(e, blocks, rnd());
				fr_opt_sack(&s, blocks, e);
			}
			f.translate_ts = i >> 7 & 1;
			f.strip_ts_c2s = !f.translate_ts && i % 4 == 1;
			f.strip_sack_c2s = i >> 8 & 1;
			f.strip_sack_s2c = i % 9 == 2;
			if (i % 5 == 1) {
				f.c2s_shift_in = 7;
				f.c2s_shift_out = 2;
				f.s2c_shift_in = 0;
				f.s2c_shift_out = 9;
			} else if (i % 5 == 3) {
				f.c2s_shift_in = 1;
				f.c2s_shift_out = 14;
				f.s2c_shift_in = 14;
				f.s2c_shift_out = 3;
			}
			len = build(&fr, &s);
			assert_int_equal(check_frame(side, fr.buf, len, true, 0,
						     eng_c, &f, &t), V_XLATE);
		}
	tally_print("layouts", &t);
}

/* A passthrough flow is tracked and forwarded as it is; a relayed one's
 * retransmissions and untranslated server segments go to the daemon. */
static void test_passthrough(void **state)
{
	struct tally t = { 0 };
	struct fr_frame fr;
	struct fr_spec s;
	struct fr_flow fl;
	struct cn_flow f;
	uint32_t len;

	(void)state;
	NEED_BPF();
	set_state(true, IFINDEX);
	fr_flow_init(&fl, 4, 1);
	flow_init(&f, &fl);
	f.passthrough = true;
	f.translate_ts = true;
	fr_spec_c2s(&s, &fl, FR_ACK, 5000, 1000);
	fr_opt_nop(&s);
	fr_opt_nop(&s);
	fr_opt_ts(&s, 1, 2);
	len = build(&fr, &s);
	assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, true, 0, eng_c, &f,
				     &t), V_TRACK);
	fr_spec_s2c(&s, &fl, FR_ACK, 1000, 5100);
	len = build(&fr, &s);
	assert_int_equal(check_frame(CN_SERVER, fr.buf, len, true, 0, eng_c, &f,
				     &t), V_TRACK);

	f.peer_state = CN_FP_RELAYED;
	/* New data: on. A resend the server has not acknowledged: daemon. */
	fr_spec_c2s(&s, &fl, FR_ACK, 5000, 1000);
	len = build(&fr, &s);
	assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, true, 0, eng_c, &f,
				     &t), V_TRACK);
	fr_spec_c2s(&s, &fl, FR_ACK, 4900, 1000);
	s.payload_len = 100;
	f.peer[CN_SERVER].ack = 4950;
	len = build(&fr, &s);
	assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, true, 0, eng_c, &f,
				     &t), V_DAEMON);
	/* The same while the server was heard from just now: a segment the
	 * kernel carries behind a later one on the other CPU, no resend: on. */
	{
		uint64_t seen = f.last_seen;

		f.last_seen = mono_ns();
		assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, true, 0,
					     eng_c, &f, &t), V_TRACK);
		f.last_seen = seen;
	}
	/* Acknowledged already (a duplicate): on. */
	f.peer[CN_SERVER].ack = 5000;
	assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, true, 0, eng_c, &f,
				     &t), V_TRACK);
	/* Server: in the client's view, on; far off it, the daemon. */
	fr_spec_s2c(&s, &fl, FR_ACK, 950, 5000);
	len = build(&fr, &s);
	assert_int_equal(check_frame(CN_SERVER, fr.buf, len, true, 0, eng_c, &f,
				     &t), V_TRACK);
	fr_spec_s2c(&s, &fl, FR_ACK, 1000 + 0x40000000, 5000);
	len = build(&fr, &s);
	assert_int_equal(check_frame(CN_SERVER, fr.buf, len, true, 0, eng_c, &f,
				     &t), V_DAEMON);
	/* Without the daemon: tracked and passed. */
	set_state(false, IFINDEX);
	assert_int_equal(check_frame(CN_SERVER, fr.buf, len, false, 0, eng_c, &f,
				     &t), V_TRACK);
	tally_print("passthrough", &t);
}

/* ServerNIC: a client segment whose ACK is not in the client's space is
 * the daemon's (maybe a probe); one whose ACK is, is translated. */
static void test_probes(void **state)
{
	struct tally t = { 0 };
	struct fr_frame fr;
	struct fr_spec s;
	struct fr_flow fl;
	struct cn_flow f;
	uint32_t len;

	(void)state;
	NEED_BPF();
	set_state(true, IFINDEX);
	fr_flow_init(&fl, 6, 2);
	flow_init(&f, &fl);
	fr_spec_c2s(&s, &fl, FR_ACK, 5000, 1000 + f.delta);
	len = build(&fr, &s);
	assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, true, 0, eng_s, &f,
				     &t), V_XLATE);
	fr_spec_c2s(&s, &fl, FR_ACK, 5000, 1000);
	s.payload_len = 100;
	len = build(&fr, &s);
	assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, true, 0, eng_s, &f,
				     &t), V_DAEMON);
	/* No data: never a probe. */
	s.payload_len = 0;
	len = build(&fr, &s);
	assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, true, 0, eng_s, &f,
				     &t), V_XLATE);
	tally_print("probes", &t);
}

/* A client segment longer than the server's MSS is the daemon's to cut. */
static void test_cut(void **state)
{
	struct tally t = { 0 };
	struct fr_frame fr;
	struct fr_spec s;
	struct fr_flow fl;
	struct cn_flow f;
	uint32_t len;

	(void)state;
	NEED_BPF();
	set_state(true, IFINDEX);
	fr_flow_init(&fl, 4, 3);
	flow_init(&f, &fl);
	f.cut_mss = 600;
	fr_spec_c2s(&s, &fl, FR_ACK, 5000, 1000 + f.delta);
	fr_opt_nop(&s);
	fr_opt_nop(&s);
	fr_opt_ts(&s, 1, 2);
	s.payload_len = 588;
	len = build(&fr, &s);
	assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, true, 0, eng_c, &f,
				     &t), V_XLATE);
	s.payload_len = 589;
	len = build(&fr, &s);
	assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, true, 0, eng_c, &f,
				     &t), V_DAEMON);
	/* A GSO frame by its segment size, not its length. */
	assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, true, 588, eng_c,
				     &f, &t), V_XLATE);
	s.payload_len = 100;
	len = build(&fr, &s);
	assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, true, 1448, eng_c,
				     &f, &t), V_DAEMON);
	/* Server segments are never cut. */
	fr_spec_s2c(&s, &fl, FR_ACK, 1000, 5000);
	s.payload_len = 1400;
	len = build(&fr, &s);
	assert_int_equal(check_frame(CN_SERVER, fr.buf, len, true, 1448, eng_c,
				     &f, &t), V_XLATE);
	tally_print("cut", &t);
}

/* Control segments, SLOW flows, untracked segments, broken options, and
 * what changes while the daemon is away. */
static void test_control(void **state)
{
	static const uint8_t flags[] = { FR_SYN, FR_SYN | FR_ACK, FR_FIN | FR_ACK,
					 FR_RST, FR_RST | FR_ACK };
	static const uint8_t broken[][4] = { { 2, 3, 0, 0 }, { 8, 9, 0, 0 },
					     { 5, 2, 0, 0 }, { 1, 1, 1, 30 } };
	struct tally t = { 0 };
	struct fr_frame fr;
	struct fr_spec s;
	struct fr_flow fl;
	struct cn_flow f;
	uint32_t len;

	(void)state;
	NEED_BPF();
	fr_flow_init(&fl, 4, 4);
	flow_init(&f, &fl);
	for (unsigned i = 0; i < ARRAY_LEN(flags); i++) {
		fr_spec_c2s(&s, &fl, flags[i], 5000, 1000 + f.delta);
		len = build(&fr, &s);
		set_state(true, IFINDEX);
		assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, true, 0,
					     eng_c, &f, &t), V_DAEMON);
		assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, true, 0,
					     eng_c, NULL, &t), V_DAEMON);
		set_state(false, IFINDEX);
		/* Away: a SYN is a new connection; the rest stay translated. */
		assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, false, 0,
					     eng_c, &f, &t),
				 flags[i] == FR_SYN ? V_FAILOPEN : V_XLATE);
		assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, false, 0,
					     eng_c, NULL, &t), V_FAILOPEN);
		fr_spec_s2c(&s, &fl, flags[i], 1000, 5000);
		len = build(&fr, &s);
		assert_int_equal(check_frame(CN_SERVER, fr.buf, len, false, 0,
					     eng_c, &f, &t),
				 flags[i] == FR_SYN ? V_FAILOPEN : V_XLATE);
	}
	/* One FIN seen: the other end's segments and the ACKs stay in the
	 * kernel. Both (SLOW): the daemon's while it lives. */
	f.peer[CN_SERVER].fin = true;
	fr_spec_c2s(&s, &fl, FR_ACK, 5000, 1000 + f.delta);
	len = build(&fr, &s);
	set_state(true, IFINDEX);
	assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, true, 0, eng_c, &f,
				     &t), V_XLATE);
	f.peer[CN_CLIENT].fin = true;
	assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, true, 0, eng_c, &f,
				     &t), V_DAEMON);
	set_state(false, IFINDEX);
	assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, false, 0, eng_c, &f,
				     &t), V_XLATE);
	f.peer[CN_SERVER].fin = f.peer[CN_CLIENT].fin = false;
	/* Untracked: a client segment is the daemon's, a server one passes. */
	set_state(true, IFINDEX);
	assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, true, 0, eng_c, NULL,
				     &t), V_DAEMON);
	fr_spec_s2c(&s, &fl, FR_ACK, 1000, 5000);
	len = build(&fr, &s);
	assert_int_equal(check_frame(CN_SERVER, fr.buf, len, true, 0, eng_c, NULL,
				     &t), V_PASS);
	/* A tracked flow's broken option lists: dropped, as the engine
	 * drops them, whether the daemon lives or not. */
	for (unsigned i = 0; i < ARRAY_LEN(broken); i++) {
		fr_spec_c2s(&s, &fl, FR_ACK, 5000, 1000 + f.delta);
		fr_opt_raw(&s, broken[i], 4);
		len = build(&fr, &s);
		set_state(true, IFINDEX);
		assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, true, 0,
					     eng_c, &f, &t), V_DROP);
		set_state(false, IFINDEX);
		assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, false, 0,
					     eng_c, &f, &t), V_DROP);
	}
	/* No state: the stack's. */
	set_state(true, 0);
	assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, true, 0, eng_c, &f,
				     &t), V_LOCAL);
	tally_print("control", &t);
}

/* One frame through tc on a record already in the map; its verdict. */
static int run_tc(enum cn_side side, const struct fr_spec *s)
{
	struct run *r = malloc(sizeof(*r));
	struct fr_frame fr;
	uint32_t len = build(&fr, s);
	int v;

	assert_non_null(r);
	run_progs(side, fr.buf, len, 0, r);
	v = r->tc;
	free(r);
	return v;
}

/*
 * A flow the kernel closes: both FINs and the last ACK are translated, and
 * that ACK puts the record on the event ring, once. A full ring counts
 * what it refuses.
 */
static void test_kclose(void **state)
{
	struct fr_spec s;
	struct fr_flow fl;
	struct cn_flow f;
	struct cn_flow_key key;
	struct cn_fast_flow rec, got;
	struct cn_pkt p;
	struct fr_frame fr;
	uint64_t lost0;
	unsigned told = 0, n;

	(void)state;
	NEED_BPF();
	set_state(true, IFINDEX);
	eng_c->io.fast_closes = true;
	fr_flow_init(&fl, 4, 40);
	flow_init(&f, &fl);
	fr_spec_c2s(&s, &fl, FR_FIN | FR_ACK, 5000, 1000 + f.delta);
	assert_int_equal(cn_parse(fr.buf, build(&fr, &s), &p), CN_PARSE_TCP);
	cn_pkt_flow_key(fr.buf, &p, CN_CLIENT, &key);
	cn_fast_export(eng_c, &f, &rec);
	assert_true(rec.x.flags & CN_FF_KCLOSE);
	assert_false(rec.x.flags & CN_FF_SLOW);
	closes_read();
	put_rec(&key, &rec);

	assert_int_equal(run_tc(CN_CLIENT, &s), TC_ACT_REDIRECT);
	fr_spec_s2c(&s, &fl, FR_FIN | FR_ACK, 1000, 5001);
	assert_int_equal(run_tc(CN_SERVER, &s), TC_ACT_REDIRECT);
	assert_int_equal(closes_read(), 0);
	/* The client's ACK of the server's FIN, in the spoofed space. */
	fr_spec_c2s(&s, &fl, FR_ACK, 5001, 1001 + f.delta);
	assert_int_equal(run_tc(CN_CLIENT, &s), TC_ACT_REDIRECT);
	assert_int_equal(closes_read(), 1);
	assert_true(get_rec(&key, &got));
	assert_memory_equal(&last_close.key, &key, sizeof(key));
	assert_memory_equal(&last_close.rec, &got, sizeof(got));
	assert_int_equal(got.close_told, 1);
	assert_int_equal(got.dir[CN_CLIENT].fin_seq, 5000);
	assert_int_equal(got.dir[CN_SERVER].fin_seq, 1000);
	assert_int_equal(got.dir[CN_CLIENT].ack, 1001);
	assert_int_equal(got.dir[CN_SERVER].ack, 5001);
	/* A retransmission of it: translated, told already. */
	assert_int_equal(run_tc(CN_CLIENT, &s), TC_ACT_REDIRECT);
	assert_int_equal(closes_read(), 0);
	/* An RST and a SYN stay the daemon's. */
	fr_spec_c2s(&s, &fl, FR_RST | FR_ACK, 5001, 1001 + f.delta);
	assert_int_equal(run_tc(CN_CLIENT, &s), TC_ACT_OK);
	fr_spec_c2s(&s, &fl, FR_SYN, 7000, 0);
	assert_int_equal(run_tc(CN_CLIENT, &s), TC_ACT_OK);
	del_rec(&key);

	/* Nobody reads the ring: it fills, and what it refuses is counted. */
	lost0 = skel->bss->cn_events_lost;
	for (n = 0; n < 2 * CN_EVENTS_BYTES / sizeof(struct cn_fast_close); n++) {
		fr_flow_init(&fl, 4, 1000 + n);
		fr_spec_c2s(&s, &fl, FR_ACK, 5001, 1001 + f.delta);
		assert_int_equal(cn_parse(fr.buf, build(&fr, &s), &p), CN_PARSE_TCP);
		cn_pkt_flow_key(fr.buf, &p, CN_CLIENT, &key);
		got = rec;
		got.dir[CN_CLIENT].fin = got.dir[CN_SERVER].fin = 1;
		got.dir[CN_CLIENT].fin_seq = 5000;
		got.dir[CN_SERVER].fin_seq = 1000;
		got.dir[CN_SERVER].ack = 5001;
		put_rec(&key, &got);
		assert_int_equal(run_tc(CN_CLIENT, &s), TC_ACT_REDIRECT);
		del_rec(&key);
	}
	while ((n_closes = 0, ring_buffer__consume(closes) > 0))
		told += n_closes;
	printf("  fast_bpf kclose: %zu closes into a ring of %u bytes: %u told, "
	       "%llu refused\n", 2 * CN_EVENTS_BYTES / sizeof(struct cn_fast_close),
	       CN_EVENTS_BYTES, told,
	       (unsigned long long)(skel->bss->cn_events_lost - lost0));
	assert_true(told > 0);
	assert_int_equal(told + (skel->bss->cn_events_lost - lost0),
			 2 * CN_EVENTS_BYTES / sizeof(struct cn_fast_close));
	assert_true(told < CN_EVENTS_BYTES / sizeof(struct cn_fast_close));
	eng_c->io.fast_closes = false;
}

static int count_close(void *ctx, void *data, size_t len)
{
	(void)data;
	(void)len;
	++*(unsigned *)ctx;
	return 0;
}

/*
 * Programs loaded for three workers: a flow's close goes to the ring of
 * the worker the sockets' fanout program gives its frames to, and to no
 * other, for flows of both families.
 */
static void test_kclose_workers(void **state)
{
	enum { NW = 3 };
	struct fastpath_bpf *sk;
	struct ring_buffer *rb[NW];
	unsigned got[NW];
	int rings[NW];
	struct cn_fast_state st = { .abi = CN_FAST_ABI, .ifindex = { IFINDEX, IFINDEX },
				    .timeout_ns = 1000000000ull };
	uint32_t zero = 0, seen[NW] = { 0 };
	struct cn_fast_flow rec;
	struct cn_flow f;
	struct fr_flow fl;

	(void)state;
	NEED_BPF();
	sk = fastpath_bpf__open();
	assert_non_null(sk);
	sk->rodata->cn_workers = NW;
	assert_int_equal(fastpath_bpf__load(sk), 0);
	for (uint32_t i = 0; i < NW; i++) {
		rings[i] = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "cn_ring", 0, 0,
					  CN_EVENTS_BYTES, NULL);
		assert_true(rings[i] >= 0);
		assert_int_equal(bpf_map_update_elem(bpf_map__fd(sk->maps.cn_events),
						     &i, &rings[i], BPF_ANY), 0);
		rb[i] = ring_buffer__new(rings[i], count_close, &got[i], NULL);
		assert_non_null(rb[i]);
	}
	st.beat_ns = mono_ns();
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(sk->maps.cn_state), &zero,
					     &st, BPF_ANY), 0);
	eng_c->io.fast_closes = true;
	for (uint32_t n = 0; n < 60; n++) {
		struct __sk_buff ctx = { 0 };
		uint8_t out[FR_MAX];
		struct fr_frame fr;
		struct fr_spec s;
		struct cn_flow_key key;
		struct cn_pkt p;
		uint32_t len, w;
		DECLARE_LIBBPF_OPTS(bpf_test_run_opts, o, .data_out = out,
				    .data_size_out = sizeof(out), .ctx_in = &ctx,
				    .ctx_size_in = sizeof(ctx), .repeat = 1);

		fr_flow_init(&fl, n % 2 ? 6 : 4, 2000 + n);
		flow_init(&f, &fl);
		fr_spec_c2s(&s, &fl, FR_ACK, 5001, 1001 + f.delta);
		len = build(&fr, &s);
		assert_int_equal(cn_parse(fr.buf, len, &p), CN_PARSE_TCP);
		cn_pkt_flow_key(fr.buf, &p, CN_CLIENT, &key);
		cn_fast_export(eng_c, &f, &rec);
		rec.dir[CN_CLIENT].fin = rec.dir[CN_SERVER].fin = 1;
		rec.dir[CN_CLIENT].fin_seq = 5000;
		rec.dir[CN_SERVER].fin_seq = 1000;
		rec.dir[CN_SERVER].ack = 5001;
		assert_int_equal(bpf_map_update_elem(bpf_map__fd(sk->maps.cn_flows),
						     &key, &rec, BPF_ANY), 0);
		o.data_in = fr.buf;
		o.data_size_in = len;
		/* The fanout's pick: its program's value modulo the group. */
		assert_int_equal(bpf_prog_test_run_opts(
					 bpf_program__fd(sk->progs.cn_fanout_client), &o), 0);
		w = o.retval % NW;
		assert_int_equal(w, cn_fast_key_hash(&key) % NW);
		o.data_size_out = sizeof(out);
		assert_int_equal(bpf_prog_test_run_opts(
					 bpf_program__fd(sk->progs.cn_tc_client), &o), 0);
		assert_int_equal(o.retval, TC_ACT_REDIRECT);
		for (uint32_t i = 0; i < NW; i++) {
			got[i] = 0;
			assert_true(ring_buffer__consume(rb[i]) >= 0);
			assert_int_equal(got[i], i == w);
		}
		seen[w]++;
		bpf_map_delete_elem(bpf_map__fd(sk->maps.cn_flows), &key);
	}
	printf("  fast_bpf kclose workers: 60 closes over %d rings: %u / %u / %u\n",
	       NW, seen[0], seen[1], seen[2]);
	for (uint32_t i = 0; i < NW; i++) {
		assert_true(seen[i] > 0);
		ring_buffer__free(rb[i]);
		close(rings[i]);
	}
	eng_c->io.fast_closes = false;
	fastpath_bpf__destroy(sk);
}

/*
 * The fanout program's pick for the frames the daemon's sockets get, with
 * no, one (802.1Q) and two (802.1ad, 802.1Q) VLAN tags in them, as tc
 * leaves a tagged one: the hash of the engine's key of the IP packet
 * inside, which is what adopted flows are handed out by, for every
 * frame; on both sides. A third tag is more than the engine parses.
 */
static void test_fanout_tagged(void **state)
{
	int fd[2] = { bpf_program__fd(skel->progs.cn_fanout_client),
		      bpf_program__fd(skel->progs.cn_fanout_server) };
	unsigned n = 0;

	(void)state;
	NEED_BPF();
	for (uint32_t i = 0; i < 24; i++) {
		enum cn_side side = i % 2 ? CN_SERVER : CN_CLIENT;
		struct __sk_buff ctx = { 0 };
		struct fr_frame fr;
		struct fr_flow fl;
		struct fr_spec s;
		struct cn_flow_key key;
		struct cn_pkt p;
		uint32_t len;
		DECLARE_LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &ctx,
				    .ctx_size_in = sizeof(ctx), .repeat = 1);

		fr_flow_init(&fl, i / 2 % 2 ? 6 : 4, 3000 + i);
		fl.vlans = (uint8_t)(i / 4 % 3);
		fl.vlan_tci[0] = (uint16_t)(10 + i);
		fl.vlan_tci[1] = 20;
		fl.vlan_tpid[0] = fl.vlans == 2 ? 0x88a8 : 0;
		if (side == CN_CLIENT)
			fr_spec_c2s(&s, &fl, FR_ACK, 5001, 1001);
		else
			fr_spec_s2c(&s, &fl, FR_ACK, 1001, 5001);
		len = build(&fr, &s);
		assert_int_equal(cn_parse(fr.buf, len, &p), CN_PARSE_TCP);
		assert_int_equal(p.vlans, fl.vlans);
		cn_pkt_flow_key(fr.buf, &p, side, &key);
		o.data_in = fr.buf;
		o.data_size_in = len;
		assert_int_equal(bpf_prog_test_run_opts(fd[side], &o), 0);
		assert_int_equal(o.retval, cn_fast_key_hash(&key));
		n++;
	}
	/* Three tags: the first worker, as for anything without a key. */
	{
		struct __sk_buff ctx = { 0 };
		struct fr_frame fr;
		struct fr_flow fl;
		struct fr_spec s;
		uint8_t three[FR_MAX];
		uint32_t len;
		DECLARE_LIBBPF_OPTS(bpf_test_run_opts, o, .ctx_in = &ctx,
				    .ctx_size_in = sizeof(ctx), .repeat = 1);

		fr_flow_init(&fl, 4, 3100);
		fl.vlans = 2;
		fl.vlan_tpid[0] = 0x88a8;
		fr_spec_c2s(&s, &fl, FR_ACK, 5001, 1001);
		len = build(&fr, &s);
		assert_true(len + 4 <= sizeof(three));
		memcpy(three, fr.buf, 12);
		three[12] = 0x88;
		three[13] = 0xa8;
		three[14] = 0;
		three[15] = 30;
		memcpy(three + 16, fr.buf + 12, len - 12);
		o.data_in = three;
		o.data_size_in = len + 4;
		assert_int_equal(bpf_prog_test_run_opts(fd[CN_CLIENT], &o), 0);
		assert_int_equal(o.retval, 0);
	}
	printf("  fast_bpf fanout: %u frames with 0, 1 and 2 VLAN tags\n", n);
}

/* What the kernel path never touches: not TCP, tags, IPv4 options,
 * fragments, IPv6 extension headers, broken headers. */
static void test_not_ours(void **state)
{
	struct tally t = { 0 };
	struct fr_frame fr;
	struct fr_spec s;
	struct fr_flow fl;
	struct cn_flow f;
	uint32_t len;

	(void)state;
	NEED_BPF();
	for (int alive = 1; alive >= 0; alive--) {
		enum verdict slow = alive ? V_DAEMON : V_FAILOPEN;

		set_state(alive, IFINDEX);
		fr_flow_init(&fl, 4, 5);
		flow_init(&f, &fl);
		fr_spec_c2s(&s, &fl, FR_ACK, 5000, 1000 + f.delta);
		s.proto = 17;
		len = build(&fr, &s);
		assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, alive, 0,
					     eng_c, &f, &t), V_PASS);
		s.proto = 0;
		s.ethertype = 0x0806;
		len = build(&fr, &s);
		assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, alive, 0,
					     eng_c, &f, &t), V_PASS);
		s.ethertype = 0;
		s.frag = 0x2000;
		len = build(&fr, &s);
		assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, alive, 0,
					     eng_c, &f, &t), V_PASS);
		s.frag = 0x0010;
		len = build(&fr, &s);
		assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, alive, 0,
					     eng_c, &f, &t), V_PASS);
		s.frag = 0x4000;
		s.ip_optlen = 4;
		memset(s.ip_opts, 1, 4);
		len = build(&fr, &s);
		assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, alive, 0,
					     eng_c, &f, &t), slow);
		s.ip_optlen = 0;
		fl.vlans = 1;
		fl.vlan_tci[0] = 7;
		fr_spec_c2s(&s, &fl, FR_ACK, 5000, 1000 + f.delta);
		len = build(&fr, &s);
		assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, alive, 0,
					     eng_c, &f, &t), slow);
		fl.vlans = 2;
		fl.vlan_tpid[0] = 0x88a8;
		fr_spec_s2c(&s, &fl, FR_ACK, 1000, 5000);
		len = build(&fr, &s);
		assert_int_equal(check_frame(CN_SERVER, fr.buf, len, alive, 0,
					     eng_c, &f, &t), slow);
		/* Truncated: the IP length past the frame. */
		fl.vlans = 0;
		fr_spec_c2s(&s, &fl, FR_ACK, 5000, 1000 + f.delta);
		s.payload_len = 50;
		len = build(&fr, &s);
		assert_int_equal(check_frame(CN_CLIENT, fr.buf, len - 10, alive, 0,
					     eng_c, &f, &t), slow);
		/* IPv6: extension header, UDP, TCP. */
		fr_flow_init(&fl, 6, 5);
		fr_spec_c2s(&s, &fl, FR_ACK, 5000, 1000 + f.delta);
		s.proto = 60; /* destination options */
		len = build(&fr, &s);
		assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, alive, 0,
					     eng_c, &f, &t), V_PASS);
		s.proto = 17;
		len = build(&fr, &s);
		assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, alive, 0,
					     eng_c, &f, &t), V_PASS);
		s.proto = 0;
		len = build(&fr, &s);
		assert_int_equal(check_frame(CN_CLIENT, fr.buf, len, alive, 0,
					     eng_c, &f, &t),
				 V_XLATE);
	}
	tally_print("not ours", &t);
}

/* The record after frames of a flow, and the per-CPU counters. */
static void test_tracking_and_stats(void **state)
{
	struct cn_fast_stats s0, s1;
	struct cn_fast_flow rec, got;
	struct cn_flow_key key;
	struct fr_frame fr;
	struct fr_spec s;
	struct fr_flow fl;
	struct cn_flow f;
	struct cn_pkt p;
	struct run *r = malloc(sizeof(*r));
	uint32_t len, l1, l2;

	(void)state;
	NEED_BPF();
	assert_non_null(r);
	set_state(true, IFINDEX);
	fr_flow_init(&fl, 4, 6);
	flow_init(&f, &fl);
	f.c2s_shift_in = 7;
	f.peer[CN_CLIENT].max_win = 1000;
	cn_fast_export(eng_c, &f, &rec);
	fr_spec_c2s(&s, &fl, FR_ACK, 5000, 1100 + f.delta);
	s.payload_len = 300;
	s.win = 100;
	l1 = build(&fr, &s);
	assert_int_equal(cn_parse(fr.buf, l1, &p), CN_PARSE_TCP);
	cn_pkt_flow_key(fr.buf, &p, CN_CLIENT, &key);
	put_rec(&key, &rec);
	stats_sum(&s0);
	run_progs(CN_CLIENT, fr.buf, l1, 0, r);
	assert_int_equal(r->tc, TC_ACT_REDIRECT);
	fr_spec_s2c(&s, &fl, FR_ACK, 1000, 5300);
	s.payload_len = 50;
	l2 = build(&fr, &s);
	run_progs(CN_SERVER, fr.buf, l2, 0, r);
	assert_int_equal(r->tc, TC_ACT_REDIRECT);
	/* Untracked server segment: passed. A client SYN: the daemon's. */
	fr_spec_s2c(&s, &fl, FR_ACK, 1000, 5300);
	s.sport = 444;
	len = build(&fr, &s);
	run_progs(CN_SERVER, fr.buf, len, 0, r);
	assert_int_equal(r->tc, TC_ACT_REDIRECT);
	fr_spec_c2s(&s, &fl, FR_SYN, 7000, 0);
	s.sport = 4444;
	len = build(&fr, &s);
	run_progs(CN_CLIENT, fr.buf, len, 0, r);
	/* On to the daemon's sockets served after tc. */
	assert_int_equal(r->tc, TC_ACT_OK);
	stats_sum(&s1);

	assert_true(get_rec(&key, &got));
	assert_int_equal(got.dir[CN_CLIENT].end, 5300);
	assert_int_equal(got.dir[CN_CLIENT].ack, 1100);
	assert_int_equal(got.dir[CN_CLIENT].max_win, 100u << 7);
	assert_int_equal(got.dir[CN_CLIENT].frames, 1);
	assert_int_equal(got.dir[CN_CLIENT].bytes, l1);
	assert_int_equal(got.dir[CN_SERVER].end, 1050);
	assert_int_equal(got.dir[CN_SERVER].ack, 5300);
	assert_int_equal(got.dir[CN_SERVER].max_win, 65535);
	assert_int_equal(got.dir[CN_SERVER].frames, 1);
	assert_int_equal(got.dir[CN_SERVER].bytes, l2);
	assert_true(got.last_seen_ns > 0 && got.last_seen_ns <= mono_ns());
	assert_memory_equal(&got.x, &rec.x, sizeof(rec.x));
	del_rec(&key);

	assert_int_equal(s1.side[CN_CLIENT].translated - s0.side[CN_CLIENT].translated, 1);
	assert_int_equal(s1.side[CN_CLIENT].translated_bytes -
			 s0.side[CN_CLIENT].translated_bytes, l1);
	assert_int_equal(s1.side[CN_SERVER].translated - s0.side[CN_SERVER].translated, 1);
	assert_int_equal(s1.side[CN_SERVER].passed - s0.side[CN_SERVER].passed, 1);
	assert_int_equal(s1.side[CN_CLIENT].to_daemon - s0.side[CN_CLIENT].to_daemon, 1);
	assert_int_equal(s1.side[CN_CLIENT].passed - s0.side[CN_CLIENT].passed, 0);

	/* Away: an untracked client segment fails open, counted. */
	set_state(false, IFINDEX);
	stats_sum(&s0);
	run_progs(CN_CLIENT, fr.buf, len, 0, r);
	assert_int_equal(r->tc, TC_ACT_REDIRECT);
	stats_sum(&s1);
	assert_int_equal(s1.side[CN_CLIENT].failed_open - s0.side[CN_CLIENT].failed_open, 1);
	free(r);
}

/*
 * RFC 1624 3: eqn. 3 gives what a recomputation gives, except from a
 * checksum field of 0xffff, which no sender computing it from scratch
 * writes (the sum of a TCP segment and its pseudo-header is never +0)
 * but which a receiver accepts wherever 0x0000 is right. The kernel's
 * csum_fold() never yields 0xffff; the engine keeps it when the replaced
 * words were all ones and the new ones all zeros. Both verify; the
 * kernel's is the recomputed value.
 */
static void test_csum_ffff(void **state)
{
	uint8_t pay[2] = { 0, 0 }, *e;
	struct cn_fast_flow rec;
	struct cn_flow_key key;
	struct fr_frame fr;
	struct fr_spec s;
	struct fr_flow fl;
	struct cn_flow f;
	struct cn_pkt p;
	struct run *r = malloc(sizeof(*r));
	uint32_t len, l4 = 14 + 20;
	uint16_t x;

	(void)state;
	NEED_BPF();
	assert_non_null(r);
	set_state(true, IFINDEX);
	fr_flow_init(&fl, 4, 8);
	flow_init(&f, &fl);
	f.delta = 1; /* seq 0xffffffff -> 0 */
	fr_spec_s2c(&s, &fl, FR_ACK, 0xffffffffu, 5000);
	s.payload = pay;
	s.payload_len = 2;
	len = build(&fr, &s);
	/* A payload word that brings the sum to -0: the checksum is 0x0000,
	 * then written the other way, as 0xffff. */
	x = g16(fr.buf + l4 + 16);
	pay[0] = (uint8_t)(x >> 8);
	pay[1] = (uint8_t)x;
	len = build(&fr, &s);
	assert_int_equal(g16(fr.buf + l4 + 16), 0);
	fr.buf[l4 + 16] = fr.buf[l4 + 17] = 0xff;
	assert_null(fr_verify_bytes(fr.buf, len));

	e = fr_dup(fr.buf, len);
	assert_int_equal(cn_parse(e, len, &p), CN_PARSE_TCP);
	cn_rewrite_s2c(e, &p, &f, true);
	cn_pkt_flow_key(fr.buf, &p, CN_SERVER, &key);
	cn_fast_export(eng_c, &f, &rec);
	put_rec(&key, &rec);
	run_progs(CN_SERVER, fr.buf, len, 0, r);
	del_rec(&key);
	printf("  fast_bpf: checksum 0xffff, seq 0xffffffff -> 0: engine "
	       "%04x, kernel %04x\n", g16(e + l4 + 16), g16(r->out + l4 + 16));
	assert_null(fr_verify_bytes(e, len));
	assert_null(fr_verify_bytes(r->out, len));
	assert_int_equal(g16(r->out + l4 + 16), 0x0000);
	assert_memory_equal(r->out, e, l4 + 16);
	free(e);
	free(r);
}

/* ---- the differential test ------------------------------------------------ */

/* Random xlate parameters and record marks for a frame's flow. */
static const struct cn_engine *random_flow(struct cn_flow *f, uint32_t seq,
					   uint32_t ack, enum cn_side side)
{
	uint32_t around_c = side == CN_CLIENT ? seq : ack;
	uint32_t around_s = side == CN_CLIENT ? ack : seq;
	const struct cn_engine *eng = rnd() % 4 ? eng_c : eng_s;

	/* Half the records let the kernel close the flow. */
	eng_c->io.fast_closes = eng_s->io.fast_closes = rnd() % 2;
	memset(f, 0, sizeof(*f));
	f->state = rnd() % 16 ? CN_FS_ESTABLISHED : CN_FS_CLOSED;
	f->delta = rnd() % 4 ? rnd() : rnd() % 3;
	f->ts_delta = rnd();
	f->translate_ts = rnd() % 2;
	f->strip_ts_c2s = !f->translate_ts && rnd() % 3 == 0;
	f->strip_sack_c2s = rnd() % 4 == 0;
	f->strip_sack_s2c = rnd() % 4 == 0;
	if (rnd() % 2) {
		f->c2s_shift_in = (uint8_t)(rnd() % 15);
		f->c2s_shift_out = (uint8_t)(rnd() % 15);
		f->s2c_shift_in = (uint8_t)(rnd() % 15);
		f->s2c_shift_out = (uint8_t)(rnd() % 15);
	}
	f->cut_mss = rnd() % 4 ? 0 : (uint16_t)(rnd() % 1500);
	f->passthrough = eng == eng_c && rnd() % 4 == 0;
	f->peer_state = (uint8_t)(rnd() % 6);
	if (rnd() % 8 == 0)
		f->peer[rnd() % 2].fin = true;
	for (int s = 0; s < 2; s++) {
		struct cn_peer *pe = &f->peer[s];
		uint32_t base = s == CN_CLIENT ? around_c : around_s;
		uint32_t other = s == CN_CLIENT ? around_s : around_c;

		pe->end = base + rnd() % 4000 - 2000;
		pe->ack = other - (f->delta & (rnd() % 2 ? ~0u : 0)) +
			  rnd() % 4000 - 2000;
		pe->ack_seen = rnd() % 4;
		pe->max_win = rnd() % 2 ? rnd() % 0x20000 : rnd();
	}
	return eng;
}

/* One random frame: options in any order, at any offset, now and then
 * broken; flags, lengths, encapsulation and checksum varied. */
static uint32_t random_frame(struct fr_frame *fr, enum cn_side *side,
			     uint16_t *gso)
{
	struct fr_spec s;
	struct fr_flow fl;
	uint8_t raw[40];
	unsigned n = 0, nopts = rnd() % 6;
	uint32_t seq = rnd(), ack = rnd(), len;

	fr_flow_init(&fl, rnd() % 2 ? 4 : 6, rnd());
	*side = rnd() % 2 ? CN_SERVER : CN_CLIENT;
	if (rnd() % 32 == 0) {
		fl.vlans = (uint8_t)(1 + rnd() % 2);
		fl.vlan_tci[0] = 5;
	}
	if (*side == CN_CLIENT)
		fr_spec_c2s(&s, &fl, FR_ACK, seq, ack);
	else
		fr_spec_s2c(&s, &fl, FR_ACK, seq, ack);
	switch (rnd() % 16) {
	case 0: s.flags = FR_SYN; break;
	case 1: s.flags = FR_SYN | FR_ACK; break;
	case 2: s.flags = FR_FIN | FR_ACK; break;
	case 3: s.flags = FR_RST | (rnd() % 2 ? FR_ACK : 0); break;
	case 4: s.flags = 0; break;
	case 5: s.flags = (uint8_t)rnd(); break;
	default: s.flags = FR_ACK | (rnd() % 2 ? FR_PSH : 0); break;
	}
	s.win = (uint16_t)rnd();
	s.payload_len = rnd() % 3 ? rnd() % 200 : rnd() % 1500;
	for (unsigned i = 0; i < nopts; i++) {
		uint8_t o[40];
		unsigned ol = 0;

		switch (rnd() % 12) {
		case 0: case 1: o[ol++] = 1; break;
		case 2: o[ol++] = 2; o[ol++] = 4; o[ol++] = 5; o[ol++] = 0xb4; break;
		case 3: o[ol++] = 3; o[ol++] = 3; o[ol++] = (uint8_t)rnd(); break;
		case 4: o[ol++] = 4; o[ol++] = 2; break;
		case 5: case 6:
			o[ol++] = 8; o[ol++] = 10;
			for (int k = 0; k < 8; k++)
				o[ol++] = (uint8_t)rnd();
			break;
		case 7: case 8: {
			unsigned b = 1 + rnd() % 4;

			o[ol++] = 5;
			o[ol++] = (uint8_t)(2 + 8 * b);
			for (unsigned k = 0; k < 8 * b; k++)
				o[ol++] = (uint8_t)rnd();
			break;
		}
		case 9:
			o[ol++] = rnd() % 2 ? 34 : 253;
			o[ol] = (uint8_t)(2 + rnd() % 8);
			ol++;
			for (unsigned k = 2; k < o[1]; k++)
				o[ol++] = (uint8_t)rnd();
			break;
		case 10:
			o[ol++] = 0; /* EOL, then anything */
			o[ol++] = (uint8_t)rnd();
			break;
		default:
			o[ol++] = (uint8_t)(9 + rnd() % 20);
			o[ol] = (uint8_t)(2 + rnd() % 4);
			ol++;
			for (unsigned k = 2; k < o[1]; k++)
				o[ol++] = (uint8_t)rnd();
			break;
		}
		if (n + ol > sizeof(raw))
			break;
		memcpy(raw + n, o, ol);
		n += ol;
	}
	if (n && rnd() % 16 == 0)
		raw[rnd() % n] = (uint8_t)rnd(); /* broken, now and then */
	fr_opt_raw(&s, raw, (uint8_t)n);
	if (rnd() % 64 == 0)
		s.proto = rnd() % 2 ? 17 : 58;
	if (fl.family == 4 && rnd() % 64 == 0)
		s.frag = 0x2000;
	if (fl.family == 4 && rnd() % 64 == 0) {
		s.ip_optlen = 4;
		memset(s.ip_opts, 1, 4);
	}
	if (rnd() % 16 == 0)
		s.trailer = rnd() % 20;
	len = fr_build(fr, &s);
	if (rnd() % 64 == 0)
		len -= rnd() % 20; /* truncated */
	*gso = rnd() % 4 ? 0 : (uint16_t)(500 + rnd() % 1000);
	return len;
}

static void diff_one(enum cn_side side, uint8_t *frame, uint32_t len,
		     uint16_t gso, bool alive, struct tally *t)
{
	struct cn_pkt p;
	struct cn_flow f;
	const struct cn_engine *eng;
	enum cn_parse_result pr = cn_parse(frame, len, &p);

	if (pr != CN_PARSE_TCP && pr != CN_PARSE_BAD_OPTIONS) {
		check_frame(side, frame, len, alive, gso, eng_c, NULL, t);
		return;
	}
	eng = random_flow(&f, p.seq, p.ack, side);
	check_frame(side, frame, len, alive, gso, eng, rnd() % 16 ? &f : NULL, t);
}

/* The harness's format (fuzz/fuzz_engine.c): a configuration byte, then
 * [side and flags][length, 16 bits][frame] records. */
static void replay_file(const char *path, struct tally *t)
{
	FILE *fp = fopen(path, "rb");
	uint8_t buf[65536];
	size_t n, off = 1;

	assert_non_null(fp);
	n = fread(buf, 1, sizeof(buf), fp);
	fclose(fp);
	while (off + 3 <= n) {
		enum cn_side side = buf[off] & 1 ? CN_SERVER : CN_CLIENT;
		size_t len = (size_t)buf[off + 1] << 8 | buf[off + 2];

		off += 3;
		if (len > n - off)
			len = n - off;
		if (len >= 14 && len <= FR_MAX)
			for (int k = 0; k < 8; k++) {
				bool alive = k < 6;

				set_state(alive, IFINDEX);
				diff_one(side, buf + off, (uint32_t)len,
					 k % 3 ? 0 : 1000, alive, t);
			}
		off += len;
	}
}

/* The fuzz corpus, made here, or the one CN_FAST_CORPUS names (made
 * beforehand, where there is no python: tests/vm/run.sh's guest). */
static void test_corpus(void **state)
{
	char tmp[] = "/tmp/cn_fast_corpusXXXXXX", cmd[256], path[512];
	const char *given = getenv("CN_FAST_CORPUS"), *dir = given;
	struct tally t = { 0 };
	struct dirent *de;
	unsigned files = 0;
	DIR *d;

	(void)state;
	NEED_BPF();
	if (!given) {
		assert_non_null(dir = mkdtemp(tmp));
		snprintf(cmd, sizeof(cmd), "python3 fuzz/make_corpus.py %s", dir);
		assert_int_equal(system(cmd), 0);
	}
	assert_non_null(d = opendir(dir));
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		replay_file(path, &t);
		if (!given)
			unlink(path);
		files++;
	}
	closedir(d);
	if (!given)
		rmdir(dir);
	assert_true(files > 0);
	tally_print("corpus", &t);
	assert_true(t.translated > 0);
}

static void test_random(void **state)
{
	struct tally t = { 0 };
	struct fr_frame fr;

	(void)state;
	NEED_BPF();
	for (unsigned i = 0; i < 6000; i++) {
		enum cn_side side;
		uint16_t gso;
		uint32_t len = random_frame(&fr, &side, &gso);
		bool alive = rnd() % 4 != 0;

		set_state(alive, IFINDEX);
		diff_one(side, fr.buf, len, gso, alive, &t);
	}
	tally_print("random", &t);
	assert_true(t.translated > 0);
}

/* The programs' size, for the 6.1 verifier's sake. */
static void test_sizes(void **state)
{
	struct bpf_program *pr;

	(void)state;
	NEED_BPF();
	printf("  fast_bpf: open and load: %.3f s\n", (double)load_ns / 1e9);
	bpf_object__for_each_program(pr, skel->obj) {
		struct bpf_prog_info info = { 0 };
		__u32 ilen = sizeof(info);

		assert_int_equal(bpf_obj_get_info_by_fd(bpf_program__fd(pr),
							&info, &ilen), 0);
		printf("  fast_bpf: %s: %u insns, %u verified\n",
		       bpf_program__name(pr), info.xlated_prog_len / 8,
		       info.verified_insns);
		assert_true(info.xlated_prog_len / 8 < 4096);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_translate),
		cmocka_unit_test(test_passthrough),
		cmocka_unit_test(test_probes),
		cmocka_unit_test(test_cut),
		cmocka_unit_test(test_control),
		cmocka_unit_test(test_kclose),
		cmocka_unit_test(test_kclose_workers),
		cmocka_unit_test(test_fanout_tagged),
		cmocka_unit_test(test_not_ours),
		cmocka_unit_test(test_tracking_and_stats),
		cmocka_unit_test(test_csum_ffff),
		cmocka_unit_test(test_corpus),
		cmocka_unit_test(test_random),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
