/* SPDX-License-Identifier: MIT */
/*
 * A text buffer that grows up to a bound and then refuses more, for the
 * answers of the control socket and the metrics server: an answer is
 * built whole before it is sent, and no request can make the daemon hold
 * more than the bound.
 */
#ifndef CN_OUTBUF_H
#define CN_OUTBUF_H

#include <stdbool.h>
#include <stddef.h>

struct outbuf {
	char *p;
	size_t len;
	size_t cap;
	size_t max;  /* the bound: len never passes it */
	bool full;   /* something did not fit (or memory ran out) */
};

void ob_init(struct outbuf *b, size_t max);
void ob_free(struct outbuf *b);
void ob_reset(struct outbuf *b);
/* Append; what does not fit whole is left out and b->full set. */
void ob_put(struct outbuf *b, const char *s, size_t n);
void ob_puts(struct outbuf *b, const char *s);
void ob_printf(struct outbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* s as the inside of a JSON string (no quotes added). */
void ob_json_str(struct outbuf *b, const char *s);

#endif
