/*
 * lameduck hook: the preStop hook that lameduck injects into every application container.
 *
 * The kubelet runs it before it sends SIGTERM to the container. `hook wait` holds the shutdown
 * until lameduck's drain oracle says the pod is out of every Service's EndpointSlices, lets load
 * balancers settle, then waits until no new inbound connection has arrived for a while (and, with
 * --drain, until the open ones have closed); `hook sleep` is the plain fixed delay. The usage text
 * below is the whole contract.
 *
 * Read top to bottom: limits and usage, output, input and clock helpers, the parsers for everything
 * that comes from outside (durations, the oracle's answer, /proc/net/tcp lines), the sampler with
 * its two readers of the pod's sockets (/proc/net/tcp and netlink, whose answers are parsed there),
 * the HTTP client, the two modes, main. Everything from outside but durations is fuzzed by
 * fuzz_response.c, which #includes this file with -DHOOK_FUZZ. There is no heap: every buffer is static and bounded, so the
 * hook's memory is the same in the steady state as at start (it runs inside the container's own
 * memory cgroup, during shutdown).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define EXIT_DONE 0     /* the wait is over, whichever way it ended */
#define EXIT_INTERNAL 1 /* the monotonic clock failed: the hook cannot keep time */
#define EXIT_USAGE 2    /* bad command line; the message names the argument */

#define RESPONSE_MAX 4096   /* an answer is one short line; anything longer is a broken oracle */
#define PORTS_MAX 64
#define REASON_MAX 32       /* the oracle's reason= words are short: not-deleted, grace */
#define CONN_MAX 4096       /* connections tracked per sample; more count as activity */
#define ORACLE_WAIT_MAX 30  /* seconds the oracle may hold a request (DESIGN.md) */
#define ASK_GRACE_MS 5000   /* on top of wait=: the oracle's own delay and the network */
#define CONNECT_MS 2000     /* a ClusterIP answers a SYN at once or not at all */
#define ASK_GAP_MS 100      /* guard against an oracle answering `serving` without holding */
#define RETRY_WINDOW_MS 2000
#define BACKOFF_MIN_MS 200
#define BACKOFF_MAX_MS 1000
#define SAMPLE_MS 100       /* /proc/net/tcp sampling period of the quiet phase */
#define DAY_MS (24LL * 3600 * 1000)
#define DIR_MAX 1024        /* --podinfo and --proc lengths, so that paths fit their buffers */
#define E_NOT_REGULAR 4096  /* the hook's own errno, above the kernel's: an input that is no file */

static const char usage[] =
"usage: hook sleep DURATION [--log=PATH]\n"
"       hook wait --oracle=HOST:PORT --max=DURATION [options]\n"
"       hook --help\n"
"\n"
"lameduck's preStop hook. The kubelet runs it in the application container before\n"
"it sends SIGTERM; the container's shutdown waits until the hook exits.\n"
"\n"
"hook sleep DURATION\n"
"  Sleep DURATION, then exit 0.\n"
"\n"
"hook wait\n"
"  Ask lameduck's drain oracle whether this pod is still in load balancing. Plain\n"
"  HTTP/1.1 over TCP, one request per connection, Connection: close:\n"
"    GET /v1/pods/<uid>/drain?wait=<seconds> HTTP/1.1\n"
"  <uid> is read from <podinfo>/pod/uid ([A-Za-z0-9_-], at most 64 characters);\n"
"  wait = min(30, whole seconds left before --max). The oracle holds the request\n"
"  until its answer is not `serving` or wait has passed, then answers 200 with one\n"
"  line: a state, then optional space-separated key=value tokens:\n"
"    ports=8080,8443   the pod's serving ports     node=<IPv4|IPv6>   the node\n"
"    reason=WORD       why unselected although the slices list the pod: grace\n"
"                      (waiting on would take from the app's grace period) or\n"
"                      not-deleted (the kubelet stops the pod without an API\n"
"                      deletion: node shutdown, eviction, a failed probe);\n"
"                      printed in the summary line ([a-z0-9-], <= 32 characters)\n"
"  Other tokens are ignored. The body may be sent with Content-Length, chunked, or\n"
"  up to the close; the whole response is at most 4096 bytes.\n"
"    serving     ask again (at most one request per 100ms)\n"
"    unselected  no Service routes to this pod: exit at once\n"
"    drained     sleep --settle, then wait until no new inbound connection has\n"
"                appeared for --quiet, with --drain until none is open, and exit\n"
"  Sockets: read every 100ms over netlink (sock_diag), which returns only those\n"
"  whose local port is in ports=; from <proc>/net/tcp and tcp6 instead with a\n"
"  --proc other than /proc, and once netlink has failed (refused by a seccomp\n"
"  profile, gVisor or qemu-user; an error; no answer in 1s). Both give the same\n"
"  sockets; netlink costs in proportion to the serving connections, the tables\n"
"  to every socket in the pod.\n"
"  Quiet phase: a new inbound connection is a socket that was not there in the\n"
"  previous reading, in any connected state (established, syn-recv, closing or\n"
"  time-wait: short connections count too), whose local port is one of ports=\n"
"  and whose remote address is not node= (kubelet probes). Loopback is not\n"
"  ignored: sidecar proxies deliver real traffic over it. The quiet period counts\n"
"  from the drained answer, so with no traffic the hook exits right after\n"
"  --settle. No ports= token, or --quiet=0: no quiet phase.\n"
"  Drain phase (--drain), after the quiet phase (after --settle with --quiet=0):\n"
"  the same sockets every 100ms until no inbound connection to a serving port,\n"
"  from anywhere but node=, is open, or --max. Inbound: the local port is in\n"
"  ports= (an outgoing connection never gets a port a listener has bound).\n"
"    open    01 established, 03 syn-recv (a client connecting now)\n"
"    closed  08 close-wait (the client sent FIN: no more requests; counting it\n"
"            would let an app that leaks such sockets hold every stop to --max),\n"
"            04, 05 fin-wait1/2 (the app closed), 09 last-ack, 0B closing,\n"
"            06 time-wait, 07 close\n"
"  The app is not told to drain: connections end on their own (idle timeouts,\n"
"  clients reconnecting), and any client that keeps one open holds the hook\n"
"  until --max. Not after unselected, no ports=, or the fallback: without the\n"
"  oracle's ports= the hook cannot tell a serving connection from, say, a\n"
"  metrics scraper's keep-alive.\n"
"  A refused or timed-out connection (connect: 2s; an answer: wait + 5s), a status\n"
"  other than 200, a malformed or oversized answer: retry with backoff 200ms..1s\n"
"  for 2s, then sleep --fallback. No readable pod UID: sleep --fallback at once.\n"
"  Nothing waits past --max, counted from the hook's start: connect, send and\n"
"  receive are bounded by it too, however slowly an oracle sends. Input files\n"
"  must be regular (a FIFO counts as unreadable); output is non-blocking (a line\n"
"  a full pipe cannot take is dropped).\n"
"\n"
"  --oracle=HOST:PORT  the oracle: an IPv4 literal or an [IPv6] literal (no DNS;\n"
"                      lameduck writes its Service's ClusterIP here)\n"
"  --max=DURATION      deadline for everything, from the hook's start (required)\n"
"  --settle=DURATION   after drained, for load balancers to catch up (default 2s)\n"
"  --quiet=DURATION    quiet period for inbound connections (default 2s)\n"
"  --fallback=DURATION sleep when the oracle cannot be asked (default 10s)\n"
"  --drain             the drain phase, after the quiet phase (default off)\n"
"  --podinfo=DIR       downward API volume holding pod/uid (default /.lameduck)\n"
"  --proc=DIR          procfs showing the pod's network namespace (default /proc;\n"
"                      any other DIR: its tables, never netlink)\n"
"\n"
"Both modes:\n"
"  --log=PATH          where the one summary line goes, opened for appending\n"
"                      (default /proc/1/fd/1, the container's main process output,\n"
"                      so it shows in kubectl logs); stderr if it cannot be written\n"
"\n"
"DURATION: 1 to 9 digits with an optional unit ms, s, m or h (15s, 1500ms, 2m); a\n"
"bare number is seconds; at most 24h.\n"
"\n"
"The summary line, one of:\n"
"  lameduck: drained after A, quiet after B, N connections open, released at T of max M\n"
"  lameduck: drained after A, quiet after B, drain phase C[ cut short by max],\n"
"            N connections open, released at T of max M\n"
"  lameduck: drained after A, no serving ports, released at T of max M\n"
"  lameduck: unselected (no Service routes to this pod), released at T of max M\n"
"  lameduck: unselected reason=WORD, released at T of max M\n"
"  lameduck: oracle HOST:PORT <problem>; fallback sleep, released at T of max M\n"
"  lameduck: no pod UID (<podinfo>/pod/uid: <problem>); fallback sleep, released ...\n"
"  lameduck: [drained after A, ]max reached <where, why>, released at T of max M\n"
"  lameduck: slept D, released at T\n"
"(B counts from the drained answer and includes --settle. N is from the last\n"
"reading of the sockets that --max did not interrupt, else \"connections not\n"
"counted\".)\n"
"\n"
"Exit status:\n"
"  0  the wait is over: released, unselected, fallback slept, or --max reached\n"
"  1  internal error: the monotonic clock failed\n"
"  2  usage error; the message names the bad argument\n"
"No signal is handled: when the grace period ends the kubelet kills the container,\n"
"hook included, which is the right outcome. SIGPIPE is blocked.\n";

