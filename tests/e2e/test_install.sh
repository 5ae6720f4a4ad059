#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make install / make uninstall: `make install DESTDIR=$tmp PREFIX=/usr`
# lays out exactly the expected files with their modes (the daemons, the
# man pages, the systemd template units with the paths filled in, their
# sysusers.d and tmpfiles.d files, the example env files); the man pages
# render without a warning and document every option of the program's
# --help with its argument and default, every counter and drop reason of
# src/engine/counters.h, every event and every exit status; the units pass
# systemd-analyze verify (where it is installed); the daemons start and
# stop cleanly under each unit's own command line and capability bounding
# set, drop to the user and read back a cache file written as that user
# (in a network namespace of two veth pairs, where `ip netns` works); and
# `make uninstall` leaves no file behind.
. "$(dirname "$0")/lib.sh"
need_cmd make install groff setpriv
# This test's own make: not the jobserver or variables of a make around it.
unset MAKEFLAGS MFLAGS MAKELEVEL

tmp=$(mktemp -d /tmp/cninstall.XXXXXX)
NS=cninst$$
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do stop_pid "$p" KILL; done
	ip netns del "$NS" 2>/dev/null || true
	rm -rf "$tmp"
}
trap cleanup EXIT
# The daemons run as nobody below and must reach the state folder.
chmod 0755 "$tmp"
root=$tmp/root
PREFIX=/usr

mk() { # target: make it into $root, output kept for a failure
	make -C "$REPO_DIR" --no-print-directory B="$BUILD" "$1" \
		DESTDIR="$root" PREFIX=$PREFIX >"$tmp/make-$1.log" 2>&1 || {
		cat "$tmp/make-$1.log" >&2
		fail "make $1 DESTDIR=$root PREFIX=$PREFIX failed"
	}
	log "ok: make $1 DESTDIR=$root PREFIX=$PREFIX"
}

# ---- install: exactly these files, with these modes
mk install
expected="755 usr/sbin/clientnic
755 usr/sbin/servernic
755 usr/sbin/clientnicctl
644 usr/lib/systemd/system/clientnic@.service
644 usr/lib/systemd/system/servernic@.service
644 usr/lib/sysusers.d/clientnic.conf
644 usr/lib/tmpfiles.d/clientnic.conf
644 usr/share/doc/clientnic/clientnic.env.example
644 usr/share/doc/clientnic/servernic.env.example
644 usr/share/man/man8/clientnic.8
644 usr/share/man/man8/servernic.8
644 usr/share/man/man8/clientnicctl.8"
got=$(cd "$root" && find . ! -type d -printf '%m %P\n' | LC_ALL=C sort -k2)
[ "$got" = "$(LC_ALL=C sort -k2 <<<"$expected")" ] || {
	diff <(LC_ALL=C sort -k2 <<<"$expected") - <<<"$got" >&2 || true
	fail "make install: not the expected files and modes (- expected, + installed)"
}
log "ok: make install: the $(wc -l <<<"$got") expected files, modes $(cut -d' ' -f1 <<<"$got" | sort | uniq -c | awk '{ printf "%s%s x%s", s, $2, $1; s = ", " }')"
dirs=$(cd "$root" && find usr/sbin usr/share/man/man8 usr/lib/systemd/system \
	usr/lib/sysusers.d usr/lib/tmpfiles.d usr/share/doc/clientnic -maxdepth 0 \
	-printf '%m ' | sed 's/ $//')
