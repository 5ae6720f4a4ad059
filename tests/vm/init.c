// SPDX-License-Identifier: MIT
/*
 * PID 1 of the test guest (tests/vm/run.sh): mounts what the tests read,
 * runs the command the kernel command line names after "--" (the kernel
 * gives those words to init as its arguments, and the line's unknown
 * KEY=VALUE words as its environment), prints its exit status on the
 * console in a line the host looks for, and powers the guest off. Static,
 * so the initramfs needs no loader for it.
 *
 * CN_VM_MODULES=PATH,PATH...: kernel modules (uncompressed, in dependency
 * order) loaded before the command runs.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void mount_or_say(const char *src, const char *dir, const char *type)
{
	mkdir(dir, 0755);
	if (mount(src, dir, type, 0, NULL) && errno != EBUSY)
		fprintf(stderr, "cn-vm: mount %s on %s: %s\n", type, dir,
			strerror(errno));
}

static int load_modules(const char *list)
{
	char path[256];
	int ret = 0;

	while (list && *list) {
		size_t n = strcspn(list, ",");
		int fd;

		if (n >= sizeof(path)) {
			fprintf(stderr, "cn-vm: module path too long\n");
			return -1;
		}
		memcpy(path, list, n);
		path[n] = '\0';
		list += list[n] ? n + 1 : n;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || syscall(SYS_finit_module, fd, "", 0)) {
			fprintf(stderr, "cn-vm: module %s: %s\n", path, strerror(errno));
			ret = -1;
		}
		if (fd >= 0)
			close(fd);
	}
	return ret;
}

int main(int argc, char **argv)
{
	int status = 0, code;
	pid_t pid;

	mount_or_say("proc", "/proc", "proc");
	mount_or_say("sysfs", "/sys", "sysfs");
	mount_or_say("devtmpfs", "/dev", "devtmpfs");
	mount_or_say("tmpfs", "/tmp", "tmpfs");
	if (load_modules(getenv("CN_VM_MODULES"))) {
		code = 125;
	} else if (argc < 2) {
		fprintf(stderr, "cn-vm: no command (init -- PROGRAM ARGS...)\n");
		code = 125;
	} else if ((pid = fork()) < 0) {
		fprintf(stderr, "cn-vm: fork: %s\n", strerror(errno));
		code = 125;
	} else if (pid == 0) {
		execv(argv[1], argv + 1);
		fprintf(stderr, "cn-vm: exec %s: %s\n", argv[1], strerror(errno));
		_exit(127);
	} else {
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		code = WIFEXITED(status) ? WEXITSTATUS(status) :
					   128 + WTERMSIG(status);
	}
	printf("cn-vm: exit %d\n", code);
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