/* ---- output ---------------------------------------------------------------------------- */

/* A line being composed; silently truncated at its size, which no line here reaches. */
struct text {
	char s[512];
	size_t n;
};

static void put_n(struct text *t, const char *s, size_t n)
{
	while (n-- > 0 && t->n < sizeof t->s - 1)
		t->s[t->n++] = *s++;
}

static void put(struct text *t, const char *s)
{
	put_n(t, s, strlen(s));
}

static void put_uint(struct text *t, unsigned long long v)
{
	char d[20];
	size_t i = sizeof d;
	do {
		d[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	put_n(t, d + i, sizeof d - i);
}

/* Milliseconds as seconds with two decimals: "2.61s". */
static void put_secs(struct text *t, long long ms)
{
	if (ms < 0)
		ms = 0;
	put_uint(t, (unsigned long long)(ms / 1000));
	put(t, ".");
	long long cs = (ms % 1000) / 10;
	if (cs < 10)
		put(t, "0");
	put_uint(t, (unsigned long long)cs);
	put(t, "s");
}

/*
 * The few errors a log line can name, in words; strerror() would pull 2 KiB of messages into a
 * binary that has to stay small (it is copied into every namespace and mapped in every pod).
 */
static void put_errno(struct text *t, int err)
{
	static const struct {
		int err;
		const char *what;
	} words[] = {
		{ECONNREFUSED, "connection refused"}, {ECONNRESET, "connection reset"},
		{ETIMEDOUT, "timed out"}, {EHOSTUNREACH, "host unreachable"},
		{ENETUNREACH, "network unreachable"}, {EADDRNOTAVAIL, "address not available"},
		{ENOENT, "no such file or directory"}, {EACCES, "permission denied"},
		{EPERM, "operation not permitted"}, {ENOTDIR, "not a directory"},
		{EISDIR, "is a directory"}, {EMFILE, "too many open files"}, {ENOMEM, "out of memory"},
		{EPIPE, "broken pipe"}, {EAFNOSUPPORT, "address family not supported"},
		{E_NOT_REGULAR, "not a regular file"},
	};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
		if (words[i].err == err) {
			put(t, words[i].what);
			return;
		}
	}
	put(t, "errno ");
	put_uint(t, (unsigned long long)err);
}

static int write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t r = write(fd, s, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		s += r;
		n -= (size_t)r;
	}
	return 0;
}

/*
 * Stderr is inherited: it may be a pipe that nobody reads, or a full one, and a write must not
 * hold the hook past --max. So O_NONBLOCK for the one write, then put back, because the open file
 * description may be shared with whoever started the hook (a shell's terminal). A line that does
 * not fit is dropped: the deadline matters more than the log. Lines are shorter than PIPE_BUF, so
 * a pipe takes one whole or not at all.
 */
static void write_stderr(const char *s, size_t n)
{
	/* System calls rather than fcntl() and fstat() below: musl's wrappers cost 1.5 KiB. */
	long flags = syscall(SYS_fcntl, 2, F_GETFL);
	if (flags < 0 || (!(flags & O_NONBLOCK) && syscall(SYS_fcntl, 2, F_SETFL, flags | O_NONBLOCK) != 0))
		return; /* no stderr, or one that cannot be made non-blocking */
	(void)write_all(2, s, n);
	if (!(flags & O_NONBLOCK))
		(void)syscall(SYS_fcntl, 2, F_SETFL, flags);
}

/*
 * Every file the hook reads (pod/uid, /proc/net/tcp{,6}) is opened with this. O_NONBLOCK: opening
 * a FIFO for reading otherwise waits for a writer, for ever. Regular files only: a FIFO, a
 * terminal or a device can block the reads that follow or never end; procfs files are regular
 * (with size 0, so the size says nothing). -1 with errno, E_NOT_REGULAR for the rest.
 */
static int open_input(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int err = E_NOT_REGULAR;
	/* musl's struct stat is the kernel's on amd64 and arm64 */
	if (syscall(SYS_fstat, fd, &st) != 0)
		err = errno;
	else if (S_ISREG(st.st_mode))
		return fd;
	close(fd);
	errno = err;
	return -1;
}

static const char *log_path = "/proc/1/fd/1";

/*
 * The summary line goes to the container's main process output so that it shows in `kubectl
 * logs`. O_APPEND: opening /proc/1/fd/1 on a regular file starts a new offset at 0, which would
 * overwrite the log. O_NONBLOCK: a full pipe must not hold the hook; stderr then gets the line.
 * (Opening a FIFO for writing with O_NONBLOCK fails at once when it has no reader.)
 */
static void emit(struct text *t)
{
	put(t, "\n");
	int fd = open(log_path, O_WRONLY | O_APPEND | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0) {
		int r = write_all(fd, t->s, t->n);
		close(fd);
		if (r == 0)
			return;
	}
	write_stderr(t->s, t->n);
}

static int usage_error(const char *what, const char *value, const char *problem)
{
	struct text t = {.n = 0};
	put(&t, "hook: ");
	put(&t, what);
	if (value) {
		put(&t, ": \"");
		put(&t, value);
		put(&t, "\"");
	}
	put(&t, " ");
	put(&t, problem);
	put(&t, " (see hook --help)\n");
	write_stderr(t.s, t.n);
	return EXIT_USAGE;
}

/* ---- time ------------------------------------------------------------------------------ */

static void die_clock(void)
{
	static const char msg[] = "hook: the monotonic clock failed\n";
	write_stderr(msg, sizeof msg - 1);
	_exit(EXIT_INTERNAL);
}

/* CLOCK_MONOTONIC: a wall-clock step (NTP, a VM resume) must not shorten or stretch a wait. */
static long long now_ms(void)
{
	struct timespec ts;
	/* The system call rather than clock_gettime(): musl's vDSO lookup costs 1 KiB of binary. */
	if (syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts) != 0)
		die_clock();
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_until(long long ms)
{
	struct timespec ts = {.tv_sec = (time_t)(ms / 1000), .tv_nsec = (long)(ms % 1000) * 1000000};
	for (;;) {
		int r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		if (r == 0)
			return;
		if (r != EINTR)
			die_clock();
	}
}

static long long min_ll(long long a, long long b)
{
	return a < b ? a : b;
}

