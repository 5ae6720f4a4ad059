// SPDX-License-Identifier: MIT
#include "stats.h"

#include <inttypes.h>
#include <stdio.h>

#include "log.h"

static void stats_add(struct worker_stats *sum, const struct worker_stats *s)
{
#define CN_X(field, help) sum->c.field += s->c.field;
	CN_COUNTER_LIST(CN_X)
#undef CN_X
	for (int i = 0; i < CN_DROP_MAX; i++)
		sum->dr.by_reason[i] += s->dr.by_reason[i];
	sum->has_kernel |= s->has_kernel;
	for (size_t i = 0; i < sizeof(s->kernel) / sizeof(uint64_t); i++)
		((uint64_t *)&sum->kernel)[i] +=
			((const uint64_t *)&s->kernel)[i];
	sum->flows_active += s->flows_active;
	sum->buffered_bytes += s->buffered_bytes;
	sum->events += s->events;
	sum->ticks += s->ticks;
	for (int i = 0; i < 2; i++) {
		struct port_stats *a = &sum->port[i];
		const struct port_stats *b = &s->port[i];

		a->io.rx_frames += b->io.rx_frames;
		a->io.rx_bytes += b->io.rx_bytes;
		a->io.rx_kernel_drops += b->io.rx_kernel_drops;
		a->io.rx_truncated += b->io.rx_truncated;
		a->io.tx_frames += b->io.tx_frames;
		a->io.tx_bytes += b->io.tx_bytes;
		a->io.tx_errors += b->io.tx_errors;
		a->tx_dropped += b->tx_dropped;
		a->rx_errors += b->rx_errors;
		a->sock_errors += b->sock_errors;
	}
}

void stats_sum(const struct worker_stats *per, unsigned nw,
	       struct worker_stats *sum)
{
	*sum = (struct worker_stats){ 0 };
	for (unsigned i = 0; i < nw; i++)
		stats_add(sum, &per[i]);
}

struct stat_walk {
	void (*put)(void *ctx, const char *name, uint64_t value);
	void *ctx;
};

static void stat_put(struct stat_walk *s, const char *name, uint64_t v)
{
	s->put(s->ctx, name, v);
}

static void stat_port(struct stat_walk *s, const char *role,
		      const struct port_stats *p)
{
	char name[64];

#define PORT_STAT(field, value)                                             \
	do {                                                                \
		snprintf(name, sizeof(name), "%s.%s", role, field);         \
		stat_put(s, name, value);                                   \
	} while (0)
	PORT_STAT("rx_frames", p->io.rx_frames);
	PORT_STAT("rx_bytes", p->io.rx_bytes);
	PORT_STAT("rx_kernel_drops", p->io.rx_kernel_drops);
	PORT_STAT("rx_errors", p->rx_errors);
	PORT_STAT("tx_frames", p->io.tx_frames);
	PORT_STAT("tx_bytes", p->io.tx_bytes);
	PORT_STAT("tx_errors", p->io.tx_errors);
	PORT_STAT("tx_dropped", p->tx_dropped);
	PORT_STAT("sock_errors", p->sock_errors);
#undef PORT_STAT
}

