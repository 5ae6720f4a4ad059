#!/usr/bin/env bash
# check.sh BUILD: the kernel path under Debian 12's kernel (Linux 6.1,
# tests/vm/kernel.sh), whose verifier must accept the programs as this
# machine's does, in three emulated guests (tests/vm/run.sh):
#   - BUILD/tests/test_fast_bpf as root without CAP_PERFMON and
#     CAP_SYS_ADMIN (then the verifier also follows the paths of
#     mispredicted branches): load, then every directed, corpus and random
#     frame against the engine's rewriter;
#   - both daemons on two veth pairs (daemon_guest.sh): tc attach over
#     netlink (without those two capabilities too), the take-over of a
#     predecessor's programs and maps, the fanout program of two workers,
#     --detach;
#   - TCP inside a VLAN tag through the ClientNIC (vlan_guest.sh: this
#     machine's kernel has no 802.1Q devices).
# With iproute2's ip and tc from this machine. Each guest's console is in
# BUILD/vm/NAME.log.
set -o errexit -o nounset -o pipefail

build=${1:?usage: check.sh BUILD}
here=$(cd "$(dirname "$0")" && pwd)
vm=$build/vm
for f in tests/test_fast_bpf clientnic servernic bench/loadgen vm/init; do
	[ -x "$build/$f" ] || { echo "check.sh: $build/$f is not built" >&2; exit 2; }
done
kernel=$("$here/kernel.sh" "$vm")
mods=$vm/modules-${kernel##*/vmlinuz-}
m=/t/${mods##*/}
rm -rf "$vm/corpus"
python3 "$here/../../fuzz/make_corpus.py" "$vm/corpus" >/dev/null
tools=()
for t in ip tc sleep seq grep cat sed mkdir bash setpriv; do
	tools+=("$(command -v "$t")")
done

fail=0
# guest WHAT LOG MODULES PROGRAM [ARGS...]: one guest; it passes when
# PROGRAM exits 0 having passed checks ("ok: " lines, or cmocka's OK) and
# skipped or failed none.
guest() {
	local what=$1 log=$vm/$2.log modules=$3 rc=0 n
	shift 3
	VM_INIT=$build/vm/init \
		VM_COPY="$build/tests/test_fast_bpf $build/clientnic $build/servernic $build/bench/loadgen $here/daemon_guest.sh $here/vlan_guest.sh ${tools[*]} $mods $vm/corpus" \
		VM_ENV="CN_FAST_CORPUS=/t/corpus CN_VM_MODULES=$modules" \
		"$here/run.sh" "$kernel" "$@" >"$log" 2>&1 || rc=$?
	n=$(grep -a -c -E 'ok: |^\[       OK \]' "$log" || true)
	if [ "$rc" = 0 ] && [ "$n" -gt 0 ] &&
		! grep -a -v '^\[ *[0-9.]*\] ' "$log" | grep -q -E 'SKIPPED|FAIL'; then
		echo "ok   $what on $(basename "$kernel") in an emulated guest ($n passed)"
		return 0
	fi
	echo "FAIL $what on $(basename "$kernel") (exit $rc; $log):"
	grep -a -v '^\[ *[0-9.]*\] ' "$log" | tail -40
	fail=1
}
net=$m/veth.ko,$m/sch_ingress.ko,$m/cls_bpf.ko
guest "test_fast_bpf without CAP_PERFMON and CAP_SYS_ADMIN" fast_bpf "" \
	"$(command -v setpriv)" --bounding-set -perfmon,-sys_admin \
	--inh-caps -perfmon,-sys_admin /t/test_fast_bpf
guest "the daemons' kernel path" daemon "$net" "$(command -v bash)" /t/daemon_guest.sh
guest "TCP in VLANs 10 (802.1Q) and 20 (802.1ad) through the ClientNIC's kernel path" vlan \
	"$net,$m/llc.ko,$m/stp.ko,$m/garp.ko,$m/mrp.ko,$m/8021q.ko" \
	"$(command -v bash)" /t/vlan_guest.sh
exit "$fail"