/* 1 when fd is ready, 0 at the deadline, -1 on error. */
static int wait_fd(int fd, short events, long long deadline)
{
	for (;;) {
		long long left = deadline - now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = {.fd = fd, .events = events};
		int r = poll(&p, 1, (int)min_ll(left, 1000000));
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

/* ---- durations ------------------------------------------------------------------------- */

/*
 * The grammar of injector/duration.ts, so that a value the webhook accepts is one the hook
 * accepts: 1-9 digits, optional ms|s|m|h (default s), at most 24h. 0, -1 (not a duration) or
 * -2 (longer than 24h).
 */
static int parse_duration(const char *s, long long *ms)
{
	long long n = 0;
	int digits = 0;
	while (*s >= '0' && *s <= '9') {
		if (++digits > 9)
			return -1;
		n = n * 10 + (*s++ - '0');
	}
	if (digits == 0)
		return -1;
	long long unit;
	if (*s == 0 || strcmp(s, "s") == 0)
		unit = 1000;
	else if (strcmp(s, "ms") == 0)
		unit = 1;
	else if (strcmp(s, "m") == 0)
		unit = 60 * 1000;
	else if (strcmp(s, "h") == 0)
		unit = 3600 * 1000;
	else
		return -1;
	if (n * unit > DAY_MS)
		return -2;
	*ms = n * unit;
	return 0;
}

/* ---- the oracle's answer --------------------------------------------------------------- */

#define STATE_SERVING 1
#define STATE_DRAINED 2
#define STATE_UNSELECTED 3

struct answer {
	int status;                /* the HTTP status; the rest is set only for 200 */
	int state;
	size_t nports;
	uint16_t ports[PORTS_MAX];
	int has_node;
	unsigned char node[16];    /* IPv6; IPv4 as ::ffff:a.b.c.d, as in /proc/net/tcp6 */
	size_t nreason;            /* 0: no reason= token, or one the hook does not print */
	char reason[REASON_MAX];
};

#define PARSE_OK 0
#define PARSE_MORE 1           /* a valid prefix: read on */
#define PARSE_BAD (-1)         /* parse_error says why */

static const char *parse_error;

static int bad(const char *why)
{
	parse_error = why;
	return PARSE_BAD;
}

static int more(int eof, const char *why)
{
	return eof ? bad(why) : PARSE_MORE;
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* Case-insensitive equality of b[0..n) with a lower-case literal. */
static int ieq(const char *b, size_t n, const char *lit)
{
	size_t i;
	for (i = 0; i < n; i++)
		if (lit[i] == 0 || lower(b[i]) != lit[i])
			return 0;
	return lit[i] == 0;
}

/* The line starting at `from`: its end without CR in *end, the next line's start in *next. */
static int next_line(const char *b, size_t n, size_t from, size_t *end, size_t *next)
{
	const char *nl = from < n ? memchr(b + from, '\n', n - from) : NULL;
	if (!nl)
		return 0;
	size_t k = (size_t)(nl - b);
	*next = k + 1;
	*end = k > from && b[k - 1] == '\r' ? k - 1 : k;
	return 1;
}

static int parse_ports(const char *s, size_t n, struct answer *a)
{
	size_t i = 0;
	a->nports = 0;
	while (i < n) {
		unsigned long v = 0;
		size_t start = i;
		while (i < n && is_digit(s[i]) && i - start < 6)
			v = v * 10 + (unsigned long)(s[i++] - '0');
		if (i == start || v == 0 || v > 65535)
			return bad("bad port in ports=");
		if (a->nports == PORTS_MAX)
			return bad("too many ports in ports=");
		a->ports[a->nports++] = (uint16_t)v;
		if (i < n && (s[i] != ',' || ++i == n))
			return bad("bad separator in ports=");
	}
	return PARSE_OK;
}

static int parse_node(const char *s, size_t n, struct answer *a)
{
	char ip[INET6_ADDRSTRLEN];
	if (n == 0 || n >= sizeof ip)
		return bad("bad address in node=");
	memcpy(ip, s, n);
	ip[n] = 0;
	memset(a->node, 0, sizeof a->node);
	if (memchr(ip, ':', n)) {
		if (inet_pton(AF_INET6, ip, a->node) != 1)
			return bad("bad address in node=");
	} else {
		a->node[10] = a->node[11] = 0xff;
		if (inet_pton(AF_INET, ip, a->node + 12) != 1)
			return bad("bad address in node=");
	}
	a->has_node = 1;
	return PARSE_OK;
}

/*
 * reason=WORD: why the oracle answers what the slices alone would not (unselected reason=grace,
 * reason=not-deleted), only to be printed. A word of [a-z0-9-] up to REASON_MAX long, else ignored
 * like an unknown token: it goes into a log line and must not be able to forge one.
 */
static void parse_reason(const char *s, size_t n, struct answer *a)
{
	a->nreason = 0;
	if (n == 0 || n > REASON_MAX)
		return;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || is_digit(s[i]) || s[i] == '-'))
			return;
	memcpy(a->reason, s, n);
	a->nreason = n;
}

/* The body: one line, a state, then space-separated tokens. */
static int parse_body(const char *s, size_t n, struct answer *a)
{
	if (n > 0 && s[n - 1] == '\n')
		n--;
	if (n > 0 && s[n - 1] == '\r')
		n--;
	if (memchr(s, '\n', n) || memchr(s, '\r', n) || memchr(s, 0, n))
		return bad("answer is not one line");
	size_t i = 0;
	while (i < n) {
		if (s[i] == ' ') {
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && s[j] != ' ')
			j++;
		const char *tok = s + i;
		size_t len = j - i;
		int r = PARSE_OK;
		if (a->state == 0) {
			if (len == 7 && memcmp(tok, "serving", 7) == 0)
				a->state = STATE_SERVING;
			else if (len == 7 && memcmp(tok, "drained", 7) == 0)
				a->state = STATE_DRAINED;
			else if (len == 10 && memcmp(tok, "unselected", 10) == 0)
				a->state = STATE_UNSELECTED;
			else
				return bad("unknown state");
		} else if (len >= 6 && memcmp(tok, "ports=", 6) == 0) {
			r = parse_ports(tok + 6, len - 6, a);
		} else if (len >= 5 && memcmp(tok, "node=", 5) == 0) {
			r = parse_node(tok + 5, len - 5, a);
		} else if (len >= 7 && memcmp(tok, "reason=", 7) == 0) {
			parse_reason(tok + 7, len - 7, a);
		}
		if (r != PARSE_OK)
			return r;
		i = j;
	}
	return a->state ? PARSE_OK : bad("empty answer");
}

/* Chunked bodies are reassembled here; an oracle written on Node's http module may send them. */
static char chunk_body[RESPONSE_MAX];

static int parse_chunked(const char *b, size_t n, size_t i, int eof, struct answer *a)
{
	size_t len = 0;
	for (;;) {
		size_t end, next, size = 0, k;
		if (!next_line(b, n, i, &end, &next))
			return more(eof, "truncated chunk");
		for (k = i; k < end && hex_value(b[k]) >= 0; k++) {
			if (k - i == 4)
				return bad("chunk too large");
			size = size * 16 + (size_t)hex_value(b[k]);
		}
		if (k == i || (k < end && b[k] != ';'))
			return bad("bad chunk size");
		i = next;
		if (size == 0)
			return parse_body(chunk_body, len, a);
		if (size > sizeof chunk_body - len)
			return bad("chunks too large");
		if (n - i < size)
			return more(eof, "truncated chunk");
		memcpy(chunk_body + len, b + i, size);
		len += size;
		i += size;
		if (i < n && b[i] == '\r')
			i++;
		if (i == n)
			return more(eof, "truncated chunk");
		if (b[i++] != '\n')
			return bad("chunk not followed by CRLF");
	}
}

/*
 * The oracle's whole response so far, b[0..n); eof: the server has closed. PARSE_OK with *a
 * filled (a->status != 200 is also PARSE_OK: the caller decides), PARSE_MORE, or PARSE_BAD.
 * Nothing here reads past b[n) or relies on a terminating NUL: the fuzz target checks that.
 */
static int parse_response(const char *b, size_t n, int eof, struct answer *a)
{
	size_t end, i;
	memset(a, 0, sizeof *a);
	if (!next_line(b, n, 0, &end, &i))
		return more(eof, "truncated status line");
	if (end < 12 || memcmp(b, "HTTP/1.", 7) != 0 || !is_digit(b[7]) || b[8] != ' ' ||
	    !is_digit(b[9]) || !is_digit(b[10]) || !is_digit(b[11]) || (end > 12 && b[12] != ' '))
		return bad("bad status line");
	a->status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
	if (a->status != 200)
		return PARSE_OK;

	long long length = -1;
	int chunked = 0;
	for (;;) {
		size_t next;
		if (!next_line(b, n, i, &end, &next))
			return more(eof, "truncated headers");
		if (end == i) {
			i = next;
			break;
		}
		const char *colon = memchr(b + i, ':', end - i);
		if (!colon)
			return bad("header without colon");
		size_t name = (size_t)(colon - b), v = name + 1, ve = end;
		while (v < ve && (b[v] == ' ' || b[v] == '\t'))
			v++;
		while (ve > v && (b[ve - 1] == ' ' || b[ve - 1] == '\t'))
			ve--;
		if (ieq(b + i, name - i, "content-length")) {
			if (v == ve || ve - v > 9)
				return bad("bad content-length");
			length = 0;
			for (; v < ve; v++) {
				if (!is_digit(b[v]))
					return bad("bad content-length");
				length = length * 10 + (b[v] - '0');
			}
		} else if (ieq(b + i, name - i, "transfer-encoding")) {
			if (!ieq(b + v, ve - v, "chunked"))
				return bad("unsupported transfer-encoding");
			chunked = 1;
		}
		i = next;
	}
	if (chunked)
		return parse_chunked(b, n, i, eof, a);
	if (length >= 0) {
		if ((long long)(n - i) < length)
			return more(eof, "truncated body");
		return parse_body(b + i, (size_t)length, a);
	}
	return eof ? parse_body(b + i, n - i, a) : PARSE_MORE;
}

/* ---- /proc/net/tcp ----------------------------------------------------------------------- */

/* One socket: addresses as 16 bytes (IPv4 as ::ffff:a.b.c.d), ports in host order. */
struct conn {
	unsigned char local[16], remote[16];
	unsigned lport, rport, state;
};

/*
 * The states of include/net/tcp_states.h that matter here. Open, for the drain phase and the
 * summary's count: established, and syn-recv (a client connecting now; released then, the
 * connection would meet a stopping app). Closed: every state after a FIN, since no request can
 * still arrive (close-wait: the client sent FIN; an app that never closes such a socket must not
 * hold every stop to --max) or be answered (fin-wait1/2, last-ack, closing: the app closed), and
 * time-wait. The kernel lists a syn-recv request as 03, never as new-syn-recv.
 */
#define TCP_ESTABLISHED 0x01
#define TCP_SYN_RECV 0x03
#define TCP_CLOSE 0x07
#define TCP_LISTEN 0x0A

/* Exactly `digits` hex digits at s[*i]. */
static int hex_field(const char *s, size_t n, size_t *i, size_t digits, uint32_t *v)
{
	if (n - *i < digits)
		return -1;
	*v = 0;
	for (size_t k = 0; k < digits; k++) {
		int h = hex_value(s[*i + k]);
		if (h < 0)
			return -1;
		*v = *v * 16 + (uint32_t)h;
	}
	*i += digits;
	return 0;
}

/* An address as 16 bytes: IPv6 as is, IPv4 (its 4 bytes) as ::ffff:a.b.c.d, as tcp6 lists them. */
static void map_address(unsigned char *addr, const void *bytes, int v6)
{
	memset(addr, 0, 16);
	if (v6) {
		memcpy(addr, bytes, 16);
		return;
	}
	addr[10] = addr[11] = 0xff;
	memcpy(addr + 12, bytes, 4);
}

/*
 * The kernel prints each 32-bit word of an address as the hex of its in-memory value
 * (tcp4_seq_show: %08X of __be32), so copying the parsed word back in host order restores the
 * network-order bytes. Correct wherever the hook runs on the kernel's own architecture.
 */
static int address_port(const char *s, size_t n, size_t *i, int v6, unsigned char *addr, unsigned *port)
{
	uint32_t w[4], p;
	for (int k = 0; k < (v6 ? 4 : 1); k++)
		if (hex_field(s, n, i, 8, &w[k]) != 0)
			return -1;
	map_address(addr, w, v6);
	if (*i >= n || s[(*i)++] != ':' || hex_field(s, n, i, 4, &p) != 0)
		return -1;
	*port = p;
	return 0;
}

/* 1: a socket in *c; 0: the header line; -1: malformed. Lines: "  12: LLLL:PPPP RRRR:PPPP ST ..." */
static int parse_tcp_line(const char *s, size_t n, int v6, struct conn *c)
{
	size_t i = 0;
	uint32_t st;
	while (i < n && s[i] == ' ')
		i++;
	if (i < n && s[i] == 's')
		return 0;
	size_t start = i;
	while (i < n && is_digit(s[i]))
		i++;
	if (i == start || i >= n || s[i++] != ':')
		return -1;
	if (i >= n || s[i++] != ' ' || address_port(s, n, &i, v6, c->local, &c->lport) != 0)
		return -1;
	if (i >= n || s[i++] != ' ' || address_port(s, n, &i, v6, c->remote, &c->rport) != 0)
		return -1;
	if (i >= n || s[i++] != ' ' || hex_field(s, n, &i, 2, &st) != 0)
		return -1;
	if (i < n && s[i] != ' ')
		return -1;
	c->state = st;
	return 1;
}

/* ---- the sampler of the quiet and drain phases ------------------------------------------ */

/* Two readings of the inbound connections' identities, sorted: the previous one and the next. */
static uint64_t keys[2][CONN_MAX];
static size_t nkeys[2];
static int cur;
static char proc_dir[DIR_MAX + 16];
static char read_buf[4096];

struct reading {
	const struct answer *a;
	long long deadline;        /* a reading still going on then is abandoned */
	size_t counted;            /* open inbound connections (established or syn-recv) so far */
	long open;                 /* the same in the last complete reading; -1 before the first */
	long long taken;           /* when the last complete reading began; -1 before the first */
	int overflow;
	struct text *why;          /* on error */
};

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	while (n--)
		h = (h ^ *b++) * 0x100000001b3ULL;
	return h;
}

