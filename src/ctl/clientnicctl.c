// SPDX-License-Identifier: MIT
/*
 * clientnicctl: asks a running clientnic or servernic over its control
 * socket for its flows, counters, Prometheus metrics or options cache and
 * prints the answer. One request line out, the answer in until the daemon
 * closes; every failure says what to do about it.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "daemon/control_proto.h"

#define CTL_VERSION "0.1.0"
#define PROG "clientnicctl"
#define ANSWER_MAX (64u << 20)
#define TIMEOUT_MS 5000

enum ctl_exit {
	EXIT_OK = 0,
	EXIT_FAIL = 1,    /* the daemon refused, or a bad answer */
	EXIT_USAGE = 2,
	EXIT_NODAEMON = 3,
	EXIT_NOPERM = 4,
};

struct command {
	const char *name;
	bool json;       /* takes --json */
	bool filters;    /* takes --server and --state */
	const char *help;
};

static const struct command commands[] = {
	{ "flows", true, true,
	  "the flows the daemon tracks, one a line (or a JSON array)" },
	{ "counters", true, false,
	  "every counter and drop reason by name (or one JSON object)" },
	{ "metrics", false, false,
	  "the counters in the Prometheus text format" },
	{ "cache", true, false,
	  "the servers' options a ClientNIC learned (or a JSON array)" },
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

struct args {
	const char *socket;
	const char *name;
	const struct command *cmd;
	bool json;
	const char *server;
	const char *state;
};

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: " PROG " [--name NAME | --socket PATH] COMMAND [options]\n"
		"\n"
		"Asks a running clientnic or servernic for what it knows, over\n"
		"its control socket (" CN_CONTROL_DIR "/NAME" CN_CONTROL_SUFFIX
		").\n"
		"\n"
		"Commands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(f,
		"\n"
		"Options:\n"
		"  --name NAME      the daemon's --name [default: clientnic, else\n"
		"                   servernic when only its socket exists]\n"
		"  --socket PATH    the daemon's --control socket\n"
		"  --json           flows, counters, cache: JSON instead of text\n"
		"  --server ADDR[:PORT]  flows: only those to this server\n"
		"  --state STATE    flows: only syn_sent, established or closed ones\n"
		"  --help           show this help and exit\n"
		"  --version        show the version and exit\n"
		"\n"
		"Exit status: %d done, %d the daemon refused or answered badly,\n"
		"%d bad usage, %d no daemon at the socket, %d permission denied.\n",
		EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_NODAEMON, EXIT_NOPERM);
}

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int bad_usage(const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, PROG ": %s (see --help)\n", msg);
	return EXIT_USAGE;
}

static bool name_ok(const char *s)
{
	return *s && *s != '.' && strlen(s) <= CN_NAME_MAX &&
	       !s[strspn(s, CN_NAME_CHARS)];
}

/* Returns -1 to go on, or the exit status. */
static int parse(struct args *a, int argc, char **argv)
{
	enum { O_SOCKET = 256, O_NAME, O_JSON, O_SERVER, O_STATE, O_HELP,
	       O_VERSION };
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, O_SOCKET },
		{ "name", required_argument, NULL, O_NAME },
		{ "json", no_argument, NULL, O_JSON },
		{ "server", required_argument, NULL, O_SERVER },
		{ "state", required_argument, NULL, O_STATE },
		{ "help", no_argument, NULL, O_HELP },
		{ "version", no_argument, NULL, O_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
		switch (c) {
		case O_SOCKET:
			a->socket = optarg;
			break;
		case O_NAME:
			if (!name_ok(optarg))
				return bad_usage("--name %s: 1 to 64 letters, "
						 "digits and @ . _ -", optarg);
			a->name = optarg;
			break;
		case O_JSON:
			a->json = true;
			break;
		case O_SERVER:
			a->server = optarg;
			break;
		case O_STATE:
			if (strcmp(optarg, "syn_sent") &&
			    strcmp(optarg, "established") &&
			    strcmp(optarg, "closed"))
				return bad_usage("--state %s: one of syn_sent, "
						 "established, closed", optarg);
			a->state = optarg;
			break;
		case 'h':
		case O_HELP:
			usage(stdout);
			return EXIT_OK;
		case O_VERSION:
			printf(PROG " " CTL_VERSION "\n");
			return EXIT_OK;
		case ':':
			return bad_usage("%s: needs a value", argv[optind - 1]);
		default:
			return bad_usage("%s: unknown option", argv[optind - 1]);
		}
	}
	if (a->socket && a->name)
		return bad_usage("give --name or --socket, not both");
	if (optind >= argc)
		return bad_usage("no command: flows, counters, metrics or "
				 "cache");
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (!strcmp(argv[optind], commands[i].name))
			a->cmd = &commands[i];
	if (!a->cmd)
		return bad_usage("unknown command '%s': flows, counters, "
				 "metrics or cache", argv[optind]);
	if (optind + 1 < argc)
		return bad_usage("unexpected argument '%s'", argv[optind + 1]);
	if (a->json && !a->cmd->json)
		return bad_usage("--json: %s has no JSON form", a->cmd->name);
	if ((a->server || a->state) && !a->cmd->filters)
		return bad_usage("--server and --state are for flows, not %s",
				 a->cmd->name);
	if (a->server && (strlen(a->server) > 64 ||
			  strpbrk(a->server, " \t\n")))
		return bad_usage("--server %s: an address, with a port if "
				 "you like (192.0.2.1:80, [2001:db8::1]:443)",
				 a->server);
	return -1;
}

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

