// SPDX-License-Identifier: MIT
/*
 * The option a ClientNIC adds to the SYN it forwards (src/engine/peer_opt.h):
 * its wire layout pinned byte by byte, every check of the reader, the keyed
 * tag against replays and bit flips, the grown SYN on every layout (read
 * back by frames.c's own reader and checksummed from scratch, then by the
 * engine's parser), stripping, and how the parser counts the option.
 * Inputs the code reads are exact-size heap copies, outputs exact-size
 * buffers, so any overrun trips ASan.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "frames.h"
#include "engine/packet.h"
#include "engine/peer_opt.h"
#include "engine/siphash.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define POISON 0xee
#define OPT_BUF (CN_PEER_OPT_MAX + 8) /* room to see a write overrun */
#define CLIENT_ISN 0x8badf00du

/* The wire layout, written out here so the tests do not share the
 * implementation's constants. */
#define W_KIND 253
#define W_EXID 0x4e43
#define W_HDR 11
#define W_NO_WS 15
#define W_SACK 0x10
#define W_TS 0x20
#define W_TAG 0x40
#define W_RESERVED 0x80

static const uint8_t key_a[16] = { 0xa5, 1, 2, 3, 4, 5, 6, 7,
				   8, 9, 10, 11, 12, 13, 14, 15 };
static const uint8_t key_b[16] = { 0xa6, 1, 2, 3, 4, 5, 6, 7,
				   8, 9, 10, 11, 12, 13, 14, 15 };

/* ---- helpers -------------------------------------------------------- */

static uint16_t rd16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static uint32_t rd32(const uint8_t *b)
{
	return (uint32_t)rd16(b) << 16 | rd16(b + 2);
}

static void wr32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static void flow_key(struct cn_flow_key *k, uint8_t family)
{
	static const uint8_t doc6[4] = { 0x20, 0x01, 0x0d, 0xb8 };

	memset(k, 0, sizeof(*k));
	k->family = family;
	k->cport = 40001;
	k->sport = 443;
	if (family == 4) {
		memcpy(k->caddr, (uint8_t[]){ 192, 0, 2, 10 }, 4);
		memcpy(k->saddr, (uint8_t[]){ 198, 51, 100, 20 }, 4);
	} else {
		memcpy(k->caddr, doc6, 4);
		memcpy(k->saddr, doc6, 4);
		k->caddr[15] = 10;
		k->saddr[15] = 20;
	}
}

/* What the client's SYN offered; the MSS does not limit the option. */
static void syn_offers(struct cn_tcp_opts *o, bool ws, bool sack, bool ts)
{
	memset(o, 0, sizeof(*o));
	o->mss = 1460;
	o->wscale = ws ? 7 : -1;
	o->sack_ok = sack;
	o->ts = ts;
}

static void po_make(struct cn_peer_opt *o, int8_t ws, bool sack, bool ts)
{
	memset(o, 0, sizeof(*o));
	o->spoof_isn = 0x01020304;
	o->spoof_tsval = ts ? 0xa1b2c3d4 : 0;
	o->spoofed.mss = 1460;
	o->spoofed.wscale = ws;
	o->spoofed.sack_ok = sack;
	o->spoofed.ts = ts;
}

/* Write into a poisoned buffer and check nothing past the length moved. */
static unsigned po_write(uint8_t buf[OPT_BUF], const struct cn_peer_opt *o,
			 const struct cn_flow_key *fk, const uint8_t *key)
{
	unsigned n;

	memset(buf, POISON, OPT_BUF);
	n = cn_peer_opt_write(buf, o, fk, CLIENT_ISN, key);
	assert_int_equal(n, cn_peer_opt_len(o, key != NULL));
	assert_true(n <= CN_PEER_OPT_MAX);
	for (unsigned i = n; i < OPT_BUF; i++)
		assert_int_equal(buf[i], POISON);
	return n;
}

/* The reader on an exact-size copy of len bytes. */
static enum cn_peer_opt_err po_read(const uint8_t *opt, unsigned len,
				    const struct cn_flow_key *fk,
				    uint32_t client_isn,
				    const struct cn_tcp_opts *syn,
				    const uint8_t *key, struct cn_peer_opt *out)
{
	uint8_t *c = fr_dup(opt, len);
	enum cn_peer_opt_err r;

	r = cn_peer_opt_read(c, len, fk, client_isn, syn, key, out);
	free(c);
	return r;
}

static enum cn_peer_opt_err po_verdict(const uint8_t *opt, unsigned len,
				       const struct cn_tcp_opts *syn,
				       const uint8_t *key)
{
	struct cn_flow_key fk;
	struct cn_peer_opt out;

	flow_key(&fk, 4);
	return po_read(opt, len, &fk, CLIENT_ISN, syn, key, &out);
}

static void assert_po_equal(const struct cn_peer_opt *a,
			    const struct cn_peer_opt *b)
{
	assert_int_equal(a->spoof_isn, b->spoof_isn);
	assert_int_equal(a->spoofed.mss, b->spoofed.mss);
	assert_int_equal(a->spoofed.wscale, b->spoofed.wscale);
	assert_int_equal(a->spoofed.sack_ok, b->spoofed.sack_ok);
	assert_int_equal(a->spoofed.ts, b->spoofed.ts);
	if (a->spoofed.ts)
		assert_int_equal(a->spoof_tsval, b->spoof_tsval);
}

/*
 * The tag as peer_opt.h defines it, built here field by field so a change
 * of the serialised flow key (a wire format) shows:
 * family, three zero bytes, the client and server ports big-endian, the
 * client and server addresses in 16 bytes each, the client ISN big-endian,
 * then the option from its ExID up to the tag. SipHash-2-4, low 32 bits.
 */
static uint32_t model_tag(const uint8_t *key, const struct cn_flow_key *fk,
			  uint32_t client_isn, const uint8_t *opt,
			  unsigned tag_off)
{
	uint8_t b[40 + 4 + CN_PEER_OPT_MAX] = { 0 };

	b[0] = fk->family;
	b[4] = (uint8_t)(fk->cport >> 8);
	b[5] = (uint8_t)fk->cport;
	b[6] = (uint8_t)(fk->sport >> 8);
	b[7] = (uint8_t)fk->sport;
	memcpy(b + 8, fk->caddr, 16);
	memcpy(b + 24, fk->saddr, 16);
	wr32(b + 40, client_isn);
	memcpy(b + 44, opt + 2, tag_off - 2);
	return (uint32_t)cn_siphash(key, b, 44 + tag_off - 2);
}

/* ---- encoding ------------------------------------------------------- */

