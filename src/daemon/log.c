// SPDX-License-Identifier: MIT
#include "log.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/*
 * The event log must never hold up forwarding. Records for stdout collect
 * in a buffer of the log's own and leave it only as fast as stdout takes
 * them without blocking: poll() first, then at most PIPE_BUF bytes per
 * write(), which a pipe that polled writable accepts whole. A reader that
 * stops reading fills the buffer, and further records are counted and
 * dropped instead of stalling the box.
 */
#define LOG_OUT_SIZE (256u * 1024)

static struct {
	pthread_mutex_t lock;
	size_t len;
	uint64_t dropped;
	char buf[LOG_OUT_SIZE];
} log_out = { .lock = PTHREAD_MUTEX_INITIALIZER };

/* Room kept at the end of a record for the truncation mark and the
 * closing brace, so a cut record is still well-formed. */
#define REC_RESERVE 24

static const char *log_name = "clientnic";
/* Atomic: SIGHUP changes them on the main thread while workers log. */
static _Atomic int log_level = CN_LOG_INFO;
static _Atomic int log_format = CN_LOG_TEXT;
/* -1: not known yet; 0: stderr is the journal, which stamps lines itself. */
static int log_stamp = -1;

static const char *const level_names[] = {
	[CN_LOG_ERROR] = "error",
	[CN_LOG_WARN] = "warn",
	[CN_LOG_INFO] = "info",
	[CN_LOG_DEBUG] = "debug",
};

static const char *const format_names[] = {
	[CN_LOG_TEXT] = "text",
	[CN_LOG_JSON] = "json",
};

void cn_log_setup(enum cn_log_level level, enum cn_log_format format)
{
	atomic_store_explicit(&log_level, level, memory_order_relaxed);
	atomic_store_explicit(&log_format, format, memory_order_relaxed);
}

/* systemd sets JOURNAL_STREAM to the device and inode of the stream it
 * connects to the journal (systemd.exec(5)); stderr is the journal when
 * they are its own. */
