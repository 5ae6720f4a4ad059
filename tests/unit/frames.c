// SPDX-License-Identifier: MIT
#include "frames.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void put16(uint8_t *b, uint16_t v)
{
	b[0] = (uint8_t)(v >> 8);
	b[1] = (uint8_t)v;
}

static void put32(uint8_t *b, uint32_t v)
{
	put16(b, (uint16_t)(v >> 16));
	put16(b + 2, (uint16_t)v);
}

static uint16_t get16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static uint32_t get32(const uint8_t *b)
{
	return (uint32_t)get16(b) << 16 | get16(b + 2);
}

/* The textbook version: add 16-bit words into 32 bits, fold the carries
 * back in, complement. Deliberately unlike src/engine/checksum.c. */
static uint32_t sum16(const uint8_t *buf, size_t len, uint32_t sum)
{
	for (size_t i = 0; i + 1 < len; i += 2) {
		sum += get16(buf + i);
		sum = (sum & 0xffff) + (sum >> 16);
	}
	if (len & 1) {
		sum += (uint32_t)buf[len - 1] << 8;
		sum = (sum & 0xffff) + (sum >> 16);
	}
	return sum;
}

uint16_t fr_csum(const uint8_t *buf, size_t len, uint32_t seed)
{
	uint32_t s = sum16(buf, len, seed);

	s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t pseudo_sum(uint8_t family, const uint8_t *saddr,
			   const uint8_t *daddr, uint32_t l4_len)
{
	size_t alen = family == 4 ? 4 : 16;
	uint8_t tail[8] = { 0 };
	uint32_t s = 0;

	s = sum16(saddr, alen, s);
	s = sum16(daddr, alen, s);
	put32(tail, l4_len);
	tail[7] = 6;
	return sum16(tail, sizeof(tail), s);
}

/* ---------------------------------------------------------------- options */

static uint8_t *opt_room(struct fr_spec *s, uint8_t n)
{
	if (s->optlen + n > sizeof(s->opts))
		fail_msg("TCP options overflow: %u + %u bytes", s->optlen, n);
	s->optlen = (uint8_t)(s->optlen + n);
	return s->opts + s->optlen - n;
}

void fr_opt_raw(struct fr_spec *s, const uint8_t *bytes, uint8_t len)
{
	memcpy(opt_room(s, len), bytes, len);
}

void fr_opt_nop(struct fr_spec *s)
{
	*opt_room(s, 1) = 1;
}

void fr_opt_mss(struct fr_spec *s, uint16_t mss)
{
	uint8_t *o = opt_room(s, 4);

	o[0] = 2;
	o[1] = 4;
	put16(o + 2, mss);
}

void fr_opt_ws(struct fr_spec *s, uint8_t shift)
{
	uint8_t *o = opt_room(s, 3);

	o[0] = 3;
	o[1] = 3;
	o[2] = shift;
}

void fr_opt_sack_perm(struct fr_spec *s)
{
	uint8_t *o = opt_room(s, 2);

	o[0] = 4;
	o[1] = 2;
}

void fr_opt_ts(struct fr_spec *s, uint32_t tsval, uint32_t tsecr)
{
	uint8_t *o = opt_room(s, 10);

	o[0] = 8;
	o[1] = 10;
	put32(o + 2, tsval);
	put32(o + 6, tsecr);
}

void fr_opt_sack(struct fr_spec *s, unsigned n, const uint32_t *edges)
{
	uint8_t *o = opt_room(s, (uint8_t)(2 + 8 * n));

	o[0] = 5;
	o[1] = (uint8_t)(2 + 8 * n);
	for (unsigned i = 0; i < 2 * n; i++)
		put32(o + 2 + 4 * i, edges[i]);
}

void fr_opt_tfo(struct fr_spec *s, const uint8_t *cookie, uint8_t len)
{
	uint8_t *o = opt_room(s, (uint8_t)(2 + len));

	o[0] = 34;
	o[1] = (uint8_t)(2 + len);
	if (len)
		memcpy(o + 2, cookie, len);
}

void fr_opt_linux_syn(struct fr_spec *s, uint16_t mss, uint32_t tsval,
		      uint8_t ws)
{
	fr_opt_mss(s, mss);
	fr_opt_sack_perm(s);
	fr_opt_ts(s, tsval, 0);
	fr_opt_nop(s);
	fr_opt_ws(s, ws);
}

/* ------------------------------------------------------------------ build */

static uint32_t build_l2(uint8_t *b, const struct fr_spec *s)
{
	uint32_t off = 12;
	uint16_t type = s->ethertype ? s->ethertype :
			(s->family == 6 ? 0x86dd : 0x0800);

	memcpy(b, s->dmac, 6);
	memcpy(b + 6, s->smac, 6);
	for (unsigned i = 0; i < s->vlans && i < 2; i++) {
		put16(b + off, s->vlan_tpid[i] ? s->vlan_tpid[i] : 0x8100);
		put16(b + off + 2, s->vlan_tci[i]);
		off += 4;
	}
	put16(b + off, type);
	return off + 2;
}

static uint32_t build_ipv4(uint8_t *ip, const struct fr_spec *s,
			   uint32_t l4_len)
{
	uint32_t ihl = 20u + ((s->ip_optlen + 3u) & ~3u);

	memset(ip, 0, ihl);
	ip[0] = (uint8_t)(0x40 | ihl / 4);
	put16(ip + 2, (uint16_t)(ihl + l4_len));
	put16(ip + 4, 0x1234);
	put16(ip + 6, s->frag);
	ip[8] = s->ttl ? s->ttl : 64;
	ip[9] = s->proto ? s->proto : 6;
	memcpy(ip + 12, s->saddr, 4);
	memcpy(ip + 16, s->daddr, 4);
	memcpy(ip + 20, s->ip_opts, s->ip_optlen);
	put16(ip + 10, fr_csum(ip, ihl, 0));
	return ihl;
}

static uint32_t build_ipv6(uint8_t *ip, const struct fr_spec *s,
			   uint32_t l4_len)
{
	memset(ip, 0, 40);
	ip[0] = 0x60;
	put16(ip + 4, (uint16_t)l4_len);
	ip[6] = s->proto ? s->proto : 6;
	ip[7] = s->ttl ? s->ttl : 64;
	memcpy(ip + 8, s->saddr, 16);
	memcpy(ip + 24, s->daddr, 16);
	return 40;
}

static void build_tcp(uint8_t *th, const struct fr_spec *s, uint32_t hlen)
{
	memset(th, 0, hlen);
	put16(th, s->sport);
	put16(th + 2, s->dport);
	put32(th + 4, s->seq);
	put32(th + 8, s->ack);
	th[12] = (uint8_t)(hlen / 4 << 4);
	th[13] = s->flags;
	put16(th + 14, s->win);
	memcpy(th + 20, s->opts, s->optlen); /* the rest stays EOL */
	for (uint32_t i = 0; i < s->payload_len; i++)
		th[hlen + i] = s->payload ? s->payload[i] : (uint8_t)i;
}

uint32_t fr_build(struct fr_frame *out, const struct fr_spec *s)
{
	uint32_t hlen = 20u + ((s->optlen + 3u) & ~3u);
	uint32_t l4_len = hlen + s->payload_len, off, l3, l4;
	bool tcp = !s->proto || s->proto == 6;
	uint8_t *b = out->buf;

	if (14 + 8 + 60 + l4_len + s->trailer > FR_MAX)
		fail_msg("frame too long: %u bytes of TCP", l4_len);
	memset(out, 0, sizeof(*out));
	l3 = build_l2(b, s);
	off = l3 + (s->family == 6 ? build_ipv6(b + l3, s, l4_len) :
				     build_ipv4(b + l3, s, l4_len));
	l4 = off;
	build_tcp(b + l4, s, hlen);
	off += l4_len;
	memset(b + off, 0, s->trailer);
	if (tcp) {
		uint32_t ps = pseudo_sum(s->family, s->saddr, s->daddr, l4_len);

		if (s->partial) {
			uint32_t f = (ps & 0xffff) + (ps >> 16);

			put16(b + l4 + 16, (uint16_t)f);
			out->f.off.flags = CN_OFF_CSUM_PARTIAL;
			out->f.off.csum_start = (uint16_t)l4;
			out->f.off.csum_offset = 16;
		} else {
			put16(b + l4 + 16, fr_csum(b + l4, l4_len, ps));
		}
	}
	out->f.data = b;
	out->f.len = off + s->trailer;
	return out->f.len;
}

uint8_t *fr_dup(const uint8_t *data, uint32_t len)
{
	uint8_t *p = malloc(len ? len : 1);

	assert_non_null(p);
	if (len)
		memcpy(p, data, len);
	return p;
}

/* ------------------------------------------------------------------ flows */

void fr_flow_init(struct fr_flow *fl, uint8_t family, uint32_t n)
{
	static const uint8_t c6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 1 };
	static const uint8_t s6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0,
					0, 0, 0, 0, 0, 0, 0, 0x80 };

	memset(fl, 0, sizeof(*fl));
	fl->family = family;
	memcpy(fl->cmac, (uint8_t[]){ 0x02, 0, 0, 0, 0, 0x0c }, 6);
	memcpy(fl->smac, (uint8_t[]){ 0x02, 0, 0, 0, 0, 0x05 }, 6);
	if (family == 4) {
		memcpy(fl->caddr, (uint8_t[]){ 192, 0, 2, 1 + (n >> 16) % 250 }, 4);
		memcpy(fl->saddr, (uint8_t[]){ 198, 51, 100, 80 }, 4);
	} else {
		memcpy(fl->caddr, c6, 16);
		put32(fl->caddr + 12, 0x1000 + (n >> 16));
		memcpy(fl->saddr, s6, 16);
	}
	fl->cport = (uint16_t)(10000 + n % 50000);
	fl->sport = 443;
}