/*
 * Inbound means: the local port is a serving port. An outgoing connection never gets a port that
 * a listener has bound (the kernel's ephemeral port choice skips bound ports), so the app's own
 * calls to other services' port 8080 are not counted; nor are the node's (kubelet probes).
 */
static void count_conn(struct reading *r, const struct conn *c)
{
	const struct answer *a = r->a;
	size_t k;
	if (c->state == TCP_LISTEN || c->state == TCP_CLOSE)
		return;
	for (k = 0; k < a->nports && a->ports[k] != c->lport; k++)
		;
	if (k == a->nports)
		return;
	if (a->has_node && memcmp(c->remote, a->node, 16) == 0)
		return;
	if (c->state == TCP_ESTABLISHED || c->state == TCP_SYN_RECV)
		r->counted++;
	if (nkeys[cur] == CONN_MAX) {
		r->overflow = 1;
		return;
	}
	uint64_t h = 0xcbf29ce484222325ULL;
	h = fnv1a(h, c->local, 16);
	h = fnv1a(h, &c->lport, sizeof c->lport);
	h = fnv1a(h, c->remote, 16);
	h = fnv1a(h, &c->rport, sizeof c->rport);
	keys[cur][nkeys[cur]++] = h;
}

#define TABLE_READ 0
#define TABLE_MISSING 1        /* no such file: no IPv6 in the kernel */
#define TABLE_CUT 2            /* the deadline came first */