assert_eq "modes of the folders installed into" "755 755 755 755 755 755" "$dirs"
for p in clientnic servernic; do
	cmp -s "$BUILD/$p" "$root/usr/sbin/$p" || fail "usr/sbin/$p is not $BUILD/$p"
	cmp -s "$REPO_DIR/man/$p.8" "$root/usr/share/man/man8/$p.8" ||
		fail "usr/share/man/man8/$p.8 is not man/$p.8"
	unit=$root/usr/lib/systemd/system/$p@.service
	assert_file_lacks "$p@.service: every @VAR@ filled in" "$unit" '@[A-Z]+@'
	assert_file_has "$p@.service runs the installed $p" "$unit" \
		"^ExecStart=$PREFIX/sbin/$p --user $p --name $p@%i \\\$${p^^}_OPTS\$"
	assert_file_has "$p@.service is Type=notify" "$unit" '^Type=notify$'
	assert_file_has "$p@.service reloads with SIGHUP" "$unit" '^ExecReload=/bin/kill -HUP \$MAINPID$' 
	assert_file_has "$p@.service reads /etc/$p/%i.env" "$unit" \
		"^EnvironmentFile=/etc/$p/%i.env\$"
	assert_file_has "$p.env.example sets ${p^^}_OPTS" \
		"$root/usr/share/doc/clientnic/$p.env.example" "^${p^^}_OPTS=\""
done
cmp -s "$BUILD/clientnicctl" "$root/usr/sbin/clientnicctl" ||
	fail "usr/sbin/clientnicctl is not $BUILD/clientnicctl"
cmp -s "$REPO_DIR/man/clientnicctl.8" "$root/usr/share/man/man8/clientnicctl.8" ||
	fail "usr/share/man/man8/clientnicctl.8 is not man/clientnicctl.8"
log "ok: binaries and man pages are the built ones"

# page_text NAME: NAME.8 renders without a warning in both devices, and
# as text in $tmp/NAME.txt with no hyphenation and lines long enough for a
# paragraph, so that each option's text is one line to search.
page_text() {
	local page=$root/usr/share/man/man8/$1.8 dev warn
	for dev in utf8 ascii; do
		warn=$(groff -man -ww -T$dev "$page" 2>&1 >/dev/null)
		assert_eq "$1.8: groff -man -ww -T$dev warnings" "" "$warn"
	done
	groff -man -Tascii -rLL=400n -rHY=0 -P-c -P-b -P-o -P-u "$page" >"$tmp/$1.txt"
}

# ---- man pages: no warning, every option, counter, event, exit status
for p in clientnic servernic; do
	"$root/usr/sbin/$p" --help >"$tmp/$p.help"
	page_text "$p"
	"$PYTHON" - "$p" "$tmp/$p.help" "$tmp/$p.txt" \
		"$REPO_DIR/src/engine/counters.h" "$REPO_DIR/src/engine/handlers.c" <<'EOF' ||
import re, sys
prog, help_path, page_path, counters_h, handlers_c = sys.argv[1:]
bad = []

# --help: "  --name ARG   text ... [default: X]", the text wrapped.
opts, cur = {}, None
for line in open(help_path):
    m = re.match(r"  (--[a-z-]+)(?: ([A-Z][A-Z:]*))?\s+(.*)", line)
    if m:
        cur = m.group(1)
        opts[cur] = [m.group(2), m.group(3)]
    elif cur and line.startswith(" " * 20):
        opts[cur][1] += " " + line.strip()
    else:
        cur = None
if len(opts) < 20:
    bad.append("only %d options in --help" % len(opts))
status = re.search(r"Exit status: (.*?)\.\s*$", open(help_path).read(), re.S)
statuses = sorted(re.findall(r"(\d+) [a-z]", status.group(1))) if status else []

# The page, as text: sections at column 0, tags at 7, bodies at 14.
sections, name = {}, None
for line in open(page_path):
    line = line.rstrip("\n")
    if re.match(r"[A-Z][A-Z ]+$", line):
        name = line
        sections[name] = []
    elif name:
        sections[name].append(line)

def items(lines):
    """(tag, body) of each tagged paragraph, white space squeezed."""
    out, tag, body = [], None, []
    for line in lines:
        if re.match(r" {7}\S", line):
            if tag is not None:
                out.append((tag, " ".join(body)))
            tag, body = " ".join(line.split()), []
            # A tag shorter than the indent has its body beside it (options
            # are never that short, and could have an argument there).
            first = line[7:].split()[0]
            if (len(first) < 7 and not first.startswith("-") and
                    not line[7 + len(first):14].strip() and line[14:].strip()):
                tag, body = first, [line[14:].strip()]
        elif tag is not None and line.strip():
            body.append(" ".join(line.split()))
    if tag is not None:
        out.append((tag, " ".join(body)))
    return out

