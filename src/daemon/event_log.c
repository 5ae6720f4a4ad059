// SPDX-License-Identifier: MIT
#include "event_log.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"

enum {
	EVF_ISN = 1u << 0,  /* client_isn, spoof_isn */
	EVF_REAL = 1u << 1, /* real_isn, delta */
	EVF_OPTS = 1u << 2, /* mss, wscale, sack, ts */
	EVF_DATA = 1u << 3, /* frames, bytes */
	EVF_AGE = 1u << 4,  /* since the first SYN */
};

static unsigned event_fields(enum cn_event_type t, enum cn_role role)
{
	switch (t) {
	case CN_EV_SYN_SPOOFED:
	case CN_EV_SYN_RESPOOFED:
		return EVF_ISN | EVF_OPTS;
	case CN_EV_PEER_SYN:
		/* The ISN and options the ClientNIC promised its client, as
		 * the option carried them. */
		return EVF_ISN | EVF_OPTS;
	case CN_EV_SYN_RESENT:
		return EVF_ISN | EVF_AGE;
	case CN_EV_BUFFERED:
	case CN_EV_FLUSHED:
		return EVF_DATA | EVF_AGE;
	case CN_EV_SYNACK_REAL:
		return EVF_ISN | EVF_REAL | EVF_OPTS | EVF_AGE;
	case CN_EV_TAKEN_OVER:
		/* The ClientNIC sees the SYN-ACK already in the spoofed
		 * space: the server's own ISN, and so the delta, are known
		 * only to the ServerNIC. */
		return EVF_ISN | EVF_OPTS | EVF_AGE |
		       (role == CN_ROLE_SERVERNIC ? EVF_REAL : 0u);
	case CN_EV_ADOPTED:
	case CN_EV_PEER_LOST:
		/* Logged after the untranslated SYN-ACK was absorbed. */
		return EVF_ISN | EVF_REAL | EVF_AGE;
	case CN_EV_PEER_LEARNED:
		/* About the server, not the flow: the round trip that
		 * proved the peer is all there is to add. */
		return EVF_AGE;
	case CN_EV_REFUSED:
	case CN_EV_SYN_TIMEOUT:
		return EVF_ISN | EVF_DATA | EVF_AGE;
	default:
		return EVF_ISN | EVF_AGE;
	}
}

static enum cn_log_level event_level(enum cn_event_type t)
{
	/* One line per held frame would drown the handshake lines. */
	return t == CN_EV_BUFFERED ? CN_LOG_DEBUG : CN_LOG_INFO;
}

/* Four event lines per connection: an IPv4 endpoint is formatted by hand
 * (inet_ntop and snprintf cost more than the rest of the line). */
void event_log_endpoint(char *buf, size_t len, uint8_t family,
			const uint8_t *addr, uint16_t port)
{
	char out[INET6_ADDRSTRLEN + 8], *p = out;
	size_t n;

	if (family == 6) {
		*p++ = '[';
		if (!inet_ntop(AF_INET6, addr, p, INET6_ADDRSTRLEN))
			strcpy(p, "?");
		p += strlen(p);
		*p++ = ']';
	} else {
		for (int i = 0; i < 4; i++) {
			if (i)
				*p++ = '.';
			p += cn_log_put_dec(p, addr[i], 1);
		}
	}
	*p++ = ':';
	p += cn_log_put_dec(p, port, 1);
	n = (size_t)(p - out);
	if (!len)
		return;
	if (n >= len)
		n = len - 1;
	memcpy(buf, out, n);
	buf[n] = '\0';
}

void event_log_write(const struct cn_event *ev, enum cn_role role)
{
	unsigned fl = event_fields(ev->type, role);
	struct cn_log_rec r;
	char ep[INET6_ADDRSTRLEN + 16];

	if (!cn_log_enabled(event_level(ev->type)))
		return;
	cn_log_rec_begin(&r, cn_log_format_get(), cn_log_realtime_ns(),
			 cn_event_name(ev->type));
	if (ev->key) {
		event_log_endpoint(ep, sizeof(ep), ev->key->family,
				   ev->key->caddr, ev->key->cport);
		cn_log_rec_str(&r, "client", ep);
		event_log_endpoint(ep, sizeof(ep), ev->key->family,
				   ev->key->saddr, ev->key->sport);
		cn_log_rec_str(&r, "server", ep);
	}
	if (fl & EVF_ISN) {
		cn_log_rec_u64(&r, "client_isn", ev->client_isn);
		cn_log_rec_u64(&r, "spoof_isn", ev->spoof_isn);
	}
	if (fl & EVF_REAL) {
		cn_log_rec_u64(&r, "real_isn", ev->real_isn);
		cn_log_rec_u64(&r, "delta", ev->delta);
	}
	if (fl & EVF_OPTS) {
		cn_log_rec_u64(&r, "mss", ev->mss);
		cn_log_rec_i64(&r, "wscale", ev->wscale);
		cn_log_rec_bool(&r, "sack", ev->sack_ok);
		cn_log_rec_bool(&r, "timestamps", ev->ts_ok);
	}
	if (fl & EVF_DATA) {
		cn_log_rec_u64(&r, "frames", ev->frames);
		cn_log_rec_u64(&r, "bytes", ev->bytes);
	}
	if (fl & EVF_AGE)
		cn_log_rec_ms(&r, "age_ms", ev->age_ns);
	cn_log_rec_write(&r, stdout);
}