static void spec_base(struct fr_spec *s, const struct fr_flow *fl,
		      uint8_t flags, uint32_t seq, uint32_t ack)
{
	memset(s, 0, sizeof(*s));
	s->family = fl->family;
	s->vlans = fl->vlans;
	memcpy(s->vlan_tpid, fl->vlan_tpid, sizeof(s->vlan_tpid));
	memcpy(s->vlan_tci, fl->vlan_tci, sizeof(s->vlan_tci));
	s->frag = fl->family == 4 ? 0x4000 : 0;
	s->flags = flags;
	s->seq = seq;
	s->ack = ack;
	s->win = 502;
}

void fr_spec_c2s(struct fr_spec *s, const struct fr_flow *fl, uint8_t flags,
		 uint32_t seq, uint32_t ack)
{
	spec_base(s, fl, flags, seq, ack);
	memcpy(s->smac, fl->cmac, 6);
	memcpy(s->dmac, fl->smac, 6);
	memcpy(s->saddr, fl->caddr, 16);
	memcpy(s->daddr, fl->saddr, 16);
	s->sport = fl->cport;
	s->dport = fl->sport;
}

void fr_spec_s2c(struct fr_spec *s, const struct fr_flow *fl, uint8_t flags,
		 uint32_t seq, uint32_t ack)
{
	spec_base(s, fl, flags, seq, ack);
	memcpy(s->smac, fl->smac, 6);
	memcpy(s->dmac, fl->cmac, 6);
	memcpy(s->saddr, fl->saddr, 16);
	memcpy(s->daddr, fl->caddr, 16);
	s->sport = fl->sport;
	s->dport = fl->cport;
}

