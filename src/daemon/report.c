// SPDX-License-Identifier: MIT
#include "report.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "event_log.h"

#define NS_PER_MS 1000000u
#define REPORT_RESERVE 1024

/* ---- flows ---------------------------------------------------------- */

int report_parse_server(const char *s, struct flow_filter *f)
{
	char host[64];
	const char *port = NULL;
	size_t n;

	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end || (end[1] && end[1] != ':'))
			return -EINVAL;
		n = (size_t)(end - s - 1);
		if (n >= sizeof(host))
			return -EINVAL;
		memcpy(host, s + 1, n);
		host[n] = '\0';
		if (end[1] == ':')
			port = end + 2;
	} else {
		const char *colon = strchr(s, ':');

		/* One colon: IPv4 and a port; more: a bare IPv6 address. */
		if (colon && !strchr(colon + 1, ':')) {
			n = (size_t)(colon - s);
			port = colon + 1;
		} else {
			n = strlen(s);
		}
		if (n >= sizeof(host))
			return -EINVAL;
		memcpy(host, s, n);
		host[n] = '\0';
	}
	memset(f->addr, 0, sizeof(f->addr));
	if (inet_pton(AF_INET, host, f->addr) == 1)
		f->family = 4;
	else if (inet_pton(AF_INET6, host, f->addr) == 1)
		f->family = 6;
	else
		return -EINVAL;
	f->port = 0;
	if (port) {
		char *end;
		unsigned long v;

		if (*port < '0' || *port > '9')
			return -EINVAL;
		v = strtoul(port, &end, 10);
		if (*end || v == 0 || v > 65535)
			return -EINVAL;
		f->port = (uint16_t)v;
	}
	f->server = true;
	return 0;
}

int report_parse_state(const char *s, struct flow_filter *f)
{
	const char *name;

	for (unsigned i = 0; (name = cn_flow_state_name(i)); i++) {
		if (!strcmp(s, name)) {
			snprintf(f->state, sizeof(f->state), "%s", s);
			return 0;
		}
	}
	return -EINVAL;
}

static bool flow_matches(const struct flow_filter *f,
			 const struct cn_flow_record *r)
{
	if (f->state[0] && strcmp(f->state, r->state))
		return false;
	if (!f->server)
		return true;
	return r->key.family == f->family &&
	       !memcmp(r->key.saddr, f->addr, f->family == 4 ? 4 : 16) &&
	       (!f->port || r->key.sport == f->port);
}

void report_flows_begin(struct report_flows *rf)
{
	rf->listed = rf->left_out = 0;
	if (rf->json)
		ob_puts(rf->out, "[");
}

/* ms with microseconds, as the event log's age_ms. */
static void ms(char *buf, size_t len, uint64_t ns)
{
	snprintf(buf, len, "%" PRIu64 ".%03" PRIu64, ns / NS_PER_MS,
		 ns % NS_PER_MS / 1000u);
}

/* The reserve keeps room for one more record and the end of the answer
 * (a record is well under 1 KiB): the answer is never cut inside. */
static bool room_for_one(const struct report_flows *rf)
{
	return rf->listed < REPORT_FLOWS_MAX &&
	       rf->out->len + REPORT_RESERVE <= rf->out->max;
}

bool report_flow_listed(const struct report_flows *rf,
			const struct cn_flow_record *r)
{
	return flow_matches(&rf->filter, r) && room_for_one(rf);
}

