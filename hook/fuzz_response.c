/*
 * libFuzzer target for everything the hook parses from outside: the oracle's HTTP response (as a
 * partial read and at end of stream), /proc/net/tcp{,6} lines and netlink sock_diag datagrams.
 * Built by build/fuzz.sh with clang -fsanitize=fuzzer,address,undefined; hook.c is included whole
 * with main() compiled out, so the fuzzed code is exactly the shipped code. The same bytes go to
 * every parser; the seeds in hook/fuzz-corpus/ include datagrams recorded from a real kernel.
 */
#define HOOK_FUZZ 1
#include "hook.c"

/* hook.c spells out the sock_diag ABI because musl has no kernel headers; glibc's clang has them. */
#include <linux/inet_diag.h>
#include <linux/netlink.h>

_Static_assert(NL_SOCK_DIAG == NETLINK_SOCK_DIAG, "NETLINK_SOCK_DIAG");
_Static_assert(NL_ERROR == NLMSG_ERROR && NL_DONE == NLMSG_DONE, "NLMSG_*");
_Static_assert(NL_DUMP == (NLM_F_REQUEST | NLM_F_DUMP), "NLM_F_*");
_Static_assert(DIAG_GETSOCK == TCPDIAG_GETSOCK, "TCPDIAG_GETSOCK");
_Static_assert(DIAG_BYTECODE == INET_DIAG_REQ_BYTECODE, "INET_DIAG_REQ_BYTECODE");
_Static_assert(BC_JMP == INET_DIAG_BC_JMP && BC_S_GE == INET_DIAG_BC_S_GE && BC_S_LE == INET_DIAG_BC_S_LE, "BC");
_Static_assert(sizeof(struct nl_header) == sizeof(struct nlmsghdr), "nlmsghdr");
_Static_assert(offsetof(struct nl_header, seq) == offsetof(struct nlmsghdr, nlmsg_seq), "nlmsg_seq");
_Static_assert(sizeof(struct diag_msg) == sizeof(struct inet_diag_msg), "inet_diag_msg");
_Static_assert(offsetof(struct diag_msg, id.sport) == offsetof(struct inet_diag_msg, id.idiag_sport), "sport");
_Static_assert(offsetof(struct diag_msg, id.dport) == offsetof(struct inet_diag_msg, id.idiag_dport), "dport");
_Static_assert(offsetof(struct diag_msg, id.src) == offsetof(struct inet_diag_msg, id.idiag_src), "src");
_Static_assert(offsetof(struct diag_msg, id.dst) == offsetof(struct inet_diag_msg, id.idiag_dst), "dst");
_Static_assert(offsetof(struct diag_msg, state) == offsetof(struct inet_diag_msg, idiag_state), "state");
_Static_assert(offsetof(struct diag_request, req) == NLMSG_HDRLEN, "request header");
_Static_assert(offsetof(struct diag_request, bc_len) - offsetof(struct diag_request, req) ==
               sizeof(struct inet_diag_req), "inet_diag_req");
_Static_assert(offsetof(struct diag_request, req.states) - offsetof(struct diag_request, req) ==
               offsetof(struct inet_diag_req, idiag_states), "idiag_states");
_Static_assert(offsetof(struct diag_request, bc) - offsetof(struct diag_request, bc_len) == NLA_HDRLEN, "nlattr");
_Static_assert(sizeof(struct bc_op) == sizeof(struct inet_diag_bc_op), "inet_diag_bc_op");
_Static_assert(DIAG_STATES == ((1u << 1) | (1u << 2) | (1u << 3) | (1u << 4) | (1u << 5) | (1u << 6) |
                               (1u << 8) | (1u << 9) | (1u << 11) | (1u << 12)), "states");

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
	/* The reason goes into a log line: a short word, never a line break. */
	if (a->nreason > REASON_MAX)
		__builtin_trap();
	for (size_t i = 0; i < a->nreason; i++)
		if (!((a->reason[i] >= 'a' && a->reason[i] <= 'z') || (a->reason[i] >= '0' && a->reason[i] <= '9') || a->reason[i] == '-'))
			__builtin_trap();
}

/*
 * The filter program diag_request() builds, checked the way the kernel checks and runs one
 * (inet_diag_bc_audit, inet_diag_bc_run in net/ipv4/inet_diag.c, for the three operations it
 * uses): it must pass the audit, or every dump fails, and accept exactly the ports given.
 */
static const unsigned char *program(size_t *len)
{
	*len = diag_req.bc_len - 4u;
	if (diag_req.bc_len < 4 || diag_req.bc_type != DIAG_BYTECODE ||
	    diag_req.h.len != offsetof(struct diag_request, bc) + *len)
		__builtin_trap();
	return (const unsigned char *)diag_req.bc;
}

static struct bc_op op_at(const unsigned char *bc, size_t at)
{
	struct bc_op op;
	memcpy(&op, bc + at, sizeof op);
	return op;
}

/* Whether `target` bytes from the start is where an instruction starts, following `yes` jumps. */
static int on_yes_chain(const unsigned char *bc, size_t len, size_t target)
{
	size_t at = 0;
	while (at < target && at < len)
		at += op_at(bc, at).yes;
	return at == target;
}

