#!/usr/bin/env bash
# Builds the pipeline-statistics Vulkan layer (layer.c) into kernels-bench/pipeline-stats/build/ (ignored by git;
# carry it to the GPU machine). Needs gcc and the Vulkan headers (Debian's libvulkan-dev; fetched with apt-get
# download into a temporary folder when /usr/include/vulkan is missing).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$here/build
mkdir -p "$out"
inc=/usr/include
if [ ! -f "$inc/vulkan/vk_layer.h" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && apt-get download -qq libvulkan-dev 2>/dev/null && dpkg -x libvulkan-dev_*.deb root)
  inc=$tmp/root/usr/include
fi
gcc -O2 -shared -fPIC -fvisibility=hidden -Wall -Wextra -Wno-unused-parameter -I"$inc" -o "$out/libfapool_pipeline_stats.so" "$here/layer.c" -lpthread
cat > "$out/fapool_pipeline_stats.json" <<JSON
{
  "file_format_version": "1.2.0",
  "layer": {
    "name": "VK_LAYER_FAPOOL_pipeline_stats",
    "type": "GLOBAL",
    "library_path": "./libfapool_pipeline_stats.so",
    "api_version": "1.3.239",
    "implementation_version": "1",
    "description": "writes VK_KHR_pipeline_executable_properties statistics and the SPIR-V of each compute pipeline into FAPOOL_PIPESTATS_DIR"
  }
}
JSON
echo "built $out/libfapool_pipeline_stats.so"
