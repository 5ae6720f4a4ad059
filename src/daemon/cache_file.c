// SPDX-License-Identifier: MIT
#include "cache_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/packet.h"
#include "engine/siphash.h"

/*
 * Layout, network byte order:
 *   "CNOPTC" version(2)  count(4)
 *   count records of REC bytes: family, known, port(2), address(16),
 *     mss(2), window scale (signed), flags (1 SACK, 2 timestamps)
 *   SipHash-2-4 of all the above under a fixed key (8): damage, not
 *   forgery, is what it catches; the records are checked anyway.
 */
#define MAGIC "CNOPTC"
#define VERSION 1
#define HDR 12
#define REC 24
#define SUM 8
#define MAX_RECORDS (1u << 20)

static const uint8_t sum_key[16] = "clientnic cache";

static uint64_t sum_of(const uint8_t *b, size_t n)
{
	return cn_siphash(sum_key, b, n);
}

static void put64(uint8_t *b, uint64_t v)
{
	cn_put32(b, (uint32_t)(v >> 32));
	cn_put32(b + 4, (uint32_t)v);
}

static void rec_put(uint8_t *b, const struct cn_cache_record *r)
{
	b[0] = r->family;
	b[1] = r->known;
	cn_put16(b + 2, r->port);
	memcpy(b + 4, r->addr, 16);
	cn_put16(b + 20, r->mss);
	b[22] = (uint8_t)r->wscale;
	b[23] = (uint8_t)((r->sack_ok ? 1 : 0) | (r->ts ? 2 : 0));
}

static bool rec_get(const uint8_t *b, struct cn_cache_record *r)
{
	*r = (struct cn_cache_record){
		.family = b[0],
		.known = b[1],
		.port = cn_get16(b + 2),
		.mss = cn_get16(b + 20),
		.wscale = (int8_t)b[22],
		.sack_ok = b[23] & 1,
		.ts = b[23] & 2,
	};
	memcpy(r->addr, b + 4, 16);
	return !(b[23] & ~3u);
}

/* The whole file, at most max bytes: NULL with errno set otherwise. */
static uint8_t *read_all(const char *path, size_t max, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	uint8_t *buf = NULL;
	struct stat st;
	size_t got = 0;

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) < 0)
		goto fail;
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		errno = EFBIG;
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		goto fail;
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			errno = r < 0 ? errno : EIO;
			goto fail;
		}
		got += (size_t)r;
	}
	close(fd);
	*len = got;
	return buf;
fail:
	free(buf);
	close(fd);
	return NULL;
}

int cache_file_load(const char *path, struct cn_engine *const *eng,
		    unsigned n, const char **why)
{
	size_t cap = cn_engine_cache_capacity(eng[0]) * n, len = 0, count;
	size_t max = HDR + REC * (cap < MAX_RECORDS ? cap : MAX_RECORDS) + SUM;
	struct cn_cache_record *r = NULL;
	uint8_t *b = read_all(path, max, &len);
	int ret = -EINVAL;

	*why = NULL;
	if (!b) {
		if (errno == ENOENT)
			return 0;
		if (errno != EFBIG)
			return -errno;
		*why = "larger than the cache";
		return -EINVAL;
	}
	count = len >= HDR ? cn_get32(b + 8) : 0;
	if (len < HDR + SUM || memcmp(b, MAGIC, 6))
		*why = "not a cache file";
	else if (cn_get16(b + 6) != VERSION)
		*why = "another version of the format";
	else if (len != HDR + REC * count + SUM)
		*why = "its size does not match its record count";
	else if (sum_of(b, len - SUM) != ((uint64_t)cn_get32(b + len - 8) << 32 |
					  cn_get32(b + len - 4)))
		*why = "its checksum does not match (damaged)";
	if (*why)
		goto out;
	r = calloc(count ? count : 1, sizeof(*r));
	if (!r) {
		ret = -ENOMEM;
		goto out;
	}
	/* Every record is checked before any is learned. */
	for (size_t i = 0; i < count; i++) {
		if (!rec_get(b + HDR + REC * i, &r[i]) ||
		    cn_engine_cache_learn(eng[0], &r[i]) < 0) {
			*why = "a record no server could have sent";
			goto out;
		}
	}
	for (unsigned w = 1; w < n; w++)
		for (size_t i = 0; i < count; i++)
			cn_engine_cache_learn(eng[w], &r[i]);
	ret = (int)count;
out:
	free(r);
	free(b);
	return ret;
}

static bool same_server(const struct cn_cache_record *a,
			const struct cn_cache_record *b)
{
	return a->family == b->family && a->port == b->port &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

static int write_all(const char *path, const uint8_t *b, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		      0600);
	size_t done = 0;
	int ret = 0;

	if (fd < 0)
		return -errno;
	while (done < len && !ret) {
		ssize_t w = write(fd, b + done, len - done);

		if (w < 0 && errno != EINTR)
			ret = -errno;
		else if (w > 0)
			done += (size_t)w;
	}
	if (!ret && fsync(fd) < 0)
		ret = -errno;
	if (close(fd) < 0 && !ret)
		ret = -errno;
	return ret;
}

int cache_file_save(const char *path, struct cn_engine *const *eng,
		    unsigned n)
{
	size_t cap = cn_engine_cache_capacity(eng[0]), total = 0;
	struct cn_cache_record *r = calloc(cap * n, sizeof(*r));
	char tmp[4096];
	uint8_t *b = NULL;
	size_t count = 0, len;
	int ret;

	if (!r)
		return -ENOMEM;
	for (unsigned w = 0; w < n; w++)
		total += cn_engine_cache_dump(eng[w], r + total, cap);
	/* A server several workers know: the last record of it wins, as it
	 * would when learned again in this order. One worker's are unique. */
	for (size_t i = 0; n == 1 && i < total; i++)
		r[count++] = r[i];
	for (size_t i = 0; n > 1 && i < total; i++) {
		bool later = false;

		for (size_t j = i + 1; j < total && !later; j++)
			later = same_server(&r[i], &r[j]);
		if (!later)
			r[count++] = r[i];
	}
	len = HDR + REC * count + SUM;
	ret = -ENOMEM;
	b = malloc(len);
	if (!b)
		goto out;
	memcpy(b, MAGIC, 6);
	cn_put16(b + 6, VERSION);
	cn_put32(b + 8, (uint32_t)count);
	for (size_t i = 0; i < count; i++)
		rec_put(b + HDR + REC * i, &r[i]);
	put64(b + len - SUM, sum_of(b, len - SUM));
	ret = -ENAMETOOLONG;
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		goto out;
	ret = write_all(tmp, b, len);
	if (!ret && rename(tmp, path) < 0)
		ret = -errno;
	if (ret < 0)
		unlink(tmp);
	else
		ret = (int)count;
out:
	free(b);
	free(r);
	return ret;
}
