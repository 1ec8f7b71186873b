#!/usr/bin/env bash
# Prepared in session 30 (no device after its second call), issue 15 item 4. Session 30's s30c caught one first request
# of six (4K, 157 ms against 44 warm; the next 119) with the SM clock read at 450–570 MHz from the request's start for
# ≈ 400 ms, the GPU idle at 1980 MHz before it; the request created nothing on the device and its CPU time grew only
# with its wall time. Is that the first request of a process (then a warm-up forward at load moves it out of the first
# request) or any request after the GPU sat idle (then no load-time step helps, and PyTorch's first request after idle
# would pay it too)? Four processes at 4K with 2 s of idle before every request, four without, four whose load ends
# with one untimed 512-token generation (first-bench --load-warmup), the clock traced.
# Prediction: if the drop recurs after idle in warm processes, slow requests (> 1.5× warm) also among requests 2–5 of
# the idle runs; else only among first ones, and none in the load-warm-up runs (then the engine's precompile should
# end with such a forward).
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/seed4l.sh
source kernels-bench/rounds/clock-lib.sh
clock_on
for k in 1 2 3 4; do
  TTFT_ARGS="--idle-ms 2000" ttft first-idle-$k 4096; ttft first-busy-$k 4096; TTFT_ARGS="--load-warmup 512" ttft first-lw-$k 4096
done
clock_off