static void round_trip(int8_t ws, bool sack, bool ts, bool keyed)
{
	const uint8_t *key = keyed ? key_a : NULL;
	struct cn_tcp_opts syn;
	struct cn_peer_opt o, got;
	struct cn_flow_key fk;
	uint8_t buf[OPT_BUF];
	unsigned n, want = W_HDR + (ts ? 4u : 0u) + (keyed ? 4u : 0u);
	uint8_t flags = (uint8_t)((ws < 0 ? W_NO_WS : ws) |
				  (sack ? W_SACK : 0) | (ts ? W_TS : 0) |
				  (keyed ? W_TAG : 0));

	flow_key(&fk, 6);
	syn_offers(&syn, true, true, true);
	po_make(&o, ws, sack, ts);
	o.tagged = !keyed; /* the writer goes by the key, not this */
	n = po_write(buf, &o, &fk, key);
	assert_int_equal(n, want);
	assert_int_equal(buf[0], W_KIND);
	assert_int_equal(buf[1], want);
	assert_int_equal(rd16(buf + 2), W_EXID);
	assert_int_equal(rd32(buf + 4), o.spoof_isn);
	assert_int_equal(rd16(buf + 8), o.spoofed.mss);
	assert_int_equal(buf[10], flags);
	if (ts)
		assert_int_equal(rd32(buf + W_HDR), o.spoof_tsval);
	if (keyed)
		assert_int_equal(rd32(buf + n - 4),
				 model_tag(key_a, &fk, CLIENT_ISN, buf, n - 4));

	/* Under the key it was written with, and without one. */
	memset(&got, POISON, sizeof(got));
	assert_int_equal(po_read(buf, n, &fk, CLIENT_ISN, &syn, key, &got),
			 CN_PEER_OPT_OK);
	assert_po_equal(&got, &o);
	assert_int_equal(got.tagged, keyed);
	if (!ts)
		assert_int_equal(got.spoof_tsval, 0);
	memset(&got, POISON, sizeof(got));
	assert_int_equal(po_read(buf, n, &fk, CLIENT_ISN, &syn, NULL, &got),
			 CN_PEER_OPT_OK);
	assert_po_equal(&got, &o);
	assert_int_equal(got.tagged, keyed);
}

static void test_round_trip(void **state)
{
	static const int8_t ws[] = { -1, 0, 7, 14 };

	(void)state;
	for (unsigned i = 0; i < ARRAY_LEN(ws); i++)
		for (unsigned m = 0; m < 8; m++)
			round_trip(ws[i], m & 1, m & 2, m & 4);
}

/* 11 bytes bare, 4 more for the TSval, 4 more for the tag: at most 19, so
 * a Linux SYN's 20 option bytes plus the option fit in 40. */
static void test_lengths(void **state)
{
	struct cn_peer_opt o;

	(void)state;
	po_make(&o, 7, true, false);
	assert_int_equal(cn_peer_opt_len(&o, false), 11);
	assert_int_equal(cn_peer_opt_len(&o, true), 15);
	o.spoofed.ts = true;
	assert_int_equal(cn_peer_opt_len(&o, false), 15);
	assert_int_equal(cn_peer_opt_len(&o, true), 19);
	assert_int_equal(CN_PEER_OPT_MAX, 19);
	/* Neither the window scale nor SACK takes room. */
	po_make(&o, -1, false, false);
	assert_int_equal(cn_peer_opt_len(&o, false), 11);
}

/* The wire layout, pinned: a change here breaks every deployed peer. */
static void test_exact_bytes(void **state)
{
	static const uint8_t full[] = {
		0xfd, 0x0f, 0x4e, 0x43,          /* kind, length, ExID */
		0x01, 0x02, 0x03, 0x04,          /* spoofed ISN */
		0x05, 0xb4,                      /* MSS 1460 */
		0x37,                            /* ws 7, SACK, TS */
		0xa1, 0xb2, 0xc3, 0xd4,          /* TSval */
	};
	static const uint8_t bare[] = {
		0xfd, 0x0b, 0x4e, 0x43,
		0xde, 0xad, 0xbe, 0xef,
		0x02, 0x18,                      /* MSS 536 */
		0x0f,                            /* no ws, no SACK, no TS */
	};
	static const uint8_t tagged[] = {
		0xfd, 0x0f, 0x4e, 0x43,
		0x00, 0x00, 0x00, 0x01,
		0x00, 0x40,                      /* MSS 64 */
		0x50,                            /* ws 0, SACK, tag */
	};
	struct cn_peer_opt o;
	struct cn_flow_key fk;
	uint8_t buf[OPT_BUF];

	(void)state;
	flow_key(&fk, 4);
	po_make(&o, 7, true, true);
	assert_int_equal(po_write(buf, &o, &fk, NULL), sizeof(full));
	assert_memory_equal(buf, full, sizeof(full));

	po_make(&o, -1, false, false);
	o.spoof_isn = 0xdeadbeef;
	o.spoofed.mss = 536;
	assert_int_equal(po_write(buf, &o, &fk, NULL), sizeof(bare));
	assert_memory_equal(buf, bare, sizeof(bare));

	po_make(&o, 0, true, false);
	o.spoof_isn = 1;
	o.spoofed.mss = 64;
	assert_int_equal(po_write(buf, &o, &fk, key_a), sizeof(tagged) + 4);
	assert_memory_equal(buf, tagged, sizeof(tagged));
	assert_int_equal(rd32(buf + 11),
			 model_tag(key_a, &fk, CLIENT_ISN, tagged, 11));
}

/* ---- validation ----------------------------------------------------- */

/* A good option for the cases to spoil: ws 7, SACK, a TSval when ts, a
 * tag under key. */
static unsigned good_opt(uint8_t buf[OPT_BUF], bool ts, const uint8_t *key)
{
	struct cn_flow_key fk;
	struct cn_peer_opt o;

	flow_key(&fk, 4);
	po_make(&o, 7, true, ts);
	return po_write(buf, &o, &fk, key);
}

static void test_bad_length(void **state)
{
	struct cn_tcp_opts syn;
	uint8_t buf[OPT_BUF];
	unsigned n;

	(void)state;
	syn_offers(&syn, true, true, true);
	n = good_opt(buf, true, NULL);
	assert_int_equal(po_verdict(buf, n, &syn, NULL), CN_PEER_OPT_OK);
	/* The length byte disagrees with the length the parser gave. */
	buf[1] = (uint8_t)(n - 1);
	assert_int_equal(po_verdict(buf, n, &syn, NULL), CN_PEER_OPT_BAD);
	buf[1] = (uint8_t)(n + 1);
	assert_int_equal(po_verdict(buf, n, &syn, NULL), CN_PEER_OPT_BAD);
	/* Both agree, but too short for the fixed part. */
	for (unsigned len = 0; len < W_HDR; len++) {
		buf[1] = (uint8_t)len;
		assert_int_equal(po_verdict(buf, len, &syn, NULL),
				 CN_PEER_OPT_BAD);
	}
	/* Both agree, but not with the flags: a TSval cut off... */
	buf[1] = (uint8_t)(n - 1);
	assert_int_equal(po_verdict(buf, n - 1, &syn, NULL), CN_PEER_OPT_BAD);
	/* ... or one byte of trailing junk. */
	buf[1] = (uint8_t)(n + 1);
	buf[n] = 0;
	assert_int_equal(po_verdict(buf, n + 1, &syn, NULL), CN_PEER_OPT_BAD);
}

/* Flags that promise a field the length has no room for, or the reverse. */
static void test_length_vs_flags(void **state)
{
	struct cn_tcp_opts syn;
	uint8_t buf[OPT_BUF];
	unsigned n;

	(void)state;
	syn_offers(&syn, true, true, true);
	n = good_opt(buf, false, NULL);
	assert_int_equal(n, 11);
	buf[10] |= W_TS;
	assert_int_equal(po_verdict(buf, n, &syn, NULL), CN_PEER_OPT_BAD);
	buf[10] ^= W_TS | W_TAG;
	assert_int_equal(po_verdict(buf, n, &syn, NULL), CN_PEER_OPT_BAD);

	n = good_opt(buf, true, NULL);
	assert_int_equal(n, 15);
	buf[10] &= (uint8_t)~W_TS;
	assert_int_equal(po_verdict(buf, n, &syn, NULL), CN_PEER_OPT_BAD);
	/* 15 bytes read as TSval-less but tagged: layout fits, so the
	 * unkeyed reader may take it; only the flags decide the layout. */
	buf[10] |= W_TAG;
	assert_int_equal(po_verdict(buf, n, &syn, NULL), CN_PEER_OPT_OK);

	n = good_opt(buf, true, key_a);
	assert_int_equal(n, 19);
	buf[10] &= (uint8_t)~W_TAG;
	assert_int_equal(po_verdict(buf, n, &syn, NULL), CN_PEER_OPT_BAD);
	assert_int_equal(po_verdict(buf, n, &syn, key_a), CN_PEER_OPT_BAD);
}