/* ------------------------------------------------------------------- read */

static int read_l3(const uint8_t *d, uint32_t len, struct fr_view *v)
{
	const uint8_t *ip = d + v->l3;

	if (v->ethertype == 0x0800) {
		uint32_t ihl;

		if (v->l3 + 20 > len || ip[9] != 6)
			return -1;
		ihl = (ip[0] & 0xfu) * 4;
		v->family = 4;
		v->ip_end = v->l3 + get16(ip + 2);
		v->l4 = v->l3 + ihl;
		v->ttl = ip[8];
		memcpy(v->saddr, ip + 12, 4);
		memcpy(v->daddr, ip + 16, 4);
	} else if (v->ethertype == 0x86dd) {
		if (v->l3 + 40 > len || ip[6] != 6)
			return -1;
		v->family = 6;
		v->ip_end = v->l3 + 40 + get16(ip + 4);
		v->l4 = v->l3 + 40;
		v->ttl = ip[7];
		memcpy(v->saddr, ip + 8, 16);
		memcpy(v->daddr, ip + 24, 16);
	} else {
		return -1;
	}
	return v->ip_end <= len && v->l4 + 20 <= v->ip_end ? 0 : -1;
}

static int read_opts(const uint8_t *o, uint32_t n, struct fr_view *v)
{
	for (uint32_t i = 0; i < n;) {
		uint8_t kind = o[i], olen;

		if (kind == 0)
			break;
		if (kind == 1) {
			v->nops++;
			i++;
			continue;
		}
		if (i + 2 > n || (olen = o[i + 1]) < 2 || i + olen > n)
			return -1;
		if (kind == 2 && olen == 4)
			v->mss = get16(o + i + 2);
		else if (kind == 3 && olen == 3)
			v->ws = o[i + 2];
		else if (kind == 4)
			v->sack_perm = true;
		else if (kind == 8 && olen == 10) {
			v->ts = true;
			v->tsval = get32(o + i + 2);
			v->tsecr = get32(o + i + 6);
		} else if (kind == 5) {
			v->sack_n = (olen - 2u) / 8;
			for (unsigned k = 0; k < 2 * v->sack_n && k < 8; k++)
				v->sack[k] = get32(o + i + 2 + 4 * k);
		} else if (kind == 34) {
			v->tfo = true;
		}
		i += olen;
	}
	return 0;
}

