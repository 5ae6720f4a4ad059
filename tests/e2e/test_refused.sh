#!/usr/bin/env bash
# A connection to a closed port: the box has already told the client "yes",
# so when the server's RST arrives the client must be reset at once (well
# under a second), never left hanging. Through a bridge it is refused.
. "$(dirname "$0")/lib.sh"
topo_setup

for host in $S_IP4 $S_IP6; do
	out=$(C $TOOL reset-time "$host" 9 --timeout 5)
	log "$host: $out"
	outcome=$(sed -n 's/.*outcome=\([^ ]*\).*/\1/p' <<<"$out")
	end_ms=$(sed -n 's/.*end_ms=\([0-9.]*\).*/\1/p' <<<"$out")
	if [ "$TOPO_BOX" = clientnic ]; then
		# connect() succeeded (spoofed), the RST ends the first read or write.
		[[ $outcome =~ ^(reset|refused)$ ]] ||
			fail "$host: expected the connection reset, got outcome '$outcome'"
		log "ok: $host: connection $outcome"
	else
		assert_eq "$host: outcome through a bridge" refused "$outcome"
	fi
	assert_num "$host: ms until the client learned" "$end_ms" '<' 1000
	log "figure: $host reset after $end_ms ms"
done

box_stop
assert_counter flows_refused '==' 2
assert_counter rsts_sent '>=' 2
assert_counter flows_active '==' 0