static void test_reserved_bit(void **state)
{
	struct cn_tcp_opts syn;
	uint8_t buf[OPT_BUF];
	unsigned n;

	(void)state;
	syn_offers(&syn, true, true, true);
	n = good_opt(buf, true, NULL);
	buf[10] |= W_RESERVED;
	assert_int_equal(po_verdict(buf, n, &syn, NULL), CN_PEER_OPT_BAD);
	/* A layout error, whatever the tag says. */
	n = good_opt(buf, true, key_a);
	buf[10] |= W_RESERVED;
	assert_int_equal(po_verdict(buf, n, &syn, key_a), CN_PEER_OPT_BAD);
}

static void test_mss_floor(void **state)
{
	static const struct { uint16_t mss; enum cn_peer_opt_err want; } c[] = {
		{ 0, CN_PEER_OPT_BAD },
		{ 1, CN_PEER_OPT_BAD },
		{ 63, CN_PEER_OPT_BAD },
		{ 64, CN_PEER_OPT_OK },
		{ 536, CN_PEER_OPT_OK },
		{ 65535, CN_PEER_OPT_OK },
	};
	struct cn_tcp_opts syn;
	uint8_t buf[OPT_BUF];
	unsigned n;

	(void)state;
	syn_offers(&syn, true, true, true);
	for (unsigned i = 0; i < ARRAY_LEN(c); i++) {
		n = good_opt(buf, true, NULL);
		buf[8] = (uint8_t)(c[i].mss >> 8);
		buf[9] = (uint8_t)c[i].mss;
		assert_int_equal(po_verdict(buf, n, &syn, NULL), c[i].want);
	}
}

/* Four bits hold 0..15: 0..14 are shifts, 15 is "none"; nothing lies
 * between 14 and 15, so every nibble value must read back. */
static void test_wscale_nibble(void **state)
{
	struct cn_tcp_opts syn;
	struct cn_flow_key fk;
	struct cn_peer_opt got;
	uint8_t buf[OPT_BUF];
	unsigned n;

	(void)state;
	flow_key(&fk, 4);
	syn_offers(&syn, true, true, true);
	for (unsigned ws = 0; ws <= 15; ws++) {
		n = good_opt(buf, true, NULL);
		buf[10] = (uint8_t)((buf[10] & 0xf0) | ws);
		assert_int_equal(po_read(buf, n, &fk, CLIENT_ISN, &syn, NULL,
					 &got), CN_PEER_OPT_OK);
		assert_int_equal(got.spoofed.wscale, ws == 15 ? -1 : (int)ws);
		/* Flags' other bits are not disturbed by the nibble. */
		assert_true(got.spoofed.sack_ok && got.spoofed.ts);
		assert_false(got.tagged);
	}
}

/* A SYN-ACK may grant only what the SYN asked for. */
static void test_not_offered(void **state)
{
	struct cn_tcp_opts syn;
	uint8_t buf[OPT_BUF];
	unsigned n;

	(void)state;
	n = good_opt(buf, true, NULL);       /* ws 7, SACK, TS */
	syn_offers(&syn, true, true, false);
	assert_int_equal(po_verdict(buf, n, &syn, NULL), CN_PEER_OPT_BAD);
	syn_offers(&syn, true, false, true);
	assert_int_equal(po_verdict(buf, n, &syn, NULL), CN_PEER_OPT_BAD);
	syn_offers(&syn, false, true, true);
	assert_int_equal(po_verdict(buf, n, &syn, NULL), CN_PEER_OPT_BAD);
	/* A shift of 0 is still a window scale option. */
	buf[10] &= 0xf0;
	assert_int_equal(po_verdict(buf, n, &syn, NULL), CN_PEER_OPT_BAD);
	/* "None" needs no offer. */
	buf[10] |= W_NO_WS;
	assert_int_equal(po_verdict(buf, n, &syn, NULL), CN_PEER_OPT_OK);
	/* Granting less than was offered is fine. */
	n = good_opt(buf, false, NULL);
	buf[10] = W_NO_WS;
	syn_offers(&syn, true, true, true);
	assert_int_equal(po_verdict(buf, n, &syn, NULL), CN_PEER_OPT_OK);
	syn_offers(&syn, false, false, false);
	assert_int_equal(po_verdict(buf, n, &syn, NULL), CN_PEER_OPT_OK);
}

static void test_wrong_kind_exid(void **state)
{
	static const uint16_t exids[] = { 0x0000, 0x4e42, 0x4e44, 0x434e,
					  0xf989, 0xffff };
	struct cn_tcp_opts syn;
	uint8_t buf[OPT_BUF];
	unsigned n;

	(void)state;
	syn_offers(&syn, true, true, true);
	n = good_opt(buf, true, NULL);
	buf[0] = 254; /* the other experimental kind */
	assert_int_equal(po_verdict(buf, n, &syn, NULL), CN_PEER_OPT_BAD);
	buf[0] = CN_TCPOPT_NOP;
	assert_int_equal(po_verdict(buf, n, &syn, NULL), CN_PEER_OPT_BAD);
	for (unsigned i = 0; i < ARRAY_LEN(exids); i++) {
		n = good_opt(buf, true, NULL);
		buf[2] = (uint8_t)(exids[i] >> 8);
		buf[3] = (uint8_t)exids[i];
		assert_int_equal(po_verdict(buf, n, &syn, NULL),
				 CN_PEER_OPT_BAD);
	}
}

/* ---- the keyed tag -------------------------------------------------- */

static void test_tag_key(void **state)
{
	struct cn_tcp_opts syn;
	uint8_t a[OPT_BUF], b[OPT_BUF];
	unsigned n;

	(void)state;
	syn_offers(&syn, true, true, true);
	for (int ts = 0; ts <= 1; ts++) {
		n = good_opt(a, ts, key_a);
		assert_int_equal(po_verdict(a, n, &syn, key_a),
				 CN_PEER_OPT_OK);
		assert_int_equal(po_verdict(a, n, &syn, key_b),
				 CN_PEER_OPT_TAG);
		/* The same fields under another key: another tag. */
		assert_int_equal(good_opt(b, ts, key_b), n);
		assert_memory_equal(a, b, n - 4);
		assert_memory_not_equal(a + n - 4, b + n - 4, 4);
		/* No tag at all, to a reader that wants one. */
		n = good_opt(a, ts, NULL);
		assert_int_equal(po_verdict(a, n, &syn, key_a),
				 CN_PEER_OPT_TAG);
	}
}