/*
 * TABLE_READ, TABLE_MISSING, TABLE_CUT, or -1 with r->why. The deadline is checked before every
 * read(): the kernel walks every socket of the node (all network namespaces share its hash
 * tables) to print the pod's, so with tens of thousands of sockets one reading takes a second or
 * more (16,000 on loopback: 0.7-1.1 s on a loaded 2-core machine), otherwise all past --max.
 */
static int read_table(struct reading *r, const char *name, int v6)
{
	char path[sizeof proc_dir + 16];
	size_t have = 0;
	strcpy(path, proc_dir);
	strcat(path, name);
	int fd = open_input(path);
	if (fd < 0) {
		if (errno == ENOENT)
			return TABLE_MISSING;
		put(r->why, path);
		put(r->why, ": ");
		put_errno(r->why, errno);
		return -1;
	}
	for (;;) {
		if (now_ms() >= r->deadline) {
			close(fd);
			return TABLE_CUT;
		}
		ssize_t got = read(fd, read_buf + have, sizeof read_buf - have);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			put(r->why, path);
			put(r->why, ": ");
			put_errno(r->why, errno);
			close(fd);
			return -1;
		}
		have += (size_t)got;
		size_t start = 0, end, next;
		/* At the end of the file a last line without a newline still counts. */
		if (got == 0 && have > 0 && read_buf[have - 1] != '\n') {
			if (have == sizeof read_buf)
				goto malformed;
			read_buf[have++] = '\n';
		}
		while (next_line(read_buf, have, start, &end, &next)) {
			struct conn c;
			int p = parse_tcp_line(read_buf + start, end - start, v6, &c);
			if (p < 0)
				goto malformed;
			if (p > 0)
				count_conn(r, &c);
			start = next;
		}
		memmove(read_buf, read_buf + start, have - start);
		have -= start;
		if (got == 0) {
			close(fd);
			return TABLE_READ;
		}
		if (have == sizeof read_buf)
			goto malformed;
	}
malformed:
	put(r->why, path);
	put(r->why, ": unexpected format");
	close(fd);
	return -1;
}

/* ---- netlink sock_diag -------------------------------------------------------------------- */

/*
 * The same sockets, asked of the kernel instead of read as text. /proc/net/tcp formats every
 * socket of the namespace (about 5 µs each: with 5,000 a reading costs 25 ms of CPU, a quarter of
 * a core at one reading per 100ms) for the hook to throw nearly all of them away. A sock_diag
 * dump runs a filter program in the kernel and returns, as binary records, only the sockets whose
 * local port is one of ports=. What remains is the walk: for either reader the kernel visits every
 * TCP socket of the node (the hash table is shared by all network namespaces), about 0.3 µs each.
 * So one dump for both address families, not one per family as for the tables: the request of
 * type TCPDIAG_GETSOCK, which the kernel keeps for compatibility and answers for every family
 * (SOCK_DIAG_BY_FAMILY takes exactly one). Should a kernel refuse it, the tables take over.
 *
 * Its ABI, from linux/netlink.h and inet_diag.h (musl ships no kernel headers); fuzz_response.c
 * checks every value and layout here against the kernel's own headers.
 */
#define NL_SOCK_DIAG 4           /* NETLINK_SOCK_DIAG */
#define NL_ERROR 2               /* NLMSG_ERROR */
#define NL_DONE 3                /* NLMSG_DONE */
#define NL_DUMP 0x301            /* NLM_F_REQUEST | NLM_F_DUMP */
#define DIAG_GETSOCK 18          /* TCPDIAG_GETSOCK: the request's type, and its records' */
#define DIAG_BYTECODE 1          /* INET_DIAG_REQ_BYTECODE */
#define BC_JMP 1                 /* INET_DIAG_BC_JMP */
#define BC_S_GE 2                /* INET_DIAG_BC_S_GE: local port >= the next op's `no` */
#define BC_S_LE 3
/*
 * Every state that /proc/net/tcp lists but listen and close, which count_conn skips: 1-6, 8, 9,
 * 11 and 12 (new-syn-recv, a request socket: the kernel reports it as syn-recv, 3, as /proc does).
 * Not 13 (bound-inactive, Linux 6.8+): /proc does not list those.
 */
#define DIAG_STATES 0x1B7Eu
#define DIAG_REPLY_MS 1000       /* the kernel answers within the system call; this is a stall */

struct nl_header {
	uint32_t len;
	uint16_t type, flags;
	uint32_t seq, pid;
};

struct diag_sockid {
	uint16_t sport, dport;           /* network order */
	unsigned char src[16], dst[16];  /* an IPv4 address in the first 4 bytes */
	uint32_t ifindex, cookie[2];
};

struct diag_msg {
	uint8_t family, state, timer, retrans;
	struct diag_sockid id;
	uint32_t expires, rqueue, wqueue, uid, inode;
};

struct bc_op {
	uint8_t code, yes;
	uint16_t no;
};

static struct diag_request {
	struct nl_header h;
	struct {
		uint8_t family, src_len, dst_len, ext;
		struct diag_sockid id;
		uint32_t states, dbs;
	} req;                           /* struct inet_diag_req */
	uint16_t bc_len, bc_type;        /* struct nlattr */
	struct bc_op bc[PORTS_MAX * 5];
} diag_req;

/*
 * One datagram of the answer: the kernel fills at most the larger of the reader's buffer and
 * NLMSG_GOODSIZE (under 8 KiB) per datagram, and a longer one is detected (MSG_TRUNC), never cut.
 */
static unsigned char diag_buf[8192];
static int netlink_on;             /* --proc is /proc; cleared for good by a failure */

/*
 * The request, its filter accepting the sockets whose local port is one of ports= (at least one).
 * Per port "port >= p, port <= p" (the equality operator is only in newer kernels), the blocks
 * joined as ss(8) joins "or": a block that fails jumps past its JMP to the next block, or past the
 * end (rejected) after the last; one that passes reaches its JMP, which jumps to the end
 * (accepted). Every jump lands on an instruction, at the end or 4 past it, as the kernel's audit
 * requires.
 */
static size_t diag_request(const struct answer *a, uint32_t seq)
{
	struct bc_op *op = diag_req.bc;
	size_t n = a->nports;
	for (size_t k = 0; k < n; k++) {
		uint16_t p = a->ports[k];
		*op++ = (struct bc_op){BC_S_GE, 8, 20};
		*op++ = (struct bc_op){0, 0, p};
		*op++ = (struct bc_op){BC_S_LE, 8, 12};
		*op++ = (struct bc_op){0, 0, p};
		if (k + 1 < n)
			*op++ = (struct bc_op){BC_JMP, 4, (uint16_t)((n - k - 1) * 20)};
	}
	size_t bc = (size_t)((char *)op - (char *)diag_req.bc);
	diag_req.h = (struct nl_header){.len = (uint32_t)(offsetof(struct diag_request, bc) + bc),
	                                .type = DIAG_GETSOCK, .flags = NL_DUMP, .seq = seq};
	diag_req.req.states = DIAG_STATES;
	diag_req.bc_len = (uint16_t)(4 + bc);
	diag_req.bc_type = DIAG_BYTECODE;
	return diag_req.h.len;
}

#define DIAG_MORE 0
#define DIAG_DONE 1
#define DIAG_BAD (-1)          /* an error, a failed dump, or not what the kernel sends */

