// SPDX-License-Identifier: MIT
/* src/daemon/report.c: the answers of the control socket and the metrics
 * server as text. The Prometheus exposition is checked line by line
 * against the format (HELP and TYPE once per family, before its samples;
 * names and labels well formed; values numbers), the counters against the
 * names of counters.h, the flow list's filters, fields and bound. */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/event_log.c"
#include "daemon/log.c"
#include "daemon/outbuf.c"
#include "daemon/report.c"
#include "daemon/stats.c"

/* stats.c reads a capture's figures for its dump; no capture here. */
uint64_t pcap_out_frames(const struct pcap_out *p)
{
	(void)p;
	return 0;
}

uint64_t pcap_out_truncated(const struct pcap_out *p)
{
	(void)p;
	return 0;
}

static struct worker_stats per[2], sum;

static struct stats_view view(unsigned nw, bool pcap)
{
	memset(per, 0, sizeof(per));
	per[0].c.frames_in_client = 10;
	per[1].c.frames_in_client = 5;
	per[0].c.flows_created = 3;
	per[1].dr.by_reason[CN_DROP_bad_checksum] = 7;
	per[0].flows_active = 2;
	per[0].port[CN_SERVER].io.tx_bytes = 123456789012ull;
	stats_sum(per, nw, &sum);
	return (struct stats_view){
		.sum = &sum, .per = per, .nw = nw, .pcap = pcap,
		.pcap_frames = 4, .pcap_truncated = 1, .events_dropped = 9,
	};
}

static bool metric_name(const char *s, size_t n)
{
	if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
			return false;
	return true;
}

/* The text format, version 0.0.4; returns the number of samples. */
static size_t check_exposition(char *text, const char *prefix)
{
	char family[128] = "", typed[128] = "";
	char seen[256][128];
	size_t nseen = 0, samples = 0;

	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char name[128], *sp;
		size_t n;

		if (!strncmp(line, "# HELP ", 7)) {
			assert_int_equal(sscanf(line + 7, "%127s", family), 1);
			for (size_t i = 0; i < nseen; i++)
				if (!strcmp(seen[i], family))
					fail_msg("HELP %s twice", family);
			assert_true(nseen < 256);
			snprintf(seen[nseen++], sizeof(seen[0]), "%s", family);
			assert_true(metric_name(family, strlen(family)));
			assert_true(strlen(line) > 8 + strlen(family));
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			char type[32];

			assert_int_equal(sscanf(line + 7, "%127s %31s", typed, type), 2);
			assert_string_equal(typed, family);
			assert_true(!strcmp(type, "counter") || !strcmp(type, "gauge"));
			if (!strcmp(type, "counter"))
				assert_non_null(strstr(typed, "_total"));
			continue;
		}
		assert_true(line[0] != '#');
		n = strcspn(line, "{ ");
		assert_true(n < sizeof(name));
		memcpy(name, line, n);
		name[n] = '\0';
		assert_true(metric_name(name, n));
		assert_string_equal(name, family);
		assert_string_equal(typed, family);
		assert_int_equal(strncmp(name, prefix, strlen(prefix)), 0);
		if (line[n] == '{') {
			char *end = strchr(line + n, '}');

			assert_non_null(end);
			/* label="value"[,label="value"] */
			for (char *p = line + n + 1; p < end;) {
				size_t l = strcspn(p, "=");

				assert_true(metric_name(p, l));
				assert_int_equal(p[l + 1], '"');
				p = strchr(p + l + 2, '"');
				assert_non_null(p);
				p++;
				if (*p == ',')
					p++;
			}
			n = (size_t)(end - line) + 1;
		}
		assert_int_equal(line[n], ' ');
		sp = line + n + 1;
		assert_true(*sp);
		for (const char *c = sp; *c; c++)
			assert_true(isdigit((unsigned char)*c));
		samples++;
	}
	return samples;
}