for s in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "SIGNALS",
          "EVENT LOG", "COUNTERS", "EXIT STATUS", "FILES", "SEE ALSO"):
    if s not in sections:
        bad.append("no section " + s)

# OPTIONS: the same options as --help, each with its argument and default.
tagged = {}
for tag, body in items(sections.get("OPTIONS", [])):
    m = re.match(r"(--[a-z-]+)(?: ([A-Z][A-Z:]*))?(?:, -[a-z])?$", tag)
    if not m:
        continue
    tagged[m.group(1)] = (m.group(2), body)
for o, (arg, text) in opts.items():
    if o not in tagged:
        bad.append("option %s of --help is not in OPTIONS" % o)
        continue
    if tagged[o][0] != arg:
        bad.append("%s: argument %s in the page, %s in --help" % (o, tagged[o][0], arg))
    d = re.search(r"\[default: (.*?)\]", text)
    if d and "Default: %s." % d.group(1) not in tagged[o][1]:
        bad.append("%s: the page does not say 'Default: %s.'" % (o, d.group(1)))
    if not d and o not in ("--help", "--version"):
        bad.append("%s: no default in --help" % o)
for o in tagged:
    if o not in opts:
        bad.append("OPTIONS documents %s, which %s does not take" % (o, prog))

# COUNTERS: every counter and drop reason, each with a meaning.
src = open(counters_h).read()
def xlist(macro):
    body = re.search(r"#define %s\(X\)(.*?)\n\n" % macro, src, re.S).group(1)
    return re.findall(r"X\((\w+),", body)
names = xlist("CN_COUNTER_LIST") + ["drop." + n for n in xlist("CN_DROP_LIST")]
if len(names) < 50:
    bad.append("only %d counters found in counters.h" % len(names))
ctags = {}
for tag, body in items(sections.get("COUNTERS", [])):
    for t in tag.split(", "):
        ctags[t] = body
for n in names + ["flows_active", "buffered_bytes", "events", "events_dropped",
                  "ticks", "client.rx_frames", "server.tx_dropped",
                  "pcap.frames", "pcap.truncated"]:
    if n not in ctags:
        bad.append("counter %s is not in COUNTERS" % n)
    elif len(ctags[n]) < 10:
        bad.append("counter %s has no meaning: %r" % (n, ctags[n]))

# EVENT LOG: every event the engine names.
events = re.findall(r'\[CN_EV_\w+\] = "(\w+)"', open(handlers_c).read())
if len(events) < 15:
    bad.append("only %d events found in handlers.c" % len(events))
log = " ".join(" ".join(sections.get("EVENT LOG", [])).split())
for e in events:
    if not re.search(r"\b%s\b" % e, log):
        bad.append("event %s is not in EVENT LOG" % e)

# EXIT STATUS: the statuses --help lists.
codes = sorted(t for t, _ in items(sections.get("EXIT STATUS", [])))
if not statuses or codes != statuses:
    bad.append("EXIT STATUS lists %s, --help %s" % (codes, statuses))

for b in bad:
    print("%s.8: %s" % (prog, b))
if bad:
    sys.exit(1)
print("# ok: %s.8: %d options with their arguments and defaults, %d counters "
      "and drop reasons, %d events, exit statuses %s"
      % (prog, len(opts), len(names), len(events), " ".join(statuses)))
EOF
		fail "$p.8 does not match $p --help, counters.h or the events"
done