int fr_read(const uint8_t *d, uint32_t len, struct fr_view *v)
{
	uint32_t off = 12;
	const uint8_t *th;

	memset(v, 0, sizeof(*v));
	v->mss = v->ws = -1;
	if (len < 14)
		return -1;
	memcpy(v->dmac, d, 6);
	memcpy(v->smac, d + 6, 6);
	v->ethertype = get16(d + 12);
	while ((v->ethertype == 0x8100 || v->ethertype == 0x88a8) &&
	       v->vlans < 2 && off + 6 <= len) {
		v->vlan_tpid[v->vlans] = v->ethertype;
		v->vlan_tci[v->vlans] = get16(d + off + 2);
		v->vlans++;
		off += 4;
		v->ethertype = get16(d + off);
	}
	v->l3 = off + 2;
	if (read_l3(d, len, v))
		return -1;
	th = d + v->l4;
	v->sport = get16(th);
	v->dport = get16(th + 2);
	v->seq = get32(th + 4);
	v->ack = get32(th + 8);
	v->hlen = (th[12] >> 4) * 4u;
	v->flags = th[13];
	v->win = get16(th + 14);
	v->csum = get16(th + 16);
	if (v->hlen < 20 || v->l4 + v->hlen > v->ip_end)
		return -1;
	v->payload_off = v->l4 + v->hlen;
	v->payload_len = v->ip_end - v->payload_off;
	return read_opts(th + 20, v->hlen - 20, v);
}

/* ----------------------------------------------------------------- verify */

