// SPDX-License-Identifier: MIT
/* src/daemon/log.c: event records in text and JSON, escaping, a record cut at a
 * field boundary when it outgrows its buffer, the level and format names.
 * The daemon's tests read these lines, so their exact shape is checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/log.c"

/* 1.5 s past the epoch plus 250 us: 1970-01-01T00:00:01.500250Z in text
 * (RFC 3339, UTC), "1.500250" in JSON. */
#define TS_NS 1500250000ull

/* Write r through a memory stream; the caller frees the text. */
static char *written(struct cn_log_rec *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	cn_log_rec_write(r, f);
	fclose(f);
	return buf;
}

static void fill(struct cn_log_rec *r, enum cn_log_format fmt)
{
	cn_log_rec_begin(r, fmt, TS_NS, "syn_spoofed");
	cn_log_rec_str(r, "client", "10.77.0.1:40000");
	cn_log_rec_u64(r, "client_isn", 4294967295u);
	cn_log_rec_i64(r, "wscale", -1);
	cn_log_rec_bool(r, "sack", true);
	cn_log_rec_ms(r, "age_ms", 1234567);
}

static void test_text_record(void **state)
{
	struct cn_log_rec r;
	char *s;

	(void)state;
	fill(&r, CN_LOG_TEXT);
	s = written(&r);
	assert_string_equal(s, "ts=1970-01-01T00:00:01.500250Z event=syn_spoofed "
			       "client=10.77.0.1:40000 client_isn=4294967295 "
			       "wscale=-1 sack=true age_ms=1.234\n");
	free(s);
}

static void test_json_record(void **state)
{
	struct cn_log_rec r;
	char *s;

	(void)state;
	fill(&r, CN_LOG_JSON);
	s = written(&r);
	assert_string_equal(s, "{\"ts\":1.500250,\"event\":\"syn_spoofed\","
			       "\"client\":\"10.77.0.1:40000\","
			       "\"client_isn\":4294967295,\"wscale\":-1,"
			       "\"sack\":true,\"age_ms\":1.234}\n");
	free(s);
}

static void test_escaping(void **state)
{
	struct cn_log_rec r;
	char *s;

	(void)state;
	cn_log_rec_begin(&r, CN_LOG_JSON, 0, "e");
	cn_log_rec_str(&r, "v", "a\"b\\c\nd");
	s = written(&r);
	assert_string_equal(s, "{\"ts\":0.000000,\"event\":\"e\","
			       "\"v\":\"a\\\"b\\\\c\\u000ad\"}\n");
	free(s);

	/* Text: a value with a space or '=' is quoted, a plain one is not. */
	cn_log_rec_begin(&r, CN_LOG_TEXT, 0, "e");
	cn_log_rec_str(&r, "v", "two words");
	cn_log_rec_str(&r, "w", "k=v");
	cn_log_rec_str(&r, "x", "[fd77::1]:80");
	s = written(&r);
	assert_string_equal(s, "ts=1970-01-01T00:00:00.000000Z event=e v=\"two words\" "
			       "w=\"k=v\" x=[fd77::1]:80\n");
	free(s);
}

/* Far more fields than fit: the record keeps whole fields only, says it
 * was cut, and still closes its JSON object. */
static void test_truncation(void **state)
{
	enum cn_log_format fmts[] = { CN_LOG_TEXT, CN_LOG_JSON };
	struct cn_log_rec r;

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		char key[32], *s;
		size_t n;
		int i;

		cn_log_rec_begin(&r, fmts[k], 0, "big");
		for (i = 0; i < 1000; i++) {
			snprintf(key, sizeof(key), "counter_%d", i);
			cn_log_rec_u64(&r, key, 123456789);
		}
		assert_true(r.truncated);
		s = written(&r);
		n = strlen(s);
		assert_true(n < sizeof(r.buf));
		assert_int_equal(s[n - 1], '\n');
		if (fmts[k] == CN_LOG_JSON) {
			assert_non_null(strstr(s, ",\"truncated\":true}\n"));
			/* The last whole field precedes the mark. */
			assert_non_null(strstr(s, ":123456789,\"truncated\""));
		} else {
			assert_non_null(strstr(s, "=123456789 truncated=true\n"));
		}
		free(s);
	}
}

