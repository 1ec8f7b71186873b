#!/usr/bin/env bash
# The typed attend wire (items as a u32 frame, protocol v3) and the cheaper codec, A/B in one call: pool-bench batch (a)
# with this build and with the previous commit's build (BASE, see ab-lib.sh), then batch (b) the same way.
set -uo pipefail
source kernels-bench/rounds/ab-lib.sh
pb a-new . a single,pool,pool-worker 150
pb a-base "$BASE" a single,pool,pool-worker 150
pb b-new . b single,pool,pool-worker 200
pb b-base "$BASE" b single,pool,pool-worker 200
