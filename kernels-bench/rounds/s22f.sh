#!/usr/bin/env bash
# Session 22: Dawn zero-fills every workgroup's var<workgroup> memory before the kernel body runs (robust
# initialisation; device toggle disable_workgroup_init turns it off). Our tiles stage 18–48 KB of workgroup memory a
# workgroup; the decode tiles' workgroups are short-lived (split-K), so the fill is a larger share of theirs. Same call,
# alternating, FAPOOL_DAWN_TOGGLES=disable_workgroup_init against the default: the decode step at batch 64 / 8 (4K)
# and the warm TTFT at 4K / 32K. Prediction: b64 −1 to −3 % (its 64-row tiles), b8 and TTFT within ±1 %.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
for k in 1 2; do
  decstep b64-init-$k 64 4096
  decstep b64-noinit-$k 64 4096 FAPOOL_DAWN_TOGGLES=disable_workgroup_init
done
decstep b8-init 8 4096
decstep b8-noinit 8 4096 FAPOOL_DAWN_TOGGLES=disable_workgroup_init
ttft t4k-init 4096
ttft t4k-noinit 4096 FAPOOL_DAWN_TOGGLES=disable_workgroup_init
ttft t32k-init 32768
ttft t32k-noinit 32768 FAPOOL_DAWN_TOGGLES=disable_workgroup_init
