// SPDX-License-Identifier: MIT
#include "ctl_server.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define NS_PER_MS 1000000ull

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int ctl_init(struct ctl_server *s, enum ctl_proto proto, int listen_fd,
	     ctl_answer_fn answer, void *ctx)
{
	*s = (struct ctl_server){
		.proto = proto,
		.listen_fd = listen_fd,
		.epfd = -1,
		.answer = answer,
		.ctx = ctx,
	};
	for (int i = 0; i < CTL_CLIENTS; i++) {
		s->c[i].fd = -1;
		ob_init(&s->c[i].out, CTL_ANSWER_MAX);
	}
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	return s->timer_fd < 0 ? -errno : 0;
}

static int ep(struct ctl_server *s, int op, int fd, uint32_t events,
	      uint32_t tag)
{
	struct epoll_event ev = { .events = events, .data.u32 = s->tag_base + tag };

	return epoll_ctl(s->epfd, op, fd, &ev) < 0 ? -errno : 0;
}

int ctl_attach(struct ctl_server *s, int epfd, uint32_t tag_base)
{
	int ret;

	s->epfd = epfd;
	s->tag_base = tag_base;
	ret = ep(s, EPOLL_CTL_ADD, s->listen_fd, EPOLLIN, CTL_TAG_LISTEN);
	if (!ret)
		ret = ep(s, EPOLL_CTL_ADD, s->timer_fd, EPOLLIN, CTL_TAG_TIMER);
	return ret;
}

static void client_close(struct ctl_client *c)
{
	if (c->fd < 0)
		return;
	/* Closing the fd takes it off the epoll. */
	close(c->fd);
	c->fd = -1;
	ob_free(&c->out);
}

/* The timer at the earliest client deadline, or disarmed. */
static void arm(struct ctl_server *s)
{
	struct itimerspec its = { 0 };
	uint64_t dl = 0;

	for (int i = 0; i < CTL_CLIENTS; i++)
		if (s->c[i].fd >= 0 && (!dl || s->c[i].deadline < dl))
			dl = s->c[i].deadline;
	if (dl == s->armed)
		return;
	its.it_value.tv_sec = (time_t)(dl / 1000000000ull);
	its.it_value.tv_nsec = (long)(dl % 1000000000ull);
	if (timerfd_settime(s->timer_fd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		s->armed = dl;
}

/* Write what the client takes now; closes it once all is out or it is
 * gone. */
static void client_write(struct ctl_client *c)
{
	while (c->sent < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + c->sent, c->out.len - c->sent,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			/* 2 s more for each part taken, but never past the
			 * lifetime: a reader taking a byte at a time cannot
			 * hold a slot for long. */
			c->deadline = mono_ns() + CTL_TIMEOUT_MS * NS_PER_MS;
			if (c->deadline > c->end)
				c->deadline = c->end;
			return;
		}
		if (n <= 0)
			break;
		c->sent += (size_t)n;
	}
	client_close(c);
}

static void start_answer(struct ctl_server *s, struct ctl_client *c)
{
	c->answering = true;
	c->sent = 0;
	c->deadline = mono_ns() + CTL_TIMEOUT_MS * NS_PER_MS;
	if (c->deadline > c->end)
		c->deadline = c->end;
	if (ep(s, EPOLL_CTL_MOD, c->fd, EPOLLOUT, CTL_TAG_CLIENT0 +
	       (uint32_t)(c - s->c)) < 0) {
		client_close(c);
		return;
	}
	client_write(c);
}

static void http_reply(struct ctl_client *c, const char *status,
		       const struct outbuf *body)
{
	ob_printf(&c->out, "HTTP/1.0 %s\r\nContent-Type: text/plain; "
		  "version=0.0.4; charset=utf-8\r\nContent-Length: %zu\r\n"
		  "Connection: close\r\n\r\n", status, body->len);
	if (body->len)
		ob_put(&c->out, body->p, body->len);
}

static void http_answer(struct ctl_server *s, struct ctl_client *c)
{
	char method[8], path[64];
	struct outbuf body;

	ob_init(&body, CTL_ANSWER_MAX - 512);
	if (sscanf(c->in, "%7s %63s", method, path) != 2) {
		ob_puts(&body, "a bad request: GET /metrics\n");
		http_reply(c, "400 Bad Request", &body);
	} else if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		ob_puts(&body, "only GET /metrics is served\n");
		http_reply(c, "405 Method Not Allowed", &body);
	} else if (strcmp(path, "/metrics")) {
		ob_puts(&body, "nothing here: GET /metrics\n");
		http_reply(c, "404 Not Found", &body);
	} else {
		s->answer(s->ctx, "metrics", &body);
		http_reply(c, "200 OK", &body);
		if (!strcmp(method, "HEAD"))
			c->out.len -= body.len;
	}
	ob_free(&body);
}

