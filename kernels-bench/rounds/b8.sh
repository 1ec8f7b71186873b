#!/usr/bin/env bash
# Batch (b) (8×32768 + 56×1024) with this build: single device, one in-process rank, one worker process.
set -uo pipefail
source kernels-bench/rounds/ab-lib.sh
pb b-new . b single,pool,pool-worker 240
