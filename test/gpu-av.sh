#!/usr/bin/env bash
# Out-of-bounds check of the kernel and model tests under Vulkan GPU-assisted validation (the Khronos validation
# layer's GPU-AV instruments every shader: each storage access is checked against its binding's range), with robust
# buffer access off — what FAPOOL_ROBUSTNESS=off runs, where nothing would clamp a stray index. An access out of bounds
# is reported as VUID-vkCmdDispatch-storageBuffers-06936 and fails this run; so does a test failing.
# The layer: Chromium's build (/usr/lib/chromium, installed with Chromium by src/cli/setup-gpu.sh) or VVL_LIB=<.so>.
#   bash test/gpu-av.sh                 the kernel and model test files (lavapipe: tens of minutes, GPU-AV is slow)
#   bash test/gpu-av.sh test/rope.test.ts   any vitest filters instead
set -uo pipefail
cd "$(dirname "$0")/.."
lib=${VVL_LIB:-/usr/lib/chromium/libVkLayer_khronos_validation.so}
[ -f "$lib" ] || { echo "gpu-av: no Khronos validation layer at $lib (install Chromium, or set VVL_LIB)" >&2; exit 2; }
dir=$(mktemp -d); trap 'rm -rf "$dir"' EXIT
cat > "$dir/VkLayer_khronos_validation.json" <<JSON
{ "file_format_version": "1.2.0", "layer": { "name": "VK_LAYER_KHRONOS_validation", "type": "GLOBAL",
  "library_path": "$lib", "api_version": "1.4.309", "implementation_version": "1", "description": "Khronos validation" } }
JSON
# GPU-AV only: core, synchronisation and best-practice checks off (Dawn's own validation covers the API use).
export VK_LAYER_PATH=$dir VK_INSTANCE_LAYERS=VK_LAYER_KHRONOS_validation VK_LAYER_GPUAV_ENABLE=1 VK_LAYER_VALIDATE_CORE=0 \
  VK_LAYER_VALIDATE_SYNC=0 VK_LAYER_VALIDATE_BEST_PRACTICES=0 VK_LAYER_GPUAV_BUFFER_COPIES=0 VK_LAYER_GPUAV_INDEX_BUFFERS=0 \
  VK_LAYER_GPUAV_INDIRECT_DISPATCHES_BUFFERS=0 VK_LAYER_GPUAV_INDIRECT_DRAWS_BUFFERS=0 FAPOOL_ROBUSTNESS=off
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(test/gemm.test.ts test/gemv.test.ts test/attention.test.ts test/ffn.test.ts test/rmsnorm.test.ts
  test/rope.test.ts test/sampling.test.ts test/elementwise.test.ts test/embedding.test.ts test/kv-cache.test.ts test/model.test.ts
  test/golden.test.ts test/attention-rank.test.ts test/kv-stream.test.ts test/engine.test.ts test/fapool.test.ts test/static-parallel.test.ts)
log=$dir/vitest.log
npx vitest run "${files[@]}" > "$log" 2>&1; rc=$?
layer=$(grep -c 'WARNING-Setting-Limit-Adjusted' "$log"); oob=$(grep -c 'VUID-' "$log")
sed 's/\x1b\[[0-9;]*m//g' "$log" | grep -E 'Test Files|Tests |^ FAIL ' | sort -u
grep -A3 'VUID-' "$log" | head -40
echo "gpu-av: layer active in $layer device(s); $oob validation error(s); vitest rc $rc"
[ "$layer" -gt 0 ] && [ "$oob" -eq 0 ] && [ "$rc" -eq 0 ]
