// SPDX-License-Identifier: MIT
#include "control.h"

#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control_proto.h"
#include "log.h"
#include "report.h"
#include "worker.h"
#include "worker_query.h"

/* How long an answer waits for a running worker: as the counters do. */
#define QUERY_WAIT_MS 200
/* Servers listed per worker in a cache answer. */
#define CACHE_ANSWER_MAX 8192

void control_default_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s%s", CN_CONTROL_DIR, name, CN_CONTROL_SUFFIX);
}

/* ---- answers -------------------------------------------------------- */

struct request {
	const char *what;
	bool json;
	struct flow_filter filter;
};

static int parse_request(char *line, struct request *rq, struct outbuf *out)
{
	char *save = NULL, *w;

	*rq = (struct request){ 0 };
	rq->what = strtok_r(line, " \t", &save);
	if (!rq->what) {
		ob_puts(out, CN_CONTROL_ERROR "an empty request: flows, counters, "
			"metrics or cache\n");
		return -EINVAL;
	}
	while ((w = strtok_r(NULL, " \t", &save))) {
		char *arg = NULL;

		if (!strcmp(w, "json")) {
			rq->json = true;
			continue;
		}
		if (!strcmp(w, "server") || !strcmp(w, "state"))
			arg = strtok_r(NULL, " \t", &save);
		if (arg && !strcmp(w, "server") &&
		    report_parse_server(arg, &rq->filter) == 0)
			continue;
		if (arg && !strcmp(w, "state") &&
		    report_parse_state(arg, &rq->filter) == 0)
			continue;
		ob_printf(out, CN_CONTROL_ERROR "'%s%s%s': not understood (json, "
			  "server ADDR[:PORT], state syn_sent|established|"
			  "closed)\n", w, arg ? " " : "", arg ? arg : "");
		return -EINVAL;
	}
	return 0;
}

static void gather(struct control *c, struct worker_stats *per,
		   struct stats_view *v, struct worker_stats *sum)
{
	struct worker_env *env = c->env;

	workers_gather(c->pool, per);
	stats_sum(per, c->pool->nw, sum);
	*v = (struct stats_view){
		.sum = sum,
		.per = per,
		.nw = c->pool->nw,
		.pcap = env->pcap != NULL,
		.events_dropped = cn_log_dropped(),
	};
	if (env->pcap) {
		pthread_mutex_lock(&env->pcap_lock);
		v->pcap_frames = pcap_out_frames(env->pcap);
		v->pcap_truncated = pcap_out_truncated(env->pcap);
		pthread_mutex_unlock(&env->pcap_lock);
	}
}

static void answer_stats(struct control *c, const struct request *rq,
			 struct outbuf *out)
{
	struct worker_stats *per = calloc(c->pool->nw, sizeof(*per));
	struct worker_stats sum;
	struct stats_view v;

	if (!per) {
		ob_puts(out, CN_CONTROL_ERROR "out of memory\n");
		return;
	}
	gather(c, per, &v, &sum);
	if (!strcmp(rq->what, "metrics"))
		report_metrics(out, &v, c->prog, CN_VERSION);
	else
		report_counters(out, &v, rq->json);
	free(per);
}

struct flows_q {
	struct report_flows *rf;
	struct fastpath *fast;
	uint64_t now;
};

/* What the kernel path carried of the flow, added to what the daemon saw:
 * the frames, and the time it last moved. */
static bool flow_with_kernel(void *ctx, const struct cn_flow_record *r)
{
	struct flows_q *q = ctx;
	struct cn_flow_record k = *r;
	struct cn_fast_flow rec;

	/* One map read per flow the answer lists, not per flow the walk
	 * visits: with one worker the walk runs on the forwarding thread. */
	if (q->fast && report_flow_listed(q->rf, r) &&
	    fastpath_get(q->fast, &r->key, &rec)) {
		for (int s = CN_CLIENT; s <= CN_SERVER; s++) {
			k.frames[s] += (uint32_t)rec.dir[s].frames;
			k.bytes[s] += rec.dir[s].bytes;
		}
		if (rec.last_seen_ns <= q->now &&
		    q->now - rec.last_seen_ns < k.idle_ns)
			k.idle_ns = q->now - rec.last_seen_ns;
	}
	return report_flow(q->rf, &k);
}

