// SPDX-License-Identifier: MIT
/*
 * Command line of the clientnic daemon: one table names every option, its
 * argument, how it is parsed and checked, and its help; the defaults live
 * in one struct (cn_daemon_config_defaults() and cn_config_defaults()), and
 * --help prints them from there.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <net/if.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "log.h"

#define NS_PER_SEC 1e9
#define NS_PER_MS 1e6
/* IPv6 headers are 20 bytes longer than IPv4's: the IPv6 MSS default
 * follows the IPv4 one given on the command line. */
#define MSS6_LESS 20

struct opts {
	struct cn_daemon_config d;
	enum cn_log_level level;
	enum cn_log_format format;
};

enum opt_kind {
	OPT_IFNAME,  /* const char *, 1..IFNAMSIZ-1 bytes */
	OPT_PATH,    /* const char * */
	OPT_U32,     /* uint32_t in [min, max] */
	OPT_U64,     /* uint64_t in [min, max] */
	OPT_U16,     /* uint16_t in [min, max] */
	OPT_U8,      /* uint8_t in [min, max] */
	OPT_SECONDS, /* uint64_t ns; decimal seconds on the command line */
	OPT_SECS32,  /* uint32_t whole seconds */
	OPT_MS,      /* uint64_t ns; milliseconds on the command line */
	OPT_MSS,     /* uint16_t IPv4 MSS; sets the IPv6 default too */
	OPT_CLEAR,   /* flag: bool set to false */
	OPT_SET,     /* flag: bool set to true */
	OPT_LEVEL,
	OPT_FORMAT,
	OPT_HELP,
	OPT_VERSION,
};

struct opt_def {
	const char *name;
	const char *arg;    /* NULL: a flag */
	enum opt_kind kind;
	size_t off;         /* into struct opts */
	uint64_t min, max;  /* numbers; in ns for OPT_SECONDS and OPT_MS */
	const char *help;
	const char *what;   /* flags: the setting when the bool is true */
	const char *what_off; /* and when it is false */
};

#define D(field) offsetof(struct opts, d.field)
#define E(field) offsetof(struct opts, d.engine.field)
#define SEC(x) ((uint64_t)((x) * 1000000000ull))
#define MSEC(x) ((uint64_t)((x) * 1000000ull))

/* A value option, and a flag with the words for its setting on and off. */
#define OPTV(n_, a_, k_, o_, lo_, hi_, h_)                                 \
	{ .name = n_, .arg = a_, .kind = k_, .off = o_, .min = lo_,         \
	  .max = hi_, .help = h_ }
#define OPTF(n_, k_, o_, h_, on_, off_)                                     \
	{ .name = n_, .kind = k_, .off = o_, .help = h_, .what = on_,       \
	  .what_off = off_ }

