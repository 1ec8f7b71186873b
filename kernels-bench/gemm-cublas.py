#!/usr/bin/env python3
"""cuBLAS (PyTorch) baseline for kernels-bench/gemm-sweep.ts, same shapes, same card, same call.

    python3 kernels-bench/gemm-cublas.py --out cublas.json [--quick] [--prefill-m 2048,4096] [--no-decode]
        [--decode-shapes 12288x4096,4096x4096,16384x4096g,4096x16384,32000x4096] [--decode-m 1,8,16,32,64]
        (--prefill-m '' skips the prefill shapes)

Keys: "f16 MxNxK" / "f32 MxNxK" (y = x @ w.T, x [M, K], w [N, K]) and "gated f16 MxFxK" (one GEMM
against the gate and up weights concatenated, [2F, K]: the matrix work of the gated projection, no
epilogue). Decode shapes (M <= 64) rotate 3 weight copies so that L2 never holds the one being read.
Plus "copy": device-to-device copy bandwidth (GB/s, read + write) and the fp32/fp16 4096^3 rates.
"""
import argparse, functools, json, re, time

import torch

import torch_bench  # beside this script

SEED_SHAPES = [(6144, 4096, False), (4096, 4096, False), (16384, 4096, True), (4096, 16384, False)]  # (N or F, K, gated)
PREFILL_M = [2048, 4096]
DECODE_M = [1, 8, 16, 32, 64]


# The CUDA-event timer of the kernel benchmarks (median after warm-up), with fewer repeats: many shapes, one call.
timed = functools.partial(torch_bench.timed, warmup=3, reps=15)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--quick', action='store_true')
    ap.add_argument('--prefill-m', default=','.join(map(str, PREFILL_M)), help='prefill M values (comma-separated)')
    ap.add_argument('--no-decode', action='store_true', help='skip the decode shapes (M <= 64)')
    ap.add_argument('--decode-shapes', default='', help="decode projections 'NxK[g],...' (g: gated, N = F); default SEED_SHAPES")
    ap.add_argument('--decode-m', default=','.join(map(str, DECODE_M)), help='decode M values (comma-separated)')
    args = ap.parse_args()
    decode_shapes = [(int(n), int(k), g == 'g') for n, k, g in
                     (re.fullmatch(r'(\d+)x(\d+)(g?)', t.strip()).groups() for t in args.decode_shapes.split(',') if t.strip())] or SEED_SHAPES
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = 'cuda'
    gen = torch.Generator(device=dev).manual_seed(0)
    res = {'info': dict(device=torch.cuda.get_device_name(), torch=torch.__version__, date=time.strftime('%Y-%m-%d %H:%M'))}
    n = 1 << 30
    src = torch.empty(n // 4, device=dev).uniform_(generator=gen); dst = torch.empty_like(src)
    res['copy_gbs'] = 2 * n / timed(lambda: dst.copy_(src)) / 1e6
    del src, dst
    ms = {}

    def gemm(M, N, K, dtype, rot=1, key=None):
        x = torch.randn(M, K, device=dev, dtype=dtype, generator=gen)
        ws = [torch.randn(N, K, device=dev, dtype=dtype, generator=gen) for _ in range(rot)]
        i = [0]
        def f():
            i[0] = (i[0] + 1) % rot
            return x @ ws[i[0]].t()
        t = timed(f)
        ms[key or f"{'f16' if dtype == torch.float16 else 'f32'} {M}x{N}x{K}"] = t
        print(f"{key or ''} {M}x{N}x{K} {dtype}: {t:.4f} ms  {2*M*N*K/t/1e9:.1f} TFLOP/s", flush=True)
        del x, ws

    gemm(4096, 4096, 4096, torch.float32)
    gemm(4096, 4096, 4096, torch.float16)
    # Gated 4096^3 in the sweep: F = 4096, K = 4096 -> one GEMM with N = 8192.
    gemm(4096, 8192, 4096, torch.float16, key='gated f16 4096x4096x4096')
    if not args.quick:
        for M in [int(m) for m in args.prefill_m.split(',') if m]:
            for N, K, gated in SEED_SHAPES:
                gemm(M, 2 * N if gated else N, K, torch.float16, key=f"{'gated ' if gated else ''}f16 {M}x{N}x{K}")
        for M in [] if args.no_decode else [int(m) for m in args.decode_m.split(',') if m]:
            for N, K, gated in decode_shapes:
                gemm(M, 2 * N if gated else N, K, torch.float16, rot=3, key=f"{'gated ' if gated else ''}f16 {M}x{N}x{K}")
    res['ms'] = ms
    with open(args.out, 'w') as f:
        json.dump(res, f, indent=1)


if __name__ == '__main__':
    main()