static void test_metrics(void **state)
{
	struct stats_view v = view(2, true);
	struct outbuf o;
	size_t samples;

	(void)state;
	ob_init(&o, 1 << 20);
	report_metrics(&o, &v, "servernic", "0.1.0");
	assert_false(o.full);
	assert_non_null(strstr(o.p, "\nservernic_frames_in_client_total 15\n"));
	assert_non_null(strstr(o.p, "\nservernic_drops_total{reason=\"bad_checksum\"} 7\n"));
	assert_non_null(strstr(o.p, "\nservernic_port_tx_bytes_total{side=\"server\"} 123456789012\n"));
	assert_non_null(strstr(o.p, "\nservernic_flows_active 2\n"));
	assert_non_null(strstr(o.p, "\nservernic_events_dropped_total 9\n"));
	assert_non_null(strstr(o.p, "\nservernic_pcap_frames_total 4\n"));
	assert_non_null(strstr(o.p, "\nservernic_worker_flows_created_total{worker=\"0\"} 3\n"));
	assert_non_null(strstr(o.p, "# TYPE servernic_flows_active gauge\n"));
	samples = check_exposition(o.p, "servernic_");
	/* Counters, drops, 2 gauges, 3 of the daemon's, 9 x 2 ports, build
	 * info, 2 of the capture, 2 x 2 of the workers. */
#define ONE(f, h) + 1
	assert_int_equal(samples, 0 CN_COUNTER_LIST(ONE) CN_DROP_LIST(ONE) +
				  2 + 3 + 18 + 1 + 2 + 4);
#undef ONE
	ob_free(&o);
}

static void test_counters(void **state)
{
	struct stats_view v = view(1, false);
	struct outbuf o;
	size_t lines = 0;

	(void)state;
	ob_init(&o, 1 << 20);
	report_counters(&o, &v, false);
	for (const char *p = o.p; (p = strchr(p, '\n')); p++)
		lines++;
#define ONE(f, h) + 1
	assert_int_equal(lines, 0 CN_COUNTER_LIST(ONE) CN_DROP_LIST(ONE) +
				5 + 18);
#undef ONE
	assert_non_null(strstr(o.p, "frames_in_client 10\n"));
	assert_non_null(strstr(o.p, "\ndrop.bad_checksum 0\n"));
	assert_non_null(strstr(o.p, "\nserver.tx_bytes 123456789012\n"));
	assert_null(strstr(o.p, "pcap."));
	assert_null(strstr(o.p, "worker0."));
	ob_reset(&o);
	report_counters(&o, &v, true);
	assert_int_equal(o.p[0], '{');
	assert_string_equal(o.p + o.len - 2, "}\n");
	assert_non_null(strstr(o.p, "{\"frames_in_client\":10,"));
	assert_non_null(strstr(o.p, ",\"drop.nomem\":0,"));
	ob_free(&o);
}

static void test_filters(void **state)
{
	struct flow_filter f;

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_int_equal(report_parse_server("10.77.0.2:8080", &f), 0);
	assert_int_equal(f.family, 4);
	assert_int_equal(f.port, 8080);
	assert_int_equal(f.addr[3], 2);
	assert_int_equal(report_parse_server("10.77.0.2", &f), 0);
	assert_int_equal(f.port, 0);
	assert_int_equal(report_parse_server("[fd77::2]:443", &f), 0);
	assert_int_equal(f.family, 6);
	assert_int_equal(f.port, 443);
	assert_int_equal(f.addr[15], 2);
	assert_int_equal(report_parse_server("fd77::2", &f), 0);
	assert_int_equal(f.port, 0);
	assert_int_equal(report_parse_server("[fd77::2]", &f), 0);
	assert_int_equal(report_parse_server("10.77.0.2:0", &f), -EINVAL);
	assert_int_equal(report_parse_server("10.77.0.2:65536", &f), -EINVAL);
	assert_int_equal(report_parse_server("10.77.0.2:+80", &f), -EINVAL);
	assert_int_equal(report_parse_server("host:80", &f), -EINVAL);
	assert_int_equal(report_parse_server("[fd77::2]x", &f), -EINVAL);
	assert_int_equal(report_parse_server("", &f), -EINVAL);
	assert_int_equal(report_parse_state("established", &f), 0);
	assert_string_equal(f.state, "established");
	assert_int_equal(report_parse_state("ESTABLISHED", &f), -EINVAL);
}

