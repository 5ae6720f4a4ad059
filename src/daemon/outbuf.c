// SPDX-License-Identifier: MIT
#include "outbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OB_FIRST 4096

void ob_init(struct outbuf *b, size_t max)
{
	*b = (struct outbuf){ .max = max };
}

void ob_free(struct outbuf *b)
{
	free(b->p);
	ob_init(b, b->max);
}

void ob_reset(struct outbuf *b)
{
	b->len = 0;
	b->full = false;
	if (b->p)
		b->p[0] = '\0';
}

/* Room for n more bytes and a NUL; false when over the bound. */
static bool ob_room(struct outbuf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (b->full || n > b->max - b->len) {
		b->full = true;
		return false;
	}
	need = b->len + n + 1;
	if (need <= b->cap)
		return true;
	cap = b->cap ? b->cap : OB_FIRST;
	while (cap < need)
		cap *= 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	p = realloc(b->p, cap);
	if (!p) {
		b->full = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

void ob_put(struct outbuf *b, const char *s, size_t n)
{
	if (!ob_room(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void ob_puts(struct outbuf *b, const char *s)
{
	ob_put(b, s, strlen(s));
}

void ob_printf(struct outbuf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(small)) {
		ob_put(b, small, (size_t)n);
		return;
	}
	if (!ob_room(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void ob_json_str(struct outbuf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			ob_printf(b, "\\%c", c);
		else if (c < 0x20)
			ob_printf(b, "\\u%04x", c);
		else
			ob_put(b, s, 1);
	}
}