/* Runs on the worker's thread (or with one worker, on the only one). */
static void flows_of(struct worker *w, void *arg)
{
	struct flows_q q = { .rf = arg, .fast = w->env->fast, .now = cn_mono_ns() };

	cn_engine_flow_walk(w->eng, q.now, flow_with_kernel, &q);
}

struct cache_q {
	struct outbuf *out;
	bool json;
	bool first;
};

static void cache_of(struct worker *w, void *arg)
{
	struct cache_q *q = arg;
	size_t cap = cn_engine_cache_capacity(w->eng), n;
	struct cn_cache_record *r;

	if (cap > CACHE_ANSWER_MAX)
		cap = CACHE_ANSWER_MAX;
	r = calloc(cap ? cap : 1, sizeof(*r));
	if (!r)
		return;
	n = cn_engine_cache_dump(w->eng, r, cap);
	report_cache(q->out, r, n, w->id, q->json, &q->first);
	free(r);
}

static void answer_flows(struct control *c, const struct request *rq,
			 struct outbuf *out)
{
	struct report_flows rf = {
		.out = out,
		.json = rq->json,
		.filter = rq->filter,
		.datapath = "daemon",
	};

	report_flows_begin(&rf);
	if (workers_each(c->pool, flows_of, &rf, QUERY_WAIT_MS))
		cn_warn("control: a worker did not list its flows within "
			"%d ms: the answer lacks them", QUERY_WAIT_MS);
	report_flows_end(&rf);
}

static void answer_cache(struct control *c, const struct request *rq,
			 struct outbuf *out)
{
	struct cache_q q = { .out = out, .json = rq->json, .first = true };

	if (c->cfg->engine.role != CN_ROLE_CLIENTNIC) {
		ob_puts(out, CN_CONTROL_ERROR "a ServerNIC keeps no options "
			"cache (only a ClientNIC learns servers' options)\n");
		return;
	}
	if (rq->json)
		ob_puts(out, "[");
	if (workers_each(c->pool, cache_of, &q, QUERY_WAIT_MS))
		cn_warn("control: a worker did not list its cache within "
			"%d ms: the answer lacks it", QUERY_WAIT_MS);
	if (rq->json)
		ob_puts(out, q.first ? "]\n" : "\n]\n");
}

static void answer(void *ctx, const char *request, struct outbuf *out)
{
	struct control *c = ctx;
	char line[CTL_LINE_MAX + 1];
	struct request rq;

	snprintf(line, sizeof(line), "%s", request);
	if (parse_request(line, &rq, out) < 0)
		return;
	if (!strcmp(rq.what, "counters") || !strcmp(rq.what, "metrics"))
		answer_stats(c, &rq, out);
	else if (!strcmp(rq.what, "flows"))
		answer_flows(c, &rq, out);
	else if (!strcmp(rq.what, "cache"))
		answer_cache(c, &rq, out);
	else
		ob_printf(out, CN_CONTROL_ERROR "unknown request '%s': flows, "
			  "counters, metrics or cache\n", rq.what);
	if (out->full) {
		/* Cut short: say so where a reader looks, the last line. */
		out->len = out->len > 128 ? out->len - 128 : 0;
		out->full = false;
		ob_printf(out, "\n" CN_CONTROL_ERROR "the answer is over %u "
			  "bytes and was cut\n", CTL_ANSWER_MAX);
	}
}

/* ---- the control socket --------------------------------------------- */

/* A socket asked for by --control that cannot be made stops the daemon;
 * the default one only costs a warning (a daemon run by hand without
 * /run, a second one without --name): forwarding needs no socket. */
static enum cn_log_level ctl_level = CN_LOG_ERROR;
#define ctl_say(...) cn_log_msg(ctl_level, __VA_ARGS__)

/* A socket file left by a daemon that is gone refuses connections and may
 * be replaced; one that answers belongs to a daemon that runs. */
