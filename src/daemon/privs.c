// SPDX-License-Identifier: MIT
#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int caps_left(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d) < 0)
		return -errno;
	for (int i = 0; i < _LINUX_CAPABILITY_U32S_3; i++)
		if (d[i].effective || d[i].permitted || d[i].inheritable)
			return -EPERM;
	return 0;
}

int privs_drop(const char *user, const char **step)
{
	struct passwd *pw;
	gid_t gid;
	int ret;

	errno = 0;
	*step = "look the user up";
	pw = getpwnam(user);
	if (!pw)
		return errno ? -errno : -ENOENT;
	gid = pw->pw_gid;
	/* Groups first: after the uid changes, setgroups() is no longer
	 * allowed. A uid change from 0 clears every capability (no
	 * PR_SET_KEEPCAPS). */
	*step = "set the groups";
	if (setgroups(1, &gid) < 0)
		return -errno;
	*step = "set the group id";
	if (setresgid(gid, gid, gid) < 0)
		return -errno;
	*step = "set the user id";
	if (setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) < 0)
		return -errno;
	*step = "forbid new privileges";
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	*step = "check that no capability is left";
	ret = caps_left();
	if (ret < 0)
		return ret;
	*step = "check that the old ids are gone";
	if (pw->pw_uid != 0 && (setuid(0) == 0 || setgid(0) == 0))
		return -EPERM;
	return 0;
}
