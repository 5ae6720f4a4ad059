// SPDX-License-Identifier: MIT
/*
 * Command line of both daemons, clientnic and servernic: one table names
 * every option, the roles it is for, its argument, how it is parsed and
 * checked, and its help; the defaults live in one struct
 * (cn_daemon_config_defaults() and cn_config_defaults()), and --help
 * prints them from there. An option of the other role is refused by name
 * rather than taken for an unknown one, so the operator learns why.
 */
#include "main.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <net/if.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_file.h"
#include "control.h"
#include "control_proto.h"
#include "daemon.h"
#include "log.h"
#include "peer_key.h"

#define NS_PER_SEC 1e9
#define NS_PER_MS 1e6
/* IPv6 headers are 20 bytes longer than IPv4's: the IPv6 MSS default
 * follows the IPv4 one given on the command line. */
#define MSS6_LESS 20

struct opts {
	struct cn_daemon_config d;
	enum cn_log_level level;
	enum cn_log_format format;
	const char *peer_key_path;  /* NULL: the peer option is not tagged */
	const char *config_path;    /* NULL: no configuration file */
};

/* What each role is called: its program (log prefix, thread names,
 * --version) and, in messages, the box. */
static const struct {
	const char *prog;
	const char *box;
} role_names[] = {
	[CN_ROLE_CLIENTNIC] = { "clientnic", "ClientNIC" },
	[CN_ROLE_SERVERNIC] = { "servernic", "ServerNIC" },
};

/* The roles an option is for, as a mask of 1 << enum cn_role. */
#define R_CNIC (1u << CN_ROLE_CLIENTNIC)
#define R_SNIC (1u << CN_ROLE_SERVERNIC)
#define R_BOTH (R_CNIC | R_SNIC)

static const char *const datapath_names[] = {
	[CN_DATAPATH_AUTO] = "auto",
	[CN_DATAPATH_BPF] = "bpf",
	[CN_DATAPATH_AFPACKET] = "afpacket",
};

static const char *const peer_mode_names[] = {
	[CN_PEER_OFF] = "off",
	[CN_PEER_AUTO] = "auto",
	[CN_PEER_ALWAYS] = "always",
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
	OPT_PEER,    /* uint8_t enum cn_peer_mode */
	OPT_DATAPATH, /* uint8_t enum cn_datapath */
	OPT_KEYFILE, /* const char *; read after the command line */
	OPT_NAME,    /* const char *: CN_NAME_CHARS; NULL: the program's */
	OPT_CONTROL, /* const char *; NULL: the default path for the name */
	OPT_CONFIG,  /* const char *: the configuration file */
	OPT_HELP,
	OPT_VERSION,
};

struct opt_def {
	const char *name;
	const char *arg;    /* NULL: a flag */
	enum opt_kind kind;
	size_t off;         /* into struct opts */
	uint64_t min, max;  /* numbers; in ns for OPT_SECONDS and OPT_MS */
	unsigned roles;     /* R_CNIC, R_SNIC or R_BOTH */
	const char *help;
	const char *help_snic; /* the ServerNIC's wording; NULL: help */
	const char *what;   /* flags: the setting when the bool is true */
	const char *what_off; /* and when it is false */
};

#define D(field) offsetof(struct opts, d.field)
#define E(field) offsetof(struct opts, d.engine.field)
#define SEC(x) ((uint64_t)((x) * 1000000000ull))
#define MSEC(x) ((uint64_t)((x) * 1000000ull))

/* A value option, one worded for each role, and a flag with the words
 * for its setting on and off. */
#define OPTV(n_, a_, k_, o_, lo_, hi_, r_, h_)                             \
	{ .name = n_, .arg = a_, .kind = k_, .off = o_, .min = lo_,         \
	  .max = hi_, .roles = r_, .help = h_ }
#define OPTV2(n_, a_, k_, o_, lo_, hi_, hc_, hs_)                          \
	{ .name = n_, .arg = a_, .kind = k_, .off = o_, .min = lo_,         \
	  .max = hi_, .roles = R_BOTH, .help = hc_, .help_snic = hs_ }
#define OPTF(n_, k_, o_, r_, h_, on_, off_)                                 \
	{ .name = n_, .kind = k_, .off = o_, .roles = r_, .help = h_,       \
	  .what = on_, .what_off = off_ }

