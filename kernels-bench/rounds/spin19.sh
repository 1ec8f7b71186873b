#!/usr/bin/env bash
# Ran in session 19 (call 3, results/h200-2026-12-04-s19/call3): medians none 1.40, py 1.31, pyfree 1.28, sh 1.24,
# thread 1.27 ms a layer — every arm's median inside none's spread (1.13–1.57): no form of spinner is a clear gain here.
# Prepared in session 18 (issue 13, and 19's all-reduce, which pays the same legs): which property of the round
# scripts' spinners makes a worker's hop faster? Session 18: pinned SCHED_IDLE Python spinners started by the script
# before the runs took the worker's overhead 1.19–1.31 → 0.88–1.05 ms a layer (and 1.68 → 1.37 on a slower machine),
# while the runtime's own spinners — SCHED_IDLE pinned worker threads of the base process, or sh loops it spawned and
# paused per busy-poll window — did not (NOTES.md, session 18). Arms, all started by this script before the run and
# never paused, FA Pool batch (a) with one worker process, three rounds alternating:
#   none     no spinners
#   py       Python, pinned, SCHED_IDLE (session 18's good arm)
#   pyfree   Python, SCHED_IDLE, not pinned
#   sh       the runtime's sh loop, pinned, SCHED_IDLE (chrt -i 0)
#   thread   one separate node process with a SCHED_IDLE pinned worker thread a CPU
# Prediction: if the gain needs only busy CPUs, every arm but none ≈ py; if thread < py, the spinners' form matters
# (then a runtime form should be processes started before the GPU opens); if pyfree ≈ py, pinning does not matter.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
source kernels-bench/rounds/seed4l.sh
source kernels-bench/rounds/spin-lib.sh
N=$(nproc)
thread_spin() {
  node -e '
const { Worker } = require("node:worker_threads"); const { execFileSync } = require("node:child_process");
const n = Number(process.argv[1]); let left = n; const tids = [];
for (let i = 0; i < n; i++) {
  const w = new Worker(`require("node:worker_threads").parentPort.postMessage(Number(require("node:fs").readlinkSync("/proc/thread-self").split("/").pop())); for (;;) {}`, { eval: true });
  w.once("message", (t) => { tids[i] = t; if (--left === 0) { tids.forEach((t, c) => { execFileSync("chrt", ["-i", "-p", "0", String(t)]); execFileSync("taskset", ["-p", "-c", String(c), String(t)], { stdio: "ignore" }); }); console.error("threads up", tids.join(",")); } });
}' $N 2> "$R/threads.log" & SP+=($!)
  # Up only once every thread is SCHED_IDLE and pinned (it says so); else the arm would run as none.
  for _ in $(seq 100); do grep -q "threads up" "$R/threads.log" 2>/dev/null && return 0; sleep 0.1; done
  echo "thread spinners did not come up: $(cat "$R/threads.log")"
}
pw() { timeout 150 node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 --configs single,pool-worker --repeat 2 \
  --out "$R/pw-$1.json" 2>&1 | grep -E 'per pooled' | cut -c1-300 | sed "s/^/$1: /"; }
for k in 1 2 3; do
  pw none-$k
  spin_py 1; pw py-$k; spin_off
  spin_py 0; pw pyfree-$k; spin_off
  spin_sh; pw sh-$k; spin_off
  thread_spin && pw thread-$k; spin_off
done
pw_summary
