// SPDX-License-Identifier: MIT
/*
 * libFuzzer harness for the engine: the input is a configuration byte
 * (bit 0: ServerNIC role; bits 1-2: the ClientNIC's peer mode; bit 3: a
 * peer key), then a sequence of frames, each as [side+flags byte][length
 * byte pair][bytes], fed to one engine with a clock that advances, so the
 * fuzzer can drive whole flows (SYN, SYN-ACK, data, RST, timers) in either
 * role and not only the parser. Emitted frames are parsed back and must be
 * whole TCP segments; a ServerNIC never lets a SYN with a peer option on
 * to the server.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"
#include "engine/packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool servernic;

/* A SYN on its way to the server through a ServerNIC has no peer option. */
static void check_to_server(enum cn_side to, const struct cn_frame *f)
{
	struct cn_pkt p;

	if (!servernic || to != CN_SERVER ||
	    cn_parse(f->data, f->len, &p) != CN_PARSE_TCP)
		return;
	if ((p.flags & (CN_TCP_SYN | CN_TCP_ACK | CN_TCP_RST)) == CN_TCP_SYN &&
	    p.opt.peer_count)
		abort();
}

static void check_emit(void *ctx, enum cn_side to, const struct cn_frame *f)
{
	struct cn_pkt p;

	(void)ctx;
	/* Everything the box emits was parsed by it before: it must parse. */
	if (cn_parse(f->data, f->len, &p) != CN_PARSE_TCP)
		abort();
	check_to_server(to, f);
}

static struct cn_engine *engine(uint8_t conf)
{
	static struct cn_engine *eng;
	struct cn_config cfg;
	struct cn_io io = { .emit = check_emit };
	uint8_t secret[32] = { 1, 2, 3 };

	if (eng)
		cn_engine_destroy(eng);
	cn_config_defaults(&cfg);
	cfg.max_flows = 8;
	cfg.buf_flow_frames = 4;
	cfg.buf_flow_bytes = 4096;
	cfg.buf_total_bytes = 8192;
	cfg.syn_rto_ns = 1000;
	cfg.syn_timeout_ns = 20000;
	cfg.idle_timeout_ns = 50000;
	cfg.close_grace_ns = 5000;
	cfg.cache_entries = 4;
	servernic = conf & 1;
	cfg.role = servernic ? CN_ROLE_SERVERNIC : CN_ROLE_CLIENTNIC;
	cfg.peer_mode = (uint8_t)((conf >> 1) & 3) % 3;
	cfg.peer_keyed = conf & 8;
	memset(cfg.peer_key, 0x11, sizeof(cfg.peer_key));
	if (cn_engine_create(&eng, &cfg, secret, &io))
		abort();
	return eng;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cn_engine *eng;
	uint64_t now = 1;
	uint8_t frame[2048];

	if (!size)
		return 0;
	eng = engine(data[0]);
	data++;
	size--;
	while (size >= 3) {
		uint8_t ctl = data[0];
		size_t len = (size_t)(data[1] << 8 | data[2]);
		struct cn_frame f = { .data = frame };

		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		if (len > sizeof(frame))
			len = sizeof(frame);
		memcpy(frame, data, len);
		data += len;
		size -= len;
		f.len = (uint32_t)len;
		if (ctl & 2) {
			f.off.flags = CN_OFF_CSUM_PARTIAL;
			f.off.csum_start = 34;
			f.off.csum_offset = 16;
		} else if (ctl & 0x80) {
			/* A device vouched for the checksum: mutated control
			 * segments reach the state machine instead of being
			 * dropped for their checksum. */
			f.off.flags = CN_OFF_CSUM_VALID;
		}
		now += (uint64_t)(ctl >> 2) * 997;
		if (cn_engine_input(eng, (ctl & 1) ? CN_SERVER : CN_CLIENT, &f,
				    now, NULL) == CN_FORWARD)
			check_to_server((ctl & 1) ? CN_CLIENT : CN_SERVER, &f);
		if (cn_engine_next_deadline(eng) <= now)
			cn_engine_tick(eng, now);
	}
	cn_engine_tick(eng, now + 1000000000ULL);
	if (cn_engine_flow_count(eng) != 0 || cn_engine_buffered_bytes(eng))
		abort(); /* every timer must eventually free every flow */
	return 0;
}