static const struct opt_def opt_table[] = {
	OPTV("client-if", "IF", OPT_IFNAME, D(client_if), 0, 0,
	     "interface toward the client"),
	OPTV("server-if", "IF", OPT_IFNAME, D(server_if), 0, 0,
	     "interface toward the server"),
	OPTV("pcap", "FILE", OPT_PATH, D(pcap_path), 0, 0,
	     "write every frame in and out to FILE (pcap, Linux cooked v2)"),
	OPTV("log-level", "LEVEL", OPT_LEVEL, offsetof(struct opts, level),
	     0, 0, "error|warn|info|debug (debug adds held frames and drops)"),
	OPTV("log-format", "FORMAT", OPT_FORMAT,
	     offsetof(struct opts, format), 0, 0,
	     "event log on stdout as text (key=value) or json lines"),
	OPTV("syn-timeout", "SECONDS", OPT_SECONDS, E(syn_timeout_ns),
	     MSEC(10), SEC(3600),
	     "reset the client when the server has not answered the SYN"),
	OPTV("syn-rto", "MS", OPT_MS, E(syn_rto_ns), MSEC(1), SEC(60),
	     "first SYN retransmission to a silent server, then doubled"),
	OPTV("max-flows", "N", OPT_U32, E(max_flows), 1, 1u << 24,
	     "flow table capacity"),
	OPTV("buf-flow-bytes", "N", OPT_U32, E(buf_flow_bytes), 0, 1u << 30,
	     "early client data held per flow until the real SYN-ACK"),
	OPTV("buf-flow-frames", "N", OPT_U32, E(buf_flow_frames), 1, 65535,
	     "early client frames held per flow"),
	OPTV("buf-total-bytes", "N", OPT_U64, E(buf_total_bytes), 0,
	     1ull << 36, "early client data held over all flows"),
	OPTV("idle-timeout", "SECONDS", OPT_SECONDS, E(idle_timeout_ns),
	     SEC(1), SEC(7 * 86400),
	     "forget an established flow idle this long"),
	OPTV("close-grace", "SECONDS", OPT_SECONDS, E(close_grace_ns), 0,
	     SEC(3600), "keep a flow this long after FIN/RST for stragglers"),
	OPTV("default-mss", "N", OPT_MSS, E(default_mss4), 536, 65495,
	     "MSS announced to IPv4 clients while the server's is unknown "
	     "(IPv6: N-20)"),
	OPTV("max-mss", "N", OPT_U16, E(max_mss), 536, 65495,
	     "never announce a larger MSS to a client"),
	OPTV("default-wscale", "N", OPT_U8, E(default_wscale), 0, 14,
	     "window scale announced while the server's is unknown"),
	OPTV("cache-entries", "N", OPT_U32, E(cache_entries), 4, 1u << 20,
	     "servers whose SYN-ACK options are remembered"),
	OPTF("no-sack", OPT_CLEAR, E(default_sack),
	     "do not offer SACK while the server's options are unknown",
	     "SACK offered", "SACK not offered"),
	OPTF("no-timestamps", OPT_CLEAR, E(default_ts),
	     "do not offer timestamps while the server's options are unknown",
	     "timestamps offered", "timestamps not offered"),
	OPTF("no-promisc", OPT_CLEAR, D(promisc),
	     "leave the interfaces out of promiscuous mode", "promiscuous",
	     "not promiscuous"),
	OPTF("qdisc-bypass", OPT_SET, D(qdisc_bypass),
	     "send past the interfaces' qdiscs (PACKET_QDISC_BYPASS)",
	     "bypass", "through the qdisc"),
	OPTV("rx-ring-bytes", "N", OPT_U32, D(rx_ring_bytes), 0, 1u << 30,
	     "receive ring size per interface (0: packet I/O default)"),
	OPTV("tx-ring-bytes", "N", OPT_U32, D(tx_ring_bytes), 0, 1u << 30,
	     "transmit ring size per interface (0: packet I/O default)"),
	OPTV("batch", "N", OPT_U32, D(batch), 1, 1024,
	     "frames received per burst before both sides are flushed"),
	OPTV("stats-interval", "SECONDS", OPT_SECS32, D(stats_interval_s), 0,
	     86400, "print all counters to stderr this often (0: never)"),
	OPTV("workers", "N", OPT_U32, D(workers), 1, 64,
	     "event loops on N threads, each with its own sockets (one "
	     "PACKET_FANOUT hash group per interface) and engine; "
	     "--max-flows and --buf-total-bytes are shared out among them"),
	OPTF("help", OPT_HELP, 0, "show this help and exit", NULL, NULL),
	OPTF("version", OPT_VERSION, 0, "show the version and exit", NULL,
	     NULL),
};

#define N_OPTS (sizeof(opt_table) / sizeof(opt_table[0]))

static void *field(struct opts *o, const struct opt_def *def)
{
	return (char *)o + def->off;
}

static const void *cfield(const struct opts *o, const struct opt_def *def)
{
	return (const char *)o + def->off;
}

static void opts_defaults(struct opts *o)
{
	cn_daemon_config_defaults(&o->d);
	o->level = CN_LOG_INFO;
	o->format = CN_LOG_TEXT;
}

/* The current value of an option, as --help shows it. */
static void format_value(char *buf, size_t len, const struct opts *o,
			 const struct opt_def *def)
{
	const void *p = cfield(o, def);

	switch (def->kind) {
	case OPT_IFNAME:
	case OPT_PATH:
		snprintf(buf, len, "%s",
			 *(const char *const *)p ? *(const char *const *)p :
						   "none");
		break;
	case OPT_U32:
	case OPT_SECS32:
		snprintf(buf, len, "%" PRIu32, *(const uint32_t *)p);
		break;
	case OPT_U64:
		snprintf(buf, len, "%" PRIu64, *(const uint64_t *)p);
		break;
	case OPT_U16:
	case OPT_MSS:
		snprintf(buf, len, "%u", *(const uint16_t *)p);
		break;
	case OPT_U8:
		snprintf(buf, len, "%u", *(const uint8_t *)p);
		break;
	case OPT_SECONDS:
		snprintf(buf, len, "%g", (double)*(const uint64_t *)p / NS_PER_SEC);
		break;
	case OPT_MS:
		snprintf(buf, len, "%g", (double)*(const uint64_t *)p / NS_PER_MS);
		break;
	case OPT_CLEAR:
	case OPT_SET:
		snprintf(buf, len, "%s",
			 *(const bool *)p ? def->what : def->what_off);
		break;
	case OPT_LEVEL:
		snprintf(buf, len, "%s",
			 cn_log_level_name(*(const enum cn_log_level *)p));
		break;
	case OPT_FORMAT:
		snprintf(buf, len, "%s",
			 cn_log_format_name(*(const enum cn_log_format *)p));
		break;
	default:
		buf[0] = '\0';
	}
}

