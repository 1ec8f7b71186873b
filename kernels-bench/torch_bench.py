#!/usr/bin/env python3
"""PyTorch baseline for the kernel microbenchmarks: the same shapes as kernels-bench/run.ts, timed with
CUDA events (median of repeats after warm-up) on random data. Writes JSON that run.ts prints beside ours.

    python3 kernels-bench/torch_bench.py --out torch.json [--quick]
"""
import argparse, json, statistics, sys, time

import torch
import torch.nn.functional as F


def timed(fn, warmup=5, reps=20):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record(); fn(); b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b))
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--quick', action='store_true')
    ap.add_argument('--only', choices=['attention'], help='attention: copy + SDPA rows only (kernels-bench/attention-sweep.ts)')
    args = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = 'cuda'
    gen = torch.Generator(device=dev).manual_seed(0)
    rows = []

    def add(name, shape, ms, flops=0.0, bytes_=0.0, note=''):
        rows.append(dict(name=name, shape=shape, ms=ms, tflops=flops / ms / 1e9 if flops else None,
                         gbs=bytes_ / ms / 1e6 if bytes_ else None, note=note))
        print(f"{name:28s} {shape:26s} {ms:9.4f} ms" + (f" {flops/ms/1e9:8.1f} TFLOP/s" if flops else '') +
              (f" {bytes_/ms/1e6:8.0f} GB/s" if bytes_ else ''), flush=True)

    # HBM copy bandwidth: bytes read + written.
    n = 1 << 30
    src = torch.empty(n // 4, device=dev).uniform_(generator=gen); dst = torch.empty_like(src)
    add('copy', '1 GiB', timed(lambda: dst.copy_(src)), 0, 2 * n, 'device-to-device copy')
    del src, dst

    for dtype, tag in (() if args.only else ((torch.float32, 'f32'), (torch.float16, 'f16'))):
        M = N = K = 4096
        a = torch.randn(M, K, device=dev, dtype=dtype, generator=gen); w = torch.randn(N, K, device=dev, dtype=dtype, generator=gen)
        add(f'gemm_{tag}', f'{M}x{N}x{K}', timed(lambda: a @ w.t()), 2 * M * N * K, 0, 'cuBLAS' + (' (no TF32)' if tag == 'f32' else ''))
        for (M, K, N, label) in ((1, 4096, 16384, 'gemv'), (1, 16384, 4096, 'gemv_down')):
            # Several weight copies rotate so that L2 (50 MB) never holds the one being read.
            ws = [torch.randn(N, K, device=dev, dtype=dtype, generator=gen) for _ in range(3)]
            x = torch.randn(M, K, device=dev, dtype=dtype, generator=gen)
            i = [0]
            def f():
                i[0] = (i[0] + 1) % 3
                return x @ ws[i[0]].t()
            el = 2 if dtype == torch.float16 else 4
            add(f'{label}_{tag}', f'{M}x{K}x{N}', timed(f), 2 * M * N * K, el * (N * K + M * K + M * N), 'cuBLAS')
            del ws

    H, D = 32, 128
    for S in ((4096,) if args.quick else (4096, 16384)):
        q, k, v = (torch.randn(1, H, S, D, device=dev, dtype=torch.float16, generator=gen) for _ in range(3))
        with torch.nn.attention.sdpa_kernel(torch.nn.attention.SDPBackend.FLASH_ATTENTION):
            ms = timed(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True))
        add('fa_prefill_f16', f'S={S} {H}x{D} causal', ms, 4 * H * D * S * S / 2, 0, 'SDPA flash')
        del q, k, v
    for S in (4096, 32768):
        q = torch.randn(1, H, 1, D, device=dev, dtype=torch.float16, generator=gen)
        k, v = (torch.randn(1, H, S, D, device=dev, dtype=torch.float16, generator=gen) for _ in range(2))
        ms = timed(lambda: F.scaled_dot_product_attention(q, k, v))
        add('fa_decode_f16', f'S={S} {H}x{D}', ms, 4 * H * D * S, 2 * 2 * H * S * D, 'SDPA (default backend)')
    if args.only == 'attention':
        # Decode batches for the attention sweep (equal lengths; rows of [B, H, 1, D] over [B, H, S, D]).
        for B in (1, 8):
            for S in (4096, 8192, 16384, 32768):
                q = torch.randn(B, H, 1, D, device=dev, dtype=torch.float16, generator=gen)
                k, v = (torch.randn(B, H, S, D, device=dev, dtype=torch.float16, generator=gen) for _ in range(2))
                ms = timed(lambda: F.scaled_dot_product_attention(q, k, v))
                add('fa_decode_f16', f'S={S} B={B} {H}x{D}', ms, 4 * B * H * D * S, 2 * 2 * B * H * S * D, 'SDPA (default backend)')
                del q, k, v
    info = dict(device=torch.cuda.get_device_name(), torch=torch.__version__, date=time.strftime('%Y-%m-%d'))
    with open(args.out, 'w') as f:
        json.dump(dict(info=info, rows=rows), f, indent=1)


if __name__ == '__main__':
    sys.exit(main())
