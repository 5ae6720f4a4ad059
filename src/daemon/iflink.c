// SPDX-License-Identifier: MIT
/*
 * An interface's link as rtnetlink tells it: a veth's peer is IFLA_LINK,
 * an ifindex of this namespace only when no IFLA_LINK_NETNSID says it is
 * in another (ifindexes are per namespace, so /sys's iflink alone cannot
 * tell a peer here from one elsewhere that has the same number).
 */
#include "iflink.h"

#include <errno.h>
#include <stdbool.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int iflink_local(unsigned ifindex, unsigned *link)
{
	struct {
		struct nlmsghdr nh;
		struct ifinfomsg ifi;
	} req = {
		.nh = {
			.nlmsg_len = NLMSG_LENGTH(sizeof(struct ifinfomsg)),
			.nlmsg_type = RTM_GETLINK,
			.nlmsg_flags = NLM_F_REQUEST,
			.nlmsg_seq = 1,
		},
		.ifi = { .ifi_family = AF_UNSPEC, .ifi_index = (int)ifindex },
	};
	/* One RTM_NEWLINK answer; its attributes fit well within this. */
	union {
		struct nlmsghdr nh;
		char buf[16384];
	} ans;
	struct nlmsghdr *nh = &ans.nh;
	struct rtattr *a;
	bool other_ns = false;
	ssize_t n;
	int fd, len, err = -EIO;

	*link = 0;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (send(fd, &req, req.nh.nlmsg_len, 0) < 0) {
		err = -errno;
		goto out;
	}
	n = recv(fd, &ans, sizeof(ans), 0);
	if (n < 0) {
		err = -errno;
		goto out;
	}
	if (!NLMSG_OK(nh, (size_t)n))
		goto out;
	if (nh->nlmsg_type == NLMSG_ERROR) {
		const struct nlmsgerr *e = NLMSG_DATA(nh);

		err = nh->nlmsg_len >= NLMSG_LENGTH(sizeof(*e)) && e->error ?
			      e->error : -EIO;
		goto out;
	}
	if (nh->nlmsg_type != RTM_NEWLINK ||
	    nh->nlmsg_len < NLMSG_LENGTH(sizeof(struct ifinfomsg)))
		goto out;
	len = (int)(nh->nlmsg_len - NLMSG_LENGTH(sizeof(struct ifinfomsg)));
	for (a = IFLA_RTA(NLMSG_DATA(nh)); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_LINK_NETNSID)
			other_ns = true;
		else if (a->rta_type == IFLA_LINK &&
			 RTA_PAYLOAD(a) >= sizeof(unsigned))
			memcpy(link, RTA_DATA(a), sizeof(unsigned));
	}
	if (other_ns)
		*link = 0;
	err = 0;
out:
	close(fd);
	return err;
}
