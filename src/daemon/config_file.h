/* SPDX-License-Identifier: MIT */
/*
 * --config FILE: "key = value" lines, the keys the long options' names;
 * # starts a comment (at the start of a line, or after white space),
 * blank lines are skipped. This is the file's syntax only: which keys and
 * values are good is the command line's to say (main.c), so both refuse
 * the same things with the same words.
 */
#ifndef CN_CONFIG_FILE_H
#define CN_CONFIG_FILE_H

#include <stddef.h>

#define CFG_FILE_MAX (64u * 1024)  /* bytes */
#define CFG_LINE_MAX 1024
#define CFG_ENTRIES_MAX 128

struct cfg_entry {
	const char *key;
	const char *value;
	unsigned line;
};

struct cfg_file {
	char *text;       /* the file, cut into the keys and values */
	struct cfg_entry e[CFG_ENTRIES_MAX];
	size_t n;
};

/* Parse len bytes of text (copied); 0, or -EINVAL with the line and why
 * (a static string). A key given twice is refused. */
int cfg_parse(struct cfg_file *cf, const char *text, size_t len,
	      unsigned *line, const char **why);
/* Read and parse path; 0 or -errno, with line 0 for an error reading
 * the file (why: strerror or a bound) or the line of a syntax error. */
int cfg_read(struct cfg_file *cf, const char *path, unsigned *line,
	     const char **why);
/* After cfg_parse() or cfg_read(), whatever they returned. */
void cfg_free(struct cfg_file *cf);

#endif
