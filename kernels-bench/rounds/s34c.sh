#!/usr/bin/env bash
# (Session 34: its cache and SASS code now in sass-lib.sh, shared with s34d; the call ran the same code inline.)
# Session 34, call 2 (issue 15: "what limits it, from the machine code"). Call 1 (s34b) found the machine code
# NVIDIA's Vulkan driver makes of our pipelines: its shader disk cache (GLCache, moved by __GL_SHADER_DISK_CACHE_PATH)
# holds zstd frames, each an "NVDANVVMNVuc" container whose u32 at byte 80 (+ 8) is the offset and at byte 76 the
# length of raw sm_90 SASS (the t128x128_sg2x2_k32_b1_un tile's: 50,688 bytes, the 50.7 KB the pipeline statistics
# report; it starts with S2R / ULDC and holds one EXIT). Here each kernel of interest runs in a process of its own with
# a fresh cache, the frames are unpacked (out/tools/zstd, carried) and disassembled with nvdisasm's raw mode, and the
# SASS is set beside the CUDA mirror's (nvcc, cuobjdump) with per-kernel instruction counts.
# Kernels: the f32 quad default (37 TFLOP/s against its mirror's 43.1 at the same registers: which instructions
# differ?); the f16 prefill tile without robustness (_un, 216) and robust (_u8, 197): are the eight 2-byte staging
# stores merged (STS.128 / STS.64) or left as STS.U16, and does the _u8 tile spill (STL/LDL)?
# Prediction: robust _u8 keeps 2-byte stores (STS.U16 ×8 a chunk, as its mirror); _un off merges them (its 216 sits at
# the 16-byte mirror's 208); the f32 default has the mirror's FFMA count a slice and more integer address arithmetic
# (IMAD / IADD3 / LEA) or extra LDS — the 14 % between them.
set -uo pipefail
: "${R:?R must name the output folder}"; mkdir -p "$R"; R=$(cd "$R" && pwd)
export PYTHONUNBUFFERED=1
source kernels-bench/rounds/sass-lib.sh
cached f32 timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts f32 --pick 'default path' --samples 3 --out "$R/f32.json"
cached un timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts square --pick 'gen t128x128_sg2x2_k32_b1_un' --samples 3 --out "$R/un.json"
cached u8rob timeout -k 2 90 node dist/kernels-bench/gemm-sweep.js --parts square --robustness on --pick 'gen t128x128_sg2x2_k32_b1_u8' --samples 3 --out "$R/u8rob.json"
source kernels-bench/rounds/mirror-lib.sh
mirror_build gemm_f32_mirror.cu f32mirror 'FFMA LDS STS LDG BAR STG IMAD IADD3 LEA LOP3 SHF ISETP'
cp "$R/sass-counts.txt" "$R/sass-counts-f32mirror.txt"
mirror_build gemm_wmma_mirror.cu wmmamirror 'HMMA LDSM LDS STS LDG BAR STG STL LDL'
cp "$R/sass-counts.txt" "$R/sass-counts-wmmamirror.txt"
rm -f "$R/f32mirror" "$R/wmmamirror"
sass_from_caches
rm -rf "$R"/cache-*
