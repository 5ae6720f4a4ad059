/* SPDX-License-Identifier: MIT */
/*
 * The answers of the control socket and the metrics server as text: the
 * flow list (one line per flow, or a JSON array), the counters (the same
 * names as the dump on stderr, or one JSON object), the Prometheus text
 * exposition of the counters, and the options cache. Pure formatting into
 * a bounded buffer; the daemon gathers the figures.
 */
#ifndef CN_REPORT_H
#define CN_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "outbuf.h"
#include "stats.h"

/* At most this many flows in one answer, over all workers. */
#define REPORT_FLOWS_MAX 4096

/* Which flows a flows request wants. */
struct flow_filter {
	bool server;        /* match the server's address */
	uint8_t family;
	uint8_t addr[16];
	uint16_t port;      /* 0: any port */
	char state[16];     /* "": any state */
};

/* A flows answer under construction, fed by cn_engine_flow_walk(). */
struct report_flows {
	struct outbuf *out;
	bool json;
	struct flow_filter filter;
	const char *datapath;  /* for records whose own is empty: "daemon" */
	size_t listed;         /* written into out */
	size_t left_out;       /* matched, but over REPORT_FLOWS_MAX */
};

/* ADDR or ADDR:PORT (IPv6: ADDR or [ADDR]:PORT) into f; 0 or -EINVAL. */
int report_parse_server(const char *s, struct flow_filter *f);
/* One of syn_sent, established, closed; 0 or -EINVAL. */
int report_parse_state(const char *s, struct flow_filter *f);

void report_flows_begin(struct report_flows *rf);
/* A cn_flow_visit: ctx is the struct report_flows. */
bool report_flow(void *ctx, const struct cn_flow_record *r);
/* Whether report_flow() would write r into the answer (its filter, the
 * answer's bounds): a caller adding to the record asks first. */
bool report_flow_listed(const struct report_flows *rf,
			const struct cn_flow_record *r);
void report_flows_end(struct report_flows *rf);

/* Every counter of v by name: "name value" lines, or one JSON object. */
void report_counters(struct outbuf *out, const struct stats_view *v,
		     bool json);

/* The Prometheus text exposition (version 0.0.4) of v; prog names the
 * metrics (clientnic_..., servernic_...). */
void report_metrics(struct outbuf *out, const struct stats_view *v,
		    const char *prog, const char *version);

/* The servers in a cache dump of worker w (lines or JSON objects; first:
 * the first object of the array). */
void report_cache(struct outbuf *out, const struct cn_cache_record *r,
		  size_t n, unsigned w, bool json, bool *first);

#endif
