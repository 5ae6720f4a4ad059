/* SPDX-License-Identifier: MIT */
/*
 * The secret a ClientNIC and its ServerNICs share to tag the peer option
 * (--peer-key FILE): a file of hex digits, read once at startup.
 */
#ifndef CN_PEER_KEY_H
#define CN_PEER_KEY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CN_PEER_KEY_LEN 16
#define CN_PEER_KEY_DIGITS (2 * CN_PEER_KEY_LEN)

/*
 * Read the key from path: at least CN_PEER_KEY_DIGITS hex digits, of which
 * the first CN_PEER_KEY_DIGITS are used; whitespace anywhere is ignored,
 * anything else refused. *exposed says whether group or others may read
 * the file. Returns 0, or -errno with why (a message without the path)
 * filled in. key is zeroed on error; the file's bytes never outlive the
 * call.
 */
int cn_peer_key_load(const char *path, uint8_t key[CN_PEER_KEY_LEN],
		     bool *exposed, char *why, size_t why_len);

#endif