/* A tag lifted off one SYN and put on another does not verify. */
static void test_tag_replay(void **state)
{
	struct cn_tcp_opts syn;
	struct cn_flow_key fk, other;
	struct cn_peer_opt o, got;
	uint8_t buf[OPT_BUF];
	unsigned n;

	(void)state;
	syn_offers(&syn, true, true, true);
	for (uint8_t fam = 4; fam <= 6; fam += 2) {
		flow_key(&fk, fam);
		po_make(&o, 7, true, true);
		n = po_write(buf, &o, &fk, key_a);
		assert_int_equal(po_read(buf, n, &fk, CLIENT_ISN, &syn, key_a,
					 &got), CN_PEER_OPT_OK);
		for (unsigned field = 0; field < 6; field++) {
			other = fk;
			switch (field) {
			case 0: other.cport++; break;
			case 1: other.sport = 80; break;
			case 2: other.caddr[fam == 4 ? 3 : 15] ^= 1; break;
			case 3: other.saddr[0] ^= 0x80; break;
			case 4: other.family = fam == 4 ? 6 : 4; break;
			case 5: /* the two ends swapped */
				memcpy(other.caddr, fk.saddr, 16);
				memcpy(other.saddr, fk.caddr, 16);
				other.cport = fk.sport;
				other.sport = fk.cport;
				break;
			}
			assert_int_equal(po_read(buf, n, &other, CLIENT_ISN,
						 &syn, key_a, &got),
					 CN_PEER_OPT_TAG);
		}
		assert_int_equal(po_read(buf, n, &fk, CLIENT_ISN + 1, &syn,
					 key_a, &got), CN_PEER_OPT_TAG);
		assert_int_equal(po_read(buf, n, &fk, CLIENT_ISN ^ 0x80000000u,
					 &syn, key_a, &got), CN_PEER_OPT_TAG);
		/* Unkeyed, the binding is not checked at all. */
		assert_int_equal(po_read(buf, n, &other, 0, &syn, NULL, &got),
				 CN_PEER_OPT_OK);
	}
}

/* What the reader must say of a tagged option that had one bit flipped:
 * the layout is checked first, then the values, and only then the tag. */
static enum cn_peer_opt_err flip_verdict(const uint8_t *o, unsigned len,
					 const struct cn_tcp_opts *syn)
{
	uint8_t f = o[10], ws = f & 0x0f;
	unsigned want = W_HDR + (f & W_TS ? 4u : 0u) + (f & W_TAG ? 4u : 0u);

	if (o[0] != W_KIND || o[1] != len || rd16(o + 2) != W_EXID ||
	    want != len || (f & W_RESERVED))
		return CN_PEER_OPT_BAD;
	if (rd16(o + 8) < 64 || (ws != W_NO_WS && syn->wscale < 0) ||
	    ((f & W_SACK) && !syn->sack_ok) || ((f & W_TS) && !syn->ts))
		return CN_PEER_OPT_BAD;
	return CN_PEER_OPT_TAG;
}

static void flip_every_bit(int8_t ws, bool sack, bool ts, uint16_t mss,
			   const struct cn_tcp_opts *syn)
{
	struct cn_flow_key fk;
	struct cn_peer_opt o, got;
	uint8_t buf[OPT_BUF];
	unsigned n, bad = 0, tag = 0;

	flow_key(&fk, 6);
	po_make(&o, ws, sack, ts);
	o.spoofed.mss = mss;
	n = po_write(buf, &o, &fk, key_a);
	assert_int_equal(po_read(buf, n, &fk, CLIENT_ISN, syn, key_a, &got),
			 CN_PEER_OPT_OK);
	for (unsigned bit = 0; bit < 8 * n; bit++) {
		enum cn_peer_opt_err want, r;

		buf[bit / 8] ^= (uint8_t)(1u << bit % 8);
		want = flip_verdict(buf, n, syn);
		r = po_read(buf, n, &fk, CLIENT_ISN, syn, key_a, &got);
		if (r != want)
			fail_msg("byte %u bit %u flipped: got %d, want %d",
				 bit / 8, bit % 8, r, want);
		bad += r == CN_PEER_OPT_BAD;
		tag += r == CN_PEER_OPT_TAG;
		buf[bit / 8] ^= (uint8_t)(1u << bit % 8);
	}
	/* Kind, length and ExID alone give 32 layout errors; every other
	 * byte reaches the tag check at least once. */
	assert_true(bad >= 32);
	assert_true(tag >= 8 * (n - W_HDR) + 32);
}

static void test_tag_bit_flips(void **state)
{
	struct cn_tcp_opts all, none;

	(void)state;
	syn_offers(&all, true, true, true);
	syn_offers(&none, false, false, true);
	flip_every_bit(7, true, true, 1460, &all);
	flip_every_bit(7, true, false, 1460, &all);
	/* MSS 100: some flips drop it below 64, a value error. */
	flip_every_bit(0, false, true, 100, &all);
	/* A SYN without SACK or scaling: flips that grant them are bad. */
	flip_every_bit(-1, false, true, 1460, &none);
	flip_every_bit(-1, false, false, 65535, &none);
}

/* Without a key the tag is ignored, even a wrong one. */
static void test_unkeyed_reader_takes_tag(void **state)
{
	struct cn_tcp_opts syn;
	struct cn_flow_key fk;
	struct cn_peer_opt o, got;
	uint8_t buf[OPT_BUF];
	unsigned n;

	(void)state;
	flow_key(&fk, 4);
	syn_offers(&syn, true, true, true);
	po_make(&o, 14, true, true);
	n = po_write(buf, &o, &fk, key_a);
	assert_int_equal(po_read(buf, n, &fk, CLIENT_ISN, &syn, NULL, &got),
			 CN_PEER_OPT_OK);
	assert_true(got.tagged);
	assert_po_equal(&got, &o);
	buf[n - 1] ^= 0xff;
	assert_int_equal(po_read(buf, n, &fk, CLIENT_ISN, &syn, NULL, &got),
			 CN_PEER_OPT_OK);
	assert_po_equal(&got, &o);
}

/* ---- cn_syn_add_option ---------------------------------------------- */

/* A client SYN as built and as parsed, on an exact-size copy. */
struct syn {
	struct fr_spec s;
	uint8_t *data;
	uint32_t len;
	struct cn_pkt p;
	struct fr_view v;
	struct cn_offload off;
};

static void syn_spec(struct fr_spec *s, uint8_t family, uint8_t vlans)
{
	struct fr_flow fl;

	fr_flow_init(&fl, family, 4242);
	fl.vlans = vlans;
	fl.vlan_tpid[0] = vlans == 2 ? 0x88a8 : 0x8100;
	fl.vlan_tci[0] = (uint16_t)(0x2000 | 101);
	fl.vlan_tci[1] = 202;
	fr_spec_c2s(s, &fl, FR_SYN, CLIENT_ISN, 0);
	s->win = 64240;
}

static void syn_build(struct syn *t)
{
	struct fr_frame fr;

	fr_build(&fr, &t->s);
	t->len = fr.f.len;
	t->off = fr.f.off;
	t->data = fr_dup(fr.f.data, t->len);
	assert_int_equal(cn_parse(t->data, t->len, &t->p), CN_PARSE_TCP);
	assert_int_equal(fr_read(t->data, t->len, &t->v), 0);
}

static void linux_syn(struct syn *t, uint8_t family, uint8_t vlans)
{
	memset(t, 0, sizeof(*t));
	syn_spec(&t->s, family, vlans);
	fr_opt_linux_syn(&t->s, 1460, 0x7a7b7c7d, 7);
	t->s.trailer = 6; /* Ethernet padding: not part of the copy */
}

