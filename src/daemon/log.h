/* SPDX-License-Identifier: MIT */
/*
 * Logging for the daemon. Two streams with different readers:
 *  - the event log on stdout: one record per line (key=value text or JSON
 *    lines), flushed per line, for the operator and the tests;
 *  - the daemon's own messages on stderr: plain text prefixed with the
 *    program's name ("clientnic:"), whatever the event format, so a
 *    person reads them.
 * Both obey one level threshold.
 */
#ifndef CN_LOG_H
#define CN_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum cn_log_level {
	CN_LOG_ERROR,
	CN_LOG_WARN,
	CN_LOG_INFO,
	CN_LOG_DEBUG,
};

enum cn_log_format {
	CN_LOG_TEXT,
	CN_LOG_JSON,
};

void cn_log_setup(enum cn_log_level level, enum cn_log_format format);
/* The prefix of stderr lines (default "clientnic"); name must outlive the
 * log. */
void cn_log_set_name(const char *name);
const char *cn_log_name(void);
bool cn_log_enabled(enum cn_log_level level);
enum cn_log_format cn_log_format_get(void);

/* Return 0, or -EINVAL for an unknown name. */
int cn_log_level_parse(const char *s, enum cn_log_level *out);
int cn_log_format_parse(const char *s, enum cn_log_format *out);
const char *cn_log_level_name(enum cn_log_level level);
const char *cn_log_format_name(enum cn_log_format format);

/* A daemon message on stderr: "[TIME ]clientnic: [error: |warning: ]text"
 * (cn_log_line_start()). */
void cn_log_msg(enum cn_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A status line other programs wait for ("clientnic: ready"): printed
 * whatever the level. */
void cn_log_status(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#define cn_err(...) cn_log_msg(CN_LOG_ERROR, __VA_ARGS__)
#define cn_warn(...) cn_log_msg(CN_LOG_WARN, __VA_ARGS__)
#define cn_info(...) cn_log_msg(CN_LOG_INFO, __VA_ARGS__)
#define cn_debug(...) cn_log_msg(CN_LOG_DEBUG, __VA_ARGS__)

/*
 * One structured record, built field by field into a fixed buffer, then
 * written in one piece. Text: "ts=... event=name k=v ...". JSON: an object
 * with the same keys; strings quoted and escaped, numbers bare. A record
 * that outgrows the buffer is cut at a field boundary and marked
 * truncated, never written half-formed.
 */
struct cn_log_rec {
	enum cn_log_format format;
	bool truncated;
	size_t len;
	char buf[4096]; /* the counters dump is the longest record */
};

/* ts_ns: CLOCK_REALTIME nanoseconds: in text an RFC 3339 time in UTC with
 * microseconds, in JSON seconds with microseconds (a number). */
void cn_log_rec_begin(struct cn_log_rec *r, enum cn_log_format format,
		      uint64_t ts_ns, const char *event);
void cn_log_rec_str(struct cn_log_rec *r, const char *key, const char *val);
void cn_log_rec_u64(struct cn_log_rec *r, const char *key, uint64_t val);
void cn_log_rec_i64(struct cn_log_rec *r, const char *key, int64_t val);
void cn_log_rec_bool(struct cn_log_rec *r, const char *key, bool val);
/* Milliseconds with microsecond precision from nanoseconds. */
void cn_log_rec_ms(struct cn_log_rec *r, const char *key, uint64_t ns);
/* Write the record and a newline to f, then flush f. */
/* To stdout the record is queued, not written: see cn_log_flush(). */
void cn_log_rec_write(struct cn_log_rec *r, FILE *f);
/* The decimal digits of v, at least width of them (zero-padded), at p,
 * which has room for 20; returns how many. No terminating NUL. */
size_t cn_log_put_dec(char *p, uint64_t v, unsigned width);
/* Write queued records as far as stdout takes them, waiting for it at
 * most wait_ms (0: not at all) each time it is full. */
void cn_log_flush(int wait_ms);
/* Records dropped because stdout did not keep up (or was gone). */
uint64_t cn_log_dropped(void);

/* CLOCK_REALTIME in nanoseconds. */
uint64_t cn_log_realtime_ns(void);

/* ts_ns as RFC 3339 in UTC with microseconds: 2026-12-01T11:22:33.123456Z. */
void cn_log_rfc3339(char *buf, size_t len, uint64_t ts_ns);

/* What a line on stderr starts with: "TIME clientnic: ", the time left
 * out when stderr is the journal (it stamps lines itself). */
void cn_log_line_start(char *buf, size_t len);

#endif
