#!/usr/bin/env python3
"""Independent PyTorch implementation of fapool's dense decoder, for fidelity checks.

Loads the same safetensors file (fapool names or Hugging Face Llama names; the model config from the
file's `fapool_config` metadata or --config), runs the prompts, and writes, per prompt, the logits of
the last prompt position and of each greedy step, and the greedy tokens.

    python3 test/fidelity/torch_reference.py --weights W.safetensors --prompts "72,101,108;1,2,3" \
        --steps 8 --dtype float64 --device cpu --out fixture.json
"""
import argparse, json, math, sys, time

import torch
from safetensors import safe_open

HF = {
    'embed': 'model.embed_tokens.weight', 'final_norm': 'model.norm.weight', 'lm_head': 'lm_head.weight',
    'attn_norm': 'input_layernorm.weight', 'ffn_norm': 'post_attention_layernorm.weight',
    'wq': 'self_attn.q_proj.weight', 'wk': 'self_attn.k_proj.weight', 'wv': 'self_attn.v_proj.weight',
    'wo': 'self_attn.o_proj.weight', 'w_gate': 'mlp.gate_proj.weight', 'w_up': 'mlp.up_proj.weight',
    'w_down': 'mlp.down_proj.weight',
}


def load(path, dtype, device):
    f = safe_open(path, 'pt', device='cpu')
    meta = f.metadata() or {}
    names = set(f.keys())

    def get(ours, layer=None):
        name = ours if layer is None else f'layers.{layer}.{ours}'
        if name not in names:
            name = HF[ours] if layer is None else f'model.layers.{layer}.{HF[ours]}'
        return f.get_tensor(name).to(device=device, dtype=dtype)
    return meta, get


def rmsnorm(x, w, eps):
    x32 = x.to(torch.float64) if x.dtype == torch.float64 else x.float()
    y = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return (y * w.to(y.dtype)).to(x.dtype)


def activation(x, kind):
    if kind == 'silu':
        return torch.nn.functional.silu(x)
    return torch.nn.functional.gelu(x, approximate='tanh' if kind == 'gelu_tanh' else 'none')


def rope(x, pos, theta):
    # x [T, H, D], HF "rotate_half" (neox) pairing: (i, i + D/2)
    d = x.shape[-1]
    inv = theta ** (-torch.arange(0, d, 2, dtype=torch.float64, device=x.device) / d)
    ang = pos.to(torch.float64)[:, None] * inv[None, :]
    cos = torch.cat([ang.cos(), ang.cos()], -1)[:, None, :].to(x.dtype)
    sin = torch.cat([ang.sin(), ang.sin()], -1)[:, None, :].to(x.dtype)
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


class Model:
    def __init__(self, cfg, get):
        self.c = cfg
        self.embed = get('embed')
        self.layers = [{k: get(k, i) for k in ('attn_norm', 'wq', 'wk', 'wv', 'wo', 'ffn_norm', 'w_gate', 'w_up', 'w_down')}
                       for i in range(cfg['nLayers'])]
        self.final_norm = get('final_norm')
        self.lm_head = self.embed if cfg['tiedEmbeddings'] else get('lm_head')

    def forward(self, ids, kv, pos0):
        """ids [T] new tokens at positions pos0..; kv: per layer (K [H_kv, S, D], V) grown in place. Returns logits [T, V]."""
        c = self.c
        T, H, Hk, D = len(ids), c['nHeads'], c['nKvHeads'], c['headDim']
        x = self.embed[ids] * c['embedScale']
        pos = torch.arange(pos0, pos0 + T, device=x.device)
        for i, L in enumerate(self.layers):
            h = rmsnorm(x, L['attn_norm'], c['normEps'])
            q = rope((h @ L['wq'].T).view(T, H, D), pos, c['ropeTheta'])
            k = rope((h @ L['wk'].T).view(T, Hk, D), pos, c['ropeTheta'])
            v = (h @ L['wv'].T).view(T, Hk, D)
            K, V = kv[i]
            K = torch.cat([K, k.transpose(0, 1)], 1) if K is not None else k.transpose(0, 1)
            V = torch.cat([V, v.transpose(0, 1)], 1) if V is not None else v.transpose(0, 1)
            kv[i] = (K, V)
            rep = H // Hk
            Kr, Vr = K.repeat_interleave(rep, 0), V.repeat_interleave(rep, 0)  # [H, S, D]
            S = K.shape[1]
            scores = (q.transpose(0, 1) @ Kr.transpose(1, 2)) / math.sqrt(D)  # [H, T, S]
            mask = torch.arange(S, device=x.device)[None, :] > pos[:, None]
            scores = scores.float() if scores.dtype == torch.float16 else scores
            scores = scores.masked_fill(mask[None], float('-inf')).softmax(-1).to(Vr.dtype)
            a = (scores @ Vr).transpose(0, 1).reshape(T, H * D)
            x = x + a @ L['wo'].T
            h = rmsnorm(x, L['ffn_norm'], c['normEps'])
            x = x + (activation(h @ L['w_gate'].T, c['act']) * (h @ L['w_up'].T)) @ L['w_down'].T
        return rmsnorm(x, self.final_norm, c['normEps']) @ self.lm_head.T


