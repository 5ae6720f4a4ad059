#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run every tests/e2e/test_*.sh (or the ones named) as root, each under a
# timeout, its output shown only when it fails (or with V=1). Prints
# ok/FAIL/skip per test and a closing 'e2e: N passed, N failed' line.
# Environment: BOX, WAN, BUILD (see lib.sh), E2E_TIMEOUT (s per test, 120).
set -o nounset -o pipefail
here=$(cd "$(dirname "$0")" && pwd)
timeout_s=${E2E_TIMEOUT:-120}

if [ "$(id -u)" -ne 0 ]; then
	echo "e2e: these tests must run as root (network namespaces, veth, AF_PACKET);" \
		"run: sudo $0" >&2
	echo "e2e: 0 passed, 0 failed, all skipped (not root)"
	exit 1
fi

if [ $# -gt 0 ]; then tests=("$@"); else tests=("$here"/test_*.sh); fi
pass=0 fail=0 skipped=0 failed_names=()
start=$(date +%s)
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	out=$(mktemp)
	t0=$(date +%s%N)
	timeout -k 5 "$timeout_s" bash "$t" >"$out" 2>&1
	rc=$?
	secs=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
	case $rc in
	0)
		pass=$((pass + 1))
		printf 'ok   %-28s %6ss\n' "$name" "$secs"
		[ "${V:-0}" = 1 ] && sed 's/^/     /' "$out"
		;;
	77)
		skipped=$((skipped + 1))
		printf 'skip %-28s %6ss  %s\n' "$name" "$secs" "$(grep -m1 '^SKIP' "$out")"
		;;
	*)
		fail=$((fail + 1))
		failed_names+=("$name")
		[ $rc -eq 124 ] && echo "(timed out after ${timeout_s} s)" >>"$out"
		sed 's/^/     | /' "$out"
		printf 'FAIL %-28s %6ss  (exit %d)\n' "$name" "$secs" "$rc"
		;;
	esac
	rm -f "$out"
done
echo "e2e: $(($(date +%s) - start)) s; box=${BOX:-clientnic}${failed_names:+; failed: ${failed_names[*]}}"
echo "e2e: $pass passed, $fail failed, $skipped skipped"
[ $fail -eq 0 ]