static void socket_path(const struct args *a, char *buf, size_t len)
{
	if (a->socket) {
		snprintf(buf, len, "%s", a->socket);
		return;
	}
	snprintf(buf, len, "%s/%s%s", CN_CONTROL_DIR,
		 a->name ? a->name : "clientnic", CN_CONTROL_SUFFIX);
	if (!a->name && !exists(buf)) {
		char other[sizeof(((struct sockaddr_un *)0)->sun_path)];

		snprintf(other, sizeof(other), "%s/servernic%s", CN_CONTROL_DIR,
			 CN_CONTROL_SUFFIX);
		if (exists(other))
			snprintf(buf, len, "%s", other);
	}
}

static int no_daemon(const char *path, int err)
{
	switch (err) {
	case ENOENT:
		fprintf(stderr, PROG ": no daemon at %s (no such socket): is it "
			"running? Name another with --name NAME (its --name) "
			"or --socket PATH (its --control)\n", path);
		return EXIT_NODAEMON;
	case ECONNREFUSED:
		fprintf(stderr, PROG ": no daemon listens at %s (the socket "
			"is left from one that stopped): start it, or name "
			"another with --name or --socket\n", path);
		return EXIT_NODAEMON;
	case ENOTSOCK:
		fprintf(stderr, PROG ": %s is not a socket: give the daemon's "
			"--control path with --socket\n", path);
		return EXIT_NODAEMON;
	case EACCES:
	case EPERM:
		fprintf(stderr, PROG ": permission denied on %s: run as root, "
			"or as a member of the daemon's --control-group\n",
			path);
		return EXIT_NOPERM;
	default:
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(err));
		return EXIT_NODAEMON;
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Wait for fd to be ready for events until the deadline; 0 or -ETIMEDOUT. */
static int wait_fd(int fd, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		uint64_t t = now_ms();
		int n;

		if (t >= deadline)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)(deadline - t));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

