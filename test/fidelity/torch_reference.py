#!/usr/bin/env python3
"""Independent PyTorch implementation of fapool's dense decoder, for fidelity checks.

Loads the same safetensors file (fapool names or Hugging Face Llama names; the model config from the
file's `fapool_config` metadata or --config), runs the prompts, and writes, per prompt, the logits of
the last prompt position and of each greedy step, and the greedy tokens.

    python3 test/fidelity/torch_reference.py --weights W.safetensors --prompts "72,101,108;1,2,3" \
        --steps 8 --dtype float64 --device cpu --out fixture.json
"""
import argparse, json, math, sys

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


def gelu(x, kind):
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
            x = x + (gelu(h @ L['w_gate'].T, c['act']) * (h @ L['w_up'].T)) @ L['w_down'].T
        return rmsnorm(x, self.final_norm, c['normEps']) @ self.lm_head.T


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--weights', required=True)
    ap.add_argument('--config', help='model config JSON (fapool ModelConfig); default: the file metadata')
    ap.add_argument('--prompts', required=True, help='token ids: "1,2,3;4,5"')
    ap.add_argument('--steps', type=int, default=8)
    ap.add_argument('--dtype', default='float64', choices=['float64', 'float32', 'float16'])
    ap.add_argument('--device', default='cpu')
    ap.add_argument('--out', required=True)
    ap.add_argument('--time', action='store_true', help='also time prefill and decode (CUDA events)')
    a = ap.parse_args()
    torch.backends.cuda.matmul.allow_tf32 = False
    dtype = getattr(torch, a.dtype)
    meta, get = load(a.weights, dtype, a.device)
    cfg = json.load(open(a.config)) if a.config else json.loads(meta['fapool_config'])
    model = Model(cfg, get)
    out = dict(config=cfg, dtype=a.dtype, device=str(a.device), results=[])
    with torch.no_grad():
        for p in a.prompts.split(';'):
            ids = [int(t) for t in p.split(',')]
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
    with open(a.out, 'w') as f:
        json.dump(out, f)
    print(f"wrote {a.out}: {len(out['results'])} prompts, {a.steps} greedy steps, dtype {a.dtype}")


if __name__ == '__main__':
    sys.exit(main())
