#!/usr/bin/env bash
# Ran in session 22 (call 3). probe-clock.js and probe-link.js were scratch files in dist (probe-link over a copy
# of zmq-link.js with a timestamp after each step); NOTES.md session 22 gives their method and output.
# Session 22: where the link's in-situ JavaScript time goes on the H200 (call 1's probe: the request's validate + pack
# 63 µs in situ against 5 µs in a loop after a spin or a sleep). The clock's cost (kvm-clock?) and the request path
# with a mark after each step (scratch builds in dist: probe-clock.js, probe-link.js over zmq-link-probe.js).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
timeout 60 node dist/kernels-bench/probe-clock.js 2>&1 | tee "$R/clock.log"
for k in 1 2; do timeout 60 node dist/kernels-bench/probe-link.js 400 2>&1 | tee "$R/probe-link-$k.log"; done