/* The grown copy, in a buffer of exactly ip_end + 40 bytes. */
struct grown {
	uint8_t *data;
	uint32_t len;
	struct cn_pkt p;
	struct fr_view v;
};

static uint32_t grow(const struct syn *t, const uint8_t *opt, unsigned n,
		     struct grown *g)
{
	uint32_t room = t->p.ip_end + 40;

	g->data = malloc(room);
	assert_non_null(g->data);
	memset(g->data, POISON, room);
	g->len = cn_syn_add_option(g->data, t->data, &t->p, opt, n);
	assert_true(g->len <= room);
	if (!g->len) {
		/* Refused: nothing written. */
		for (uint32_t i = 0; i < room; i++)
			assert_int_equal(g->data[i], POISON);
		return 0;
	}
	assert_null(fr_verify_bytes(g->data, g->len));
	assert_int_equal(fr_read(g->data, g->len, &g->v), 0);
	assert_int_equal(cn_parse(g->data, g->len, &g->p), CN_PARSE_TCP);
	return g->len;
}

/* The option the ClientNIC would add to this SYN, granting what it
 * offered (timestamps only when ts). */
static unsigned syn_opt(const struct syn *t, uint8_t buf[OPT_BUF], bool ts,
			const uint8_t *key, struct cn_peer_opt *o)
{
	const struct cn_tcp_opts *so = &t->p.opt;
	struct cn_flow_key fk;

	cn_pkt_flow_key(t->data, &t->p, CN_CLIENT, &fk);
	po_make(o, so->wscale >= 0 ? 9 : -1, so->sack_ok, ts && so->ts);
	o->spoof_isn = 0x5f5e5d5c;
	o->spoofed.mss = 1400;
	memset(buf, POISON, OPT_BUF);
	return cn_peer_opt_write(buf, o, &fk, t->p.seq, key);
}

/* The peer option found where it was put, and it reads back. */
static void check_peer_found(const struct syn *t, const struct grown *g,
			     const uint8_t *opt, unsigned n, const uint8_t *key,
			     const struct cn_peer_opt *o)
{
	uint32_t at = g->v.l4 + t->p.tcp_hlen;
	struct cn_flow_key fk0, fk;
	struct cn_peer_opt got;

	assert_int_equal(g->p.opt.peer_count, 1);
	assert_int_equal(g->p.opt.peer_off, at);
	assert_int_equal(g->p.opt.peer_len, n);
	assert_memory_equal(g->data + at, opt, n);
	/* The ServerNIC sees the same flow key and client ISN. */
	cn_pkt_flow_key(t->data, &t->p, CN_CLIENT, &fk0);
	cn_pkt_flow_key(g->data, &g->p, CN_CLIENT, &fk);
	assert_memory_equal(&fk0, &fk, sizeof(fk));
	assert_int_equal(g->p.seq, t->p.seq);
	assert_int_equal(po_read(g->data + g->p.opt.peer_off, g->p.opt.peer_len,
				 &fk, g->p.seq, &g->p.opt, key, &got),
			 CN_PEER_OPT_OK);
	assert_po_equal(&got, o);
	assert_int_equal(got.tagged, key != NULL);
}

/* Everything but the grown lengths, the data offset and the checksums is
 * the original's; the original options are intact, padding is NOPs. */
static void check_grown_bytes(const struct syn *t, const struct grown *g,
			      const uint8_t *opt, unsigned n)
{
	const uint8_t *a = t->data, *b = g->data;
	uint32_t l3 = t->v.l3, l4 = t->v.l4, hlen = t->p.tcp_hlen;
	uint32_t new_hlen = (hlen + n + 3) & ~3u, grew = new_hlen - hlen;

	assert_int_equal(g->len, t->p.ip_end + grew);
	assert_int_equal(g->v.l4, l4);
	assert_int_equal(g->v.hlen, new_hlen);
	assert_int_equal(b[l4 + 12], (new_hlen / 4) << 4 | (a[l4 + 12] & 0xf));
	if (t->v.family == 4) {
		assert_memory_equal(b, a, l3 + 2);
		assert_int_equal(rd16(b + l3 + 2), rd16(a + l3 + 2) + grew);
		assert_memory_equal(b + l3 + 4, a + l3 + 4, 6);
		assert_memory_equal(b + l3 + 12, a + l3 + 12, l4 - l3 - 12);
	} else {
		assert_memory_equal(b, a, l3 + 4);
		assert_int_equal(rd16(b + l3 + 4), rd16(a + l3 + 4) + grew);
		assert_memory_equal(b + l3 + 6, a + l3 + 6, 34);
	}
	assert_memory_equal(b + l4, a + l4, 12);
	assert_int_equal(b[l4 + 13], a[l4 + 13]);
	assert_memory_equal(b + l4 + 14, a + l4 + 14, 2);
	assert_memory_equal(b + l4 + 18, a + l4 + 18, 2);
	assert_memory_equal(b + l4 + hlen, opt, n);
	for (uint32_t i = hlen + n; i < new_hlen; i++)
		assert_int_equal(b[l4 + i], CN_TCPOPT_NOP);
	assert_int_equal(g->p.payload_len, t->p.payload_len);
	assert_memory_equal(b + l4 + new_hlen, a + l4 + hlen,
			    t->p.payload_len);
	/* The original options as the parser saw them. */
	assert_int_equal(g->p.opt.mss, t->p.opt.mss);
	assert_int_equal(g->p.opt.wscale, t->p.opt.wscale);
	assert_int_equal(g->p.opt.sack_ok, t->p.opt.sack_ok);
	assert_int_equal(g->p.opt.ts, t->p.opt.ts);
	assert_int_equal(g->p.opt.tsval, t->p.opt.tsval);
	assert_int_equal(g->p.opt.tsecr, t->p.opt.tsecr);
}

static void add_layout(uint8_t family, uint8_t vlans, uint8_t ip_optlen,
		       uint32_t payload_len, bool partial)
{
	struct cn_peer_opt o;
	struct grown g;
	struct syn t;
	uint8_t opt[OPT_BUF];
	unsigned n;

	linux_syn(&t, family, vlans);
	/* A router alert, then NOPs: the IPv4 options must move as they are. */
	t.s.ip_optlen = ip_optlen;
	memset(t.s.ip_opts, 1, ip_optlen);
	if (ip_optlen >= 4)
		memcpy(t.s.ip_opts, (uint8_t[]){ 0x94, 0x04, 0, 0 }, 4);
	t.s.payload_len = payload_len;
	t.s.partial = partial;
	syn_build(&t);
	assert_int_equal(t.p.tcp_hlen, 40);
	assert_int_equal(t.off.flags & CN_OFF_CSUM_PARTIAL,
			 partial ? CN_OFF_CSUM_PARTIAL : 0);
	n = syn_opt(&t, opt, true, key_a, &o);
	assert_int_equal(n, CN_PEER_OPT_MAX);
	assert_int_equal(grow(&t, opt, n, &g), t.p.ip_end + 20);
	/* The 40 bytes of option space exactly, data offset 15. */
	assert_int_equal(g.p.tcp_hlen, 60);
	assert_int_equal(g.data[g.v.l4 + 12] >> 4, 15);
	check_grown_bytes(&t, &g, opt, n);
	check_peer_found(&t, &g, opt, n, key_a, &o);
	if (partial) /* grow() checked the full checksum: it is one now */
		assert_int_not_equal(rd16(g.data + g.v.l4 + 16),
				     rd16(t.data + t.v.l4 + 16));
	free(g.data);
	free(t.data);
}

