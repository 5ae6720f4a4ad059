#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# --user: both daemons become an unprivileged user once their ports are
# open, with no capabilities left and no way back, and the pair still
# carries traffic; an unknown user, and a daemon that may not switch
# users, stop at once with a clear message.
. "$(dirname "$0")/lib.sh"
need_cmd curl setpriv
id nobody >/dev/null 2>&1 || skip "no user nobody"
# LeakSanitizer stops the process with ptrace at exit, which a process
# that changed its user may no longer do: leaks are checked elsewhere.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
SERVERNIC_ARGS="--user nobody --workers 2 $SERVERNIC_ARGS"
topo_setup clientnic bridge servernic
# The capture is opened as root and written on as nobody.
topo_box_restart --user nobody --pcap "$TOPO_DIR/cap.pcap" $CLIENTNIC_ARGS

# status_of PID FIELD: the field of /proc/PID/status, whitespace squeezed.
status_of() { awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"; }
uid=$(id -u nobody)
for d in clientnic servernic; do
	pidvar=$(_dmn_prefix $d)_PID
	pid=${!pidvar}
	assert_eq "$d: real, effective, saved, fs uid" "$uid $uid $uid $uid" "$(status_of "$pid" Uid)"
	assert_eq "$d: supplementary groups" "$(id -g nobody)" "$(status_of "$pid" Groups)"
	for cap in CapEff CapPrm CapInh CapAmb; do
		assert_eq "$d: $cap" 0000000000000000 "$(status_of "$pid" $cap)"
	done
	assert_eq "$d: no new privileges" 1 "$(status_of "$pid" NoNewPrivs)"
	assert_file_has "$d says whom it runs as" "$TOPO_DIR/$d.err" "running as nobody"
done

serve_blob $((1 << 20))
for i in 1 2; do
	C curl -sS --fail -m 20 -o "$TOPO_DIR/got" "http://$S_IP4:8080/blob" || fail "GET $i failed"
	assert_same_file "GET $i through the unprivileged pair" "$TOPO_DIR/blob" "$TOPO_DIR/got"
done
box_stop
snic_stop
assert_counter flows_taken_over '==' 2
assert_snic_counter flows_taken_over '==' 2
# The capture holds every frame; with the kernel path (--datapath bpf) only
# those it left to the daemon: the handshakes and the requests (some
# 1.9 KB for the two; the kernel closes the flows).
if grep -q 'kernel path: tc programs' "$TOPO_DIR/clientnic.err"; then
	assert_num "capture written after the switch, bytes (kernel path)" \
		"$(stat -c %s "$TOPO_DIR/cap.pcap")" '>' 1000
else
	assert_num "capture written after the switch, bytes" \
		"$(stat -c %s "$TOPO_DIR/cap.pcap")" '>' 2000000
fi

# What cannot be done is said, and the daemon stops (2: a bad value; 4: a
# privilege missing).
bin=${CLIENTNIC_BIN:-$BUILD/clientnic}
rc=0; out=$(N "$bin" --client-if eth0 --server-if eth1 --control none --user no-such-user-cn 2>&1) || rc=$?
assert_eq "exit status for an unknown user" 2 "$rc"
grep -q "no-such-user-cn: no such user" <<<"$out" || fail "no word about the user: $out"
rc=0
out=$(N setpriv --bounding-set -setuid,-setgid --inh-caps=-all "$bin" --client-if eth0 \
	--server-if eth1 --control none --user nobody 2>&1) || rc=$?
assert_eq "exit status without CAP_SETUID and CAP_SETGID" 4 "$rc"
grep -q "could not set the groups" <<<"$out" || fail "no word about the step: $out"
log "without CAP_SETGID: $(grep -m1 'error:' <<<"$out")"