static struct cn_flow_record record(uint8_t last, uint16_t sport,
				    const char *state)
{
	struct cn_flow_record r = {
		.key = { .family = 4, .cport = 40000, .sport = sport,
			 .caddr = { 10, 77, 0, 1 }, .saddr = { 10, 77, 0, last } },
		.state = state,
		.peer = "none",
		.age_ns = 1234567890,
		.idle_ns = 1500,
		.delta = 4294967295u,
		.held_frames = 1,
		.held_bytes = 100,
		.frames = { 3, 2 },
		.bytes = { 300, 5000000000ull },
	};

	return r;
}

static void test_flows(void **state)
{
	struct cn_flow_record r = record(2, 8080, "established");
	struct report_flows rf = { .datapath = "daemon" };
	struct outbuf o;

	(void)state;
	ob_init(&o, 1 << 20);
	rf.out = &o;
	report_flows_begin(&rf);
	assert_true(report_flow(&rf, &r));
	report_flows_end(&rf);
	assert_string_equal(o.p, "ipv4 client=10.77.0.1:40000 server=10.77.0.2:8080 "
			    "state=established peer=none age_ms=1234.567 "
			    "idle_ms=0.001 delta=4294967295 held_frames=1 "
			    "held_bytes=100 from_client=3/300 "
			    "from_server=2/5000000000 datapath=daemon\n");
	ob_reset(&o);
	rf.json = true;
	report_flows_begin(&rf);
	report_flow(&rf, &r);
	r.key.family = 6;
	memset(r.key.caddr, 0, 16);
	r.key.caddr[0] = 0xfd, r.key.caddr[1] = 0x77, r.key.caddr[15] = 1;
	report_flow(&rf, &r);
	report_flows_end(&rf);
	assert_int_equal(rf.listed, 2);
	assert_non_null(strstr(o.p, "[\n{\"family\":\"ipv4\",\"client\":\"10.77.0.1:40000\","
			       "\"server\":\"10.77.0.2:8080\",\"state\":\"established\","));
	assert_non_null(strstr(o.p, "\"age_ms\":1234.567,"));
	assert_non_null(strstr(o.p, "},\n{\"family\":\"ipv6\",\"client\":\"[fd77::1]:40000\""));
	assert_non_null(strstr(o.p, "\"datapath\":\"daemon\"}\n]\n"));
	/* A record that names its datapath keeps it. */
	ob_reset(&o);
	snprintf(r.datapath, sizeof(r.datapath), "kernel");
	report_flows_begin(&rf);
	report_flow(&rf, &r);
	report_flows_end(&rf);
	assert_non_null(strstr(o.p, "\"datapath\":\"kernel\"}\n]\n"));
	ob_reset(&o);
	report_flows_begin(&rf);
	report_flows_end(&rf);
	assert_string_equal(o.p, "[]\n");
	ob_free(&o);
}

static void test_flow_filter_and_bound(void **state)
{
	struct report_flows rf = { .datapath = "daemon" };
	struct cn_flow_record r;
	struct outbuf o;

	(void)state;
	ob_init(&o, 1 << 22);
	rf.out = &o;
	assert_int_equal(report_parse_server("10.77.0.2:80", &rf.filter), 0);
	assert_int_equal(report_parse_state("syn_sent", &rf.filter), 0);
	report_flows_begin(&rf);
	r = record(2, 80, "syn_sent");
	report_flow(&rf, &r);
	r = record(2, 80, "established");
	report_flow(&rf, &r);
	r = record(3, 80, "syn_sent");
	report_flow(&rf, &r);
	r = record(2, 81, "syn_sent");
	report_flow(&rf, &r);
	report_flows_end(&rf);
	assert_int_equal(rf.listed, 1);
	assert_int_equal(rf.left_out, 0);

	/* Past REPORT_FLOWS_MAX, counted and said in a last line. */
	memset(&rf.filter, 0, sizeof(rf.filter));
	ob_reset(&o);
	report_flows_begin(&rf);
	r = record(2, 80, "syn_sent");
	for (int i = 0; i < REPORT_FLOWS_MAX + 5; i++)
		assert_true(report_flow(&rf, &r));
	report_flows_end(&rf);
	assert_int_equal(rf.listed, REPORT_FLOWS_MAX);
	assert_int_equal(rf.left_out, 5);
	assert_non_null(strstr(o.p, "\n# 5 more flows not listed"));

	/* A small buffer: whole records only, and the end of the JSON. */
	ob_free(&o);
	ob_init(&o, 4096);
	rf.json = true;
	report_flows_begin(&rf);
	for (int i = 0; i < 100; i++)
		report_flow(&rf, &r);
	report_flows_end(&rf);
	assert_false(o.full);
	assert_true(rf.listed > 0 && rf.listed < 100);
	assert_int_equal(rf.listed + rf.left_out, 100);
	assert_string_equal(o.p + o.len - 3, "\n]\n");
	ob_free(&o);
}

