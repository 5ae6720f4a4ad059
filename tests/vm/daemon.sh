#!/usr/bin/env bash
# daemon.sh BUILD: both daemons' kernel path under Debian 12's kernel
# (Linux 6.1, tests/vm/kernel.sh) in a guest: tc attach over netlink, the
# take-over of a predecessor's programs and maps, the fanout program of
# two workers, --detach (tests/vm/daemon_guest.sh); and TCP inside a VLAN
# tag through the ClientNIC (tests/vm/vlan_guest.sh: this machine's kernel
# has no 802.1Q devices). With iproute2's ip and tc from this machine.
set -o errexit -o nounset -o pipefail

build=${1:?usage: daemon.sh BUILD}
here=$(cd "$(dirname "$0")" && pwd)
vm=$build/vm
for d in clientnic servernic bench/loadgen; do
	[ -x "$build/$d" ] || { echo "daemon.sh: $build/$d is not built" >&2; exit 2; }
done
[ -x "$vm/init" ] || { echo "daemon.sh: $vm/init is not built" >&2; exit 2; }
kernel=$("$here/kernel.sh" "$vm")
mods=$vm/modules-${kernel##*/vmlinuz-}
tools=()
for t in ip tc sleep seq grep cat sed mkdir; do
	tools+=("$(command -v "$t")")
done
m=/t/${mods##*/}
fail=0
# guest NAME SCRIPT MODULES: one guest run of a script of checks, its
# console in $vm/SCRIPT.log.
guest() {
	local name=$1 script=$2 modules=$3 rc=0 n log
	log=$vm/$(basename "$script" .sh).log
	VM_INIT=$vm/init VM_COPY="$build/clientnic $build/servernic $build/bench/loadgen $script ${tools[*]} $mods" \
		VM_ENV="CN_VM_MODULES=$modules" \
		"$here/run.sh" "$kernel" "$(command -v bash)" "/t/${script##*/}" >"$log" 2>&1 || rc=$?
	n=$(grep -c 'ok: ' "$log" || true)
	if [ "$rc" = 0 ] && [ "$n" -gt 0 ]; then
		echo "ok   $name on $(basename "$kernel") in an emulated guest ($n checks)"
		return 0
	fi
	echo "FAIL $name on $(basename "$kernel") (exit $rc; $log):"
	grep -v '^\[ *[0-9.]*\] ' "$log" | tail -40
	fail=1
}
guest "the daemons' kernel path" "$here/daemon_guest.sh" \
	"$m/veth.ko,$m/sch_ingress.ko,$m/cls_bpf.ko"
guest "TCP in VLAN 10 through the ClientNIC's kernel path" "$here/vlan_guest.sh" \
	"$m/veth.ko,$m/sch_ingress.ko,$m/cls_bpf.ko,$m/llc.ko,$m/stp.ko,$m/garp.ko,$m/mrp.ko,$m/8021q.ko"
exit "$fail"