static void audit_program(void)
{
	size_t len, at = 0;
	const unsigned char *bc = program(&len);
	if (len < 4)
		__builtin_trap();
	while (at < len) {
		struct bc_op op = op_at(bc, at);
		size_t left = len - at, min = op.code == BC_JMP ? 4 : 8;
		if (op.code != BC_JMP && op.code != BC_S_GE && op.code != BC_S_LE)
			__builtin_trap();
		if (left < min || op.no < min || op.no > left + 4 || op.no % 4 != 0)
			__builtin_trap();
		if (op.no < left && !on_yes_chain(bc, len, at + op.no))
			__builtin_trap();
		if (op.yes < min || op.yes > left + 4 || op.yes % 4 != 0)
			__builtin_trap();
		at += op.yes;
	}
	if (at != len)
		__builtin_trap();
}

static int program_accepts(uint16_t port)
{
	size_t len;
	const unsigned char *bc = program(&len);
	long left = (long)len, at = 0;
	while (left > 0) {
		struct bc_op op = op_at(bc, (size_t)at);
		int yes = op.code == BC_JMP ? 0
		        : op.code == BC_S_GE ? port >= op_at(bc, (size_t)at + 4).no
		        : port <= op_at(bc, (size_t)at + 4).no;
		long step = yes ? op.yes : op.no;
		left -= step;
		at += step;
	}
	return left == 0;
}

static int has_port(const struct answer *a, uint16_t port)
{
	for (size_t k = 0; k < a->nports; k++)
		if (a->ports[k] == port)
			return 1;
	return 0;
}

static void check_program(const struct answer *a, const uint16_t *probes, size_t nprobes)
{
	(void)diag_request(a, 7);
	audit_program();
	for (size_t k = 0; k < a->nports; k++)
		if (!program_accepts(a->ports[k]) || program_accepts((uint16_t)(a->ports[k] + 1)) != has_port(a, (uint16_t)(a->ports[k] + 1)))
			__builtin_trap();
	for (size_t k = 0; k < nprobes; k++)
		if (program_accepts(probes[k]) != has_port(a, probes[k]))
			__builtin_trap();
}

/* Every port, once, for a few port sets: the fuzzer's own sets are checked at their edges only. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	static const uint16_t sets[][4] = {{1}, {80, 443}, {8080, 8443, 9090}, {65535, 1, 2, 32768}};
	static const size_t sizes[] = {1, 2, 3, 4};
	struct answer a = {.nports = 0};
	for (size_t s = 0; s < sizeof sizes / sizeof sizes[0] + 1; s++) {
		if (s < sizeof sizes / sizeof sizes[0]) {
			a.nports = sizes[s];
			memcpy(a.ports, sets[s], sizeof sets[s]);
		} else {
			a.nports = PORTS_MAX; /* 1000, 1002, ...: the longest program, gaps between ports */
			for (size_t k = 0; k < PORTS_MAX; k++)
				a.ports[k] = (uint16_t)(1000 + 2 * k);
		}
		(void)diag_request(&a, 1);
		audit_program();
		for (uint32_t port = 0; port <= 65535; port++)
			if (program_accepts((uint16_t)port) != has_port(&a, (uint16_t)port))
				__builtin_trap();
	}
	return 0;
}

static void fuzz_diag(const uint8_t *data, size_t size)
{
	/* The serving ports the recorded seeds' sockets use, and the node address they connect from. */
	struct answer a = {.state = STATE_DRAINED, .nports = 3, .ports = {8080, 8443, 40001}, .has_node = 1,
	                   .node = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 2}};
	struct text why = {.n = 0};
	/* The hook hands parse_diag one datagram of at most sizeof diag_buf bytes. */
	if (size > sizeof diag_buf)
		return;
	struct reading r = {.a = &a, .deadline = 0, .open = -1, .taken = -1, .why = &why};
	nkeys[cur] = 0;
	int p = parse_diag(data, size, 1, &r);
	if (p != DIAG_MORE && p != DIAG_DONE && p != DIAG_BAD)
		__builtin_trap();
	/* Each socket counted took a whole record: a header and a struct inet_diag_msg. */
	if (nkeys[cur] > CONN_MAX || r.counted > size / (sizeof(struct nl_header) + sizeof(struct diag_msg)))
		__builtin_trap();
	/* The input as a port set: the filter program for it must pass the audit and be exact. Up to
	 * 16 ports, which keeps the audit's quadratic walk cheap; the initializer checks 64. */
	struct answer ports = {.nports = 0};
	for (size_t i = 0; i + 1 < size && ports.nports < 16; i += 2) {
		uint16_t p = (uint16_t)(data[i] << 8 | data[i + 1]);
		if (p != 0)
			ports.ports[ports.nports++] = p;
	}
	if (ports.nports > 0) {
		uint16_t probes[4] = {0, 65535, (uint16_t)(ports.ports[0] - 1), (uint16_t)size};
		check_program(&ports, probes, 4);
	}
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

	fuzz_diag(data, size);
	return 0;
}