static void test_add_layouts(void **state)
{
	(void)state;
	for (uint8_t vlans = 0; vlans <= 2; vlans++) {
		add_layout(4, vlans, 0, 0, false);
		add_layout(6, vlans, 0, 0, false);
	}
}

static void test_add_ipv4_options(void **state)
{
	(void)state;
	add_layout(4, 0, 4, 0, false);
	add_layout(4, 1, 12, 0, false);
	add_layout(4, 2, 40, 0, false);
}

/* The engine does not grow a SYN with data, but the function moves it. */
static void test_add_with_payload(void **state)
{
	(void)state;
	add_layout(4, 1, 0, 123, false);
	add_layout(6, 2, 0, 1, false);
}

/* A SYN whose checksum the sender's NIC was to complete: the copy has a
 * full checksum (grow() checks it from scratch, no completion). */
static void test_add_partial(void **state)
{
	(void)state;
	add_layout(4, 0, 0, 0, true);
	add_layout(6, 1, 0, 0, true);
	add_layout(4, 2, 8, 17, true);
}

/* An AccECN SYN sets AE, the low bit of the data offset byte: growing
 * the header must rewrite the offset and keep the bit. */
static void add_ae(uint8_t family, bool partial)
{
	struct cn_peer_opt o;
	struct grown g;
	struct syn t;
	uint8_t opt[OPT_BUF];
	uint8_t *ck;
	unsigned n;

	linux_syn(&t, family, 1);
	t.s.flags |= CN_TCP_ECE | CN_TCP_CWR;
	t.s.partial = partial;
	syn_build(&t);
	/* The header word at 12 grows by 0x0100; a partial checksum holds
	 * only the pseudo-header and needs no patch. */
	t.data[t.v.l4 + 12] |= 0x01;
	ck = t.data + t.v.l4 + 16;
	if (!partial) {
		uint32_t sum = (uint16_t)~rd16(ck) + 0x0100u;

		sum = (sum & 0xffff) + (sum >> 16);
		ck[0] = (uint8_t)(~sum >> 8);
		ck[1] = (uint8_t)~sum;
		assert_null(fr_verify_bytes(t.data, t.len));
	}
	n = syn_opt(&t, opt, true, key_a, &o);
	assert_int_not_equal(grow(&t, opt, n, &g), 0);
	assert_int_equal(g.data[g.v.l4 + 12], 0xf1);
	assert_int_equal(g.v.flags, t.v.flags);
	check_grown_bytes(&t, &g, opt, n);
	check_peer_found(&t, &g, opt, n, key_a, &o);
	free(g.data);
	free(t.data);
}

static void test_add_keeps_ae(void **state)
{
	(void)state;
	add_ae(4, false);
	add_ae(6, false);
	add_ae(4, true);
}

/* A SYN with opt_bytes of options (NOPs after an MSS) grown by an option
 * of n bytes: fits exactly when data offset * 4 + n rounds up to <= 60. */
static void add_fit(unsigned opt_bytes, bool ts, bool keyed)
{
	struct cn_peer_opt o;
	struct grown g;
	struct syn t;
	uint8_t opt[OPT_BUF];
	unsigned n;
	bool fits;

	memset(&t, 0, sizeof(t));
	syn_spec(&t.s, 4, 0);
	fr_opt_mss(&t.s, 1460);
	fr_opt_sack_perm(&t.s);
	fr_opt_ts(&t.s, 1, 0);
	while (t.s.optlen < opt_bytes)
		fr_opt_nop(&t.s);
	syn_build(&t);
	n = syn_opt(&t, opt, ts, keyed ? key_a : NULL, &o);
	fits = ((t.p.tcp_hlen + n + 3) & ~3u) <= 60;
	if (!fits) {
		assert_int_equal(grow(&t, opt, n, &g), 0);
	} else {
		assert_int_not_equal(grow(&t, opt, n, &g), 0);
		check_grown_bytes(&t, &g, opt, n);
		check_peer_found(&t, &g, opt, n, keyed ? key_a : NULL, &o);
	}
	free(g.data);
	free(t.data);
}

static void test_add_too_long(void **state)
{
	(void)state;
	/* 20 + 19 = 39, 24 + 15 = 39, 28 + 11 = 39: the last that fit. */
	add_fit(20, true, true);
	add_fit(24, true, false);
	add_fit(24, false, true);
	add_fit(28, false, false);
	/* One word more and they do not. */
	add_fit(24, true, true);
	add_fit(28, true, false);
	add_fit(28, false, true);
	add_fit(32, false, false);
	add_fit(40, false, false);
	/* The loop itself, with every option size. */
	for (unsigned b = 16; b <= 40; b += 4)
		for (unsigned m = 0; m < 4; m++)
			add_fit(b, m & 1, m & 2);
}

/* A macOS SYN (22 option bytes and two EOLs): the keyed option with a
 * TSval does not fit, the others do. */
static void test_add_macos_syn(void **state)
{
	static const uint8_t mac[] = {
		2, 4, 0x05, 0xb4, 1, 3, 3, 6, 1, 1,
		8, 10, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0,
		4, 2, 0, 0,
	};
	struct cn_peer_opt o;
	struct grown g;
	struct syn t;
	uint8_t opt[OPT_BUF];
	unsigned n;

	(void)state;
	memset(&t, 0, sizeof(t));
	syn_spec(&t.s, 6, 0);
	fr_opt_raw(&t.s, mac, sizeof(mac));
	syn_build(&t);
	assert_true(t.p.opt.ts && t.p.opt.sack_ok);
	n = syn_opt(&t, opt, true, key_a, &o);
	assert_int_equal(grow(&t, opt, n, &g), 0);
	free(g.data);
	n = syn_opt(&t, opt, true, NULL, &o);
	assert_int_not_equal(grow(&t, opt, n, &g), 0);
	check_peer_found(&t, &g, opt, n, NULL, &o);
	free(g.data);
	free(t.data);
}

/* An option list that ends in EOL: appended after it, the option would be
 * unseen, so EOL and all that follows it must become NOPs. */
static void add_after_eol(const uint8_t *opts, uint8_t len, unsigned eol)
{
	struct cn_peer_opt o;
	struct grown g;
	struct syn t;
	uint8_t opt[OPT_BUF];
	uint32_t l4;
	unsigned n;

	memset(&t, 0, sizeof(t));
	syn_spec(&t.s, 4, 1);
	fr_opt_raw(&t.s, opts, len);
	syn_build(&t);
	assert_int_equal(t.p.opt.mss, 1460);
	n = syn_opt(&t, opt, false, key_a, &o);
	assert_int_not_equal(grow(&t, opt, n, &g), 0);
	check_grown_bytes(&t, &g, opt, n);
	l4 = g.v.l4;
	assert_memory_equal(g.data + l4 + 20, opts, eol);
	for (uint32_t i = 20 + eol; i < t.p.tcp_hlen; i++)
		assert_int_equal(g.data[l4 + i], CN_TCPOPT_NOP);
	assert_int_equal(g.p.opt.mss, 1460);
	assert_int_equal(g.p.opt.wscale, t.p.opt.wscale);
	check_peer_found(&t, &g, opt, n, key_a, &o);
	free(g.data);
	free(t.data);
}