/*
 * One datagram of the dump's answer, b[0..n), for the request numbered seq: every socket record goes
 * to count_conn. Messages of other requests and of other types are skipped; a message that does
 * not fit the datagram, a record shorter than struct inet_diag_msg or of a family other than IPv4
 * and IPv6, an error or a failed dump end it. Nothing here reads past b[n): the fuzz target
 * checks that.
 */
static int parse_diag(const unsigned char *b, size_t n, uint32_t seq, struct reading *r)
{
	size_t i = 0;
	while (n - i >= sizeof(struct nl_header)) {
		struct nl_header h;
		struct diag_msg m;
		struct conn c;
		memcpy(&h, b + i, sizeof h);
		if (h.len < sizeof h || h.len > n - i)
			return DIAG_BAD;
		const unsigned char *p = b + i + sizeof h;
		size_t len = h.len - sizeof h;
		size_t step = (h.len + 3) & ~(size_t)3; /* NLMSG_ALIGN; the last message may lack it */
		i += step < n - i ? step : n - i;
		if (h.seq != seq)
			continue;
		if (h.type == NL_DONE || h.type == NL_ERROR) {
			/* NLMSG_ERROR: an error (no acknowledgement was asked for); NLMSG_DONE: 0, or the
			 * dump's own error */
			int32_t err = 0;
			if (len >= sizeof err)
				memcpy(&err, p, sizeof err);
			return h.type == NL_DONE && err >= 0 ? DIAG_DONE : DIAG_BAD;
		}
		if (h.type != DIAG_GETSOCK)
			continue;
		if (len < sizeof m)
			return DIAG_BAD;
		memcpy(&m, p, sizeof m);
		if (m.family != AF_INET && m.family != AF_INET6)
			return DIAG_BAD;
		map_address(c.local, m.id.src, m.family == AF_INET6);
		map_address(c.remote, m.id.dst, m.family == AF_INET6);
		c.lport = ntohs(m.id.sport);
		c.rport = ntohs(m.id.dport);
		c.state = m.state;
		count_conn(r, &c);
	}
	return i == n ? DIAG_MORE : DIAG_BAD;
}

/* One dump over a netlink socket of its own: TABLE_READ, TABLE_CUT, or -1 (then never again). */
static int read_diag(struct reading *r)
{
	static uint32_t seq;
	int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NL_SOCK_DIAG);
	if (fd < 0)
		return -1;
	int v = -1;
	size_t len = diag_request(r->a, ++seq);
	if (send(fd, &diag_req, len, 0) != (ssize_t)len)
		goto out;
	for (;;) {
		long long now = now_ms();
		if (now >= r->deadline) {
			v = TABLE_CUT;
			goto out;
		}
		/* MSG_TRUNC: the datagram's whole length, even if the buffer took less */
		ssize_t got = recv(fd, diag_buf, sizeof diag_buf, MSG_TRUNC);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(fd, POLLIN, min_ll(r->deadline, now + DIAG_REPLY_MS)) > 0)
				continue;
			if (now_ms() >= r->deadline)
				v = TABLE_CUT;
			goto out;
		}
		if (got <= 0 || (size_t)got > sizeof diag_buf)
			goto out;
		int p = parse_diag(diag_buf, (size_t)got, seq, r);
		if (p != DIAG_MORE) {
			if (p == DIAG_DONE)
				v = TABLE_READ;
			goto out;
		}
	}
out:
	close(fd);
	return v;
}

/* ---- one reading, compared with the previous one ----------------------------------------- */

/* Shell sort: no recursion, no allocation, and a tenth of the size of libc's qsort. */
static void sort_keys(uint64_t *k, size_t n)
{
	static const size_t gaps[] = {1750, 701, 301, 132, 57, 23, 10, 4, 1};
	for (size_t g = 0; g < sizeof gaps / sizeof gaps[0]; g++) {
		size_t gap = gaps[g];
		for (size_t i = gap; i < n; i++) {
			uint64_t v = k[i];
			size_t j = i;
			for (; j >= gap && k[j - gap] > v; j -= gap)
				k[j] = k[j - gap];
			k[j] = v;
		}
	}
}

/* Forgets what a reading has found so far: it begins again. */
static void restart(struct reading *r)
{
	nkeys[cur] = 0;
	r->counted = 0;
	r->overflow = 0;
}

/* Both tables: TABLE_READ, TABLE_CUT, or -1 with r->why. */
static int read_tables(struct reading *r)
{
	int v4 = read_table(r, "/net/tcp", 0), v6 = v4;
	if (v4 == TABLE_READ || v4 == TABLE_MISSING)
		v6 = read_table(r, "/net/tcp6", 1);
	if (v6 == TABLE_CUT || v6 < 0)
		return v6;
	if (v4 == TABLE_MISSING && v6 == TABLE_MISSING) {
		put(r->why, proc_dir);
		put(r->why, "/net/tcp: no such file");
		return -1;
	}
	return TABLE_READ;
}

/*
 * Takes a reading into the next table and compares it with the previous one: the number of
 * connections that are new (1 if there were too many to track: count that as activity), or -1.
 * A reading that the deadline interrupts is dropped: 0, and the previous one stays the last.
 */
static long sample(struct reading *r)
{
	long long began = now_ms();
	cur ^= 1;
	int v = -1;
	if (netlink_on) {
		restart(r);
		v = read_diag(r);
		netlink_on = v >= 0;
	}
	if (v < 0) {
		restart(r);
		v = read_tables(r);
	}
	if (v == TABLE_CUT) {
		cur ^= 1;
		return 0;
	}
	if (v < 0)
		return -1;
	r->open = (long)r->counted;
	r->taken = began;
	sort_keys(keys[cur], nkeys[cur]);
	const uint64_t *old = keys[cur ^ 1], *now = keys[cur];
	size_t i = 0, j = 0, nold = nkeys[cur ^ 1];
	long fresh = 0;
	for (; i < nkeys[cur]; i++) {
		while (j < nold && old[j] < now[i])
			j++;
		if (j == nold || old[j] != now[i])
			fresh++;
	}
	return r->overflow && fresh == 0 ? 1 : fresh;
}

/* ---- asking the oracle ----------------------------------------------------------------- */

static const char *oracle_text;  /* as given: also the Host header */
static union {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
} oracle;
static socklen_t oracle_len;
static char pod_uid[66];        /* 64 characters, a newline, and one more to detect longer */
static char response[RESPONSE_MAX + 1];

static int parse_oracle(const char *s)
{
	char host[INET6_ADDRSTRLEN];
	const char *port;
	size_t hl;
	memset(&oracle, 0, sizeof oracle);
	if (*s == '[') {
		const char *close = strchr(s, ']');
		if (!close || close[1] != ':')
			return -1;
		hl = (size_t)(close - s - 1);
		port = close + 2;
		s++;
	} else {
		port = strchr(s, ':');
		if (!port)
			return -1;
		hl = (size_t)(port - s);
		port++;
	}
	if (hl == 0 || hl >= sizeof host)
		return -1;
	memcpy(host, s, hl);
	host[hl] = 0;
	unsigned long p = 0;
	const char *d = port;
	while (is_digit(*d) && d - port < 6)
		p = p * 10 + (unsigned long)(*d++ - '0');
	if (d == port || *d || p == 0 || p > 65535)
		return -1;
	if (port[-2] == ']') {
		oracle.in6.sin6_family = AF_INET6;
		oracle.in6.sin6_port = htons((uint16_t)p);
		oracle_len = sizeof oracle.in6;
		return inet_pton(AF_INET6, host, &oracle.in6.sin6_addr) == 1 ? 0 : -1;
	}
	oracle.in.sin_family = AF_INET;
	oracle.in.sin_port = htons((uint16_t)p);
	oracle_len = sizeof oracle.in;
	return inet_pton(AF_INET, host, &oracle.in.sin_addr) == 1 ? 0 : -1;
}

/*
 * One request on one connection, everything bounded by `deadline`: the bytes' arrival rate
 * cannot extend it. 0 with *a filled (status 200), or -1 with the problem in *why.
 */
