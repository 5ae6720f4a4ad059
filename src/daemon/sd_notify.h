/* SPDX-License-Identifier: MIT */
/*
 * Readiness for systemd (Type=notify): the sd_notify(3) protocol is one
 * datagram of "KEY=value" lines to the AF_UNIX socket named in
 * $NOTIFY_SOCKET, so a few lines do without libsystemd. Without that
 * variable (not started by systemd) nothing is sent.
 */
#ifndef CN_SD_NOTIFY_H
#define CN_SD_NOTIFY_H

/* Send state ("READY=1", "STOPPING=1", ...); 0, or -errno (nothing the
 * daemon needs to act on: systemd then reports the unit itself). */
int sd_notify_send(const char *state);

/* "RELOADING=1" with the MONOTONIC_USEC systemd asks of a reload. */
int sd_notify_reloading(void);

#endif
