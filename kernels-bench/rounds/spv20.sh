#!/usr/bin/env bash
# Ran in session 19 (call 3; the .spv files are in results/…/call3/spv20/). The _dep entry it names was removed
# afterwards; refactored after the run onto fa-lib.sh (log names differ). Read them with pipeline-stats/spirv-summary.py.
# Session 19 (issue 15): the SPIR-V Dawn hands the driver for the stage-dump entries (128_32_4_dbg, 128_32_4_dbg_dep),
# with and without robust buffer access, captured by the pipeline-statistics layer (kernels-bench/pipeline-stats).
# Question: do the subgroup-matrix loads and stores of workgroup memory carry the memory operands (NonPrivatePointer)
# that make the Vulkan memory model order them by the barriers? rob20 showed, without robustness, Q and K staged right
# and S wrong; with every matrix offset made data-dependent on a read after its barrier (_dep), S mostly right but one
# Q fragment of eight wrong (a load sunk below the next barrier, where K overwrites the Q staging?).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
L=$(pwd)/kernels-bench/pipeline-stats/build
source kernels-bench/rounds/fa-lib.sh
for rb in no with; do
  tog=; [ $rb = no ] && tog=disable_robustness
  mkdir -p "$R/spv-$rb"
  stage_dumps $rb-robustness VK_LAYER_PATH="$L" VK_INSTANCE_LAYERS=VK_LAYER_FAPOOL_pipeline_stats FAPOOL_PIPESTATS_DIR="$R/spv-$rb" FAPOOL_DAWN_TOGGLES=$tog
  # Keep the attention pipelines only (the probes' modules are small but many).
  find "$R/spv-$rb" -type f ! -name '*fa_sgm*' -delete
  ls -la "$R/spv-$rb" | head
done
