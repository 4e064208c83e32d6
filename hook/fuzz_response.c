/*
 * libFuzzer target for everything the hook parses from outside: the oracle's HTTP response (as a
 * partial read and at end of stream) and /proc/net/tcp{,6} lines. Built by build/fuzz.sh with
 * clang -fsanitize=fuzzer,address,undefined; hook.c is included whole with main() compiled out, so
 * the fuzzed code is exactly the shipped code.
 */
#define HOOK_FUZZ 1
#include "hook.c"

static void check_answer(const struct answer *a)
{
	/* Invariants the callers rely on: a parsed 200 answer has a known state and bounded ports. */
	if (a->status == 200 && (a->state < STATE_SERVING || a->state > STATE_UNSELECTED))
		__builtin_trap();
	if (a->nports > PORTS_MAX)
		__builtin_trap();
	for (size_t i = 0; i < a->nports; i++)
		if (a->ports[i] == 0)
			__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *b = (const char *)data;
	struct answer a;

	/* The hook never hands the parser more than RESPONSE_MAX bytes. */
	if (size <= RESPONSE_MAX) {
		for (int eof = 0; eof <= 1; eof++) {
			int r = parse_response(b, size, eof, &a);
			if (r == PARSE_OK)
				check_answer(&a);
			else if (r == PARSE_MORE && eof)
				__builtin_trap(); /* at end of stream the answer is complete or bad */
			else if (r == PARSE_BAD && !parse_error)
				__builtin_trap();
		}
	}

	size_t start = 0;
	while (start < size) {
		const char *nl = memchr(b + start, '\n', size - start);
		size_t end = nl ? (size_t)(nl - b) : size;
		struct conn c;
		(void)parse_tcp_line(b + start, end - start, 0, &c);
		(void)parse_tcp_line(b + start, end - start, 1, &c);
		start = end + 1;
	}
	return 0;
}
