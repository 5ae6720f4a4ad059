#!/usr/bin/env bash
# run.sh VMLINUZ PROGRAM [ARGS...]: run PROGRAM as root in a guest booted
# from the kernel image VMLINUZ (tests/vm/kernel.sh fetches Debian 12's),
# with an initramfs of PROGRAM, the shared libraries ldd names for it and
# tests/vm/init.c as PID 1. The guest's console is printed; the exit
# status is PROGRAM's (125: the guest never said, e.g. a panic or the
# timeout).
#
# Environment: VM_INIT (the static init binary, required), VM_COPY (host
# files or folders put in the guest's /t next to PROGRAM, executables with
# their libraries), VM_ENV
# (KEY=VALUE words, the guest program's environment), VM_TIMEOUT
# (seconds, default 600), VM_MEM (MiB, default 1024), VM_ACCEL=kvm (KVM
# instead of software emulation; nested KVM here hangs before the kernel
# prints a line), VM_QUIET= (the kernel's boot messages too).
set -o errexit -o nounset -o pipefail

kernel=${1:?usage: run.sh VMLINUZ PROGRAM [ARGS...]}
prog=${2:?usage: run.sh VMLINUZ PROGRAM [ARGS...]}
shift 2
init=${VM_INIT:?VM_INIT: the static init (tests/vm/init.c) to boot}
for f in "$kernel" "$prog" "$init"; do
	[ -r "$f" ] || { echo "run.sh: cannot read $f" >&2; exit 2; }
done
command -v qemu-system-x86_64 >/dev/null || { echo "run.sh: qemu-system-x86_64 is not installed (qemu-system-x86)" >&2; exit 2; }
command -v cpio >/dev/null || { echo "run.sh: cpio is not installed" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/cn-vm.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
mkdir -p "$root/t"
cp "$init" "$root/init"
cp "$prog" "$root/t/"
for f in ${VM_COPY:-}; do
	cp -rL "$f" "$root/t/"
done
# Every program's libraries and loader at their own paths (ldd prints
# "name => path (addr)" and the loader as "path (addr)"; it fails for
# files that are not dynamic executables).
for f in "$prog" ${VM_COPY:-}; do
	if ! { [ -f "$f" ] && [ -x "$f" ]; }; then continue; fi
	{ ldd "$f" 2>/dev/null || true; } |
		awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'
done | sort -u | while read -r lib; do
	mkdir -p "$root$(dirname "$lib")"
	cp -L "$lib" "$root$lib"
done
(cd "$root" && find . | cpio -o -H newc --quiet) | gzip -1 >"$tmp/initrd.gz"

accel=(-accel tcg)
timeout=${VM_TIMEOUT:-600}
[ "${VM_ACCEL:-tcg}" = kvm ] && accel=(-accel kvm)
# panic=-1 reboots at once on a panic, and -no-reboot turns that into an
# exit: a guest that went wrong ends instead of hanging.
args=$(printf ' %s' "/t/$(basename "$prog")" "$@")
rc=0
timeout "$timeout" qemu-system-x86_64 "${accel[@]}" -m "${VM_MEM:-1024}" -smp 2 \
	-nographic -no-reboot -nodefaults -serial stdio \
	-kernel "$kernel" -initrd "$tmp/initrd.gz" \
	-append "console=ttyS0 panic=-1 ${VM_QUIET-quiet} ${VM_ENV:-} --$args" </dev/null >"$tmp/console" || rc=$?
tr -d '\r' <"$tmp/console"
status=$(tr -d '\r' <"$tmp/console" | sed -n 's/^cn-vm: exit \([0-9]*\)$/\1/p' | tail -1)
if [ -z "$status" ]; then
	echo "run.sh: the guest never reported (qemu exit $rc; 124: the timeout, ${timeout} s)" >&2
	exit 125
fi
exit "$status"
