#!/usr/bin/env python3
"""PyTorch decode baseline for seed-4l with CUDA graphs: the strongest plain-PyTorch TPOT to set ours against.

One decode step (embedding, 4 layers, final norm, LM head, argmax) for a batch of B sequences that all
sit at context S, on a static preallocated KV cache [B, H_kv, S, D] per layer (filled with random values,
not zeros); the step writes its K/V at slot S-1 and attends over [0, S). The step is captured once per
(batch, context) with torch.cuda.CUDAGraph and replayed (each replay feeds its argmax back as the next
input), and also timed eagerly (Python launches every kernel) in the same run. The model code is
test/fidelity/torch_reference.py's (its weights, rmsnorm, activation, rope_cached; forward_cached is the batch-1
check). f16 weights and activations.

    node run-inference.js --preset seed-4l --init random --seed 0 --model /tmp/seed-4l-f16.safetensors \
        --dtype f16 --max-new-tokens 1 --quiet --json
    python3 kernels-bench/torch_decode_graph.py --weights /tmp/seed-4l-f16.safetensors --out decode-graph.json

Prints a table and writes JSON: per config the graph and eager TPOT (ms), tokens/s (B / TPOT), and the
bandwidth floor: (weight bytes + KV bytes read per step) / 4.2 TB/s (H200 HBM3e, the measured copy rate).
"""
import argparse, json, os, sys, time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'fidelity'))
from torch_reference import Model, activation, forward_cached, load, rmsnorm, rope_cached  # noqa: E402

HBM_BYTES_PER_S = 4.2e12
CONFIGS = [(1, 4096), (8, 4096), (32, 4096), (64, 4096), (1, 32768), (8, 32768)]  # (batch, context)


def decode_step(model, ids, pos, cache, S):
    """ids [B] at positions pos [B] (= S - 1); cache per layer (K, V) [B, H_kv, S, D]. Returns logits [B, V], argmax [B]."""
    c = model.c
    B, H, Hk, D = ids.shape[0], c['nHeads'], c['nKvHeads'], c['headDim']
    x = model.embed[ids] * c['embedScale']
    for i, L in enumerate(model.layers):
        K, V = cache[i]
        h = rmsnorm(x, L['attn_norm'], c['normEps'])
        q = rope_cached((h @ L['wq'].T).view(B, H, D), pos, c['ropeTheta'], K.shape[2])
        k = rope_cached((h @ L['wk'].T).view(B, Hk, D), pos, c['ropeTheta'], K.shape[2])
        K[:, :, S - 1] = k
        V[:, :, S - 1] = (h @ L['wv'].T).view(B, Hk, D)
        a = F.scaled_dot_product_attention(q[:, :, None], K[:, :, :S], V[:, :, :S], enable_gqa=H != Hk)  # [B, H, 1, D]
        x = x + a.reshape(B, H * D) @ L['wo'].T
        h = rmsnorm(x, L['ffn_norm'], c['normEps'])
        x = x + (activation(h @ L['w_gate'].T, c['act']) * (h @ L['w_up'].T)) @ L['w_down'].T
    logits = rmsnorm(x, model.final_norm, c['normEps']) @ model.lm_head.T
    return logits, logits.argmax(-1)


def weight_bytes(model, B):
    """Bytes of weights one step reads: every layer tensor, the final norm, the LM head, and B embedding rows."""
    ts = [t for L in model.layers for t in L.values()] + [model.final_norm, model.lm_head]
    return sum(t.numel() * t.element_size() for t in ts) + B * model.embed.shape[1] * model.embed.element_size()


def kv_bytes(c, B, S, el=2):
    return c['nLayers'] * 2 * B * c['nKvHeads'] * S * c['headDim'] * el


def events_ms(fn, reps):
    """Mean GPU time per call over reps back-to-back calls (CUDA events around the loop)."""
    a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    torch.cuda.synchronize()
    a.record()
    for _ in range(reps):
        fn()
    b.record()
    torch.cuda.synchronize()
    return a.elapsed_time(b) / reps


