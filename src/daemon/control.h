/* SPDX-License-Identifier: MIT */
/*
 * The daemon's control socket (--control) and metrics server
 * (--metrics-listen): opened as root before the privilege drop, served
 * from the main thread's event loop, closed (and the socket file removed)
 * at the end. The answers come from the workers' figures: directly with
 * one worker, whose loop this is; through snapshots and worker questions
 * with several, never touching a running worker's engine.
 */
#ifndef CN_CONTROL_H
#define CN_CONTROL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ctl_server.h"
#include "daemon.h"
#include "workers.h"

struct control {
	const struct cn_daemon_config *cfg;
	struct worker_pool *pool;
	struct worker_env *env;
	const char *prog;         /* clientnic or servernic: metric names */
	char path[108];           /* the socket; "" when there is none */
	dev_t dev;                /* the file bound, to remove only ours */
	ino_t ino;
	bool have_ctl, have_http;
	struct ctl_server ctl;
	struct ctl_server http;
};

/* Both epoll tag ranges start here; control_event() takes either. */
#define CONTROL_TAGS (2 * CTL_TAGS)

/* Open what the configuration asks for; returns an enum cn_exit (the
 * message printed). */
int control_open(struct control *c, const struct cn_daemon_config *cfg,
		 struct worker_pool *pool, struct worker_env *env,
		 const char *prog);
int control_attach(struct control *c, int epfd, uint32_t tag_base);
void control_event(struct control *c, uint32_t tag);
void control_close(struct control *c);

/* The default socket of a daemon called name. */
void control_default_path(char *buf, size_t len, const char *name);

#endif