bool report_flow(void *ctx, const struct cn_flow_record *r)
{
	struct report_flows *rf = ctx;
	struct outbuf *o = rf->out;
	char c[64], s[64], age[32], idle[32];
	const char *fam = r->key.family == 6 ? "ipv6" : "ipv4";
	/* The record's own, where the walk knows (a flow another datapath
	 * forwards), else the answer's. */
	const char *dp = r->datapath[0] ? r->datapath : rf->datapath;

	if (!flow_matches(&rf->filter, r))
		return true;
	if (!room_for_one(rf)) {
		rf->left_out++;
		return true;
	}
	event_log_endpoint(c, sizeof(c), r->key.family, r->key.caddr,
			   r->key.cport);
	event_log_endpoint(s, sizeof(s), r->key.family, r->key.saddr,
			   r->key.sport);
	ms(age, sizeof(age), r->age_ns);
	ms(idle, sizeof(idle), r->idle_ns);
	if (rf->json)
		ob_printf(o, "%s\n{\"family\":\"%s\",\"client\":\"%s\","
			  "\"server\":\"%s\",\"state\":\"%s\",\"peer\":\"%s\","
			  "\"age_ms\":%s,\"idle_ms\":%s,\"delta\":%" PRIu32
			  ",\"held_frames\":%" PRIu32 ",\"held_bytes\":%" PRIu32
			  ",\"frames_from_client\":%" PRIu32
			  ",\"bytes_from_client\":%" PRIu64
			  ",\"frames_from_server\":%" PRIu32
			  ",\"bytes_from_server\":%" PRIu64
			  ",\"datapath\":\"%s\"}",
			  rf->listed ? "," : "", fam, c, s, r->state, r->peer,
			  age, idle, r->delta, r->held_frames, r->held_bytes,
			  r->frames[CN_CLIENT], r->bytes[CN_CLIENT],
			  r->frames[CN_SERVER], r->bytes[CN_SERVER], dp);
	else
		ob_printf(o, "%s client=%s server=%s state=%s peer=%s "
			  "age_ms=%s idle_ms=%s delta=%" PRIu32
			  " held_frames=%" PRIu32 " held_bytes=%" PRIu32
			  " from_client=%" PRIu32 "/%" PRIu64
			  " from_server=%" PRIu32 "/%" PRIu64 " datapath=%s\n",
			  fam, c, s, r->state, r->peer, age, idle, r->delta,
			  r->held_frames, r->held_bytes, r->frames[CN_CLIENT],
			  r->bytes[CN_CLIENT], r->frames[CN_SERVER],
			  r->bytes[CN_SERVER], dp);
	rf->listed++;
	return true;
}

void report_flows_end(struct report_flows *rf)
{
	if (rf->json)
		ob_puts(rf->out, rf->listed ? "\n]\n" : "]\n");
	else if (rf->left_out)
		ob_printf(rf->out, "# %zu more flows not listed (at most %d "
			  "an answer): narrow with --server or --state\n",
			  rf->left_out, REPORT_FLOWS_MAX);
}

/* ---- counters ------------------------------------------------------- */

struct counters_ctx {
	struct outbuf *out;
	bool json;
	bool first;
};

static void put_counter(void *ctx, const char *name, uint64_t v)
{
	struct counters_ctx *c = ctx;

	if (c->json)
		ob_printf(c->out, "%s\"%s\":%" PRIu64, c->first ? "" : ",",
			  name, v);
	else
		ob_printf(c->out, "%s %" PRIu64 "\n", name, v);
	c->first = false;
}

void report_counters(struct outbuf *out, const struct stats_view *v,
		     bool json)
{
	struct counters_ctx c = { .out = out, .json = json, .first = true };

	if (json)
		ob_puts(out, "{");
	stats_walk(v, put_counter, &c);
	if (json)
		ob_puts(out, "}\n");
}

/* ---- Prometheus ----------------------------------------------------- */

static void family(struct outbuf *o, const char *prog, const char *name,
		   const char *type, const char *help)
{
	ob_printf(o, "# HELP %s_%s %s\n# TYPE %s_%s %s\n", prog, name, help,
		  prog, name, type);
}

static void sample(struct outbuf *o, const char *prog, const char *name,
		   const char *labels, uint64_t v)
{
	ob_printf(o, "%s_%s%s %" PRIu64 "\n", prog, name, labels, v);
}

/* A counter family of one sample. */
static void counter1(struct outbuf *o, const char *prog, const char *name,
		     const char *help, uint64_t v)
{
	char full[96];

	snprintf(full, sizeof(full), "%s_total", name);
	family(o, prog, full, "counter", help);
	sample(o, prog, full, "", v);
}

struct port_metric {
	const char *name;
	const char *help;
	size_t off;       /* into struct port_stats */
};

#define PORT_M(n, field, h) { n, h, offsetof(struct port_stats, field) }
static const struct port_metric port_metrics[] = {
	PORT_M("port_rx_frames", io.rx_frames, "frames received on the port"),
	PORT_M("port_rx_bytes", io.rx_bytes, "bytes received on the port"),
	PORT_M("port_rx_kernel_drops", io.rx_kernel_drops,
	       "frames the kernel dropped before the daemon read them"),
	PORT_M("port_rx_errors", rx_errors, "receive calls that failed"),
	PORT_M("port_tx_frames", io.tx_frames, "frames sent on the port"),
	PORT_M("port_tx_bytes", io.tx_bytes, "bytes sent on the port"),
	PORT_M("port_tx_errors", io.tx_errors,
	       "frames the kernel failed to send"),
	PORT_M("port_tx_dropped", tx_dropped,
	       "frames not sent: the transmit ring was full"),
	PORT_M("port_sock_errors", sock_errors,
	       "errors the socket reported"),
};

