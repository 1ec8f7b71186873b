#!/usr/bin/env bash
# The pool hop taken apart (kernels-bench/link-bench.ts): raw ZeroMQ, our link's ping and attend to a worker
# process, and the in-process link, with seed-4l's decode-layer payload at 32K positions.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
timeout ${LINK_TIMEOUT:-120} node dist/kernels-bench/link-bench.js --len 32768 --reps 300 --out "$R/link.json" 2>&1 | grep -v Warning
