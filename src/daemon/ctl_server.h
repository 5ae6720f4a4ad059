/* SPDX-License-Identifier: MIT */
/*
 * A small non-blocking request server on the daemon's main event loop:
 * one listening socket (a Unix stream socket for the control requests, or
 * TCP for HTTP/1.0 GET /metrics), at most CTL_CLIENTS clients at once,
 * one request each, of bounded size, that must arrive within
 * CTL_TIMEOUT_MS; the answer is built whole into a bounded buffer and
 * written as the client takes it, then the connection is closed. Nothing
 * here blocks: with one worker this loop is also the one that forwards.
 */
#ifndef CN_CTL_SERVER_H
#define CN_CTL_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "outbuf.h"

#define CTL_CLIENTS 8
/* A client must send its request, and then take each part of the answer,
 * within this long of the last progress, or it is closed. */
#define CTL_TIMEOUT_MS 2000
/* And a client is closed this long after it came, however it behaves. */
#define CTL_LIFETIME_MS 30000
#define CTL_LINE_MAX 256      /* a control request: one line */
#define CTL_HTTP_MAX 2048     /* an HTTP request, headers and all */
#define CTL_ANSWER_MAX (4u << 20)

/* epoll tags of one server: tag_base + CTL_TAG_*. */
enum {
	CTL_TAG_LISTEN,
	CTL_TAG_TIMER,
	CTL_TAG_CLIENT0,
	CTL_TAGS = CTL_TAG_CLIENT0 + CTL_CLIENTS,
};

enum ctl_proto {
	CTL_PROTO_LINE,  /* a text line in, text out */
	CTL_PROTO_HTTP,  /* GET /metrics in, an HTTP/1.0 answer out */
};

/* Write the answer to one request into out (bounded); the request is the
 * line without its end, or "metrics" for an HTTP GET /metrics. */
typedef void (*ctl_answer_fn)(void *ctx, const char *request,
			      struct outbuf *out);

struct ctl_client {
	int fd;              /* -1: a free slot */
	uint64_t deadline;   /* CLOCK_MONOTONIC ns */
	uint64_t end;        /* the deadline's bound: CTL_LIFETIME_MS after accept */
	bool answering;      /* the request is in; writing the answer */
	size_t in_len;
	char in[CTL_HTTP_MAX + 1];
	struct outbuf out;
	size_t sent;
};

struct ctl_server {
	enum ctl_proto proto;
	int listen_fd;
	int timer_fd;
	int epfd;            /* the loop it is on; -1 before ctl_attach */
	uint32_t tag_base;
	uint64_t armed;      /* the timer's deadline; 0: disarmed */
	ctl_answer_fn answer;
	void *ctx;
	struct ctl_client c[CTL_CLIENTS];
	uint64_t refused;    /* clients over CTL_CLIENTS */
	uint64_t timed_out;
};

/* A server around an open, listening socket (non-blocking, close-on-exec;
 * taken over by the server): 0 or -errno. */
int ctl_init(struct ctl_server *s, enum ctl_proto proto, int listen_fd,
	     ctl_answer_fn answer, void *ctx);
/* Put its fds on the epoll epfd under tags tag_base + CTL_TAG_*. */
int ctl_attach(struct ctl_server *s, int epfd, uint32_t tag_base);
/* An event for tag (tag_base <= tag < tag_base + CTL_TAGS). */
void ctl_event(struct ctl_server *s, uint32_t tag);
/* Close every fd; the listening socket too. */
void ctl_close(struct ctl_server *s);

#endif