static bool stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!js || sscanf(js, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void cn_log_set_name(const char *name)
{
	log_name = name;
	/* Here, before any thread: the stream does not change. */
	log_stamp = !stderr_is_journal();
}

const char *cn_log_name(void)
{
	return log_name;
}

bool cn_log_enabled(enum cn_log_level level)
{
	return (int)level <= atomic_load_explicit(&log_level,
						  memory_order_relaxed);
}

enum cn_log_format cn_log_format_get(void)
{
	return (enum cn_log_format)atomic_load_explicit(&log_format,
							memory_order_relaxed);
}

size_t cn_log_put_dec(char *p, uint64_t v, unsigned width)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n < sizeof(tmp));
	while (n < width && n < sizeof(tmp))
		tmp[n++] = '0';
	for (size_t i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

/* The date and time of day change once a second: each thread keeps the
 * last second's text and formats only the microseconds of a new stamp
 * (an event line per handshake step costs no gmtime_r, no printf). */
static _Thread_local struct {
	time_t secs;
	bool valid;
	char text[24]; /* "YYYY-MM-DDTHH:MM:SS" */
	size_t len;
} stamp_cache;

static bool second_text(time_t secs)
{
	struct tm tm;
	char *p = stamp_cache.text;

	if (stamp_cache.valid && stamp_cache.secs == secs)
		return true;
	if (!gmtime_r(&secs, &tm) || tm.tm_year + 1900 < 0 ||
	    tm.tm_year + 1900 > 9999)
		return false;
	p += cn_log_put_dec(p, (uint64_t)(tm.tm_year + 1900), 4);
	*p++ = '-';
	p += cn_log_put_dec(p, (uint64_t)tm.tm_mon + 1, 2);
	*p++ = '-';
	p += cn_log_put_dec(p, (uint64_t)tm.tm_mday, 2);
	*p++ = 'T';
	p += cn_log_put_dec(p, (uint64_t)tm.tm_hour, 2);
	*p++ = ':';
	p += cn_log_put_dec(p, (uint64_t)tm.tm_min, 2);
	*p++ = ':';
	p += cn_log_put_dec(p, (uint64_t)tm.tm_sec, 2);
	stamp_cache.len = (size_t)(p - stamp_cache.text);
	stamp_cache.secs = secs;
	stamp_cache.valid = true;
	return true;
}

void cn_log_rfc3339(char *buf, size_t len, uint64_t ts_ns)
{
	char out[40];
	size_t n;

	if (!len)
		return;
	if (!second_text((time_t)(ts_ns / 1000000000u))) {
		snprintf(buf, len, "?");
		return;
	}
	memcpy(out, stamp_cache.text, stamp_cache.len);
	n = stamp_cache.len;
	out[n++] = '.';
	n += cn_log_put_dec(out + n, ts_ns % 1000000000u / 1000u, 6);
	out[n++] = 'Z';
	if (n >= len)
		n = len - 1;
	memcpy(buf, out, n);
	buf[n] = '\0';
}

void cn_log_line_start(char *buf, size_t len)
{
	if (log_stamp < 0)
		log_stamp = !stderr_is_journal();
	if (log_stamp) {
		char ts[40];

		cn_log_rfc3339(ts, sizeof(ts), cn_log_realtime_ns());
		snprintf(buf, len, "%s %s: ", ts, log_name);
	} else {
		snprintf(buf, len, "%s: ", log_name);
	}
}

int cn_log_level_parse(const char *s, enum cn_log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]);
	     i++) {
		if (!strcmp(s, level_names[i])) {
			*out = (enum cn_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

int cn_log_format_parse(const char *s, enum cn_log_format *out)
{
	for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]);
	     i++) {
		if (!strcmp(s, format_names[i])) {
			*out = (enum cn_log_format)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *cn_log_level_name(enum cn_log_level level)
{
	return level <= CN_LOG_DEBUG ? level_names[level] : "?";
}

const char *cn_log_format_name(enum cn_log_format format)
{
	return format <= CN_LOG_JSON ? format_names[format] : "?";
}

void cn_log_msg(enum cn_log_level level, const char *fmt, ...)
{
	static const char *const prefix[] = {
		[CN_LOG_ERROR] = "error: ",
		[CN_LOG_WARN] = "warning: ",
		[CN_LOG_INFO] = "",
		[CN_LOG_DEBUG] = "debug: ",
	};
	char line[1024], start[96];
	va_list ap;
	int n;

	if (!cn_log_enabled(level))
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	cn_log_line_start(start, sizeof(start));
	/* One fprintf per line: stderr is unbuffered, and a line written in
	 * pieces could interleave with another process's output. */
	fprintf(stderr, "%s%s%s\n", start, prefix[level], line);
}

void cn_log_status(const char *fmt, ...)
{
	char line[1024], start[96];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	cn_log_line_start(start, sizeof(start));
	if (n >= 0)
		fprintf(stderr, "%s%s\n", start, line);
}

uint64_t cn_log_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Plain bytes, without the cost of a format string. */
static void rec_put(struct cn_log_rec *r, const char *s, size_t n)
{
	size_t room = sizeof(r->buf) - REC_RESERVE - r->len;

	if (r->truncated)
		return;
	if (n >= room) {
		r->truncated = true;
		return;
	}
	memcpy(r->buf + r->len, s, n);
	r->len += n;
	r->buf[r->len] = '\0';
}

static void rec_puts(struct cn_log_rec *r, const char *s)
{
	rec_put(r, s, strlen(s));
}

static void rec_dec(struct cn_log_rec *r, uint64_t v, unsigned width)
{
	char d[20];

	rec_put(r, d, cn_log_put_dec(d, v, width));
}

/* " key=" or ",\"key\":" */
static void rec_key(struct cn_log_rec *r, const char *key)
{
	bool json = r->format == CN_LOG_JSON;

	rec_put(r, json ? ",\"" : " ", json ? 2 : 1);
	rec_puts(r, key);
	rec_put(r, json ? "\":" : "=", json ? 2 : 1);
}

/* A field is written whole or not at all: cut at its start. */
static void rec_field_end(struct cn_log_rec *r, size_t start)
{
	if (r->truncated) {
		r->len = start;
		r->buf[start] = '\0';
	}
}

void cn_log_rec_begin(struct cn_log_rec *r, enum cn_log_format format,
		      uint64_t ts_ns, const char *event)
{
	r->format = format;
	r->truncated = false;
	r->len = 0;
	r->buf[0] = '\0';
	if (format == CN_LOG_JSON) {
		rec_puts(r, "{\"ts\":");
		rec_dec(r, ts_ns / 1000000000u, 1);
		rec_put(r, ".", 1);
		rec_dec(r, ts_ns % 1000000000u / 1000u, 6);
	} else {
		char ts[40];

		cn_log_rfc3339(ts, sizeof(ts), ts_ns);
		rec_puts(r, "ts=");
		rec_puts(r, ts);
	}
	cn_log_rec_str(r, "event", event);
}

/* Text values never need quoting here (names, addresses, numbers); a value
 * with a space or quote is quoted anyway so a line always splits right. */
static bool text_needs_quotes(const char *s)
{
	return !*s || strpbrk(s, " \t\"=\\") != NULL;
}

static bool needs_escape(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\';
}

static void rec_escaped(struct cn_log_rec *r, const char *s)
{
	static const char hex[] = "0123456789abcdef";

	while (*s) {
		size_t run = 0;
		unsigned char c;

		while (s[run] && !needs_escape((unsigned char)s[run]))
			run++;
		rec_put(r, s, run);
		s += run;
		if (!*s)
			break;
		c = (unsigned char)*s++;
		if (c == '"' || c == '\\') {
			char e[2] = { '\\', (char)c };

			rec_put(r, e, sizeof(e));
		} else {
			char e[6] = { '\\', 'u', '0', '0', hex[c >> 4],
				      hex[c & 15] };

			rec_put(r, e, sizeof(e));
		}
	}
}

void cn_log_rec_str(struct cn_log_rec *r, const char *key, const char *val)
{
	size_t start = r->len;
	bool quote = r->format == CN_LOG_JSON || text_needs_quotes(val);

	rec_key(r, key);
	if (quote)
		rec_put(r, "\"", 1);
	rec_escaped(r, val);
	if (quote)
		rec_put(r, "\"", 1);
	rec_field_end(r, start);
}

void cn_log_rec_u64(struct cn_log_rec *r, const char *key, uint64_t val)
{
	size_t start = r->len;

	rec_key(r, key);
	rec_dec(r, val, 1);
	rec_field_end(r, start);
}

void cn_log_rec_i64(struct cn_log_rec *r, const char *key, int64_t val)
{
	size_t start = r->len;

	rec_key(r, key);
	if (val < 0)
		rec_put(r, "-", 1);
	/* The magnitude in unsigned arithmetic: INT64_MIN has no positive. */
	rec_dec(r, val < 0 ? 0u - (uint64_t)val : (uint64_t)val, 1);
	rec_field_end(r, start);
}

void cn_log_rec_bool(struct cn_log_rec *r, const char *key, bool val)
{
	size_t start = r->len;

	rec_key(r, key);
	rec_puts(r, val ? "true" : "false");
	rec_field_end(r, start);
}

void cn_log_rec_ms(struct cn_log_rec *r, const char *key, uint64_t ns)
{
	size_t start = r->len;

	rec_key(r, key);
	rec_dec(r, ns / 1000000u, 1);
	rec_put(r, ".", 1);
	rec_dec(r, ns % 1000000u / 1000u, 3);
	rec_field_end(r, start);
}

void cn_log_rec_write(struct cn_log_rec *r, FILE *f)
{
	/* The reserve guarantees room for the tail whatever came before. */
	const char *mark = r->truncated ? (r->format == CN_LOG_JSON ?
					   ",\"truncated\":true" :
					   " truncated=true") : "";
	const char *end = r->format == CN_LOG_JSON ? "}\n" : "\n";
	size_t nm = strlen(mark), ne = strlen(end);

	if (r->len + nm + ne < sizeof(r->buf)) {
		memcpy(r->buf + r->len, mark, nm);
		memcpy(r->buf + r->len + nm, end, ne);
		r->len += nm + ne;
		r->buf[r->len] = '\0';
	}
	if (f != stdout) {
		fwrite(r->buf, 1, r->len, f);
		return;
	}
	/* No write here: cn_log_flush() runs once per loop turn, so a burst
	 * of connections costs one write, not one per event. */
	pthread_mutex_lock(&log_out.lock);
	if (log_out.len + r->len <= sizeof(log_out.buf)) {
		memcpy(log_out.buf + log_out.len, r->buf, r->len);
		log_out.len += r->len;
	} else {
		log_out.dropped++;
	}
	pthread_mutex_unlock(&log_out.lock);
}

void cn_log_flush(int wait_ms)
{
	size_t done = 0;

	pthread_mutex_lock(&log_out.lock);
	while (done < log_out.len) {
		struct pollfd p = { .fd = STDOUT_FILENO, .events = POLLOUT };
		size_t n = log_out.len - done;
		ssize_t w;

		if (poll(&p, 1, wait_ms) <= 0 || !(p.revents & POLLOUT))
			break;
		w = write(STDOUT_FILENO, log_out.buf + done,
			  n < PIPE_BUF ? n : PIPE_BUF);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w <= 0) {
			/* stdout is gone (closed pipe): nobody reads it. */
			log_out.dropped++;
			done = log_out.len;
			break;
		}
		done += (size_t)w;
	}
	memmove(log_out.buf, log_out.buf + done, log_out.len - done);
	log_out.len -= done;
	pthread_mutex_unlock(&log_out.lock);
}

uint64_t cn_log_dropped(void)
{
	uint64_t n;

	pthread_mutex_lock(&log_out.lock);
	n = log_out.dropped;
	pthread_mutex_unlock(&log_out.lock);
	return n;
}