static int ask(long long deadline, long wait_s, struct answer *a, struct text *why)
{
	struct text req = {.n = 0};
	put(&req, "GET /v1/pods/");
	put(&req, pod_uid);
	put(&req, "/drain?wait=");
	put_uint(&req, (unsigned long long)wait_s);
	put(&req, " HTTP/1.1\r\nHost: ");
	put(&req, oracle_text);
	put(&req, "\r\nUser-Agent: lameduck-hook\r\nConnection: close\r\n\r\n");

	int fd = socket(oracle.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		put(why, "socket: ");
		put_errno(why, errno);
		return -1;
	}
	int result = -1, err = 0;
	size_t sent = 0, got = 0;
	if (connect(fd, &oracle.sa, oracle_len) != 0) {
		if (errno != EINPROGRESS && errno != EINTR) {
			err = errno;
			goto unreachable;
		}
		int w = wait_fd(fd, POLLOUT, min_ll(deadline, now_ms() + CONNECT_MS));
		if (w == 0) {
			put(why, "unreachable: connect timed out");
			goto out;
		}
		socklen_t len = sizeof err;
		if (w < 0)
			err = errno;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
			err = errno;
		if (err)
			goto unreachable;
	}
	while (sent < req.n) {
		ssize_t r = send(fd, req.s + sent, req.n - sent, MSG_NOSIGNAL);
		if (r >= 0) {
			sent += (size_t)r;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			if (wait_fd(fd, POLLOUT, deadline) == 0) {
				put(why, "timed out sending");
				goto out;
			}
		} else if (errno != EINTR) {
			put(why, "send: ");
			put_errno(why, errno);
			goto out;
		}
	}
	for (;;) {
		ssize_t r = recv(fd, response + got, sizeof response - got, 0);
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			if (wait_fd(fd, POLLIN, deadline) == 0) {
				put(why, got ? "timed out reading the answer" : "no answer in time");
				goto out;
			}
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			put(why, "recv: ");
			put_errno(why, errno);
			goto out;
		}
		got += (size_t)r;
		if (got > RESPONSE_MAX) {
			put(why, "answered more than 4096 bytes");
			goto out;
		}
		int p = parse_response(response, got, r == 0, a);
		if (p == PARSE_MORE)
			continue;
		if (p == PARSE_BAD) {
			put(why, "answered malformed (");
			put(why, parse_error);
			put(why, ")");
		} else if (a->status != 200) {
			put(why, "answered HTTP ");
			put_uint(why, (unsigned long long)a->status);
		} else {
			result = 0;
		}
		goto out;
	}
unreachable:
	put(why, "unreachable: ");
	put_errno(why, err);
out:
	close(fd);
	return result;
}

/* ---- the modes ------------------------------------------------------------------------- */

static long long start_ms, deadline_ms;
static const char *max_text;
static long long settle_ms = 2000, quiet_ms = 2000, fallback_ms = 10000;
static int drain_on;
static const char *podinfo_dir = "/.lameduck";

static void release(struct text *t)
{
	put(t, "released at ");
	put_secs(t, now_ms() - start_ms);
	put(t, " of max ");
	put(t, max_text);
	emit(t);
}

/* The fallback: the oracle could not say, so behave like the folk fix, bounded by --max. */
static int fallback(struct text *t)
{
	long long until = min_ll(now_ms() + fallback_ms, deadline_ms);
	sleep_until(until);
	put(t, until == deadline_ms ? "; fallback sleep cut short by max, " : "; fallback sleep, ");
	release(t);
	return EXIT_DONE;
}

