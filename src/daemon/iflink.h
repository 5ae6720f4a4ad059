/* SPDX-License-Identifier: MIT */
#ifndef CN_IFLINK_H
#define CN_IFLINK_H


/* The ifindex, in this namespace, of the interface's link (a veth's
 * peer), in *link; 0 when it has none here. 0 or -errno. */
int iflink_local(unsigned ifindex, unsigned *link);

#endif
