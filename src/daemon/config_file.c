// SPDX-License-Identifier: MIT
#include "config_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static bool key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

static char *trim(char *s)
{
	char *end;

	while (blank(*s))
		s++;
	end = s + strlen(s);
	while (end > s && blank(end[-1]))
		*--end = '\0';
	return s;
}

/* One line, cut in place into key and value. */
static int parse_line(char *s, const char **key, const char **value,
		      const char **why)
{
	char *eq, *hash, *k, *v;

	for (hash = s; (hash = strchr(hash, '#')); hash++) {
		if (hash == s || blank(hash[-1])) {
			*hash = '\0';
			break;
		}
	}
	s = trim(s);
	if (!*s) {
		*key = NULL;
		return 0;
	}
	eq = strchr(s, '=');
	if (!eq) {
		*why = "not a 'key = value' line";
		return -EINVAL;
	}
	*eq = '\0';
	k = trim(s);
	v = trim(eq + 1);
	if (!*k) {
		*why = "no key before '='";
		return -EINVAL;
	}
	for (const char *c = k; *c; c++) {
		if (!key_char(*c) || *k == '-') {
			*why = "a key is a long option's name: lowercase "
			       "letters, digits and '-' (no leading --)";
			return -EINVAL;
		}
	}
	if (!*v) {
		*why = "no value after '='";
		return -EINVAL;
	}
	*key = k;
	*value = v;
	return 0;
}

int cfg_parse(struct cfg_file *cf, const char *text, size_t len,
	      unsigned *line, const char **why)
{
	char *s, *next;
	unsigned n = 0;

	cf->n = 0;
	cf->text = malloc(len + 1);
	if (!cf->text) {
		*line = 0;
		*why = "out of memory";
		return -ENOMEM;
	}
	memcpy(cf->text, text, len);
	cf->text[len] = '\0';
	if (strlen(cf->text) != len) {
		*line = 0;
		*why = "a NUL byte: not a text file";
		return -EINVAL;
	}
	for (s = cf->text; s; s = next) {
		const char *key = NULL, *value = NULL;

		next = strchr(s, '\n');
		if (next)
			*next++ = '\0';
		*line = ++n;
		if (strlen(s) > CFG_LINE_MAX) {
			*why = "a line longer than 1024 bytes";
			return -EINVAL;
		}
		if (parse_line(s, &key, &value, why) < 0)
			return -EINVAL;
		if (!key)
			continue;
		for (size_t i = 0; i < cf->n; i++) {
			if (!strcmp(cf->e[i].key, key)) {
				*why = "the key is given twice";
				return -EINVAL;
			}
		}
		if (cf->n == CFG_ENTRIES_MAX) {
			*why = "more than 128 keys";
			return -EINVAL;
		}
		cf->e[cf->n++] = (struct cfg_entry){ key, value, n };
	}
	*line = 0;
	return 0;
}

int cfg_read(struct cfg_file *cf, const char *path, unsigned *line,
	     const char **why)
{
	char *buf = NULL;
	size_t len = 0;
	ssize_t got;
	struct stat st;
	int fd, ret;

	*line = 0;
	cf->text = NULL;
	cf->n = 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto fail;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		*why = "not a regular file";
		return -EINVAL;
	}
	buf = malloc(CFG_FILE_MAX + 1);
	if (!buf)
		goto fail;
	while ((got = read(fd, buf + len, CFG_FILE_MAX + 1 - len)) > 0) {
		len += (size_t)got;
		if (len > CFG_FILE_MAX) {
			free(buf);
			close(fd);
			*why = "larger than 64 KiB";
			return -EFBIG;
		}
	}
	if (got < 0)
		goto fail;
	close(fd);
	ret = cfg_parse(cf, buf, len, line, why);
	free(buf);
	return ret;
fail:
	ret = -errno;
	*why = strerror(errno);
	free(buf);
	if (fd >= 0)
		close(fd);
	return ret;
}

void cfg_free(struct cfg_file *cf)
{
	free(cf->text);
	cf->text = NULL;
	cf->n = 0;
}
