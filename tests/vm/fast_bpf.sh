#!/usr/bin/env bash
# fast_bpf.sh BUILD: the kernel path's programs under Debian 12's kernel
# (Linux 6.1, tests/vm/kernel.sh), whose verifier must accept them as this
# machine's does: BUILD/tests/test_fast_bpf (load, then every directed,
# corpus and random frame against the engine's rewriter) as root in a
# guest. (Without CAP_PERFMON and CAP_SYS_ADMIN 6.1's verifier refuses
# them; the daemon says so, and the units start it with CAP_SYS_ADMIN.)
set -o errexit -o nounset -o pipefail

build=${1:?usage: fast_bpf.sh BUILD}
here=$(cd "$(dirname "$0")" && pwd)
vm=$build/vm
test=$build/tests/test_fast_bpf
[ -x "$test" ] || { echo "fast_bpf.sh: $test is not built" >&2; exit 2; }
[ -x "$vm/init" ] || { echo "fast_bpf.sh: $vm/init is not built" >&2; exit 2; }
kernel=$("$here/kernel.sh" "$vm")
rm -rf "$vm/corpus"
python3 "$here/../../fuzz/make_corpus.py" "$vm/corpus" >/dev/null

log=$vm/fast_bpf.log
rc=0
VM_INIT=$vm/init VM_COPY=$vm/corpus VM_ENV=CN_FAST_CORPUS=/t/corpus \
	"$here/run.sh" "$kernel" "$test" >"$log" 2>&1 || rc=$?
tests=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\.$/\1/p' "$log")
load=$(sed -n 's/^  fast_bpf: open and load: //p' "$log")
if [ "$rc" = 0 ] && [ -n "$tests" ] && [ "$tests" -gt 0 ] && ! grep -q 'SKIPPED\|FAILED' "$log"; then
	echo "ok   test_fast_bpf on $(basename "$kernel") in an emulated guest ($tests tests; load $load)"
	exit 0
fi
echo "FAIL test_fast_bpf on $(basename "$kernel") (exit $rc; $log):"
grep -v '^\[ *[0-9.]*\] ' "$log" | tail -40
exit 1