static void test_add_after_eol(void **state)
{
	/* MSS, WS, then the builder's EOL padding to the word. */
	static const uint8_t pad[] = { 2, 4, 0x05, 0xb4, 3, 3, 7 };
	/* MSS, EOL, zeros for a whole word more. */
	static const uint8_t zeros[] = { 2, 4, 0x05, 0xb4, 0, 0, 0, 0 };
	/* MSS, EOL, then bytes that would parse as a SACK-permitted and a
	 * truncated TS option if they were walked. */
	static const uint8_t junk[] = { 2, 4, 0x05, 0xb4, 0, 4, 2, 8,
					10, 0xff, 0xff, 0xff };

	(void)state;
	add_after_eol(pad, sizeof(pad), sizeof(pad));
	add_after_eol(zeros, sizeof(zeros), 4);
	add_after_eol(junk, sizeof(junk), 4);
}

/* The same replay on the wire: the option of one SYN grown into another
 * SYN (another client port, address or ISN) fails where the ServerNIC
 * reads it, with the flow key and ISN it takes from that SYN. */
static void test_tag_replay_frames(void **state)
{
	struct cn_peer_opt o, got;
	struct cn_flow_key fk;
	struct grown g;
	struct syn a, b;
	uint8_t opt[OPT_BUF];
	unsigned n;

	(void)state;
	linux_syn(&a, 4, 0);
	syn_build(&a);
	n = syn_opt(&a, opt, true, key_a, &o);
	for (int i = 0; i < 4; i++) {
		linux_syn(&b, 4, 0);
		if (i == 1)
			b.s.sport++;
		if (i == 2)
			b.s.saddr[3]++;
		if (i == 3)
			b.s.seq++;
		syn_build(&b);
		assert_int_not_equal(grow(&b, opt, n, &g), 0);
		cn_pkt_flow_key(g.data, &g.p, CN_CLIENT, &fk);
		assert_int_equal(po_read(g.data + g.p.opt.peer_off,
					 g.p.opt.peer_len, &fk, g.p.seq,
					 &g.p.opt, key_a, &got),
				 i ? CN_PEER_OPT_TAG : CN_PEER_OPT_OK);
		free(g.data);
		free(b.data);
	}
	free(a.data);
}

/* ---- cn_peer_opt_strip ---------------------------------------------- */

/* A SYN carrying the given raw option bytes, as a ServerNIC receives it. */
static void peer_syn(struct syn *t, uint8_t family, const uint8_t *opts,
		     uint8_t len, bool partial)
{
	memset(t, 0, sizeof(*t));
	syn_spec(&t->s, family, family == 6 ? 2 : 1);
	fr_opt_raw(&t->s, opts, len);
	t->s.partial = partial;
	t->s.payload_len = 3;
	syn_build(t);
}

/* Strip a copy; every byte but the option's and the checksum unchanged,
 * the options in [at[i], at[i] + n[i]) all NOPs. Returns the copy. */
static uint8_t *strip(const struct syn *t, bool patch, unsigned want,
		      const unsigned *at, const unsigned *n)
{
	uint8_t *d = fr_dup(t->data, t->len), *exp = fr_dup(t->data, t->len);
	uint32_t l4 = t->v.l4;
	struct cn_pkt p;

	assert_int_equal(cn_peer_opt_strip(d, &t->p, patch), want);
	for (unsigned i = 0; i < want; i++)
		memset(exp + l4 + 20 + at[i], CN_TCPOPT_NOP, n[i]);
	assert_memory_equal(d, exp, l4 + 16);
	assert_memory_equal(d + l4 + 18, exp + l4 + 18, t->len - l4 - 18);
	if (!patch)
		assert_memory_equal(d + l4 + 16, t->data + l4 + 16, 2);
	assert_int_equal(cn_parse(d, t->len, &p), CN_PARSE_TCP);
	assert_int_equal(p.opt.peer_count, 0);
	assert_int_equal(p.opt.mss, t->p.opt.mss);
	assert_int_equal(p.opt.wscale, t->p.opt.wscale);
	assert_int_equal(p.opt.sack_ok, t->p.opt.sack_ok);
	assert_int_equal(p.opt.ts, t->p.opt.ts);
	free(exp);
	return d;
}

static void test_strip_one(void **state)
{
	uint8_t o[OPT_BUF], opts[40];
	struct cn_peer_opt po;
	struct syn t;
	unsigned n, len, at;
	uint8_t *d;

	(void)state;
	/* MSS, then the option at an odd offset, then SACK-permitted. */
	for (uint8_t fam = 4; fam <= 6; fam += 2) {
		linux_syn(&t, fam, 0);
		syn_build(&t);
		n = syn_opt(&t, o, true, key_a, &po);
		free(t.data);
		memcpy(opts, (uint8_t[]){ 2, 4, 0x05, 0xb4, 1 }, 5);
		at = 5;
		memcpy(opts + at, o, n);
		len = at + n;
		opts[len++] = 4;
		opts[len++] = 2;
		peer_syn(&t, fam, opts, (uint8_t)len, false);
		assert_int_equal(t.p.opt.peer_count, 1);
		assert_int_equal(t.p.opt.peer_off, t.v.l4 + 20 + at);
		d = strip(&t, true, 1, &at, &n);
		assert_null(fr_verify_bytes(d, t.len));
		free(d);
		free(t.data);
	}
}

static void test_strip_two(void **state)
{
	uint8_t a[OPT_BUF], b[OPT_BUF], opts[40];
	struct cn_peer_opt po;
	struct syn t;
	unsigned at[2], n[2], len = 0;
	uint8_t *d;

	(void)state;
	linux_syn(&t, 4, 0);
	syn_build(&t);
	n[0] = syn_opt(&t, a, false, NULL, &po);
	n[1] = syn_opt(&t, b, true, NULL, &po);
	free(t.data);
	/* MSS, option, NOP, WS, option: 4 + 11 + 1 + 3 + 15 = 34 bytes. */
	memcpy(opts, (uint8_t[]){ 2, 4, 0x05, 0xb4 }, 4);
	len = 4;
	at[0] = len;
	memcpy(opts + len, a, n[0]);
	len += n[0];
	opts[len++] = 1;
	memcpy(opts + len, (uint8_t[]){ 3, 3, 7 }, 3);
	len += 3;
	at[1] = len;
	memcpy(opts + len, b, n[1]);
	len += n[1];
	peer_syn(&t, 6, opts, (uint8_t)len, false);
	assert_int_equal(t.p.opt.peer_count, 2);
	d = strip(&t, true, 2, at, n);
	assert_null(fr_verify_bytes(d, t.len));
	free(d);
	free(t.data);
}

/* Unpatched, the checksum bytes stay: for a partial checksum that is
 * right, the NIC sums the NOPs in when it completes it. */
static void test_strip_unpatched(void **state)
{
	uint8_t o[OPT_BUF], opts[40];
	struct cn_peer_opt po;
	struct cn_frame f;
	struct syn t;
	unsigned n, at = 4;
	uint8_t *d;

	(void)state;
	linux_syn(&t, 4, 0);
	syn_build(&t);
	n = syn_opt(&t, o, true, key_a, &po);
	free(t.data);
	memcpy(opts, (uint8_t[]){ 2, 4, 0x05, 0xb4 }, 4);
	memcpy(opts + at, o, n);
	for (int partial = 0; partial <= 1; partial++) {
		peer_syn(&t, 4, opts, (uint8_t)(at + n), partial);
		d = strip(&t, false, 1, &at, &n);
		f = (struct cn_frame){ .data = d, .len = t.len, .off = t.off };
		if (partial)
			assert_null(fr_verify(&f));
		else /* a full checksum left alone no longer holds */
			assert_non_null(fr_verify(&f));
		free(d);
		free(t.data);
	}
}