static void test_cache(void **state)
{
	struct cn_cache_record r[2] = {
		{ .family = 4, .known = 7, .port = 443, .addr = { 192, 0, 2, 1 },
		  .mss = 1460, .wscale = 7, .sack_ok = true, .ts = false },
		{ .family = 6, .known = 0, .port = 80, .addr = { 0x20, 0x01, 0x0d, 0xb8 },
		  .mss = 1440, .wscale = -1 },
	};
	struct outbuf o;
	bool first = true;

	(void)state;
	ob_init(&o, 1 << 16);
	report_cache(&o, r, 2, 1, false, &first);
	assert_string_equal(o.p, "ipv4 server=192.0.2.1:443 mss=1460 wscale=7 sack=yes "
			    "timestamps=no worker=1\n"
			    "ipv6 server=[2001:db8::]:80 mss=1440 wscale=unknown "
			    "sack=unknown timestamps=unknown worker=1\n");
	ob_reset(&o);
	report_cache(&o, r, 1, 0, true, &first);
	assert_string_equal(o.p, "\n{\"family\":\"ipv4\",\"server\":\"192.0.2.1:443\","
			    "\"mss\":1460,\"wscale\":\"7\",\"sack\":\"yes\","
			    "\"timestamps\":\"no\",\"worker\":0}");
	assert_false(first);
	ob_free(&o);
}

static void test_outbuf(void **state)
{
	struct outbuf o;
	char big[300];

	(void)state;
	ob_init(&o, 10);
	ob_puts(&o, "12345");
	ob_printf(&o, "%d", 678);
	assert_string_equal(o.p, "12345678");
	assert_false(o.full);
	ob_puts(&o, "abc");
	assert_true(o.full);
	assert_string_equal(o.p, "12345678");
	ob_free(&o);
	ob_init(&o, 1000);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ob_printf(&o, "%s|%s", big, big);
	assert_int_equal(o.len, 599);
	ob_reset(&o);
	ob_json_str(&o, "a\"b\\c\n");
	assert_string_equal(o.p, "a\\\"b\\\\c\\u000a");
	ob_free(&o);
}

/* Endpoints as the event lines and the flow list print them: IPv4 by
 * hand, IPv6 bracketed; a short buffer gets a cut, terminated string. */
static void test_endpoint(void **state)
{
	const uint8_t v4a[4] = { 0, 0, 0, 0 }, v4b[4] = { 255, 255, 255, 255 },
		      v4c[4] = { 10, 7, 0, 100 };
	uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	char buf[64];

	(void)state;
	v6[15] = 1;
	event_log_endpoint(buf, sizeof(buf), 4, v4a, 0);
	assert_string_equal(buf, "0.0.0.0:0");
	event_log_endpoint(buf, sizeof(buf), 4, v4b, 65535);
	assert_string_equal(buf, "255.255.255.255:65535");
	event_log_endpoint(buf, sizeof(buf), 4, v4c, 8080);
	assert_string_equal(buf, "10.7.0.100:8080");
	event_log_endpoint(buf, sizeof(buf), 6, v6, 443);
	assert_string_equal(buf, "[2001:db8::1]:443");
	event_log_endpoint(buf, 6, 4, v4b, 65535);
	assert_string_equal(buf, "255.2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_endpoint),
		cmocka_unit_test(test_metrics),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_filters),
		cmocka_unit_test(test_flows),
		cmocka_unit_test(test_flow_filter_and_bound),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_outbuf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