static int check_old_socket(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		ctl_say("--control %s: the file exists and is not a socket: "
		       "remove it or choose another --control", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	ret = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	close(fd);
	if (ret == 0 || ret == -EAGAIN) {
		ctl_say("--control %s: another daemon answers there: give this "
		       "one another --name or --control", path);
		return -EADDRINUSE;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return -errno;
	cn_info("--control %s: replaced the socket of a daemon that is gone",
		path);
	return 0;
}

static int make_dir_of(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];

	snprintf(dir, sizeof(dir), "%s", path);
	dirname(dir);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		int err = errno;

		ctl_say("--control %s: cannot create the folder %s: %s (create "
		       "it, or choose another --control)", path, dir,
		       strerror(err));
		return -err;
	}
	return 0;
}

static int group_id(const char *name, gid_t *gid)
{
	struct group *g = getgrnam(name);
	char *end;
	unsigned long v;

	if (g) {
		*gid = g->gr_gid;
		return 0;
	}
	v = strtoul(name, &end, 10);
	if (*name && !*end) {
		*gid = (gid_t)v;
		return 0;
	}
	cn_err("--control-group %s: no such group (create it, or give a "
	       "group that exists)", name);
	return -ENOENT;
}

static int open_unix(struct control *c)
{
	const char *path = c->path, *group = c->cfg->control_group;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	gid_t gid = 0;
	mode_t old;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		ctl_say("--control %s: longer than %zu bytes: choose a shorter "
		       "path", path, sizeof(sa.sun_path) - 1);
		return CN_EXIT_USAGE;
	}
	if (group && group_id(group, &gid) < 0)
		return CN_EXIT_USAGE;
	if (make_dir_of(path) < 0)
		return CN_EXIT_FAIL;
	ret = check_old_socket(path);
	if (ret < 0) {
		if (ret != -EEXIST && ret != -EADDRINUSE)
			ctl_say("--control %s: %s (choose another --control)",
			       path, strerror(-ret));
		return CN_EXIT_FAIL;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		ctl_say("--control %s: socket: %s", path, strerror(errno));
		return CN_EXIT_FAIL;
	}
	/* Created with no access for others: no moment in which anyone but
	 * root could connect. */
	old = umask(0177);
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ? -errno : 0;
	umask(old);
	if (!ret && group && (chown(path, (uid_t)-1, gid) < 0 ||
			      chmod(path, 0660) < 0))
		ret = -errno;
	if (!ret && listen(fd, CTL_CLIENTS) < 0)
		ret = -errno;
	if (!ret && stat(path, &st) < 0)
		ret = -errno;
	if (ret < 0) {
		ctl_say("--control %s: %s (the folder must be writable: run as "
		       "root, or choose another --control)", path,
		       strerror(-ret));
		close(fd);
		unlink(path);
		return CN_EXIT_FAIL;
	}
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	ret = ctl_init(&c->ctl, CTL_PROTO_LINE, fd, answer, c);
	if (ret < 0) {
		ctl_say("--control %s: %s", path, strerror(-ret));
		close(fd);
		return CN_EXIT_FAIL;
	}
	c->have_ctl = true;
	return CN_EXIT_OK;
}

/* ---- the metrics server --------------------------------------------- */

/* PORT (on localhost), ADDR:PORT or [ADDR6]:PORT. */
static int parse_listen(const char *s, struct sockaddr_storage *ss,
			socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	char host[64] = "127.0.0.1";
	const char *port = s, *colon = strrchr(s, ':');
	unsigned long v;
	char *end;

	if (colon) {
		const char *h = s;
		size_t n = (size_t)(colon - s);

		if (*h == '[' && n >= 2 && colon[-1] == ']') {
			h++;
			n -= 2;
		}
		if (n == 0 || n >= sizeof(host))
			return -EINVAL;
		memcpy(host, h, n);
		host[n] = '\0';
		port = colon + 1;
	}
	if (*port < '0' || *port > '9')
		return -EINVAL;
	v = strtoul(port, &end, 10);
	if (*end || !v || v > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)v);
		*len = sizeof(*in4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)v);
		*len = sizeof(*in6);
		return 0;
	}
	return -EINVAL;
}