/* Print text from column col, wrapped before column HELP_WIDTH. */
#define HELP_COL 29
#define HELP_WIDTH 79

static void print_wrapped(FILE *f, const char *text, int col)
{
	const char *w = text;

	while (*w) {
		const char *end = strchr(w, ' ');
		int len = end ? (int)(end - w) : (int)strlen(w);

		if (col > HELP_COL && col + 1 + len > HELP_WIDTH) {
			fprintf(f, "\n%*s", HELP_COL, "");
			col = HELP_COL;
		} else if (col > HELP_COL) {
			fputc(' ', f);
			col++;
		}
		fprintf(f, "%.*s", len, w);
		col += len;
		w += len;
		while (*w == ' ')
			w++;
	}
	fputc('\n', f);
}

static void usage(FILE *f)
{
	struct opts o;
	char val[64], left[48], text[256];

	opts_defaults(&o);
	fprintf(f,
		"Usage: clientnic [--client-if IF] [--server-if IF] [options]\n"
		"\n"
		"A 0-RTT TCP middlebox inline between a client and a server:\n"
		"it answers a client's SYN at once with its own SYN-ACK, holds\n"
		"early client data until the server's real SYN-ACK arrives, then\n"
		"translates sequence numbers. Every other frame is bridged\n"
		"unchanged. Events go to stdout, messages and counters to stderr.\n"
		"\n"
		"Options:\n");
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt_def *def = &opt_table[i];

		snprintf(left, sizeof(left), "--%s%s%s", def->name,
			 def->arg ? " " : "", def->arg ? def->arg : "");
		format_value(val, sizeof(val), &o, def);
		snprintf(text, sizeof(text), "%s%s%s%s", def->help,
			 val[0] ? " [default: " : "", val, val[0] ? "]" : "");
		fprintf(f, "  %-*s ", HELP_COL - 3, left);
		print_wrapped(f, text, HELP_COL);
	}
	fprintf(f,
		"\n"
		"Needs CAP_NET_RAW (packet sockets, promiscuous mode);\n"
		"CAP_NET_ADMIN lets socket buffers grow past the sysctl limits.\n"
		"Signals: SIGINT/SIGTERM stop and print the counters; SIGUSR1\n"
		"prints the counters and flushes the capture.\n"
		"Exit status: %d stopped by a signal, %d runtime error, %d bad\n"
		"usage, %d interface missing, %d capability missing.\n",
		CN_EXIT_OK, CN_EXIT_FAIL, CN_EXIT_USAGE, CN_EXIT_NOIF,
		CN_EXIT_NOPERM);
}

static int bad_value(const struct opt_def *def, const char *arg,
		     const char *why)
{
	cn_err("--%s %s: %s", def->name, arg, why);
	return -EINVAL;
}

static int parse_u64(const struct opt_def *def, const char *arg,
		     uint64_t *out)
{
	char *end;
	unsigned long long v;

	/* strtoull accepts "-1" as a huge number: refuse signs outright. */
	if (!*arg || *arg == '-' || *arg == '+' || *arg == ' ')
		return bad_value(def, arg, "not a whole number");
	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || *end)
		return bad_value(def, arg, "not a whole number");
	if (v < def->min || v > def->max) {
		char why[96];

		snprintf(why, sizeof(why), "out of range [%" PRIu64
			 ", %" PRIu64 "]", def->min, def->max);
		return bad_value(def, arg, why);
	}
	*out = v;
	return 0;
}

/* Decimal seconds or milliseconds into ns, checked against [min, max]. */
static int parse_duration(const struct opt_def *def, const char *arg,
			  double ns_per_unit, uint64_t *out)
{
	double unit_min = (double)def->min / ns_per_unit;
	double unit_max = (double)def->max / ns_per_unit;
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (!*arg || errno || *end || !isfinite(v))
		return bad_value(def, arg, "not a number");
	if (v < unit_min || v > unit_max) {
		char why[96];

		snprintf(why, sizeof(why), "out of range [%g, %g]", unit_min,
			 unit_max);
		return bad_value(def, arg, why);
	}
	*out = (uint64_t)(v * ns_per_unit + 0.5);
	return 0;
}