/* Is the request whole? A line ends at its newline (or where the client
 * shut its side); HTTP headers at an empty line. */
static bool request_done(const struct ctl_server *s, struct ctl_client *c,
			 bool eof)
{
	char *end;

	if (s->proto == CTL_PROTO_LINE) {
		end = memchr(c->in, '\n', c->in_len);
		if (end)
			*end = '\0';
		else if (!eof)
			return false;
		end = c->in + strlen(c->in);
		while (end > c->in && (end[-1] == '\r' || end[-1] == ' '))
			*--end = '\0';
		return true;
	}
	return strstr(c->in, "\r\n\r\n") || strstr(c->in, "\n\n") ||
	       (eof && c->in_len);
}

static void client_read(struct ctl_server *s, struct ctl_client *c)
{
	size_t max = s->proto == CTL_PROTO_LINE ? CTL_LINE_MAX : CTL_HTTP_MAX;
	ssize_t n;

	n = recv(c->fd, c->in + c->in_len, max - c->in_len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0 || (n == 0 && !c->in_len)) {
		client_close(c);
		return;
	}
	c->in_len += (size_t)n;
	c->in[c->in_len] = '\0';
	if (request_done(s, c, n == 0)) {
		if (s->proto == CTL_PROTO_HTTP)
			http_answer(s, c);
		else
			s->answer(s->ctx, c->in, &c->out);
	} else if (c->in_len >= max) {
		if (s->proto == CTL_PROTO_HTTP) {
			struct outbuf none;

			ob_init(&none, 0);
			http_reply(c, "431 Request Header Fields Too Large", &none);
		} else {
			ob_printf(&c->out, "error: a request is one line of at "
				  "most %d bytes\n", CTL_LINE_MAX);
		}
	} else {
		return;
	}
	start_answer(s, c);
}

static void on_listen(struct ctl_server *s)
{
	/* Bounded: as many as there are slots, and one more to refuse. */
	for (int k = 0; k <= CTL_CLIENTS; k++) {
		int fd = accept4(s->listen_fd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ctl_client *c = NULL;
		uint64_t now;

		if (fd < 0)
			return;
		for (int i = 0; i < CTL_CLIENTS && !c; i++)
			if (s->c[i].fd < 0)
				c = &s->c[i];
		if (!c) {
			static const char busy_line[] =
				"error: too many control clients at once (8): "
				"try again\n";
			static const char busy_http[] =
				"HTTP/1.0 503 Service Unavailable\r\n"
				"Content-Length: 0\r\nConnection: close\r\n\r\n";
			const char *msg = s->proto == CTL_PROTO_LINE ?
						  busy_line : busy_http;

			s->refused++;
			if (send(fd, msg, strlen(msg),
				 MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
				cn_debug("refusing a control client: %s",
					 strerror(errno));
			close(fd);
			continue;
		}
		c->fd = fd;
		c->in_len = 0;
		c->answering = false;
		now = mono_ns();
		c->deadline = now + CTL_TIMEOUT_MS * NS_PER_MS;
		c->end = now + CTL_LIFETIME_MS * NS_PER_MS;
		ob_init(&c->out, CTL_ANSWER_MAX);
		if (ep(s, EPOLL_CTL_ADD, fd, EPOLLIN,
		       CTL_TAG_CLIENT0 + (uint32_t)(c - s->c)) < 0)
			client_close(c);
	}
}

static void on_timer(struct ctl_server *s)
{
	uint64_t exp, now = mono_ns();

	if (read(s->timer_fd, &exp, sizeof(exp)) < 0 && errno != EAGAIN)
		cn_debug("control timer: %s", strerror(errno));
	s->armed = 0;
	for (int i = 0; i < CTL_CLIENTS; i++) {
		struct ctl_client *c = &s->c[i];

		if (c->fd >= 0 && c->deadline <= now) {
			s->timed_out++;
			client_close(c);
		}
	}
}

void ctl_event(struct ctl_server *s, uint32_t tag)
{
	uint32_t t = tag - s->tag_base;

	if (t == CTL_TAG_LISTEN) {
		on_listen(s);
	} else if (t == CTL_TAG_TIMER) {
		on_timer(s);
	} else if (t >= CTL_TAG_CLIENT0 && t < CTL_TAGS) {
		struct ctl_client *c = &s->c[t - CTL_TAG_CLIENT0];

		if (c->fd >= 0 && c->answering)
			client_write(c);
		else if (c->fd >= 0)
			client_read(s, c);
	}
	arm(s);
}

void ctl_close(struct ctl_server *s)
{
	for (int i = 0; i < CTL_CLIENTS; i++)
		client_close(&s->c[i]);
	if (s->listen_fd >= 0)
		close(s->listen_fd);
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	s->listen_fd = s->timer_fd = -1;
}
