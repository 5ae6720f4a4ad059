/* SPDX-License-Identifier: MIT */
/*
 * The clientnic daemon: two AF_PACKET ports, the engine between them, an
 * event loop (epoll over both ports, a timerfd at the engine's next
 * deadline, a signalfd), the event log and the capture. With --workers N
 * the loop runs N times on N threads, each with its own ports (members of
 * one PACKET_FANOUT hash group per interface) and its own engine.
 */
#ifndef CN_DAEMON_H
#define CN_DAEMON_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/engine.h"

#define CN_VERSION "0.1.0"

/* Exit status of the daemon, documented in --help and docs/daemon.md. */
enum cn_exit {
	CN_EXIT_OK = 0,      /* stopped by SIGINT/SIGTERM */
	CN_EXIT_FAIL = 1,    /* a runtime error */
	CN_EXIT_USAGE = 2,   /* bad command line or option value */
	CN_EXIT_NOIF = 3,    /* an interface does not exist */
	CN_EXIT_NOPERM = 4,  /* a capability is missing */
};

enum cn_datapath {
	CN_DATAPATH_AUTO,
	CN_DATAPATH_BPF,
	CN_DATAPATH_AFPACKET,
};

struct cn_daemon_config {
	const char *client_if;
	const char *server_if;
	const char *pcap_path;      /* NULL: no capture */
	const char *user;           /* NULL: keep the privileges */
	const char *cache_path;     /* NULL: the options cache is not kept */
	bool promisc;               /* a bridge port must see every MAC */
	bool qdisc_bypass;
	uint32_t rx_ring_bytes;     /* 0: the packet I/O default */
	uint32_t tx_ring_bytes;
	uint32_t batch;             /* frames per receive burst */
	uint32_t stats_interval_s;  /* 0: no periodic counters */
	uint32_t workers;           /* event loops on threads of their own */
	uint8_t datapath;           /* enum cn_datapath */
	bool detach;                /* remove the kernel path at a clean stop */
	uint64_t fail_open_ns;      /* kernel path: heartbeat timeout */
	const char *name;           /* of the socket; NULL: the program's */
	const char *control_path;   /* NULL: the default; "none": no socket */
	const char *control_group;  /* NULL: the socket is root's (0600) */
	const char *metrics_listen; /* NULL: no metrics server */
	struct cn_config engine;
	/*
	 * SIGHUP: read the configuration again (NULL: there is no file).
	 * Applies what may change at run time to the process (the log) and
	 * to *engine, which is this struct's engine, reports the rest;
	 * returns 1 when engine limits changed, 0 when not, -errno when the
	 * file was refused (nothing changed).
	 */
	int (*reload)(void *ctx, struct cn_config *engine);
	void *reload_ctx;
};

void cn_daemon_config_defaults(struct cn_daemon_config *cfg);

/* Run until SIGINT/SIGTERM; returns an enum cn_exit value. */
int cn_daemon_run(const struct cn_daemon_config *cfg);

#endif
