#!/usr/bin/env bash
# Does a sleeping core make the pool's hop slow? Machine facts (cpuidle, virtualisation, PM QoS access), then
# hop-bench, link-bench and pool-bench batch (a) (single, in-process rank, worker process, static tp=2) twice: as is, and
# with /dev/cpu_dma_latency held at 0 µs (no deep C-states while it is open) where this user may write it.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"
source kernels-bench/rounds/seed4l.sh
{
  echo "uid $(id -u)  nproc $(nproc)  kernel $(uname -r)"; grep -m1 'model name' /proc/cpuinfo; grep -qw hypervisor /proc/cpuinfo && echo "hypervisor flag: yes" || echo "hypervisor flag: no"
  systemd-detect-virt 2>/dev/null || true
  echo "cpuidle driver $(cat /sys/devices/system/cpu/cpuidle/current_driver 2>/dev/null) governor $(cat /sys/devices/system/cpu/cpuidle/current_governor_ro /sys/devices/system/cpu/cpuidle/current_governor 2>/dev/null | head -1)"
  for s in /sys/devices/system/cpu/cpu0/cpuidle/state*; do [ -d "$s" ] && echo "  $(cat $s/name) latency $(cat $s/latency) us disabled $(cat $s/disable)"; done
  ls -la /dev/cpu_dma_latency 2>&1; [ -w /dev/cpu_dma_latency ] && echo "cpu_dma_latency writable" || echo "cpu_dma_latency NOT writable"
  cat /sys/devices/system/cpu/cpu0/cpufreq/scaling_governor 2>/dev/null
} > "$R/facts.txt" 2>&1
cat "$R/facts.txt"
bench() { # $1 tag
  timeout 60 node dist/kernels-bench/hop-bench.js --reps 500 --out "$R/hop-$1.json" 2>&1 | grep -v Warning
  timeout 60 node dist/kernels-bench/link-bench.js --len 32768 --reps 300 --out "$R/link-$1.json" 2>&1 | grep -v Warning
  timeout ${QOS_POOL_TIMEOUT:-150} node dist/kernels-bench/pool-bench.js --model $W --batches a --pool 1 --new-tokens 64 \
    --configs ${QOS_CONFIGS:-single,pool,pool-worker,static-tp2} --out "$R/pool-$1.json" 2>&1 | grep -v '^Warning'
}
echo "===== as is"; bench plain
if [ -w /dev/cpu_dma_latency ]; then
  python3 -c 'import os,struct,time; fd=os.open("/dev/cpu_dma_latency", os.O_WRONLY); os.write(fd, struct.pack("i", 0)); time.sleep(100000)' &
  QOS=$!; sleep 1
  echo "===== cpu_dma_latency held at 0"; bench qos
  kill $QOS
fi
