/* SPDX-License-Identifier: MIT */
/*
 * --cache-file FILE: the ClientNIC's options cache kept across restarts,
 * so the first connection after a restart gets the right options too.
 * Loaded at start, written on a clean stop (to FILE.tmp, then renamed).
 * A file is checked whole (magic, version, size, checksum) and record by
 * record before any of it is learned: a damaged or foreign file is
 * refused with a warning and the daemon starts with an empty cache.
 */
#ifndef CN_CACHE_FILE_H
#define CN_CACHE_FILE_H

#include "engine/engine.h"

/* Learn the file's records into each of n engines. Returns the number of
 * records, 0 for a missing file, -errno for one that could not be read,
 * or -EINVAL for one refused (why in *why). */
int cache_file_load(const char *path, struct cn_engine *const *eng,
		    unsigned n, const char **why);

/* Write what the n engines know (a server known to several once, the
 * last it learned). Returns the number of records or -errno. */
int cache_file_save(const char *path, struct cn_engine *const *eng,
		    unsigned n);

#endif
