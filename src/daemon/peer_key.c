// SPDX-License-Identifier: MIT
#include "peer_key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A key file is a line or two of hex; anything much longer is not one. */
#define KEY_FILE_MAX 4096

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

/* The whole file into buf (at most len - 1 bytes); returns its length or
 * -errno. */
static ssize_t read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* Hex digits into key; the position of the first offending byte in *bad,
 * and the number of digits in *digits. */
static int parse_hex(const char *buf, size_t len, uint8_t *key,
		     size_t *digits, size_t *bad)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];
		int v = hex_value(c);

		if (is_space(c))
			continue;
		if (v < 0) {
			*bad = i;
			return -EINVAL;
		}
		if (n < CN_PEER_KEY_DIGITS)
			key[n / 2] = (uint8_t)(n % 2 ? key[n / 2] | v : v << 4);
		n++;
	}
	*digits = n;
	return n < CN_PEER_KEY_DIGITS ? -EINVAL : 0;
}

int cn_peer_key_load(const char *path, uint8_t key[CN_PEER_KEY_LEN],
		     bool *exposed, char *why, size_t why_len)
{
	char buf[KEY_FILE_MAX + 1];
	size_t digits = 0, bad = SIZE_MAX;
	struct stat st;
	ssize_t len = 0;
	int fd, ret;

	*exposed = false;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		ret = -errno;
		snprintf(why, why_len, "%s", strerror(-ret));
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		ret = -errno;
		snprintf(why, why_len, "%s", strerror(-ret));
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		ret = -EISDIR;
		snprintf(why, why_len, "a directory, not a key file");
		goto out;
	}
	/* Only a regular file's mode means anything: a pipe handed over by
	 * a service manager is as private as its writer made it. */
	*exposed = S_ISREG(st.st_mode) && (st.st_mode & (S_IRGRP | S_IROTH));
	len = read_all(fd, buf, sizeof(buf));
	if (len < 0) {
		ret = (int)len;
		snprintf(why, why_len, "%s", strerror(-ret));
		goto out;
	}
	if ((size_t)len > KEY_FILE_MAX) {
		ret = -EFBIG;
		snprintf(why, why_len, "longer than %u bytes: not a key file",
			 KEY_FILE_MAX);
		goto out;
	}
	ret = parse_hex(buf, (size_t)len, key, &digits, &bad);
	/* The offending byte is named by its place only: it may be part of
	 * a secret written in another notation. */
	if (ret < 0 && bad != SIZE_MAX)
		snprintf(why, why_len, "byte %zu is not a hex digit (the key "
			 "is %u or more hex digits, whitespace allowed)",
			 bad + 1, CN_PEER_KEY_DIGITS);
	else if (ret < 0)
		snprintf(why, why_len, "%zu hex digits, a key needs at least "
			 "%u", digits, CN_PEER_KEY_DIGITS);
out:
	explicit_bzero(buf, sizeof(buf));
	if (fd >= 0)
		close(fd);
	if (ret < 0)
		explicit_bzero(key, CN_PEER_KEY_LEN);
	return ret;
}
