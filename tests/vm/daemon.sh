#!/usr/bin/env bash
# daemon.sh BUILD: both daemons' kernel path under Debian 12's kernel
# (Linux 6.1, tests/vm/kernel.sh) in a guest: tc attach over netlink, the
# take-over of a predecessor's programs and maps, the fanout program of
# two workers, --detach (tests/vm/daemon_guest.sh, with iproute2's ip and
# tc from this machine).
set -o errexit -o nounset -o pipefail

build=${1:?usage: daemon.sh BUILD}
here=$(cd "$(dirname "$0")" && pwd)
vm=$build/vm
for d in clientnic servernic; do
	[ -x "$build/$d" ] || { echo "daemon.sh: $build/$d is not built" >&2; exit 2; }
done
[ -x "$vm/init" ] || { echo "daemon.sh: $vm/init is not built" >&2; exit 2; }
kernel=$("$here/kernel.sh" "$vm")
mods=$vm/modules-${kernel##*/vmlinuz-}
tools=()
for t in ip tc sleep seq grep cat; do
	tools+=("$(command -v "$t")")
done
log=$vm/daemon.log
rc=0
VM_INIT=$vm/init VM_COPY="$build/clientnic $build/servernic $here/daemon_guest.sh ${tools[*]} $mods" \
	VM_ENV="CN_VM_MODULES=/t/${mods##*/}/veth.ko,/t/${mods##*/}/sch_ingress.ko,/t/${mods##*/}/cls_bpf.ko" \
	"$here/run.sh" "$kernel" "$(command -v bash)" /t/daemon_guest.sh >"$log" 2>&1 || rc=$?
n=$(grep -c '^ok: ' "$log" || true)
if [ "$rc" = 0 ] && [ "$n" -gt 0 ]; then
	echo "ok   the daemons' kernel path on $(basename "$kernel") in an emulated guest ($n checks)"
	exit 0
fi
echo "FAIL the daemons' kernel path on $(basename "$kernel") (exit $rc; $log):"
grep -v '^\[ *[0-9.]*\] ' "$log" | tail -40
exit 1