_ROPE = {}


def rope_cached(x, pos, theta, cap):
    """rope() with cos/sin tables computed once per (dim, cap, dtype, device): what a fast eager model does."""
    d = x.shape[-1]
    key = (d, cap, x.dtype, x.device, theta)
    if key not in _ROPE:
        inv = theta ** (-torch.arange(0, d, 2, dtype=torch.float64, device=x.device) / d)
        ang = torch.arange(cap, dtype=torch.float64, device=x.device)[:, None] * inv[None, :]
        _ROPE[key] = (torch.cat([ang.cos(), ang.cos()], -1).to(x.dtype), torch.cat([ang.sin(), ang.sin()], -1).to(x.dtype))
    cos, sin = _ROPE[key]
    cos, sin = cos[pos][:, None, :], sin[pos][:, None, :]
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def forward_cached(model, ids, cache, pos0):
    """The same model with a preallocated KV cache and SDPA (flash on CUDA): PyTorch eager as one
    would write it for speed. cache: per layer (K, V) [1, H_kv, cap, D]. Only prefill from 0 (causal) and
    one-token decode are used."""
    c = model.c
    T, H, Hk, D = ids.shape[0], c['nHeads'], c['nKvHeads'], c['headDim']
    x = model.embed[ids] * c['embedScale']
    pos = torch.arange(pos0, pos0 + T, device=x.device)
    F = torch.nn.functional
    for i, L in enumerate(model.layers):
        h = rmsnorm(x, L['attn_norm'], c['normEps'])
        cap = cache[i][0].shape[2]
        q = rope_cached((h @ L['wq'].T).view(T, H, D), pos, c['ropeTheta'], cap)
        k = rope_cached((h @ L['wk'].T).view(T, Hk, D), pos, c['ropeTheta'], cap)
        v = (h @ L['wv'].T).view(T, Hk, D)
        K, V = cache[i]
        K[0, :, pos0:pos0 + T] = k.transpose(0, 1)
        V[0, :, pos0:pos0 + T] = v.transpose(0, 1)
        S = pos0 + T
        a = F.scaled_dot_product_attention(q.transpose(0, 1)[None], K[:, :, :S], V[:, :, :S], is_causal=T > 1, enable_gqa=H != Hk)
        x = x + a[0].transpose(0, 1).reshape(T, H * D) @ L['wo'].T
        h = rmsnorm(x, L['ffn_norm'], c['normEps'])
        x = x + (activation(h @ L['w_gate'].T, c['act']) * (h @ L['w_up'].T)) @ L['w_down'].T
    return rmsnorm(x[-1:], model.final_norm, c['normEps']) @ model.lm_head.T


