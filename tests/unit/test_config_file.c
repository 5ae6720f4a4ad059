// SPDX-License-Identifier: MIT
/* src/daemon/config_file.c: the syntax of --config files. Keys and values
 * with white space and comments around them, and every refusal with the
 * line it names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/config_file.c"

static void parse_ok(struct cfg_file *cf, const char *text)
{
	const char *why = NULL;
	unsigned line = 99;

	assert_int_equal(cfg_parse(cf, text, strlen(text), &line, &why), 0);
	assert_int_equal(line, 0);
}

static void test_entries(void **state)
{
	struct cfg_file cf;

	(void)state;
	parse_ok(&cf, "# clientnic\n"
		      "\n"
		      "client-if = eth0\n"
		      "  server-if=eth1   # the WAN\n"
		      "\tlog-level =\tdebug\r\n"
		      "pcap = /var/lib/clientnic/a#b.pcap\n"
		      "   # indented comment\n"
		      "no-sack = yes");
	assert_int_equal(cf.n, 5);
	assert_string_equal(cf.e[0].key, "client-if");
	assert_string_equal(cf.e[0].value, "eth0");
	assert_int_equal(cf.e[0].line, 3);
	assert_string_equal(cf.e[1].key, "server-if");
	assert_string_equal(cf.e[1].value, "eth1");
	assert_int_equal(cf.e[1].line, 4);
	assert_string_equal(cf.e[2].value, "debug");
	/* A # inside a word is part of it. */
	assert_string_equal(cf.e[3].value, "/var/lib/clientnic/a#b.pcap");
	assert_string_equal(cf.e[4].key, "no-sack");
	assert_int_equal(cf.e[4].line, 8);
	cfg_free(&cf);

	parse_ok(&cf, "");
	assert_int_equal(cf.n, 0);
	cfg_free(&cf);
}

static void refused(const char *text, size_t len, unsigned want_line,
		    const char *want_why)
{
	struct cfg_file cf;
	const char *why = NULL;
	unsigned line = 0;

	assert_int_equal(cfg_parse(&cf, text, len, &line, &why), -EINVAL);
	assert_int_equal(line, want_line);
	assert_non_null(why);
	assert_non_null(strstr(why, want_why));
	cfg_free(&cf);
}

static void refused_text(const char *text, unsigned want_line,
			 const char *want_why)
{
	refused(text, strlen(text), want_line, want_why);
}

static void test_refusals(void **state)
{
	char big[CFG_LINE_MAX + 16];
	char many[CFG_ENTRIES_MAX * 16 + 64];
	size_t n = 0;

	(void)state;
	refused_text("a = 1\njust words\n", 2, "not a 'key = value' line");
	refused_text("= 1\n", 1, "no key");
	refused_text("\n\nidle-timeout =\n", 3, "no value");
	refused_text("--idle-timeout = 5\n", 1, "long option's name");
	refused_text("Idle-Timeout = 5\n", 1, "long option's name");
	refused_text("idle timeout = 5\n", 1, "long option's name");
	refused_text("a = 1\nb = 2\na = 3\n", 3, "twice");
	refused("a = 1\0b = 2\n", 12, 0, "NUL");
	memset(big, 'x', sizeof(big));
	memcpy(big, "pcap = ", 7);
	refused(big, sizeof(big), 1, "longer than 1024");
	for (unsigned i = 0; i <= CFG_ENTRIES_MAX; i++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "k%u = v\n", i);
	refused(many, n, CFG_ENTRIES_MAX + 1, "more than 128");
}

static void test_read(void **state)
{
	char path[] = "/tmp/cn-config-XXXXXX";
	struct cfg_file cf;
	const char *why = NULL;
	unsigned line = 7;
	int fd;

	(void)state;
	assert_int_equal(cfg_read(&cf, "/nonexistent/cn.conf", &line, &why),
			 -ENOENT);
	assert_int_equal(line, 0);
	cfg_free(&cf);
	assert_int_equal(cfg_read(&cf, "/tmp", &line, &why), -EINVAL);
	assert_string_equal(why, "not a regular file");
	cfg_free(&cf);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "max-flows = 8\nbad\n", 18), 18);
	close(fd);
	assert_int_equal(cfg_read(&cf, path, &line, &why), -EINVAL);
	assert_int_equal(line, 2);
	cfg_free(&cf);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_entries),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_read),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
