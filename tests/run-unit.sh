#!/usr/bin/env bash
# Run each unit test binary; print its output only when it fails, and a
# closing 'N passed, N failed' line over all tests.
set -o nounset
pass=0 fail=0
for t in "$@"; do
	out=$("$t" 2>&1)
	rc=$?
	p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
	pass=$((pass + ${p:-0}))
	if [ $rc -ne 0 ]; then
		fail=$((fail + ${f:-1}))
		printf '%s\n' "$out"
		echo "FAIL: $t (exit $rc)"
	else
		echo "ok   $(basename "$t") (${p:-0} tests)"
	fi
done
echo "unit: $pass passed, $fail failed"
[ $fail -eq 0 ]