def kernel_profile(fn, reps):
    """GPU µs per call of each CUDA kernel fn launches (torch.profiler over reps calls, device time summed by kernel
    name): where the step's time goes, to set beside ours kernel by kernel (decode-profile's per-launch table)."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(reps):
            fn()
        torch.cuda.synchronize()
    by = {}
    for e in prof.events():
        if e.device_type != DeviceType.CUDA or e.device_time_total <= 0:   # kernels (and memcpy / memset)
            continue
        k = by.setdefault(e.name, [0.0, 0])
        k[0] += e.device_time_total
        k[1] += 1
    rows = [dict(kernel=n, us_per_step=t / reps, count_per_step=c / reps) for n, (t, c) in by.items()]
    return sorted(rows, key=lambda r: -r['us_per_step'])


def run_config(model, B, S, reps_graph, reps_eager, dev, profile_reps=0):
    c = model.c
    need = kv_bytes(c, B, S) + (1 << 30)  # + activations, logits, graph pool (generous)
    free = torch.cuda.mem_get_info()[0]
    if need > free:
        return dict(skipped=f'needs ~{need / 2**30:.1f} GiB, {free / 2**30:.1f} GiB free')
    g = torch.Generator(device=dev).manual_seed(B * 100003 + S)
    cache = []
    for _ in range(c['nLayers']):
        K = torch.empty(B, c['nKvHeads'], S, c['headDim'], device=dev, dtype=torch.float16)
        V = torch.empty_like(K)
        K.normal_(0, 1, generator=g)
        V.normal_(0, 1, generator=g)
        cache.append((K, V))
    ids = torch.randint(0, c['vocab'], (B,), device=dev, generator=g)
    ids0 = ids.clone()
    pos = torch.full((B,), S - 1, device=dev, dtype=torch.long)
    out = {}

    def eager():
        _, nxt = decode_step(model, ids, pos, cache, S)
        ids.copy_(nxt)

    # Batch 1: our batched step equals torch_reference.forward_cached on the same cache.
    check = {}
    with torch.no_grad():
        if B == 1:
            ref_logits = forward_cached(model, ids0, cache, S - 1)[0].float()
            ids.copy_(ids0)
            ours, _ = decode_step(model, ids, pos, cache, S)
            check['vs_forward_cached_rel'] = float((ours[0].float() - ref_logits).norm() / ref_logits.norm())
        for _ in range(3):
            eager()
        torch.cuda.synchronize()
        out['eager_ms'] = events_ms(eager, reps_eager)

        # Capture: warm up on a side stream (allocator, rope tables, cuBLAS handles), then one step into the graph.
        ids.copy_(ids0)
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            for _ in range(3):
                eager()
        torch.cuda.current_stream().wait_stream(s)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            static_logits, nxt = decode_step(model, ids, pos, cache, S)
            ids.copy_(nxt)
        # Graph replay equals the eager step on the same input.
        ids.copy_(ids0)
        eager_logits, eager_next = decode_step(model, ids, pos, cache, S)
        eager_logits = eager_logits.float().clone()
        ids.copy_(ids0)
        graph.replay()
        torch.cuda.synchronize()
        check['graph_vs_eager_rel'] = float((static_logits.float() - eager_logits).norm() / eager_logits.norm())
        check['graph_vs_eager_argmax_equal'] = bool(torch.equal(ids, eager_next))
        for _ in range(5):
            graph.replay()
        out['graph_ms'] = events_ms(graph.replay, reps_graph)
        t0 = time.perf_counter()
        for _ in range(reps_graph):
            graph.replay()
        torch.cuda.synchronize()
        out['graph_wall_ms'] = (time.perf_counter() - t0) * 1e3 / reps_graph
        if profile_reps:
            # Kernels inside a replay are traced where CUPTI reports graph launches; else the eager step's (the same
            # kernels, each timed on the device alike; only the gaps between them differ).
            out['kernels'], out['kernels_from'] = kernel_profile(graph.replay, profile_reps), 'graph'
            if not out['kernels']:
                out['kernels'], out['kernels_from'] = kernel_profile(eager, profile_reps), 'eager'
        del graph, static_logits
    wb, kb = weight_bytes(model, B), kv_bytes(c, B, S)
    out.update(weight_bytes=wb, kv_bytes=kb, floor_ms=(wb + kb) / HBM_BYTES_PER_S * 1e3,
               graph_tok_s=B / out['graph_ms'] * 1e3, eager_tok_s=B / out['eager_ms'] * 1e3, check=check)
    out['graph_floor_frac'] = out['floor_ms'] / out['graph_ms']
    cache.clear()
    torch.cuda.empty_cache()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--weights', required=True, help='seed-4l f16 safetensors (fapool names, fapool_config metadata)')
    ap.add_argument('--out', required=True)
    ap.add_argument('--reps', type=int, default=100, help='graph replays timed per config')
    ap.add_argument('--eager-reps', type=int, default=30)
    ap.add_argument('--configs', help='override, e.g. "1x4096,8x32768"')
    ap.add_argument('--profile', type=int, default=0, metavar='REPS',
                    help='also profile REPS graph replays per config: GPU µs a step by kernel (JSON "kernels", top 12 printed)')
    a = ap.parse_args()
    dev = 'cuda'
    torch.backends.cuda.matmul.allow_tf32 = False
    t0 = time.perf_counter()
    meta, get = load(a.weights, torch.float16, dev)
    cfg = json.loads(meta['fapool_config'])
    model = Model(cfg, get)
    print(f"loaded {cfg['name']} in {time.perf_counter() - t0:.1f} s on {torch.cuda.get_device_name(0)}, torch {torch.__version__}", flush=True)
    configs = [tuple(int(v) for v in s.split('x')) for s in a.configs.split(',')] if a.configs else CONFIGS
    rows = []
    for B, S in configs:
        t1 = time.perf_counter()
        try:
            r = run_config(model, B, S, a.reps, a.eager_reps, dev, a.profile)
        except torch.cuda.OutOfMemoryError as e:
            torch.cuda.empty_cache()
            r = dict(skipped=f'out of memory: {str(e).splitlines()[0]}')
        r.update(batch=B, context=S, seconds=round(time.perf_counter() - t1, 1))
        rows.append(r)
        print('DECODE_GRAPH', json.dumps({k: v for k, v in r.items() if k != 'kernels'}), flush=True)
        for k in r.get('kernels', [])[:12]:
            print(f"  {B}x{S} kernel {k['us_per_step']:9.1f} us x{k['count_per_step']:.0f}  {k['kernel'][:110]}", flush=True)
    hdr = f"{'batch':>5} {'context':>7} | {'graph ms':>9} {'eager ms':>9} {'speed-up':>8} | {'graph tok/s':>11} {'eager tok/s':>11} | {'floor ms':>8} {'floor/graph':>11} | check"
    print(hdr)
    print('-' * len(hdr))
    for r in rows:
        if 'skipped' in r:
            print(f"{r['batch']:>5} {r['context']:>7} | skipped: {r['skipped']}")
            continue
        ck = r['check']
        ok = ck['graph_vs_eager_rel'] < 1e-3 and ck['graph_vs_eager_argmax_equal'] and ck.get('vs_forward_cached_rel', 0) < 1e-2
        print(f"{r['batch']:>5} {r['context']:>7} | {r['graph_ms']:>9.3f} {r['eager_ms']:>9.3f} {r['eager_ms'] / r['graph_ms']:>7.2f}x | "
              f"{r['graph_tok_s']:>11.0f} {r['eager_tok_s']:>11.0f} | {r['floor_ms']:>8.3f} {r['graph_floor_frac']:>10.0%} | "
              f"{'ok' if ok else 'MISMATCH'} {json.dumps(ck)}")
    with open(a.out, 'w') as f:
        json.dump(dict(model=cfg['name'], dtype='float16', device=torch.cuda.get_device_name(0), torch=torch.__version__,
                       hbm_bytes_per_s=HBM_BYTES_PER_S, rows=rows), f, indent=1)
    print(f'wrote {a.out} in {time.perf_counter() - t0:.1f} s')


if __name__ == '__main__':
    sys.exit(main())
