/* SPDX-License-Identifier: MIT */
/*
 * The engine's events as event-log records on stdout: which fields each
 * event carries and at which level it is logged.
 */
#ifndef CN_EVENT_LOG_H
#define CN_EVENT_LOG_H

#include "engine/engine.h"

/* One record into stdout's buffer, if its level is enabled; the caller
 * flushes. role: the engine's, which decides what some events know. */
void event_log_write(const struct cn_event *ev, enum cn_role role);

/* An address and port as the log's client and server fields show them:
 * 192.0.2.1:80, [2001:db8::1]:80. family 4 or 6. */
void event_log_endpoint(char *buf, size_t len, uint8_t family,
			const uint8_t *addr, uint16_t port);

#endif