# ---- clientnicctl.8: no warning, every command, option and exit status
"$root/usr/sbin/clientnicctl" --help >"$tmp/ctl.help"
page_text clientnicctl
"$PYTHON" - "$tmp/ctl.help" "$tmp/clientnicctl.txt" <<'EOF' || fail "clientnicctl.8 does not match clientnicctl --help"
import re, sys
help_text, page = open(sys.argv[1]).read(), open(sys.argv[2]).read()
sections, name = {}, None
for line in page.split("\n"):
    if re.match(r"[A-Z][A-Z ]+$", line):
        name = line
        sections[name] = ""
    elif name:
        sections[name] += line + "\n"
bad = []
for s in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "EXIT STATUS",
          "FILES", "SEE ALSO"):
    if s not in sections:
        bad.append("no section " + s)
block = help_text.split("Commands:")[1].split("Options:")[0]
commands = re.findall(r"^  ([a-z]+) ", block, re.M)
options = re.findall(r"^  (--[a-z-]+)", help_text.split("Options:")[1], re.M)
statuses = re.findall(r"(\d+) [a-z]", help_text.split("Exit status:")[1])
tags = lambda sec: [t.rstrip(",") for t in
                   re.findall(r"^ {7}(\S+)", sections.get(sec, ""), re.M)]
for c in commands:
    if c not in tags("COMMANDS"):
        bad.append("command %s is not in COMMANDS" % c)
for o in options:
    if o not in tags("OPTIONS"):
        bad.append("option %s is not in OPTIONS" % o)
if sorted(tags("EXIT STATUS")) != sorted(statuses):
    bad.append("EXIT STATUS lists %s, --help %s" % (tags("EXIT STATUS"), statuses))
if len(commands) < 4 or len(options) < 6:
    bad.append("--help lists only %d commands and %d options" % (len(commands), len(options)))
for b in bad:
    print("clientnicctl.8: " + b)
if bad:
    sys.exit(1)
print("# ok: clientnicctl.8: %d commands, %d options, exit statuses %s"
      % (len(commands), len(options), " ".join(statuses)))
EOF

# ---- systemd-analyze verify, on copies that run the binaries in $root
if command -v systemd-analyze >/dev/null; then
	mkdir -p "$tmp/verify"
	for p in clientnic servernic; do
		sed "s|^ExecStart=$PREFIX/sbin/|ExecStart=$root$PREFIX/sbin/|" \
			"$root/usr/lib/systemd/system/$p@.service" >"$tmp/verify/$p@.service"
		out=$(MANPATH=$root/usr/share/man systemd-analyze verify \
			"$tmp/verify/$p@.service:$p@test.service" 2>&1) ||
			fail "systemd-analyze verify $p@.service: $out"
		assert_eq "systemd-analyze verify $p@test.service" "" "$out"
	done
else
	log "skipped: systemd-analyze verify (systemd-analyze is not installed)"
fi

# ---- sysusers.d and tmpfiles.d, applied to an empty root
if command -v systemd-sysusers >/dev/null && command -v systemd-tmpfiles >/dev/null; then
	sys=$tmp/sysroot
	mkdir -p "$sys/etc"
	systemd-sysusers --root="$sys" "$root/usr/lib/sysusers.d/clientnic.conf" \
		>/dev/null 2>&1 || fail "systemd-sysusers refused clientnic.conf"
	systemd-tmpfiles --create --root="$sys" "$root/usr/lib/tmpfiles.d/clientnic.conf" \
		>/dev/null 2>&1 || fail "systemd-tmpfiles refused clientnic.conf"
	for u in clientnic servernic; do
		assert_eq "sysusers: $u's shell" /usr/sbin/nologin \
			"$(awk -F: -v u=$u '$1 == u { print $7 }' "$sys/etc/passwd")"
	done
	ug() { awk -F: -v id="$2" '$3 == id { print $1 }' "$sys/etc/$1"; }
	for d in clientnic:770 servernic:750; do
		st=$(stat -c '%a %u %g' "$sys/var/lib/${d%:*}")
		read -r mode u g <<<"$st"
		assert_eq "tmpfiles: /var/lib/${d%:*}" "${d#*:} root ${d%:*}" \
			"$mode $( [ "$u" = 0 ] && echo root || echo "$u") $(ug group "$g")"
	done