/* Send the request, read the answer to its end; returns an exit status. */
static int exchange(const char *path, const char *request, char **answer,
		    size_t *len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline = now_ms() + TIMEOUT_MS;
	size_t cap = 65536, n = 0, off = 0, rlen = strlen(request);
	char *buf = NULL;
	int fd, send_err = 0, rc = EXIT_FAIL;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, PROG ": %s: longer than %zu bytes, no socket "
			"has such a name\n", path, sizeof(sa.sun_path) - 1);
		return EXIT_USAGE;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		fprintf(stderr, PROG ": socket: %s\n", strerror(errno));
		return EXIT_FAIL;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 &&
	    errno != EAGAIN) {
		rc = no_daemon(path, errno);
		goto out;
	}
	while (off < rlen) {
		ssize_t w;

		if (wait_fd(fd, POLLOUT, deadline) < 0)
			goto timeout;
		w = send(fd, request + off, rlen - off, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w < 0) {
			/* Closed by the daemon, which may have said why
			 * first (a client too many): read that. */
			send_err = errno;
			break;
		}
		off += (size_t)w;
	}
	buf = malloc(cap + 1);
	if (!buf) {
		fprintf(stderr, PROG ": out of memory\n");
		goto out;
	}
	for (;;) {
		ssize_t r;

		if (n == cap) {
			char *p;

			if (cap >= ANSWER_MAX) {
				fprintf(stderr, PROG ": %s: an answer over %u "
					"MiB: not a clientnic daemon?\n", path,
					ANSWER_MAX >> 20);
				goto out;
			}
			p = realloc(buf, cap * 2 + 1);
			if (!p) {
				fprintf(stderr, PROG ": out of memory\n");
				goto out;
			}
			buf = p;
			cap *= 2;
		}
		if (wait_fd(fd, POLLIN, deadline) < 0)
			goto timeout;
		r = recv(fd, buf + n, cap - n, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		/* A daemon that turns a client away closes before it reads
		 * the request: the kernel then resets, after the answer. */
		if (r < 0 && errno == ECONNRESET && (n || send_err))
			break;
		if (r < 0) {
			fprintf(stderr, PROG ": %s: reading the answer: %s\n",
				path, strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (!n && send_err) {
		fprintf(stderr, PROG ": %s: sending the request: %s (the daemon "
			"closed the connection)\n", path, strerror(send_err));
		goto out;
	}
	buf[n] = '\0';
	*answer = buf;
	*len = n;
	buf = NULL;
	rc = EXIT_OK;
	goto out;
timeout:
	fprintf(stderr, PROG ": %s: no answer within %d s: the daemon is "
		"busy or stuck (see its log)\n", path, TIMEOUT_MS / 1000);
out:
	free(buf);
	close(fd);
	return rc;
}

/* A refusal is "error: ..." as the answer's first or last line. */
static const char *refusal(const char *ans, size_t len)
{
	const char *last;

	if (!strncmp(ans, CN_CONTROL_ERROR, strlen(CN_CONTROL_ERROR)))
		return ans;
	while (len && ans[len - 1] == '\n')
		len--;
	for (last = ans + len; last > ans && last[-1] != '\n'; last--)
		;
	if (!strncmp(last, CN_CONTROL_ERROR, strlen(CN_CONTROL_ERROR)))
		return last;
	return NULL;
}

static bool answer_ok(const struct args *a, const char *ans, size_t len)
{
	if (memchr(ans, '\0', len))
		return false;
	if (a->json)
		return len && (ans[0] == '[' || ans[0] == '{') &&
		       ans[len - 1] == '\n';
	if (!strcmp(a->cmd->name, "metrics"))
		return !strncmp(ans, "# HELP ", 7);
	return !len || ans[len - 1] == '\n';
}

int main(int argc, char **argv)
{
	struct args a = { 0 };
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 64];
	char request[320];
	const char *why;
	char *ans = NULL;
	size_t len = 0;
	int rc;

	rc = parse(&a, argc, argv);
	if (rc >= 0)
		return rc;
	socket_path(&a, path, sizeof(path));
	snprintf(request, sizeof(request), "%s%s%s%s%s%s\n", a.cmd->name,
		 a.json ? " json" : "", a.server ? " server " : "",
		 a.server ? a.server : "", a.state ? " state " : "",
		 a.state ? a.state : "");
	rc = exchange(path, request, &ans, &len);
	if (rc)
		return rc;
	why = refusal(ans, len);
	if (why) {
		fprintf(stderr, PROG ": the daemon at %s refused: %.*s\n", path,
			(int)strcspn(why + strlen(CN_CONTROL_ERROR), "\n"),
			why + strlen(CN_CONTROL_ERROR));
		rc = EXIT_FAIL;
	} else if (!answer_ok(&a, ans, len)) {
		fprintf(stderr, PROG ": %s: a bad answer (%zu bytes, not %s): "
			"is a clientnic or servernic of this version listening "
			"there?\n", path, len, a.json ? "JSON" :
			!strcmp(a.cmd->name, "metrics") ? "Prometheus text" :
			"text lines");
		rc = EXIT_FAIL;
	} else if (fwrite(ans, 1, len, stdout) != len || fflush(stdout)) {
		fprintf(stderr, PROG ": writing the answer: %s\n",
			strerror(errno));
		rc = EXIT_FAIL;
	}
	free(ans);
	return rc;
}
