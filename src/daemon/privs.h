/* SPDX-License-Identifier: MIT */
/*
 * --user NAME: once the ports, the capture and the event loop are open,
 * the daemon needs no privilege at all (packet I/O runs on sockets already
 * open), so it becomes NAME with no capabilities left and no way back.
 */
#ifndef CN_PRIVS_H
#define CN_PRIVS_H

/* Become user: its uid, its primary group alone, no capabilities, no new
 * privileges. Returns 0, or -errno with *step naming what failed. */
int privs_drop(const char *user, const char **step);

#endif