static int read_uid(struct text *t)
{
	char path[DIR_MAX + 16];
	size_t n = 0;
	strcpy(path, podinfo_dir);
	strcat(path, "/pod/uid");
	put(t, "no pod UID (");
	put(t, path);
	put(t, ": ");
	int fd = open_input(path);
	if (fd < 0) {
		put_errno(t, errno);
		put(t, ")");
		return -1;
	}
	for (;;) {
		ssize_t r = read(fd, pod_uid + n, sizeof pod_uid - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			put_errno(t, errno);
			put(t, ")");
			close(fd);
			return -1;
		}
		if (r == 0 || (n += (size_t)r) == sizeof pod_uid - 1)
			break;
	}
	close(fd);
	if (n > 0 && pod_uid[n - 1] == '\n')
		n--;
	pod_uid[n] = 0;
	/* The UID goes into a URL path: only what a Kubernetes UID can hold, nothing like "/" or "..". */
	size_t k;
	for (k = 0; k < n; k++) {
		char c = pod_uid[k];
		if (!(is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
			break;
	}
	if (n == 0 || k < n || n > 64) {
		put(t, "not a UID)");
		return -1;
	}
	t->n = 0;
	return 0;
}

static void put_oracle(struct text *t)
{
	put(t, "oracle ");
	put(t, oracle_text);
	put(t, " ");
}

/* "N connections open, " as of the last complete reading. */
static void put_open(struct text *t, const struct reading *r)
{
	if (r->open < 0) {
		put(t, "connections not counted, ");
		return;
	}
	put_uint(t, (unsigned long long)r->open);
	put(t, " connections open, ");
}

/*
 * --drain, after the quiet phase: until no inbound connection to a serving port is open, read
 * every 100ms like the quiet phase. The app is not told: connections end on their own (idle
 * timeouts, clients that reconnect), and --max ends the wait for those that do not.
 */
static int drain(struct reading *r, struct text *t)
{
	long long began = now_ms();
	long ok = sample(r);
	while (ok >= 0 && r->open != 0) {
		long long now = now_ms();
		if (now >= deadline_ms)
			break;
		sleep_until(min_ll(now + SAMPLE_MS, deadline_ms));
		ok = sample(r);
	}
	put(t, ok < 0 ? "drain phase stopped after " : "drain phase ");
	put_secs(t, now_ms() - began);
	if (ok < 0) {
		put(t, " (");
		put_n(t, r->why->s, r->why->n);
		put(t, "), ");
	} else {
		put(t, r->open != 0 ? " cut short by max, " : ", ");
		put_open(t, r);
	}
	release(t);
	return EXIT_DONE;
}

/* After `drained`: --settle, then until no new inbound connection for --quiet (see usage). */
static int drained(const struct answer *a)
{
	struct text t = {.n = 0}, why = {.n = 0};
	struct reading r = {.a = a, .deadline = deadline_ms, .open = -1, .taken = -1, .why = &why};
	long long drained_at = now_ms();
	/* Uncapped: a settle delay that --max cuts short was not completed, even when the quiet
	 * period happens to end at the same moment as the deadline. */
	long long settle_end = drained_at + settle_ms;
	long long settled = min_ll(settle_end, deadline_ms);
	put(&t, "lameduck: drained after ");
	put_secs(&t, drained_at - start_ms);
	put(&t, ", ");
	if (a->nports == 0 || quiet_ms == 0) {
		sleep_until(settled);
		put(&t, a->nports == 0 ? "no serving ports, " : "quiet phase off, ");
		if (settle_end > deadline_ms)
			put(&t, "max reached while settling, ");
		else if (drain_on && a->nports > 0)
			return drain(&r, &t);
		release(&t);
		return EXIT_DONE;
	}
	long long last_new = drained_at;
	long fresh = sample(&r); /* the baseline: what is open now is not new */
	while (fresh >= 0) {
		long long now = now_ms();
		/* Quiet: a reading begun --quiet after the last new connection found none. Not merely
		 * --quiet passed: a reading can take longer than that, and then nothing was compared. */
		if (r.taken >= settle_end && r.taken - last_new >= quiet_ms)
			break;
		if (now >= deadline_ms) {
			if (last_new == drained_at) {
				put(&t, "max reached while settling, ");
			} else {
				put(&t, "max reached before quiet (last new connection ");
				put_secs(&t, now - last_new);
				put(&t, " ago), ");
			}
			put_open(&t, &r);
			release(&t);
			return EXIT_DONE;
		}
		long long release_at = settled > last_new + quiet_ms ? settled : last_new + quiet_ms;
		sleep_until(min_ll(min_ll(now + SAMPLE_MS, release_at), deadline_ms));
		fresh = sample(&r);
		if (fresh > 0)
			last_new = now_ms();
	}
	if (fresh < 0) {
		sleep_until(settled);
		put(&t, drain_on ? "quiet and drain phases skipped (" : "quiet phase skipped (");
		put_n(&t, why.s, why.n);
		put(&t, "), ");
		release(&t);
		return EXIT_DONE;
	}
	put(&t, "quiet after ");
	put_secs(&t, now_ms() - drained_at);
	put(&t, ", ");
	if (drain_on)
		return drain(&r, &t);
	put_open(&t, &r);
	release(&t);
	return EXIT_DONE;
}

static int run_wait(void)
{
	struct text t = {.n = 0};
	if (read_uid(&t) != 0) {
		struct text line = {.n = 0};
		put(&line, "lameduck: ");
		put_n(&line, t.s, t.n);
		return fallback(&line);
	}
	struct answer a;
	long long first_error = -1, backoff = BACKOFF_MIN_MS, last_ask = -ASK_GAP_MS;
	const char *last_state = NULL;
	for (;;) {
		long long now = now_ms();
		if (now >= deadline_ms)
			break;
		if (now < last_ask + ASK_GAP_MS) {
			sleep_until(min_ll(last_ask + ASK_GAP_MS, deadline_ms));
			continue;
		}
		last_ask = now;
		long wait_s = (long)min_ll(ORACLE_WAIT_MAX, (deadline_ms - now) / 1000);
		t.n = 0;
		if (ask(min_ll(deadline_ms, now + wait_s * 1000 + ASK_GRACE_MS), wait_s, &a, &t) == 0) {
			first_error = -1;
			backoff = BACKOFF_MIN_MS;
			if (a.state == STATE_DRAINED)
				return drained(&a);
			if (a.state == STATE_UNSELECTED) {
				struct text line = {.n = 0};
				if (a.nreason > 0) {
					put(&line, "lameduck: unselected reason=");
					put_n(&line, a.reason, a.nreason);
					put(&line, ", ");
				} else {
					put(&line, "lameduck: unselected (no Service routes to this pod), ");
				}
				release(&line);
				return EXIT_DONE;
			}
			last_state = "oracle still answers serving";
			continue;
		}
		now = now_ms();
		if (now >= deadline_ms) {
			/* Cut by --max in the middle of a long poll: what counts is the last answer. */
			if (last_state)
				t.n = 0;
			break;
		}
		if (first_error < 0)
			first_error = last_ask;
		if (now - first_error >= RETRY_WINDOW_MS) {
			struct text line = {.n = 0};
			put(&line, "lameduck: ");
			put_oracle(&line);
			put_n(&line, t.s, t.n);
			return fallback(&line);
		}
		sleep_until(min_ll(now + backoff, deadline_ms));
		backoff = min_ll(backoff * 2, BACKOFF_MAX_MS);
	}
	struct text line = {.n = 0};
	put(&line, "lameduck: max reached, ");
	if (t.n > 0) {
		put_oracle(&line);
		put_n(&line, t.s, t.n);
	} else {
		put(&line, last_state ? last_state : "oracle not asked");
	}
	put(&line, ", ");
	release(&line);
	return EXIT_DONE;
}

static int run_sleep(long long ms, const char *text)
{
	struct text t = {.n = 0};
	sleep_until(start_ms + ms);
	put(&t, "lameduck: slept ");
	put(&t, text);
	put(&t, ", released at ");
	put_secs(&t, now_ms() - start_ms);
	emit(&t);
	return EXIT_DONE;
}

/* ---- command line ---------------------------------------------------------------------- */

/* The value of "--name=value" when arg is that option, else NULL. */
static const char *option(const char *arg, const char *name)
{
	size_t n = strlen(name);
	return strncmp(arg, name, n) == 0 && arg[n] == '=' ? arg + n + 1 : NULL;
}

static int duration_option(const char *name, const char *value, long long *ms)
{
	int r = parse_duration(value, ms);
	if (r == 0)
		return 0;
	return usage_error(name, value, r == -2 ? "is longer than 24h" : "is not a duration");
}

static int dir_option(const char *name, const char *value, const char **out)
{
	if (*value == 0 || strlen(value) > DIR_MAX)
		return usage_error(name, value, "is not a usable directory");
	*out = value;
	return 0;
}

#ifndef HOOK_FUZZ
int main(int argc, char **argv)
{
	sigset_t pipe;
	const char *proc = "/proc", *v, *sleep_text = NULL;
	int wait_mode, r = 0;

	start_ms = now_ms();
	/* A closed log pipe must give EPIPE, not kill the hook before it exits 0. Blocked rather than
	 * ignored: the same effect for a process that execs nothing, with less of libc linked in. */
	sigemptyset(&pipe);
	sigaddset(&pipe, SIGPIPE);
	sigprocmask(SIG_BLOCK, &pipe, NULL);
	if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	                  strcmp(argv[1], "help") == 0))
		return write_all(1, usage, sizeof usage - 1) == 0 ? EXIT_DONE : EXIT_INTERNAL;
	if (argc < 2)
		return usage_error("a mode", NULL, "is required: sleep or wait");
	if (strcmp(argv[1], "sleep") == 0)
		wait_mode = 0;
	else if (strcmp(argv[1], "wait") == 0)
		wait_mode = 1;
	else
		return usage_error("mode", argv[1], "is not sleep or wait");

	long long max_ms = -1, sleep_ms = -1;
	for (int i = 2; i < argc && r == 0; i++) {
		const char *arg = argv[i];
		if ((v = option(arg, "--log")))
			r = *v ? (log_path = v, 0) : usage_error("--log", v, "is empty");
		else if (!wait_mode && arg[0] != '-' && !sleep_text)
			r = duration_option("sleep", sleep_text = arg, &sleep_ms);
		else if (!wait_mode)
			r = usage_error("sleep", arg, "is not a duration or --log=PATH");
		else if ((v = option(arg, "--oracle")))
			r = parse_oracle(oracle_text = v) == 0 && strlen(v) < 128
			        ? 0 : usage_error("--oracle", v, "is not IPv4:PORT or [IPv6]:PORT");
		else if ((v = option(arg, "--max")))
			r = duration_option("--max", max_text = v, &max_ms);
		else if ((v = option(arg, "--settle")))
			r = duration_option("--settle", v, &settle_ms);
		else if ((v = option(arg, "--quiet")))
			r = duration_option("--quiet", v, &quiet_ms);
		else if ((v = option(arg, "--fallback")))
			r = duration_option("--fallback", v, &fallback_ms);
		else if (strcmp(arg, "--drain") == 0)
			drain_on = 1;
		else if ((v = option(arg, "--podinfo")))
			r = dir_option("--podinfo", v, &podinfo_dir);
		else if ((v = option(arg, "--proc")))
			r = dir_option("--proc", v, &proc);
		else
			r = usage_error("wait", arg, "is not an option of wait");
	}
	if (r != 0)
		return r;
	if (!wait_mode) {
		if (!sleep_text)
			return usage_error("sleep", NULL, "needs a DURATION");
		return run_sleep(sleep_ms, sleep_text);
	}
	if (!oracle_text)
		return usage_error("--oracle", NULL, "is required");
	if (max_ms < 0)
		return usage_error("--max", NULL, "is required");
	strcpy(proc_dir, proc);
	netlink_on = strcmp(proc, "/proc") == 0;
	deadline_ms = start_ms + max_ms;
	return run_wait();
}
#endif