const char *fr_verify_bytes(const uint8_t *d, uint32_t len)
{
	struct fr_view v;
	uint32_t l4_len;

	if (fr_read(d, len, &v))
		return "not a readable TCP frame";
	if (v.family == 4) {
		uint32_t ihl = (d[v.l3] & 0xfu) * 4;

		if (ihl < 20 || v.l3 + ihl > len)
			return "bad IHL";
		if (fr_csum(d + v.l3, ihl, 0) != 0)
			return "IPv4 header checksum wrong";
	}
	l4_len = v.ip_end - v.l4;
	if (fr_csum(d + v.l4, l4_len, pseudo_sum(v.family, v.saddr, v.daddr,
						 l4_len)) != 0)
		return "TCP checksum wrong";
	return NULL;
}

const char *fr_verify(const struct cn_frame *f)
{
	const char *why;
	struct cn_frame c = *f;

	if (!(f->off.flags & CN_OFF_CSUM_PARTIAL))
		return fr_verify_bytes(f->data, f->len);
	c.data = fr_dup(f->data, f->len);
	why = fr_complete(&c) ? "partial checksum offsets outside the frame" :
				fr_verify_bytes(c.data, c.len);
	free(c.data);
	return why;
}

int fr_complete(struct cn_frame *f)
{
	uint32_t start = f->off.csum_start, at = start + f->off.csum_offset;

	if (!(f->off.flags & CN_OFF_CSUM_PARTIAL))
		return 0;
	if (start >= f->len || at + 2 > f->len)
		return -1;
	put16(f->data + at, fr_csum(f->data + start, f->len - start, 0));
	f->off.flags &= (uint8_t)~CN_OFF_CSUM_PARTIAL;
	return 0;
}

/* ---------------------------------------------------------------- capture */

static void cap_emit(void *ctx, enum cn_side to, const struct cn_frame *f)
{
	struct fr_cap *c = ctx;
	struct fr_out *o;

	if (c->n == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->out = realloc(c->out, c->cap * sizeof(*c->out));
		assert_non_null(c->out);
	}
	o = &c->out[c->n++];
	o->to = to;
	o->len = f->len;
	o->off = f->off;
	o->data = fr_dup(f->data, f->len);
	o->f.data = o->data;
	o->f.len = o->len;
	o->f.off = o->off;
}

static void cap_event(void *ctx, const struct cn_event *ev)
{
	struct fr_cap *c = ctx;
	struct fr_ev *e;

	if (c->nev == c->evcap) {
		c->evcap = c->evcap ? 2 * c->evcap : 64;
		c->ev = realloc(c->ev, c->evcap * sizeof(*c->ev));
		assert_non_null(c->ev);
	}
	e = &c->ev[c->nev++];
	e->ev = *ev;
	if (ev->key)
		e->key = *ev->key;
	e->ev.key = NULL; /* the array may move; use e->key */
}

void fr_cap_init(struct fr_cap *c)
{
	memset(c, 0, sizeof(*c));
	c->io.emit = cap_emit;
	c->io.event = cap_event;
	c->io.ctx = c;
}

void fr_cap_reset(struct fr_cap *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->out[i].data);
	c->n = 0;
	c->nev = 0;
}

void fr_cap_fini(struct fr_cap *c)
{
	fr_cap_reset(c);
	free(c->out);
	free(c->ev);
	memset(c, 0, sizeof(*c));
}

size_t fr_cap_count(const struct fr_cap *c, enum cn_side to)
{
	size_t k = 0;

	for (size_t i = 0; i < c->n; i++)
		k += c->out[i].to == to;
	return k;
}

struct fr_out *fr_cap_nth(struct fr_cap *c, enum cn_side to, size_t i)
{
	for (size_t j = 0; j < c->n; j++)
		if (c->out[j].to == to && i-- == 0)
			return &c->out[j];
	return NULL;
}

size_t fr_cap_events(const struct fr_cap *c, enum cn_event_type t)
{
	size_t k = 0;

	for (size_t i = 0; i < c->nev; i++)
		k += c->ev[i].ev.type == t;
	return k;
}

const struct fr_ev *fr_cap_last_event(const struct fr_cap *c,
				      enum cn_event_type t)
{
	for (size_t i = c->nev; i-- > 0;)
		if (c->ev[i].ev.type == t)
			return &c->ev[i];
	return NULL;
}