/*
 * The ServerNIC announces nothing to clients of its own (the ClientNIC's
 * spoofed SYN-ACK did, and the peer option says what), never retransmits
 * a SYN (the ClientNIC does) and remembers no servers: the options for
 * those are the ClientNIC's alone.
 */
static const struct opt_def opt_table[] = {
	OPTV2("client-if", "IF", OPT_IFNAME, D(client_if), 0, 0,
	      "interface toward the client",
	      "interface toward the clients (the WAN side)"),
	OPTV("server-if", "IF", OPT_IFNAME, D(server_if), 0, 0, R_BOTH,
	     "interface toward the server"),
	OPTV("pcap", "FILE", OPT_PATH, D(pcap_path), 0, 0, R_BOTH,
	     "write every frame in and out to FILE (pcap, Linux cooked v2)"),
	OPTV("cache-file", "FILE", OPT_PATH, D(cache_path), 0, 0, R_CNIC,
	     "keep the learned server options in FILE across restarts "
	     "(loaded at start, written on a clean stop)"),
	OPTV("user", "NAME", OPT_PATH, D(user), 0, 0, R_BOTH,
	     "once the ports are open, run as user NAME with no capabilities"),
	OPTV("log-level", "LEVEL", OPT_LEVEL, offsetof(struct opts, level),
	     0, 0, R_BOTH,
	     "error|warn|info|debug (debug adds held frames and drops)"),
	OPTV("log-format", "FORMAT", OPT_FORMAT,
	     offsetof(struct opts, format), 0, 0, R_BOTH,
	     "event log on stdout as text (key=value) or json lines"),
	OPTV("peer", "MODE", OPT_PEER, E(peer_mode), 0, 0, R_CNIC,
	     "count on a ServerNIC next to the server? auto: ask in every "
	     "SYN, send early data at once where one answered before; "
	     "always: at once to every server; off: never ask"),
	OPTV("peer-ttl", "SECONDS", OPT_SECONDS, E(peer_ttl_ns), SEC(1),
	     SEC(86400), R_CNIC,
	     "trust a ServerNIC that answered for a server this long"),
	OPTV2("peer-key", "FILE", OPT_KEYFILE,
	      offsetof(struct opts, peer_key_path), 0, 0,
	      "tag the peer option with the secret shared with the "
	      "ServerNICs: 32 or more hex digits in FILE",
	      "take over only flows whose peer option carries a tag under "
	      "the secret shared with the ClientNICs: 32 or more hex digits "
	      "in FILE"),
	OPTV2("syn-timeout", "SECONDS", OPT_SECONDS, E(syn_timeout_ns),
	      MSEC(10), SEC(3600),
	      "reset the client when the server has not answered the SYN",
	      "forget a flow whose server has not answered the SYN"),
	OPTV("syn-rto", "MS", OPT_MS, E(syn_rto_ns), MSEC(1), SEC(60), R_CNIC,
	     "first SYN retransmission to a silent server, then doubled"),
	OPTV("max-flows", "N", OPT_U32, E(max_flows), 1, 1u << 24, R_BOTH,
	     "flow table capacity"),
	OPTV("buf-flow-bytes", "N", OPT_U32, E(buf_flow_bytes), 0, 1u << 30,
	     R_BOTH, "early client data held per flow until the real SYN-ACK"),
	OPTV("buf-flow-frames", "N", OPT_U32, E(buf_flow_frames), 1, 65535,
	     R_BOTH, "early client frames held per flow"),
	OPTV("buf-total-bytes", "N", OPT_U64, E(buf_total_bytes), 0,
	     1ull << 36, R_BOTH, "early client data held over all flows"),
	OPTV("idle-timeout", "SECONDS", OPT_SECONDS, E(idle_timeout_ns),
	     SEC(1), SEC(7 * 86400), R_BOTH,
	     "forget an established flow idle this long"),
	OPTV("close-grace", "SECONDS", OPT_SECONDS, E(close_grace_ns), 0,
	     SEC(3600), R_BOTH,
	     "keep a flow this long after FIN/RST for stragglers"),
	OPTV("default-mss", "N", OPT_MSS, E(default_mss4), 536, 65495, R_CNIC,
	     "MSS announced to IPv4 clients while the server's is unknown "
	     "(IPv6: N-20)"),
	OPTV("max-mss", "N", OPT_U16, E(max_mss), 536, 65495, R_CNIC,
	     "never announce a larger MSS to a client"),
	OPTV("default-wscale", "N", OPT_U8, E(default_wscale), 0, 14, R_CNIC,
	     "window scale announced while the server's is unknown"),
	OPTV("cache-entries", "N", OPT_U32, E(cache_entries), 4, 1u << 20,
	     R_CNIC, "servers whose SYN-ACK options (and peers) are "
	     "remembered"),
	OPTF("no-sack", OPT_CLEAR, E(default_sack), R_CNIC,
	     "do not offer SACK while the server's options are unknown",
	     "SACK offered", "SACK not offered"),
	OPTF("no-timestamps", OPT_CLEAR, E(default_ts), R_CNIC,
	     "do not offer timestamps while the server's options are unknown",
	     "timestamps offered", "timestamps not offered"),
	OPTF("no-promisc", OPT_CLEAR, D(promisc), R_BOTH,
	     "leave the interfaces out of promiscuous mode", "promiscuous",
	     "not promiscuous"),
	OPTF("qdisc-bypass", OPT_SET, D(qdisc_bypass), R_BOTH,
	     "send past the interfaces' qdiscs (PACKET_QDISC_BYPASS)",
	     "bypass", "through the qdisc"),
	OPTV("rx-ring-bytes", "N", OPT_U32, D(rx_ring_bytes), 0, 1u << 30,
	     R_BOTH, "receive ring size per interface (0: packet I/O default)"),
	OPTV("tx-ring-bytes", "N", OPT_U32, D(tx_ring_bytes), 0, 1u << 30,
	     R_BOTH, "transmit ring size per interface (0: packet I/O default)"),
	OPTV("batch", "N", OPT_U32, D(batch), 1, 1024, R_BOTH,
	     "frames received per burst before both sides are flushed"),
	OPTV("stats-interval", "SECONDS", OPT_SECS32, D(stats_interval_s), 0,
	     86400, R_BOTH,
	     "print all counters to stderr this often (0: never)"),
	OPTV("datapath", "MODE", OPT_DATAPATH, D(datapath), 0, 0, R_BOTH,
	     "bpf: established flows translated by tc programs in the "
	     "kernel, which outlive the daemon; afpacket: every frame "
	     "through the daemon; auto: bpf where the kernel and the "
	     "privileges allow it"),
	OPTV("fail-open", "MS", OPT_MS, D(fail_open_ns), MSEC(100), SEC(60),
	     R_BOTH, "kernel path: when the daemon has not been heard from "
	     "this long, pass what it would take (new connections go "
	     "through as plain TCP; established flows stay translated)"),
	OPTF("detach", OPT_SET, D(detach), R_BOTH,
	     "kernel path: take it off the ports on a clean stop (by "
	     "default it stays, and a restarted daemon takes its flows over)",
	     "taken off at stop", "left in place at stop"),
	OPTV("workers", "N", OPT_U32, D(workers), 1, 64, R_BOTH,
	     "event loops on N threads, each with its own sockets (one "
	     "PACKET_FANOUT hash group per interface) and engine; "
	     "--max-flows and --buf-total-bytes are shared out among them"),
	OPTV("config", "FILE", OPT_CONFIG, offsetof(struct opts, config_path),
	     0, 0, R_BOTH,
	     "read options from FILE first: 'key = value' lines, the keys "
	     "these options' long names; the command line wins; SIGHUP reads "
	     "it again"),
	OPTV("name", "NAME", OPT_NAME, D(name), 0, 0, R_BOTH,
	     "what this daemon is called: it names the control socket "
	     "(" CN_CONTROL_DIR "/NAME" CN_CONTROL_SUFFIX ")"),
	OPTV("control", "PATH", OPT_CONTROL, D(control_path), 0, 0, R_BOTH,
	     "the control socket clientnicctl reads flows and counters from "
	     "(none: no socket)"),
	OPTV("control-group", "GROUP", OPT_PATH, D(control_group), 0, 0,
	     R_BOTH, "let GROUP use the control socket too (mode 0660; "
	     "else root only, 0600)"),
	OPTV("metrics-listen", "ADDR:PORT", OPT_PATH, D(metrics_listen), 0, 0,
	     R_BOTH, "serve Prometheus metrics at GET /metrics over HTTP on "
	     "ADDR:PORT (a PORT alone: on 127.0.0.1)"),
	OPTF("help", OPT_HELP, 0, R_BOTH, "show this help and exit", NULL,
	     NULL),
	OPTF("version", OPT_VERSION, 0, R_BOTH, "show the version and exit",
	     NULL, NULL),
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

static void opts_defaults(struct opts *o, enum cn_role role)
{
	*o = (struct opts){
		.level = CN_LOG_INFO,
		.format = CN_LOG_TEXT,
	};
	cn_daemon_config_defaults(&o->d);
	o->d.engine.role = (uint8_t)role;
}

static bool opt_for(const struct opt_def *def, enum cn_role role)
{
	return def->roles & (1u << role);
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
	case OPT_PEER:
		snprintf(buf, len, "%s", peer_mode_names[*(const uint8_t *)p]);
		break;
	case OPT_DATAPATH:
		snprintf(buf, len, "%s", datapath_names[*(const uint8_t *)p]);
		break;
	case OPT_KEYFILE:
		snprintf(buf, len, "%s", *(const char *const *)p ?
			 *(const char *const *)p : "none, untagged");
		break;
	case OPT_CONFIG:
		snprintf(buf, len, "%s", *(const char *const *)p ?
			 *(const char *const *)p : "none");
		break;
	case OPT_NAME:
		snprintf(buf, len, "%s", *(const char *const *)p ?
			 *(const char *const *)p :
			 role_names[o->d.engine.role].prog);
		break;
	case OPT_CONTROL:
		if (*(const char *const *)p)
			snprintf(buf, len, "%s", *(const char *const *)p);
		else
			control_default_path(buf, len, o->d.name ? o->d.name :
					     role_names[o->d.engine.role].prog);
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

static const char *const usage_intro[] = {
	[CN_ROLE_CLIENTNIC] =
		"A 0-RTT TCP middlebox inline next to a client: it answers the\n"
		"client's SYN at once with its own SYN-ACK and forwards the SYN\n"
		"asking for a ServerNIC (--peer). Where one is next to the\n"
		"server, early client data goes out right behind the SYN and the\n"
		"ServerNIC translates; elsewhere early data is held until the\n"
		"server's real SYN-ACK arrives and the box translates sequence\n"
		"numbers itself. Every other frame is bridged unchanged.\n",
	[CN_ROLE_SERVERNIC] =
		"The other half of the 0-RTT TCP middlebox, inline next to a\n"
		"server. It takes over the flows whose SYN carries a ClientNIC's\n"
		"peer option: early data is held until the server's SYN-ACK,\n"
		"which goes on translated into the sequence space the client\n"
		"was promised, and the flow is translated here from then on.\n"
		"Every other frame, and every flow no ClientNIC asked for, is\n"
		"bridged unchanged.\n",
};

static void usage(FILE *f, enum cn_role role)
{
	struct opts o;
	char val[64], left[48], text[320];

	opts_defaults(&o, role);
	fprintf(f, "Usage: %s [--client-if IF] [--server-if IF] [options]\n"
		"\n%s"
		"Events go to stdout, messages and counters to stderr.\n"
		"\n"
		"Options:\n", role_names[role].prog, usage_intro[role]);
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt_def *def = &opt_table[i];
		const char *help = role == CN_ROLE_SERVERNIC && def->help_snic ?
					   def->help_snic : def->help;

		if (!opt_for(def, role))
			continue;
		snprintf(left, sizeof(left), "--%s%s%s", def->name,
			 def->arg ? " " : "", def->arg ? def->arg : "");
		format_value(val, sizeof(val), &o, def);
		snprintf(text, sizeof(text), "%s%s%s%s", help,
			 val[0] ? " [default: " : "", val, val[0] ? "]" : "");
		fprintf(f, "  %-*s ", HELP_COL - 3, left);
		print_wrapped(f, text, HELP_COL);
	}
	fprintf(f,
		"\n"
		"Needs CAP_NET_RAW (packet sockets, promiscuous mode);\n"
		"CAP_NET_ADMIN lets socket buffers grow past the sysctl limits.\n"
		"Signals: SIGINT/SIGTERM stop and print the counters; SIGUSR1\n"
		"prints the counters and flushes the capture; SIGHUP reads the\n"
		"--config file again (log, timeouts and buffer bounds change at\n"
		"once, the rest at the next start).\n"
		"clientnicctl(8) reads flows, counters, metrics and the cache from\n"
		"the control socket.\n"
		"Exit status: %d stopped by a signal, %d runtime error, %d bad\n"
		"usage, %d interface missing, %d capability missing.\n",
		CN_EXIT_OK, CN_EXIT_FAIL, CN_EXIT_USAGE, CN_EXIT_NOIF,
		CN_EXIT_NOPERM);
}

/* "FILE:LINE" while a configuration file is read; NULL: the command
 * line. Messages then name the line instead of the option. */
static const char *cfg_where;

static int bad_value(const struct opt_def *def, const char *arg,
		     const char *why)
{
	if (cfg_where)
		cn_err("%s: %s = %s: %s", cfg_where, def->name, arg, why);
	else
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
	case OPT_PEER:
		for (size_t i = 0; i < sizeof(peer_mode_names) /
					       sizeof(peer_mode_names[0]); i++) {
			if (!strcmp(arg, peer_mode_names[i])) {
				*(uint8_t *)p = (uint8_t)i;
				return 0;
			}
		}
		return bad_value(def, arg, "one of auto, off, always");
	case OPT_DATAPATH:
		for (size_t i = 0; i < sizeof(datapath_names) /
					       sizeof(datapath_names[0]); i++) {
			if (!strcmp(arg, datapath_names[i])) {
				*(uint8_t *)p = (uint8_t)i;
				return 0;
			}
		}
		return bad_value(def, arg, "one of auto, bpf, afpacket");
	case OPT_KEYFILE:
	case OPT_CONFIG:
	case OPT_CONTROL:
		if (!*arg)
			return bad_value(def, arg, "empty file name");
		*(const char **)p = arg;
		return 0;
	case OPT_NAME:
		if (!*arg || strlen(arg) > CN_NAME_MAX ||
		    arg[strspn(arg, CN_NAME_CHARS)] || arg[0] == '.')
			return bad_value(def, arg, "1 to 64 letters, digits and "
					 "@ . _ - (not starting with .)");
		*(const char **)p = arg;
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
		       "needs two interfaces (give each its own)", o->d.client_if);
		return -EINVAL;
	}
	if (e->buf_flow_bytes > e->buf_total_bytes) {
		cn_err("--buf-flow-bytes %" PRIu32 " is above "
		       "--buf-total-bytes %" PRIu64 " (lower the first or "
		       "raise the second)",
		       e->buf_flow_bytes, e->buf_total_bytes);
		return -EINVAL;
	}
	/* The rest are options only the ClientNIC takes. */
	if (e->role != CN_ROLE_CLIENTNIC)
		return 0;
	if (e->default_mss4 > e->max_mss) {
		cn_err("--default-mss %u is above --max-mss %u (lower the "
		       "first or raise the second)",
		       e->default_mss4, e->max_mss);
		return -EINVAL;
	}
	if (e->syn_rto_ns > e->syn_timeout_ns) {
		cn_err("--syn-rto %g ms is longer than --syn-timeout %g s "
		       "(shorten the first or lengthen the second)",
		       (double)e->syn_rto_ns / NS_PER_MS,
		       (double)e->syn_timeout_ns / NS_PER_SEC);
		return -EINVAL;
	}
	return 0;
}