else
	log "skipped: sysusers.d and tmpfiles.d (systemd-sysusers or systemd-tmpfiles is not installed)"
fi

# ---- each unit's command line, under its own capability bounding set
# The daemon as systemd would start it: root, bounded to the unit's
# CapabilityBoundingSet=, no_new_privs, its UMask=, the options of the
# example env file, and the unit's --user (nobody stands in for the user sysusers.d
# creates); its state folder as tmpfiles.d makes it.
unit_caps() { # unit [minus-cap]: CapabilityBoundingSet= as setpriv's list
	sed -n 's/^CapabilityBoundingSet=//p' "$1" | tr ' ' '\n' |
		grep -vx "${2:-NONE}" | tr '[:upper:]' '[:lower:]' | sed 's/^cap_/+/' |
		paste -sd, | sed 's/^/-all,/'
}
unit_cmd() { # program: the unit's ExecStart with the example's options
	local p=$1 opts
	opts=$(sed -n "s/^${p^^}_OPTS=\"\(.*\)\"\$/\1/p" \
		"$root/usr/share/doc/clientnic/$p.env.example")
	sed -n "s/^ExecStart=//p" "$root/usr/lib/systemd/system/$p@.service" |
		sed -e "s|^$PREFIX/sbin/|$root$PREFIX/sbin/|" -e "s|%i|test|g" \
			-e "s|--user $p |--user nobody |" -e "s|\\\$${p^^}_OPTS|$opts|"
}
status_of() { awk -v f="$2:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"; }
# run_unit program caps out extra-options...: start it, wait for ready; at
# info (the example's warn hides what is checked here), its control socket
# in the test's folder
run_unit() {
	local p=$1 caps=$2 out=$3
	shift 3
	# The unit's UMask= too; exec keeps $! the daemon's pid.
	# shellcheck disable=SC2046 # the command line is split as systemd splits it
	(umask "$(sed -n 's/^UMask=//p' "$root/usr/lib/systemd/system/$p@.service")"
	 exec ip netns exec "$NS" setpriv --bounding-set="$caps" --inh-caps=-all \
		--no-new-privs $(unit_cmd "$p") --control "$out.sock" --log-level info "$@") \
		>"$out.log" 2>"$out.err" &
	RUN_PID=$!
	PIDS+=("$RUN_PID")
	wait_line 10 "$out.err" "^$LOG_TS$p: ready\$" "$RUN_PID" || {
		cat "$out.err" >&2
		fail "$p under its unit's settings did not get ready"
	}
}
stop_unit() { # pid what: SIGTERM, exit status 0
	local rc=0
	kill -TERM "$1"
	wait "$1" || rc=$?
	assert_eq "$2: exit status on SIGTERM" 0 "$rc"
}
if [ "$(id -u)" -ne 0 ] || ! id nobody >/dev/null 2>&1 || ! ip netns add "$NS" 2>/dev/null; then
	log "skipped: the units' command lines (not root, no user nobody, or no ip netns)"
else
	# Two veth pairs, not one: the box bridges eth0 and eth1, and a pair
	# between them would be a loop.
	ip netns exec "$NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
		net.ipv6.conf.default.disable_ipv6=1
	ip -n "$NS" link add eth0 type veth peer name p0
	ip -n "$NS" link add eth1 type veth peer name p1
	for i in eth0 eth1 p0 p1; do ip -n "$NS" link set "$i" up; done
	state=$tmp/state
	mkdir "$state"
	chown root:"$(id -g nobody)" "$state"
	chmod 0770 "$state"
	cunit=$root/usr/lib/systemd/system/clientnic@.service
	ccaps=$(unit_caps "$cunit")
	log "clientnic@: $(unit_cmd clientnic), bounding set $ccaps"
	cache=$state/cn.cache
	# Type=notify: what the daemon tells $NOTIFY_SOCKET, as nobody by then.
	"$PYTHON" -c 'import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
