/* SPDX-License-Identifier: MIT */
/*
 * What the daemon and clientnicctl agree on: where the control socket is
 * by default, and the shape of a request. A request is one text line,
 *   flows|counters|metrics|cache [json] [server ADDR[:PORT]] [state STATE]
 * and the answer is text up to the end of the connection; an answer that
 * starts with "error: " is a refusal, the rest of its line says why.
 */
#ifndef CN_CONTROL_PROTO_H
#define CN_CONTROL_PROTO_H

#define CN_CONTROL_DIR "/run/clientnic"
#define CN_CONTROL_SUFFIX ".sock"
#define CN_CONTROL_ERROR "error: "
/* --name: what the socket and the log are called. */
#define CN_NAME_MAX 64
#define CN_NAME_CHARS                                                       \
	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@._-"

#endif