static int open_http(struct control *c)
{
	const char *spec = c->cfg->metrics_listen;
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1, ret;

	if (parse_listen(spec, &ss, &len) < 0) {
		cn_err("--metrics-listen %s: not PORT, ADDR:PORT or "
		       "[ADDR6]:PORT (e.g. 9100 or 127.0.0.1:9100)", spec);
		return CN_EXIT_USAGE;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		cn_err("--metrics-listen %s: socket: %s", spec, strerror(errno));
		return CN_EXIT_FAIL;
	}
	ret = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (!ret)
		ret = bind(fd, (struct sockaddr *)&ss, len);
	if (!ret)
		ret = listen(fd, CTL_CLIENTS);
	if (ret < 0) {
		int err = errno;

		cn_err("--metrics-listen %s: %s (%s)", spec, strerror(err),
		       err == EADDRINUSE ? "another program listens there: "
		       "choose another port" : err == EADDRNOTAVAIL ?
		       "no interface has that address" : err == EACCES ?
		       "ports below 1024 need CAP_NET_BIND_SERVICE: choose a "
		       "higher one" : "check the address");
		close(fd);
		return CN_EXIT_FAIL;
	}
	ret = ctl_init(&c->http, CTL_PROTO_HTTP, fd, answer, c);
	if (ret < 0) {
		cn_err("--metrics-listen %s: %s", spec, strerror(-ret));
		close(fd);
		return CN_EXIT_FAIL;
	}
	c->have_http = true;
	return CN_EXIT_OK;
}

/* ---- life cycle ----------------------------------------------------- */

int control_open(struct control *c, const struct cn_daemon_config *cfg,
		 struct worker_pool *pool, struct worker_env *env,
		 const char *prog)
{
	const char *name = cfg->name ? cfg->name : prog;
	int rc = CN_EXIT_OK;

	*c = (struct control){
		.cfg = cfg,
		.pool = pool,
		.env = env,
		.prog = prog,
	};
	c->ctl.listen_fd = c->ctl.timer_fd = -1;
	c->http.listen_fd = c->http.timer_fd = -1;
	if (!cfg->control_path)
		control_default_path(c->path, sizeof(c->path), name);
	else if (strcmp(cfg->control_path, "none"))
		snprintf(c->path, sizeof(c->path), "%s", cfg->control_path);
	ctl_level = cfg->control_path ? CN_LOG_ERROR : CN_LOG_WARN;
	if (c->path[0])
		rc = open_unix(c);
	if (rc)
		c->path[0] = '\0';
	if (rc && !cfg->control_path && rc != CN_EXIT_USAGE) {
		cn_warn("no control socket: clientnicctl cannot reach this "
			"daemon (give --control PATH, or --control none)");
		rc = CN_EXIT_OK;
	}
	if (!rc && cfg->metrics_listen)
		rc = open_http(c);
	return rc;
}

int control_attach(struct control *c, int epfd, uint32_t tag_base)
{
	int ret = 0;

	if (c->have_ctl)
		ret = ctl_attach(&c->ctl, epfd, tag_base);
	if (!ret && c->have_http)
		ret = ctl_attach(&c->http, epfd, tag_base + CTL_TAGS);
	return ret;
}

void control_event(struct control *c, uint32_t tag)
{
	if (c->have_ctl && tag >= c->ctl.tag_base &&
	    tag < c->ctl.tag_base + CTL_TAGS)
		ctl_event(&c->ctl, tag);
	else if (c->have_http && tag >= c->http.tag_base &&
		 tag < c->http.tag_base + CTL_TAGS)
		ctl_event(&c->http, tag);
}

void control_close(struct control *c)
{
	struct stat st;

	if (c->have_ctl)
		ctl_close(&c->ctl);
	if (c->have_http)
		ctl_close(&c->http);
	/* Only the file this daemon bound: another may have replaced it. */
	if (c->path[0] && stat(c->path, &st) == 0 && st.st_dev == c->dev &&
	    st.st_ino == c->ino && unlink(c->path) < 0)
		cn_info("--control %s: not removed (%s): the next start "
			"replaces it", c->path, strerror(errno));
	c->have_ctl = c->have_http = false;
	c->path[0] = '\0';
}