static void test_names(void **state)
{
	enum cn_log_level lv = CN_LOG_ERROR;
	enum cn_log_format fm = CN_LOG_TEXT;

	(void)state;
	assert_int_equal(cn_log_level_parse("debug", &lv), 0);
	assert_int_equal(lv, CN_LOG_DEBUG);
	assert_string_equal(cn_log_level_name(lv), "debug");
	assert_int_equal(cn_log_level_parse("verbose", &lv), -EINVAL);
	assert_int_equal(cn_log_format_parse("json", &fm), 0);
	assert_int_equal(fm, CN_LOG_JSON);
	assert_int_equal(cn_log_format_parse("xml", &fm), -EINVAL);

	cn_log_setup(CN_LOG_WARN, CN_LOG_TEXT);
	assert_true(cn_log_enabled(CN_LOG_ERROR));
	assert_true(cn_log_enabled(CN_LOG_WARN));
	assert_false(cn_log_enabled(CN_LOG_INFO));
	cn_log_setup(CN_LOG_INFO, CN_LOG_TEXT);
}

/* The text timestamps: UTC, microseconds, a leap day, the last second of
 * a day. */
static void test_rfc3339(void **state)
{
	char buf[40];

	(void)state;
	cn_log_rfc3339(buf, sizeof(buf), 1796124153123456789ull);
	assert_string_equal(buf, "2026-12-01T11:22:33.123456Z");
	cn_log_rfc3339(buf, sizeof(buf), 1709251199999999000ull);
	assert_string_equal(buf, "2024-02-29T23:59:59.999999Z");
}

/* Numbers at their edges, in both formats; the per-thread stamp of the
 * second is right whether the seconds go forward, stay or go back. */
static void test_numbers_and_stamps(void **state)
{
	struct cn_log_rec r;
	char buf[40], *s;

	(void)state;
	cn_log_rec_begin(&r, CN_LOG_JSON, 7000001000ull, "x");
	cn_log_rec_u64(&r, "max", UINT64_MAX);
	cn_log_rec_u64(&r, "zero", 0);
	cn_log_rec_i64(&r, "min", INT64_MIN);
	cn_log_rec_i64(&r, "max", INT64_MAX);
	cn_log_rec_ms(&r, "ms", 999);
	s = written(&r);
	assert_string_equal(s, "{\"ts\":7.000001,\"event\":\"x\","
			       "\"max\":18446744073709551615,\"zero\":0,"
			       "\"min\":-9223372036854775808,"
			       "\"max\":9223372036854775807,\"ms\":0.000}\n");
	free(s);

	cn_log_rfc3339(buf, sizeof(buf), 1796124153000001000ull);
	assert_string_equal(buf, "2026-12-01T11:22:33.000001Z");
	cn_log_rfc3339(buf, sizeof(buf), 1796124153999999000ull);
	assert_string_equal(buf, "2026-12-01T11:22:33.999999Z");
	cn_log_rfc3339(buf, sizeof(buf), 1796124154000000000ull);
	assert_string_equal(buf, "2026-12-01T11:22:34.000000Z");
	cn_log_rfc3339(buf, sizeof(buf), 0);
	assert_string_equal(buf, "1970-01-01T00:00:00.000000Z");
	cn_log_rfc3339(buf, 11, 1796124154000000000ull);
	assert_string_equal(buf, "2026-12-01");
}

/* A line on stderr starts with the time unless stderr is the journal. */
static void test_line_start(void **state)
{
	char buf[96], js[64];
	struct stat st;

	(void)state;
	cn_log_set_name("servernic");
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	unsetenv("JOURNAL_STREAM");
	cn_log_set_name("servernic");
	cn_log_line_start(buf, sizeof(buf));
	assert_int_equal(strlen(buf), strlen("2026-12-01T11:22:33.123456Z servernic: "));
	assert_string_equal(buf + 27, " servernic: ");
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	cn_log_set_name("servernic");
	cn_log_line_start(buf, sizeof(buf));
	assert_string_equal(buf, "servernic: ");
	unsetenv("JOURNAL_STREAM");
	cn_log_set_name("clientnic");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_record),
		cmocka_unit_test(test_json_record),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_rfc3339),
		cmocka_unit_test(test_numbers_and_stamps),
		cmocka_unit_test(test_line_start),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
