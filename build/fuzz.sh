#!/usr/bin/env bash
# Fuzzes the hook's parsers (hook/fuzz_response.c) under AddressSanitizer and
# UndefinedBehaviorSanitizer with libFuzzer. `npm run fuzz` runs 300 s, `npm run fuzz -- 60` 60 s
# (what CI runs). Any finding (crash, sanitizer report, leak, timeout) exits non-zero and leaves the
# input under .fuzz/. The committed seeds in hook/fuzz-corpus/ are read, never written; new inputs
# go to .fuzz/corpus/ (kept between local runs, ignored by git).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-300}"
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz: seconds must be a whole number, got \"$seconds\"" >&2; exit 2; }

mkdir -p .fuzz/corpus
# -fno-sanitize-recover: UBSan must abort, not print and carry on, or a finding would not fail us.
clang -g -O1 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wno-unused-function \
  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
  -o .fuzz/fuzz_response hook/fuzz_response.c

echo "fuzz: running the response, /proc/net/tcp and sock_diag parsers for ${seconds}s"
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
.fuzz/fuzz_response -max_total_time="$seconds" -max_len=8192 -timeout=10 -print_final_stats=1 \
  -artifact_prefix=.fuzz/ .fuzz/corpus hook/fuzz-corpus