os.chmod(sys.argv[1], 0o777)
s.settimeout(30)
while True:
    d = s.recv(4096).decode()
    print(d.replace("\n", " "), flush=True)
    if "STOPPING=1" in d:
        break' "$tmp/notify.sock" >"$tmp/notify.log" 2>&1 &
	PIDS+=("$!")
	wait_until 5 test -S "$tmp/notify.sock" || fail "no notify socket to listen on"
	NOTIFY_SOCKET=$tmp/notify.sock run_unit clientnic "$ccaps" "$tmp/cn1" \
		--cache-file "$cache" --pcap "$state/cn.pcap"
	pid=$RUN_PID
	assert_eq "clientnic@: uid after the switch" \
		"$(id -u nobody) $(id -u nobody) $(id -u nobody) $(id -u nobody)" \
		"$(status_of "$pid" Uid)"
	for cap in CapEff CapPrm CapInh CapAmb; do
		assert_eq "clientnic@: $cap after the switch" 0000000000000000 \
			"$(status_of "$pid" $cap)"
	done
	assert_eq "clientnic@: no new privileges" 1 "$(status_of "$pid" NoNewPrivs)"
	assert_file_has "clientnic@: --pcap keeps every frame in the daemon" \
		"$tmp/cn1.err" '--pcap: every frame through the daemon'
	stop_unit "$pid" "clientnic@"
	wait_until 5 grep -q STOPPING=1 "$tmp/notify.log" || true
	assert_eq "clientnic@: sd_notify datagrams" "READY=1 STOPPING=1" \
		"$(grep -o 'READY=1\|STOPPING=1' "$tmp/notify.log" | paste -sd' ')"
	assert_file_has "clientnic@: cache written as nobody" "$tmp/cn1.err" \
		"cache-file .*options written"
	assert_eq "clientnic@: the cache file" "600 nobody" "$(stat -c '%a %U' "$cache")"
	assert_eq "clientnic@: the capture, created as root before the switch" \
		"600 root" "$(stat -c '%a %U' "$state/cn.pcap")"
	# Read back at the next start, after the switch, by the user that
	# wrote it: no capability needed.
	run_unit clientnic "$ccaps" "$tmp/cn2" --cache-file "$cache"
	stop_unit "$RUN_PID" "clientnic@, second start"
	assert_file_has "clientnic@: cache read back at the next start" "$tmp/cn2.err" \
		"cache-file .*options loaded"
	assert_file_has "clientnic@: the kernel path loads within the bounding set" \
		"$tmp/cn2.err" 'kernel path: tc programs on eth0 and eth1$'
	run_unit clientnic "$ccaps" "$tmp/cn3"
	stop_unit "$RUN_PID" "clientnic@, third start"
	assert_file_has "clientnic@: the next start finds the kernel path" "$tmp/cn3.err" \
		'kernel path: tc programs on eth0 and eth1, flows of a predecessor taken over'

	sunit=$root/usr/lib/systemd/system/servernic@.service
	scaps=$(unit_caps "$sunit")
	log "servernic@: $(unit_cmd servernic), bounding set $scaps"
	run_unit servernic "$scaps" "$tmp/sn1" --pcap "$state/sn.pcap"
	assert_eq "servernic@: CapEff after the switch" 0000000000000000 \
		"$(status_of "$RUN_PID" CapEff)"
	assert_file_has "servernic@ runs as nobody" "$tmp/sn1.err" "running as nobody"
	stop_unit "$RUN_PID" "servernic@"
	assert_eq "servernic@: the capture, created as root before the switch" \
		"600 root" "$(stat -c '%a %U' "$state/sn.pcap")"
fi

# ---- uninstall: nothing left but the folders around the files
mk uninstall
left=$(cd "$root" && find . ! -type d -printf '%P\n')
assert_eq "files left after make uninstall" "" "$left"
[ ! -e "$root/usr/share/doc/clientnic" ] || fail "usr/share/doc/clientnic left behind"
log "ok: make uninstall removed usr/share/doc/clientnic"