def time_generation(model, prompt_len, new_tokens, device, dtype, repeat=1, idle_ms=0):
    """TPOT = decode time ÷ tokens it produced; TPS = (input + output) ÷ total; TTFT = prefill + first token.
    After one warm-up, `repeat` timed runs: each figure is the best of them (as kernels-bench/first-bench.js takes
    the best of its warm requests), every run's TTFT kept in ttft_ms_runs."""
    c = model.c
    cap = prompt_len + new_tokens
    cache = [tuple(torch.empty(1, c['nKvHeads'], cap, c['headDim'], device=device, dtype=dtype) for _ in range(2)) for _ in range(c['nLayers'])]
    g = torch.Generator(device='cpu').manual_seed(0)
    ids = torch.randint(0, c['vocab'], (prompt_len,), generator=g).to(device)
    started = []  # each run's start, epoch s: to line up with a clock trace
    def run():
        if idle_ms > 0:  # the GPU idles first (kernels-bench/rounds/s32a.sh: does its clock drop for CUDA too?)
            time.sleep(idle_ms / 1e3)
        torch.cuda.synchronize(); t0 = time.perf_counter(); started.append(time.time())
        tok = forward_cached(model, ids, cache, 0).argmax(-1)
        torch.cuda.synchronize(); t1 = time.perf_counter()
        for s in range(new_tokens - 1):
            tok = forward_cached(model, tok, cache, prompt_len + s).argmax(-1)
        torch.cuda.synchronize(); t2 = time.perf_counter()
        return t0, t1, t2
    run()  # warm-up
    runs = [run() for _ in range(max(1, repeat))]
    ttft = [(t1 - t0) * 1e3 for t0, t1, _ in runs]
    tpot = [(t2 - t1) * 1e3 / max(1, new_tokens - 1) for _, t1, t2 in runs]
    total = [(t2 - t0) * 1e3 for t0, _, t2 in runs]
    return dict(prompt_len=prompt_len, new_tokens=new_tokens, ttft_ms=min(ttft), tpot_ms=min(tpot),
                tps=(prompt_len + new_tokens) / (min(total) / 1e3), total_ms=min(total), ttft_ms_runs=ttft,
                started_at=started[1:])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--weights', required=True)
    ap.add_argument('--config', help='model config JSON (fapool ModelConfig); default: the file metadata')
    ap.add_argument('--prompts', help='token ids: "1,2,3;4,5"')
    ap.add_argument('--compare', help="JSON from run-inference.js --dump-logits: use its prompt, report the logits' relative error and token agreement")
    ap.add_argument('--steps', type=int, default=8)
    ap.add_argument('--dtype', default='float64', choices=['float64', 'float32', 'float16'])
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--out')
    ap.add_argument('--time', help='comma-separated prompt lengths: time PyTorch eager generation (TTFT/TPOT/TPS) at each')
    ap.add_argument('--new-tokens', type=int, default=32)
    ap.add_argument('--repeat', type=int, default=3, help='timed runs after the warm-up (--time): the best of them is reported')
    ap.add_argument('--idle-ms', type=float, default=0, help='--time: sleep this long before each run (the GPU idle)')
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    dtype = getattr(torch, a.dtype)
    meta, get = load(a.weights, dtype, a.device)
    cfg = json.load(open(a.config)) if a.config else json.loads(meta['fapool_config'])
    model = Model(cfg, get)
    out = dict(config=cfg, dtype=a.dtype, device=str(a.device), results=[])
    if a.time:
        with torch.no_grad():
            out['timings'] = [time_generation(model, int(n), a.new_tokens, a.device, dtype, a.repeat, a.idle_ms) for n in a.time.split(',')]
        for t in out['timings']:
            print('TORCH_TIMING', json.dumps(t), flush=True)
        if a.out:
            json.dump(out, open(a.out, 'w'))
        return
    ours = json.load(open(a.compare)) if a.compare else None
    prompts = [ours['prompt']] if ours else [[int(t) for t in p.split(',')] for p in a.prompts.split(';')]
    with torch.no_grad():
        for ids in prompts:
            kv = [(None, None)] * cfg['nLayers']
            logits = model.forward(torch.tensor(ids, device=a.device), kv, 0)[-1]
            steps_logits, tokens = [logits.double().cpu().tolist()], []
            pos = len(ids)
            for s in range(a.steps):
                tok = int(torch.argmax(logits))
                tokens.append(tok)
                if s + 1 == a.steps:
                    break
                logits = model.forward(torch.tensor([tok], device=a.device), kv, pos)[-1]
                pos += 1
                steps_logits.append(logits.double().cpu().tolist())
            out['results'].append(dict(prompt=ids, tokens=tokens, logits=steps_logits))
    if ours:
        ref = torch.tensor(out['results'][0]['logits'][0], dtype=torch.float64)
        got = torch.tensor(ours['logits'], dtype=torch.float64)
        rel = float((got - ref).norm() / ref.norm())
        n = min(len(ours['tokens']), len(out['results'][0]['tokens']))
        agree = sum(1 for i in range(n) if ours['tokens'][i] == out['results'][0]['tokens'][i])
        first_diff = next((i for i in range(n) if ours['tokens'][i] != out['results'][0]['tokens'][i]), None)
        summary = dict(model=cfg['name'], ours_dtype=ours['dtype'], ref_dtype=a.dtype, prompt_len=len(prompts[0]),
                       logits_rel_error=rel, greedy_tokens_agree=f'{agree}/{n}', first_divergence=first_diff)
        print('FIDELITY', json.dumps(summary))
        out['comparison'] = summary
    if a.out:
        with open(a.out, 'w') as f:
            json.dump(out, f)
        print(f"wrote {a.out}: {len(out['results'])} prompts, {a.steps} greedy steps, dtype {a.dtype}")


if __name__ == '__main__':
    sys.exit(main())