static int parse_value(struct opts *o, const struct opt_def *def,
		       const char *arg)
{
	void *p = field(o, def);
	uint64_t v = 0;
	int ret = 0;

	switch (def->kind) {
	case OPT_IFNAME:
		if (!*arg || strlen(arg) >= IF_NAMESIZE || strchr(arg, '/'))
			return bad_value(def, arg, "not an interface name");
		*(const char **)p = arg;
		return 0;
	case OPT_PATH:
		if (!*arg)
			return bad_value(def, arg, "empty file name");
		*(const char **)p = arg;
		return 0;
	case OPT_LEVEL:
		if (cn_log_level_parse(arg, p) < 0)
			return bad_value(def, arg,
					 "one of error, warn, info, debug");
		return 0;
	case OPT_FORMAT:
		if (cn_log_format_parse(arg, p) < 0)
			return bad_value(def, arg, "one of text, json");
		return 0;
	case OPT_SECONDS:
		return parse_duration(def, arg, NS_PER_SEC, p);
	case OPT_MS:
		return parse_duration(def, arg, NS_PER_MS, p);
	default:
		break;
	}
	ret = parse_u64(def, arg, &v);
	if (ret < 0)
		return ret;
	switch (def->kind) {
	case OPT_U32:
	case OPT_SECS32:
		*(uint32_t *)p = (uint32_t)v;
		break;
	case OPT_U64:
		*(uint64_t *)p = v;
		break;
	case OPT_U16:
		*(uint16_t *)p = (uint16_t)v;
		break;
	case OPT_MSS:
		o->d.engine.default_mss4 = (uint16_t)v;
		o->d.engine.default_mss6 = (uint16_t)(v - MSS6_LESS);
		break;
	case OPT_U8:
		*(uint8_t *)p = (uint8_t)v;
		break;
	default:
		break;
	}
	return 0;
}

/* Checks that involve more than one option. */
static int check_opts(const struct opts *o)
{
	const struct cn_config *e = &o->d.engine;

	if (!strcmp(o->d.client_if, o->d.server_if)) {
		cn_err("--client-if and --server-if are both %s: the box "
		       "needs two interfaces", o->d.client_if);
		return -EINVAL;
	}
	if (e->default_mss4 > e->max_mss) {
		cn_err("--default-mss %u is above --max-mss %u",
		       e->default_mss4, e->max_mss);
		return -EINVAL;
	}
	if (e->syn_rto_ns > e->syn_timeout_ns) {
		cn_err("--syn-rto %g ms is longer than --syn-timeout %g s",
		       (double)e->syn_rto_ns / NS_PER_MS,
		       (double)e->syn_timeout_ns / NS_PER_SEC);
		return -EINVAL;
	}
	if (e->buf_flow_bytes > e->buf_total_bytes) {
		cn_err("--buf-flow-bytes %" PRIu32 " is above "
		       "--buf-total-bytes %" PRIu64,
		       e->buf_flow_bytes, e->buf_total_bytes);
		return -EINVAL;
	}
	return 0;
}

/* Returns -1 to go on, or the exit status. */
static int parse_args(struct opts *o, int argc, char **argv)
{
	struct option longopts[N_OPTS + 1];
	int c;

	for (size_t i = 0; i < N_OPTS; i++)
		longopts[i] = (struct option){
			.name = opt_table[i].name,
			.has_arg = opt_table[i].arg ? required_argument :
						      no_argument,
			.val = (int)(256 + i),
		};
	longopts[N_OPTS] = (struct option){ 0 };

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		const struct opt_def *def;

		if (c == 'h') {
			usage(stdout);
			return CN_EXIT_OK;
		}
		if (c == '?' || c == ':') {
			const char *a = argv[optind - 1];

			cn_err("%s: %s (see --help)", a,
			       c == ':' ? "needs a value" : "unknown option");
			return CN_EXIT_USAGE;
		}
		def = &opt_table[c - 256];
		switch (def->kind) {
		case OPT_HELP:
			usage(stdout);
			return CN_EXIT_OK;
		case OPT_VERSION:
			printf("clientnic %s\n", CN_VERSION);
			return CN_EXIT_OK;
		case OPT_CLEAR:
			*(bool *)field(o, def) = false;
			break;
		case OPT_SET:
			*(bool *)field(o, def) = true;
			break;
		default:
			if (parse_value(o, def, optarg) < 0)
				return CN_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		cn_err("unexpected argument '%s' (see --help)", argv[optind]);
		return CN_EXIT_USAGE;
	}
	return check_opts(o) < 0 ? CN_EXIT_USAGE : -1;
}

int main(int argc, char **argv)
{
	struct opts o;
	int rc;

	opts_defaults(&o);
	rc = parse_args(&o, argc, argv);
	if (rc >= 0)
		return rc;
	cn_log_setup(o.level, o.format);
	return cn_daemon_run(&o.d);
}