/* A role's option is named to the other role as such: "unknown option"
 * would send the operator looking for a typo. */
static int refuse_role(const struct opts *o, const struct opt_def *def)
{
	enum cn_role role = o->d.engine.role;
	enum cn_role other = role == CN_ROLE_CLIENTNIC ? CN_ROLE_SERVERNIC :
							 CN_ROLE_CLIENTNIC;

	if (cfg_where)
		cn_err("%s: %s is a %s option: the %s has no use for it (see "
		       "--help)", cfg_where, def->name, role_names[other].prog,
		       role_names[role].box);
	else
		cn_err("--%s is a %s option: the %s has no use for it (see "
		       "--help)", def->name, role_names[other].prog,
		       role_names[role].box);
	return CN_EXIT_USAGE;
}

/* Returns -1 to go on, or the exit status. */
static int parse_args(struct opts *o, int argc, char **argv)
{
	enum cn_role role = o->d.engine.role;
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

	/* 0, not 1: getopt starts afresh, for a second pass after the
	 * configuration file. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		const struct opt_def *def;

		if (c == 'h') {
			usage(stdout, role);
			return CN_EXIT_OK;
		}
		if (c == '?' || c == ':') {
			const char *a = argv[optind - 1];

			cn_err("%s: %s (see --help)", a,
			       c == ':' ? "needs a value" : "unknown option");
			return CN_EXIT_USAGE;
		}
		def = &opt_table[c - 256];
		if (!opt_for(def, role))
			return refuse_role(o, def);
		switch (def->kind) {
		case OPT_HELP:
			usage(stdout, role);
			return CN_EXIT_OK;
		case OPT_VERSION:
			printf("%s %s\n", role_names[role].prog, CN_VERSION);
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
	return -1;
}

/* ---- the configuration file ----------------------------------------- */

static const struct opt_def *opt_named(const char *name)
{
	for (size_t i = 0; i < N_OPTS; i++)
		if (!strcmp(opt_table[i].name, name))
			return &opt_table[i];
	return NULL;
}

static int parse_flag(const struct opt_def *def, const char *v, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	bool on;

	for (size_t i = 0; i < 4; i++) {
		if (!strcmp(v, yes[i]) || !strcmp(v, no[i])) {
			on = !strcmp(v, yes[i]);
			/* no-sack = yes clears what the flag's bool holds. */
			*out = def->kind == OPT_SET ? on : !on;
			return 0;
		}
	}
	return bad_value(def, v, "one of yes, no (true, false, on, off, 1, 0)");
}

static int apply_entry(struct opts *o, const struct cfg_entry *e)
{
	const struct opt_def *def = opt_named(e->key);

	if (!def) {
		cn_err("%s: unknown key '%s' (the keys are the long options' "
		       "names: see --help)", cfg_where, e->key);
		return -EINVAL;
	}
	if (!opt_for(def, o->d.engine.role)) {
		refuse_role(o, def);
		return -EINVAL;
	}
	switch (def->kind) {
	case OPT_HELP:
	case OPT_VERSION:
	case OPT_CONFIG:
		cn_err("%s: %s: not a key of the file (a command-line option "
		       "only)", cfg_where, e->key);
		return -EINVAL;
	case OPT_CLEAR:
	case OPT_SET:
		return parse_flag(def, e->value, field(o, def));
	default:
		return parse_value(o, def, e->value);
	}
}

/* The file's options into o; cf keeps the strings o points to. Returns 0
 * or -errno, the message printed with the file and line. */
static int apply_file(struct opts *o, const char *path, struct cfg_file *cf)
{
	char where[320];
	const char *why = NULL;
	unsigned line;
	int ret;

	ret = cfg_read(cf, path, &line, &why);
	if (ret < 0) {
		if (line)
			cn_err("%s:%u: %s", path, line, why);
		else
			cn_err("--config %s: %s", path, why);
		return ret;
	}
	for (size_t i = 0; i < cf->n && !ret; i++) {
		snprintf(where, sizeof(where), "%s:%u", path, cf->e[i].line);
		cfg_where = where;
		ret = apply_entry(o, &cf->e[i]);
	}
	cfg_where = NULL;
	return ret;
}

/* Defaults, then the file, then the command line over it: the options as
 * they stand. Returns -1 to go on, or the exit status. */
static int parse_all(struct opts *o, enum cn_role role, int argc,
		     char **argv, struct cfg_file *cf)
{
	const char *path;
	int rc;

	opts_defaults(o, role);
	rc = parse_args(o, argc, argv);
	if (rc >= 0 || !o->config_path)
		return rc;
	path = o->config_path;
	opts_defaults(o, role);
	if (apply_file(o, path, cf) < 0)
		return CN_EXIT_USAGE;
	rc = parse_args(o, argc, argv);
	o->config_path = path;
	return rc;
}

/* ---- SIGHUP --------------------------------------------------------- */

/* What may change while the daemon runs; the rest waits for a restart. */
static const char *const live_opts[] = {
	"log-level", "log-format", "idle-timeout", "close-grace", "syn-rto",
	"syn-timeout", "buf-flow-bytes", "buf-flow-frames", "buf-total-bytes",
};

static bool opt_live(const struct opt_def *def)
{
	for (size_t i = 0; i < sizeof(live_opts) / sizeof(live_opts[0]); i++)
		if (!strcmp(def->name, live_opts[i]))
			return true;
	return false;
}

static size_t value_size(enum opt_kind k)
{
	switch (k) {
	case OPT_SECONDS:
	case OPT_MS:
	case OPT_U64:
		return sizeof(uint64_t);
	case OPT_U32:
		return sizeof(uint32_t);
	case OPT_LEVEL:
		return sizeof(enum cn_log_level);
	case OPT_FORMAT:
		return sizeof(enum cn_log_format);
	default:
		return 0;
	}
}

struct reloader {
	struct opts *live;
	int argc;
	char **argv;
};

static int reload(void *ctx, struct cn_config *engine)
{
	struct reloader *r = ctx;
	struct opts *live = r->live, n;
	enum cn_role role = live->d.engine.role;
	struct cfg_file cf = { 0 };
	char restart[512] = "", was[64], now[64];
	bool limits = false;
	int rc;

	rc = parse_all(&n, role, r->argc, r->argv, &cf);
	if (rc < 0 && check_opts(&n) < 0)
		rc = CN_EXIT_USAGE;
	if (rc >= 0) {
		cn_err("SIGHUP: --config %s refused: the running configuration "
		       "stays (fix the file and send SIGHUP again)",
		       live->config_path);
		cfg_free(&cf);
		return -EINVAL;
	}
	for (size_t i = 0; i < N_OPTS; i++) {
		const struct opt_def *def = &opt_table[i];

		if (!opt_for(def, role) || def->kind == OPT_HELP ||
		    def->kind == OPT_VERSION)
			continue;
		format_value(was, sizeof(was), live, def);
		format_value(now, sizeof(now), &n, def);
		if (!strcmp(was, now))
			continue;
		if (!opt_live(def) || !value_size(def->kind)) {
			size_t l = strlen(restart);

			snprintf(restart + l, sizeof(restart) - l, "%s%s",
				 l ? ", " : "", def->name);
			continue;
		}
		cn_log_status("SIGHUP: %s: %s -> %s", def->name, was, now);
		memcpy(field(live, def), cfield(&n, def), value_size(def->kind));
		limits |= def->off >= offsetof(struct opts, d.engine) &&
			  def->off < offsetof(struct opts, d.engine) +
					     sizeof(struct cn_config);
	}
	cn_log_setup(live->level, live->format);
	if (restart[0])
		cn_log_status("SIGHUP: changed, but kept until a restart: %s",
			      restart);
	cfg_free(&cf);
	*engine = live->d.engine;
	return limits ? 1 : 0;
}

/*
 * The key is read once the command line is whole and the log level set, so
 * its warnings obey --log-level wherever the option stood. Returns 0 or
 * -errno, the message printed.
 */
static int load_peer_key(struct opts *o)
{
	struct cn_config *e = &o->d.engine;
	const char *path = o->peer_key_path;
	char why[160];
	bool exposed;
	int ret;

	if (!path)
		return 0;
	ret = cn_peer_key_load(path, e->peer_key, &exposed, why, sizeof(why));
	if (ret < 0) {
		cn_err("--peer-key %s: %s (the file holds 32 or more hex "
		       "digits, the same on both boxes: openssl rand -hex 16)",
		       path, why);
		return ret;
	}
	e->peer_keyed = true;
	if (exposed)
		cn_warn("--peer-key %s: group or others may read the secret "
			"(chmod 600 %s)", path, path);
	if (e->role == CN_ROLE_CLIENTNIC && e->peer_mode == CN_PEER_OFF)
		cn_warn("--peer-key has no use with --peer off: no SYN "
			"carries the peer option");
	return 0;
}

int cn_main(int argc, char **argv, enum cn_role role)
{
	struct cfg_file cf = { 0 };
	struct opts o;
	struct reloader r = { .live = &o, .argc = argc, .argv = argv };
	int rc;

	cn_log_set_name(role_names[role].prog);
	/* The main thread runs a worker too: it goes by the program's name
	 * whatever the binary is called, like the worker threads do. */
	(void)pthread_setname_np(pthread_self(), role_names[role].prog);
	rc = parse_all(&o, role, argc, argv, &cf);
	if (rc < 0 && check_opts(&o) < 0)
		rc = CN_EXIT_USAGE;
	if (rc >= 0)
		goto out;
	cn_log_setup(o.level, o.format);
	rc = CN_EXIT_USAGE;
	if (load_peer_key(&o) < 0)
		goto out;
	if (o.config_path) {
		o.d.reload = reload;
		o.d.reload_ctx = &r;
	}
	rc = cn_daemon_run(&o.d);
	/* Each engine had a copy of its own, gone with it: this one is the
	 * last. */
	explicit_bzero(o.d.engine.peer_key, sizeof(o.d.engine.peer_key));
out:
	cfg_free(&cf);
	return rc;
}