/* No peer option: untouched. Kind 253 with another ExID, or too short
 * for one (and followed by bytes that would read as ours), is not one. */
static void test_strip_none(void **state)
{
	static const uint8_t other[] = { 253, 6, 0xf9, 0x89, 1, 2 };
	static const uint8_t trap[] = { 253, 3, 0x4e, 0x43, 2 };
	struct syn t;
	uint8_t *d;

	(void)state;
	for (int i = 0; i < 3; i++) {
		linux_syn(&t, i == 1 ? 6 : 4, (uint8_t)i);
		if (i == 1)
			fr_opt_raw(&t.s, other, sizeof(other));
		if (i == 2)
			fr_opt_raw(&t.s, trap, sizeof(trap));
		syn_build(&t);
		d = fr_dup(t.data, t.len);
		assert_int_equal(cn_peer_opt_strip(d, &t.p, true), 0);
		assert_memory_equal(d, t.data, t.len);
		assert_int_equal(cn_peer_opt_strip(d, &t.p, false), 0);
		assert_memory_equal(d, t.data, t.len);
		free(d);
		free(t.data);
	}
}

/* What the ServerNIC does to what the ClientNIC sent: the server gets a
 * SYN with the client's options and a right checksum. */
static void test_add_then_strip(void **state)
{
	uint8_t opt[OPT_BUF];
	struct cn_peer_opt o;
	struct grown g;
	struct syn t;
	struct fr_view v;
	unsigned n;

	(void)state;
	linux_syn(&t, 6, 1);
	syn_build(&t);
	n = syn_opt(&t, opt, true, key_a, &o);
	assert_int_not_equal(grow(&t, opt, n, &g), 0);
	assert_int_equal(cn_peer_opt_strip(g.data, &g.p, true), 1);
	assert_null(fr_verify_bytes(g.data, g.len));
	assert_int_equal(fr_read(g.data, g.len, &v), 0);
	assert_int_equal(v.mss, t.v.mss);
	assert_int_equal(v.ws, t.v.ws);
	assert_int_equal(v.sack_perm, t.v.sack_perm);
	assert_int_equal(v.tsval, t.v.tsval);
	assert_int_equal(v.nops, t.v.nops + 20);
	free(g.data);
	free(t.data);
}

/* ---- the parser ----------------------------------------------------- */

static void parse_opts(const uint8_t *opts, uint8_t len, struct syn *t)
{
	memset(t, 0, sizeof(*t));
	syn_spec(&t->s, 4, 0);
	fr_opt_raw(&t->s, opts, len);
	syn_build(t);
	assert_int_equal(t->p.opt.mss, 1460);
}

static void test_parse_two(void **state)
{
	static const uint8_t opts[] = {
		2, 4, 0x05, 0xb4,
		253, 4, 0x4e, 0x43,
		1,
		253, 11, 0x4e, 0x43, 0, 0, 0, 1, 0x05, 0xb4, 0x0f,
	};
	struct syn t;

	(void)state;
	parse_opts(opts, sizeof(opts), &t);
	assert_int_equal(t.p.opt.peer_count, 2);
	assert_int_equal(t.p.opt.peer_off, t.v.l4 + 24);
	assert_int_equal(t.p.opt.peer_len, 4);
	free(t.data);
}

static void test_parse_other_exid(void **state)
{
	static const uint8_t opts[] = {
		2, 4, 0x05, 0xb4,
		253, 6, 0xf9, 0x89, 0x11, 0x22,  /* TFO's experimental form */
		253, 4, 0x43, 0x4e,              /* bytes swapped */
		254, 4, 0x4e, 0x43,              /* the other kind */
	};
	static const uint8_t then_ours[] = {
		2, 4, 0x05, 0xb4,
		253, 4, 0x4e, 0x44,
		253, 11, 0x4e, 0x43, 0, 0, 0, 1, 0x05, 0xb4, 0x0f,
	};
	struct syn t;

	(void)state;
	parse_opts(opts, sizeof(opts), &t);
	assert_int_equal(t.p.opt.peer_count, 0);
	free(t.data);
	parse_opts(then_ours, sizeof(then_ours), &t);
	assert_int_equal(t.p.opt.peer_count, 1);
	assert_int_equal(t.p.opt.peer_off, t.v.l4 + 28);
	assert_int_equal(t.p.opt.peer_len, 11);
	free(t.data);
}

/* Kind 253 shorter than its ExID: not ours, and the walk goes on by its
 * length (the option after it is still found). */
static void test_parse_short(void **state)
{
	static const uint8_t two[] = {
		2, 4, 0x05, 0xb4, 253, 2,
		253, 11, 0x4e, 0x43, 0, 0, 0, 1, 0x05, 0xb4, 0x0f,
	};
	static const uint8_t three[] = {
		2, 4, 0x05, 0xb4, 253, 3, 0x4e,
		253, 11, 0x4e, 0x43, 0, 0, 0, 1, 0x05, 0xb4, 0x0f,
	};
	/* A reader that took the ExID past the length would see 0x4e43:
	 * 0x43 is the kind of the next (unknown, 2-byte) option. */
	static const uint8_t trap[] = { 2, 4, 0x05, 0xb4, 253, 3, 0x4e,
					0x43, 2 };
	struct syn t;

	(void)state;
	parse_opts(two, sizeof(two), &t);
	assert_int_equal(t.p.opt.peer_count, 1);
	assert_int_equal(t.p.opt.peer_off, t.v.l4 + 26);
	free(t.data);
	parse_opts(three, sizeof(three), &t);
	assert_int_equal(t.p.opt.peer_count, 1);
	assert_int_equal(t.p.opt.peer_off, t.v.l4 + 27);
	free(t.data);
	parse_opts(trap, sizeof(trap), &t);
	assert_int_equal(t.p.opt.peer_count, 0);
	free(t.data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_lengths),
		cmocka_unit_test(test_exact_bytes),
		cmocka_unit_test(test_bad_length),
		cmocka_unit_test(test_length_vs_flags),
		cmocka_unit_test(test_reserved_bit),
		cmocka_unit_test(test_mss_floor),
		cmocka_unit_test(test_wscale_nibble),
		cmocka_unit_test(test_not_offered),
		cmocka_unit_test(test_wrong_kind_exid),
		cmocka_unit_test(test_tag_key),
		cmocka_unit_test(test_tag_replay),
		cmocka_unit_test(test_tag_bit_flips),
		cmocka_unit_test(test_unkeyed_reader_takes_tag),
		cmocka_unit_test(test_add_layouts),
		cmocka_unit_test(test_add_ipv4_options),
		cmocka_unit_test(test_add_with_payload),
		cmocka_unit_test(test_add_partial),
		cmocka_unit_test(test_add_keeps_ae),
		cmocka_unit_test(test_add_too_long),
		cmocka_unit_test(test_add_macos_syn),
		cmocka_unit_test(test_add_after_eol),
		cmocka_unit_test(test_tag_replay_frames),
		cmocka_unit_test(test_strip_one),
		cmocka_unit_test(test_strip_two),
		cmocka_unit_test(test_strip_unpatched),
		cmocka_unit_test(test_strip_none),
		cmocka_unit_test(test_add_then_strip),
		cmocka_unit_test(test_parse_two),
		cmocka_unit_test(test_parse_other_exid),
		cmocka_unit_test(test_parse_short),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
