# syntax=docker/dockerfile:1
# lameduck's image: the controller bundle (dist/lameduck.mjs) and the static preStop hooks it
# distributes (dist/hook-amd64, dist/hook-arm64), on a Node.js 24 runtime with nothing else.
#
#   docker build -t ghcr.io/lameduck-dev/lameduck:0.1.0 .
#
# Base images are pinned by tag. Pin them by digest too (`FROM image:tag@sha256:...`) in the release
# pipeline; this repository is built on machines without registry access, where digests cannot be
# looked up.

# Build stage: Debian, because the hooks are built with Debian's musl toolchains exactly as
# build/setup.sh installs them (musl-gcc for amd64; the aarch64 cross compiler plus musl-dev:arm64,
# which provides aarch64-linux-musl-gcc, for arm64). The stage is pinned to linux/amd64 because
# build/build.ts takes musl-gcc's output as the amd64 hook: it runs natively on amd64 builders and
# under emulation elsewhere, and yields the same files for every target platform of the image.
FROM --platform=linux/amd64 node:24-bookworm-slim AS build
RUN dpkg --add-architecture arm64 \
 && apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      musl-tools gcc-aarch64-linux-gnu musl-dev:arm64 \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY package.json package-lock.json ./
# The npm packages include Node.js 24 itself (the build uses it, not the base image's Node); the
# runtime stage copies none of them.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY build/ build/
COPY hook/ hook/
COPY injector/ injector/
RUN npm run build

# The hook image, for image volumes (volumes[].image, Kubernetes 1.36, with a runtime that supports
# them, see docs/operations.md): only the static hook, at /hook, nothing else. Built for both
# architectures, it is one multi-arch manifest whose per-arch images hold the hook at the same path,
# so the node pulls its own and no pod needs an architecture guess:
#   docker buildx build --platform linux/amd64,linux/arm64 --target hook -t ghcr.io/lameduck-dev/lameduck-hook:0.1.0 --push .
# TARGETARCH is BuildKit's, per platform built; the build stage made both hooks. Not the last stage,
# so a plain `docker build` still builds the controller image below.
# test/ops/hook-image.test.ts checks this stage against the build's outputs.
FROM scratch AS hook
ARG TARGETARCH
COPY --from=build --chmod=0555 /src/dist/hook-${TARGETARCH} /hook

# Runtime: distroless Node.js 24 (Debian 12), tag `nonroot` = uid 65532. No shell, no package
# manager, glibc for Node. The bundle is self-contained (esbuild inlines every dependency), so no
# node_modules; the hooks are static musl binaries that only get copied into ConfigMaps.
# test/ops/image-layout.test.ts reproduces this stage's COPY lines and runs the bundle from them.
FROM gcr.io/distroless/nodejs24-debian12:nonroot
WORKDIR /app
COPY --from=build /src/dist/lameduck.mjs dist/lameduck.mjs
COPY --from=build /src/dist/hook-amd64 dist/hook-amd64
COPY --from=build /src/dist/hook-arm64 dist/hook-arm64
USER 65532:65532
EXPOSE 8443 8080 9090
# --max-semi-space-size=4 (MiB per semi-space; Node 24's default grows to 16+): a smaller young
# generation. The oracle bench (npm run bench, which reads these flags) measured 10,000 held long-polls
# at 277-305 MB RSS without it, over the 300 MB target, and 244-268 MB with it. The cost, measured
# by test/bench/webhook-gc.bench.ts (the webhook in its own process, with and without these flags):
# scavenges 7x as often (2.3 -> 17 per 1,000 reviews), scavenge time 3 -> 12 us per review against a
# p50 of 0.63 ms, which stayed 0.63 ms; p99 moved within the noise (3.6-5.1 ms either way on a
# loaded 2-core machine); no full GCs in either.
# --heap-growing-percent=50: a full GC once the old generation has grown to 1.5x what the last one
# left live, instead of the 2.5-4x V8 picks by itself. In a mass rollout the old generation is the
# held long-polls plus the garbage of one pod lookup per question: Node's HTTP client allocates about
# 25 KB a GET, and what is in flight outlives two scavenges and is promoted. With 10,000 held waits
# (the oracle bench's setup, --trace-gc) the V8 heap was 169 MB, about 75 MB of it garbage awaiting
# the full GC, and RSS 374 MB without this flag; with it the heap is 107-114 MB and RSS 285-302 MB
# (278-305 MB with 25: the rest of the RSS lies outside the V8 heap and varies by ~30 MB per run). The
# cost: full GCs 4 -> 11 over the bench's first 50 s (12-35 ms pauses on the loaded machine), the
# controller's part of the release latency p99 9.8-15 ms (8-12 ms without); webhook-gc.bench.ts: no
# full GC with either set of flags, review p99 8.6 ms against 8.5 ms with Node's defaults.
# --no-allocation-site-pretenuring: V8 otherwise allocates straight into the old generation at sites
# whose objects survived before. The informers' initial list and the oracle's first pod lookups mark
# their sites so, and from then on every short-lived object made there (a watch update's copy, a pod
# lookup's response) is garbage in the old generation, for a full GC. Three webhook bench runs each
# (10,000 held long-polls, 1,000 reviews/s, a burst of 10,000 slice updates): burst p99 5.3-16.4 ms
# with it, 33-68 ms without; longest stall 16-31 ms against 47-103 ms. Oracle bench: RSS with 10,000
# waits 272-292 MB (291-317 MB without), release p99 12.9-16.0 ms (17.1-19.1 ms). webhook-gc.bench.ts:
# review p99 3.48 ms against 3.33 ms with Node's defaults; oracle-scale: 398 MB at 150,000 endpoints.
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=4", "--heap-growing-percent=50", "--no-allocation-site-pretenuring", "dist/lameduck.mjs", "run"]