static void stat_kernel(struct stat_walk *s, const char *role,
			const struct cn_fast_side_stats *k)
{
	char name[64];

#define KERNEL_STAT(field)                                                  \
	do {                                                                \
		snprintf(name, sizeof(name), "kernel.%s.%s", role, #field); \
		stat_put(s, name, k->field);                                \
	} while (0)
	KERNEL_STAT(translated);
	KERNEL_STAT(translated_bytes);
	KERNEL_STAT(passed);
	KERNEL_STAT(passed_bytes);
	KERNEL_STAT(to_daemon);
	KERNEL_STAT(failed_open);
	KERNEL_STAT(redirect_errors);
	KERNEL_STAT(dropped);
#undef KERNEL_STAT
}

/* With several workers: how the flows and frames spread over them. */
static void stat_workers(struct stat_walk *s, const struct worker_stats *per,
			 unsigned nw)
{
	char name[64];

	for (unsigned i = 0; i < nw; i++) {
		snprintf(name, sizeof(name), "worker%u.flows_created", i);
		stat_put(s, name, per[i].c.flows_created);
		snprintf(name, sizeof(name), "worker%u.frames_in", i);
		stat_put(s, name, per[i].c.frames_in_client +
					  per[i].c.frames_in_server);
	}
}

void stats_walk(const struct stats_view *v,
		void (*put)(void *ctx, const char *name, uint64_t value),
		void *ctx)
{
	struct stat_walk w = { .put = put, .ctx = ctx };
	struct stat_walk *s = &w;
	const struct worker_stats *sum = v->sum;
	char name[64];

#define CN_X(field, help) stat_put(s, #field, sum->c.field);
	CN_COUNTER_LIST(CN_X)
#undef CN_X
	for (int i = CN_DROP_NONE + 1; i < CN_DROP_MAX; i++) {
		snprintf(name, sizeof(name), "drop.%s",
			 cn_drop_name((enum cn_drop)i));
		stat_put(s, name, sum->dr.by_reason[i]);
	}
	stat_put(s, "flows_active", sum->flows_active);
	stat_put(s, "buffered_bytes", sum->buffered_bytes);
	stat_put(s, "events", sum->events);
	stat_put(s, "events_dropped", v->events_dropped);
	stat_put(s, "ticks", sum->ticks);
	stat_port(s, "client", &sum->port[CN_CLIENT]);
	stat_port(s, "server", &sum->port[CN_SERVER]);
	if (sum->has_kernel) {
		stat_kernel(s, "client", &sum->kernel.side[CN_CLIENT]);
		stat_kernel(s, "server", &sum->kernel.side[CN_SERVER]);
	}
	if (v->pcap) {
		stat_put(s, "pcap.frames", v->pcap_frames);
		stat_put(s, "pcap.truncated", v->pcap_truncated);
	}
	if (v->nw > 1)
		stat_workers(s, v->per, v->nw);
}

static void put_text(void *ctx, const char *name, uint64_t v)
{
	fprintf(ctx, "  %-28s %" PRIu64 "\n", name, v);
}

static void put_rec(void *ctx, const char *name, uint64_t v)
{
	cn_log_rec_u64(ctx, name, v);
}

/*
 * Every counter by name: the same function answers SIGUSR1, the periodic
 * --stats-interval dump and the final dump at exit; why says which. The
 * text block goes to stderr in every format, so scripts read it one way;
 * with --log-format json the event log on stdout also gets one "counters"
 * record, so a JSON reader finds everything in one stream. With several
 * workers the figures are their sums.
 */
void stats_print(const char *why, const struct worker_stats *per,
		 unsigned nw, struct pcap_out *pcap,
		 pthread_mutex_t *pcap_lock)
{
	struct worker_stats sum;
	struct stats_view v = {
		.sum = &sum,
		.per = per,
		.nw = nw,
		.pcap = pcap != NULL,
		.events_dropped = cn_log_dropped(),
	};
	struct cn_log_rec rec;
	char start[96];

	stats_sum(per, nw, &sum);
	if (pcap) {
		pthread_mutex_lock(pcap_lock);
		v.pcap_frames = pcap_out_frames(pcap);
		v.pcap_truncated = pcap_out_truncated(pcap);
		pthread_mutex_unlock(pcap_lock);
	}
	cn_log_line_start(start, sizeof(start));
	fprintf(stderr, "%scounters (%s)\n", start, why);
	stats_walk(&v, put_text, stderr);
	fflush(stderr);
	if (cn_log_format_get() == CN_LOG_JSON) {
		cn_log_rec_begin(&rec, CN_LOG_JSON, cn_log_realtime_ns(),
				 "counters");
		cn_log_rec_str(&rec, "why", why);
		stats_walk(&v, put_rec, &rec);
		cn_log_rec_write(&rec, stdout);
	}
}