void report_metrics(struct outbuf *out, const struct stats_view *v,
		    const char *prog, const char *version)
{
	static const char *const sides[2] = { "client", "server" };
	const struct worker_stats *s = v->sum;
	char labels[48];

	family(out, prog, "build_info", "gauge",
	       "the running version, as a label");
	snprintf(labels, sizeof(labels), "{version=\"%s\"}", version);
	sample(out, prog, "build_info", labels, 1);
#define CN_X(field, help) counter1(out, prog, #field, help, s->c.field);
	CN_COUNTER_LIST(CN_X)
#undef CN_X
	family(out, prog, "drops_total", "counter",
	       "frames dropped, by reason (see the man page, COUNTERS)");
	for (int i = CN_DROP_NONE + 1; i < CN_DROP_MAX; i++) {
		snprintf(labels, sizeof(labels), "{reason=\"%s\"}",
			 cn_drop_name((enum cn_drop)i));
		sample(out, prog, "drops_total", labels, s->dr.by_reason[i]);
	}
	family(out, prog, "flows_active", "gauge", "flows in the table");
	sample(out, prog, "flows_active", "", s->flows_active);
	family(out, prog, "buffered_bytes", "gauge",
	       "early client data and SYNs held");
	sample(out, prog, "buffered_bytes", "", s->buffered_bytes);
	counter1(out, prog, "events", "engine events", s->events);
	counter1(out, prog, "events_dropped",
		 "event-log records dropped: stdout did not keep up",
		 v->events_dropped);
	counter1(out, prog, "ticks", "timer runs of the engine", s->ticks);
	for (size_t m = 0; m < sizeof(port_metrics) / sizeof(port_metrics[0]);
	     m++) {
		const struct port_metric *pm = &port_metrics[m];
		char full[64];

		snprintf(full, sizeof(full), "%s_total", pm->name);
		family(out, prog, full, "counter", pm->help);
		for (int i = 0; i < 2; i++) {
			uint64_t val;

			memcpy(&val, (const char *)&s->port[i] + pm->off,
			       sizeof(val));
			snprintf(labels, sizeof(labels), "{side=\"%s\"}",
				 sides[i]);
			sample(out, prog, full, labels, val);
		}
	}
	if (v->pcap) {
		counter1(out, prog, "pcap_frames", "frames in the capture",
			 v->pcap_frames);
		counter1(out, prog, "pcap_truncated",
			 "frames cut short in the capture", v->pcap_truncated);
	}
	if (v->nw > 1) {
		family(out, prog, "worker_flows_created_total", "counter",
		       "flows created, by worker");
		for (unsigned i = 0; i < v->nw; i++) {
			snprintf(labels, sizeof(labels), "{worker=\"%u\"}", i);
			sample(out, prog, "worker_flows_created_total", labels,
			       v->per[i].c.flows_created);
		}
		family(out, prog, "worker_frames_in_total", "counter",
		       "frames received, by worker");
		for (unsigned i = 0; i < v->nw; i++) {
			snprintf(labels, sizeof(labels), "{worker=\"%u\"}", i);
			sample(out, prog, "worker_frames_in_total", labels,
			       v->per[i].c.frames_in_client +
				       v->per[i].c.frames_in_server);
		}
	}
}

/* ---- the options cache ---------------------------------------------- */

void report_cache(struct outbuf *out, const struct cn_cache_record *r,
		  size_t n, unsigned w, bool json, bool *first)
{
	char ep[64], ws[8];

	for (size_t i = 0; i < n; i++) {
		const char *sack = !(r[i].known & 2) ? "unknown" :
				   r[i].sack_ok ? "yes" : "no";
		const char *ts = !(r[i].known & 4) ? "unknown" :
				 r[i].ts ? "yes" : "no";

		event_log_endpoint(ep, sizeof(ep), r[i].family, r[i].addr,
				   r[i].port);
		if (!(r[i].known & 1))
			snprintf(ws, sizeof(ws), "unknown");
		else if (r[i].wscale < 0)
			snprintf(ws, sizeof(ws), "none");
		else
			snprintf(ws, sizeof(ws), "%d", r[i].wscale);
		if (json) {
			ob_printf(out, "%s\n{\"family\":\"ipv%u\",\"server\":\"%s\","
				  "\"mss\":%u,\"wscale\":\"%s\",\"sack\":\"%s\","
				  "\"timestamps\":\"%s\",\"worker\":%u}",
				  *first ? "" : ",", r[i].family, ep, r[i].mss,
				  ws, sack, ts, w);
			*first = false;
		} else {
			ob_printf(out, "ipv%u server=%s mss=%u wscale=%s sack=%s "
				  "timestamps=%s worker=%u\n", r[i].family, ep,
				  r[i].mss, ws, sack, ts, w);
		}
	}
}
