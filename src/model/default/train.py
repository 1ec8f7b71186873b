#!/usr/bin/env python3
"""Train fapool's default model, fortune-4l: the runtime's dense decoder (the architecture of
test/fidelity/torch_reference.py: RMSNorm pre-norm, RoPE with rotate-half pairs, no GQA, gated tanh-GELU
FFN, untied LM head) at 4 layers x 256 wide, byte-level (vocab 256), on Debian's fortune cookie files
(fortunes.txt.gz, BSD licence: COPYRIGHT.fortunes). Runs in a few minutes on one H200:

    timeout 260 python3 src/model/default/train.py --out OUT_DIR

Holds out 5% of the fortunes (a seeded shuffle) for a validation loss; AdamW, linear warm-up then cosine
decay, bf16 autocast; keeps the checkpoint with the best validation loss. Writes to OUT_DIR:
  fortune-4l.safetensors   f16 weights under the runtime's names, `fapool_config` metadata (src/model/)
  golden.json              held-out loss of the shipped f16 weights (computed in float32), sha256, and
                           greedy tokens + first-token logits for fixed prompts from torch_reference.py's
                           Model in float32 on the CPU (test/default-model.test.ts checks the runtime
                           against them), plus sampled text
Everything is printed as it goes (the round script keeps stdout as the log).
"""
import argparse, gzip, hashlib, json, math, os, random, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', '..', 'test', 'fidelity'))
import torch_reference as ref  # noqa: E402  rmsnorm, gelu, rope_cached for training; Model/load for the golden

# Must equal PRESETS['fortune-4l'] in src/model/config.ts (test/default-model.test.ts checks).
CONFIG = dict(name='fortune-4l', nLayers=4, hidden=256, nHeads=4, nKvHeads=4, headDim=64, ffn=768, vocab=256,
              maxSeq=512, normEps=1e-5, ropeTheta=10000, act='gelu_tanh', gatedFfn=True, tiedEmbeddings=False,
              embedScale=1)
SEP = b'\n%\n'  # fortune file format: every fortune ends with a line holding '%'
GOLDEN_PROMPTS = [
    'The attention pool takes the long sequences, so the base group never waits.',  # run-inference.js's prompt
    'The attention pool',  # the browser demo's prompt
    'You will be',
]
NEAR_TIE = 0.01  # greedy steps whose top-2 logits differ by less than this are not golden (f32 rounding could flip them)
T0 = time.time()


def log(msg):
    print(f'[{time.time() - T0:6.1f}s] {msg}', flush=True)


# ---- data ----------------------------------------------------------------------------------------------

def split_corpus(path, heldout, seed):
    """Whole fortunes go to train or validation (a seeded shuffle), so no fortune is half-seen."""
    text = gzip.open(path, 'rb').read()
    fortunes = [f for f in text.split(SEP) if f]
    order = list(range(len(fortunes)))
    random.Random(seed).shuffle(order)
    val_set = set(order[:max(1, round(len(fortunes) * heldout))])
    train = b''.join(f + SEP for i, f in enumerate(fortunes) if i not in val_set)
    val = b''.join(f + SEP for i, f in enumerate(fortunes) if i in val_set)
    return text, train, val, len(fortunes), len(val_set)


def windows(data, T, device):
    """Non-overlapping windows of T + 1 bytes (inputs and shifted targets) covering data."""
    t = torch.frombuffer(bytearray(data), dtype=torch.uint8)
    n = (len(data) - 1) // T
    idx = torch.arange(n)[:, None] * T + torch.arange(T + 1)[None, :]
    return t[idx].long().to(device)


# ---- the model, as an nn.Module with the runtime's tensor names -----------------------------------------

class Layer(nn.Module):
    def __init__(self, c):
        super().__init__()
        h, q, kv, f = c['hidden'], c['nHeads'] * c['headDim'], c['nKvHeads'] * c['headDim'], c['ffn']
        P = lambda *s: nn.Parameter(torch.empty(*s))  # noqa: E731
        self.attn_norm, self.wq, self.wk, self.wv, self.wo = P(h), P(q, h), P(kv, h), P(kv, h), P(h, q)
        self.ffn_norm, self.w_gate, self.w_up, self.w_down = P(h), P(f, h), P(f, h), P(h, f)


class Net(nn.Module):
    """The forward pass of torch_reference.Model.forward, batched [B, T], with dropout on the residual
    branches for training; state_dict() names are the runtime's (embed, layers.i.wq, ..., lm_head)."""

    def __init__(self, c, dropout):
        super().__init__()
        assert c['nHeads'] == c['nKvHeads'] and c['gatedFfn'] and not c['tiedEmbeddings']
        self.c = c
        self.embed = nn.Parameter(torch.empty(c['vocab'], c['hidden']))
        self.layers = nn.ModuleList(Layer(c) for _ in range(c['nLayers']))
        self.final_norm = nn.Parameter(torch.empty(c['hidden']))
        self.lm_head = nn.Parameter(torch.empty(c['vocab'], c['hidden']))
        self.drop = nn.Dropout(dropout)

    def init_weights(self):
        for name, p in self.named_parameters():
            if p.ndim == 1:
                nn.init.ones_(p)
            else:
                nn.init.normal_(p, 0.0, 0.02)
                if name.endswith(('.wo', '.w_down')):
                    p.data.mul_(1 / math.sqrt(2 * self.c['nLayers']))

    def forward(self, ids):
        c = self.c
        B, T = ids.shape
        H, D, eps = c['nHeads'], c['headDim'], c['normEps']
        x = self.embed[ids] * c['embedScale']  # the residual stream stays float32
        pos = torch.arange(T, device=ids.device)
        for L in self.layers:
            h = ref.rmsnorm(x, L.attn_norm, eps)
            v = F.linear(h, L.wv).view(B, T, H, D)
            # RoPE in float32 ([T, 1, D] tables broadcast over [B, T, H, D]), then back to the matmul dtype
            q = ref.rope_cached(F.linear(h, L.wq).float().view(B, T, H, D), pos, c['ropeTheta'], c['maxSeq']).to(v.dtype)
            k = ref.rope_cached(F.linear(h, L.wk).float().view(B, T, H, D), pos, c['ropeTheta'], c['maxSeq']).to(v.dtype)
            a = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=True)
            x = x + self.drop(F.linear(a.transpose(1, 2).reshape(B, T, H * D), L.wo))
            h = ref.rmsnorm(x, L.ffn_norm, eps)
            x = x + self.drop(F.linear(ref.gelu(F.linear(h, L.w_gate), c['act']) * F.linear(h, L.w_up), L.w_down))
        return F.linear(ref.rmsnorm(x, self.final_norm, eps), self.lm_head).float()


@torch.no_grad()
def evaluate(net, wins, bs, amp):
    """Mean cross-entropy (nats per byte) over every target byte of wins."""
    was = net.training
    net.eval()
    total, n = 0.0, 0
    for i in range(0, wins.shape[0], bs):
        w = wins[i:i + bs]
        with torch.autocast(w.device.type, dtype=torch.bfloat16, enabled=amp):
            logits = net(w[:, :-1])
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1), reduction='sum').item()
        n += w[:, 1:].numel()
    net.train(was)
    return total / n


# ---- export and golden -----------------------------------------------------------------------------------

def export(net, path):
    tensors = {k: v.detach().to(torch.float16).contiguous().cpu() for k, v in net.state_dict().items()}
    meta = {'format': 'pt', 'fapool_config': json.dumps(CONFIG),
            'fapool_trained': 'src/model/default/train.py on Debian fortunes 1:1.99.1-7.3 (BSD licence); see golden.json'}
    save_file(tensors, path, metadata=meta)
    return hashlib.sha256(open(path, 'rb').read()).hexdigest()


@torch.no_grad()
def golden_run(path, prompt, steps):
    """torch_reference.Model in float32 on the CPU, from the shipped f16 file: greedy tokens until the
    first near-tie, and the first-token logits."""
    meta, get = ref.load(path, torch.float32, 'cpu')
    model = ref.Model(json.loads(meta['fapool_config']), get)
    ids = list(prompt.encode('utf-8'))
    kv = [(None, None)] * CONFIG['nLayers']
    logits = model.forward(torch.tensor(ids), kv, 0)[-1]
    first = logits.tolist()
    tokens, margins, pos = [], [], len(ids)
    for s in range(steps):
        top = torch.topk(logits, 2).values
        margin = float(top[0] - top[1])
        if margin < NEAR_TIE:
            break
        tok = int(torch.argmax(logits))
        tokens.append(tok)
        margins.append(margin)
        if s + 1 == steps:
            break
        logits = model.forward(torch.tensor([tok]), kv, pos)[-1]
        pos += 1
    return dict(text=prompt, prompt=ids, tokens=tokens, min_margin=min(margins) if margins else None,
                stopped_at_near_tie=len(tokens) < steps, first_logits=first,
                continuation=bytes(tokens).decode('utf-8', errors='replace'))


@torch.no_grad()
def sample(net, prompt, n, temperature, seed, device):
    g = torch.Generator(device=device).manual_seed(seed)
    ids = list(prompt.encode('utf-8'))
    for _ in range(n):
        x = torch.tensor([ids[-CONFIG['maxSeq']:]], device=device)
        p = torch.softmax(net(x)[0, -1] / temperature, -1)
        ids.append(int(torch.multinomial(p, 1, generator=g)))
    return bytes(ids).decode('utf-8', errors='replace')


# ---- main -----------------------------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', required=True)
    ap.add_argument('--corpus', default=os.path.join(HERE, 'fortunes.txt.gz'))
    ap.add_argument('--steps', type=int, default=5000, help='most optimizer steps (fewer if --budget binds)')
    ap.add_argument('--budget', type=float, default=170, help='seconds from start by which training must end')
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--ctx', type=int, default=512)
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--min-lr-frac', type=float, default=0.1)
    ap.add_argument('--warmup', type=int, default=200)
    ap.add_argument('--wd', type=float, default=0.1)
    ap.add_argument('--dropout', type=float, default=0.1)
    ap.add_argument('--eval-every', type=int, default=250)
    ap.add_argument('--heldout', type=float, default=0.05)
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--golden-steps', type=int, default=64)
    ap.add_argument('--sample-bytes', type=int, default=400)
    ap.add_argument('--device', default='cuda', help='cpu: a slow smoke test of the whole script (no autocast)')
    ap.add_argument('--smoke', action='store_true', help='a 2-layer 64-wide model (checks the script, not for shipping)')
    a = ap.parse_args()
    if a.smoke:
        CONFIG.update(name='fortune-smoke', nLayers=2, hidden=64, nHeads=2, nKvHeads=2, headDim=32, ffn=128)
    os.makedirs(a.out, exist_ok=True)
    dev = a.device
    cuda = dev.startswith('cuda')
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    device_name = torch.cuda.get_device_name(0) if cuda else 'cpu'
    torch.manual_seed(a.seed)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    log(f'torch {torch.__version__}, {device_name}; config {json.dumps(CONFIG)}')

    text, train, val, n_fortunes, n_val = split_corpus(a.corpus, a.heldout, a.seed)
    log(f'corpus {len(text)} bytes, {n_fortunes} fortunes; train {len(train)} bytes, held out {n_val} fortunes = {len(val)} bytes')
    T, B, V = a.ctx, a.batch, CONFIG['vocab']
    data = torch.frombuffer(bytearray(train), dtype=torch.uint8).to(dev)
    val_w = windows(val, T, dev)
    ar = torch.arange(T + 1, device=dev)
    gen = torch.Generator(device=dev).manual_seed(a.seed)

    net = Net(CONFIG, a.dropout).to(dev)
    net.init_weights()
    n_params = sum(p.numel() for p in net.parameters())
    decay = [p for p in net.parameters() if p.ndim == 2]
    no_decay = [p for p in net.parameters() if p.ndim < 2]
    groups = [dict(params=decay, weight_decay=a.wd), dict(params=no_decay, weight_decay=0.0)]
    try:
        opt = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.99), fused=True)
    except (RuntimeError, TypeError):
        opt = torch.optim.AdamW(groups, lr=a.lr, betas=(0.9, 0.99))
    log(f'{n_params} parameters ({n_params * 2 / 2**20:.2f} MiB in f16); batch {B} x {T}; up to {a.steps} steps')

    total = a.steps
    lr_at = lambda s: a.lr * min(1.0, (s + 1) / a.warmup) if s < a.warmup else \
        a.lr * (a.min_lr_frac + (1 - a.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * (s - a.warmup) / max(1, total - a.warmup))))  # noqa: E731
    best, best_state, best_step, curve, t_mark = float('inf'), None, -1, [], None
    loss_sum, loss_n, train_loss = torch.zeros((), device=dev), 0, float('nan')  # mean train loss between evaluations
    net.train()
    step = 0
    while step < total:
        for grp in opt.param_groups:
            grp['lr'] = lr_at(step)
        ix = torch.randint(0, len(train) - T - 1, (B,), device=dev, generator=gen)
        w = data[ix[:, None] + ar[None, :]].long()
        with torch.autocast(w.device.type, dtype=torch.bfloat16, enabled=cuda):
            logits = net(w[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, V), w[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        step += 1
        loss_sum += loss.detach()
        loss_n += 1
        if step == 20:
            sync(); t_mark = time.time()
        if step == 80:
            # Fit the schedule into the time budget: 80 steps in, the step time is known (still in warm-up).
            sync()
            per = (time.time() - t_mark) / 60
            fit = 80 + int((a.budget - (time.time() - T0)) / (per * 1.15))
            if fit < total:
                log(f'{per * 1e3:.1f} ms/step: {total} steps do not fit the budget, training {fit}')
                total = max(fit, a.warmup + 1)
            else:
                log(f'{per * 1e3:.1f} ms/step: {total} steps fit the budget')
        if step % a.eval_every == 0 or step == total:
            train_loss, loss_sum, loss_n = (loss_sum / loss_n).item(), loss_sum.zero_(), 0
            vl = evaluate(net, val_w, 64, cuda)
            curve.append(dict(step=step, train_loss=round(train_loss, 4), val_loss=round(vl, 4), lr=lr_at(step - 1), t=round(time.time() - T0, 1)))
            if vl < best:
                best, best_step = vl, step
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            log(f'step {step}/{total} train {train_loss:.4f} val {vl:.4f} (best {best:.4f} at {best_step}) lr {lr_at(step - 1):.2e}')
        if time.time() - T0 > a.budget + 20:
            log(f'past the budget at step {step}: stopping')
            break
    if not curve or curve[-1]['step'] != step:  # stopped by the budget between evaluations
        vl = evaluate(net, val_w, 64, cuda)
        curve.append(dict(step=step, train_loss=round((loss_sum / max(1, loss_n)).item(), 4), val_loss=round(vl, 4), lr=lr_at(step - 1), t=round(time.time() - T0, 1)))
        if vl < best:
            best, best_step = vl, step
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    train_s = time.time() - T0
    net.load_state_dict(best_state)

    path = os.path.join(a.out, 'fortune-4l.safetensors')
    sha = export(net, path)
    log(f'wrote {path}: {os.path.getsize(path)} bytes, sha256 {sha}')

    # The shipped weights exactly (f16 values), float32 math, no TF32: the held-out loss to report.
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(p.half().float())
    net.eval()
    heldout = evaluate(net, val_w, 64, False)
    log(f'held-out loss of the shipped f16 weights (float32): {heldout:.4f} nats/byte = {heldout / math.log(2):.4f} bits/byte')

    # Cross-check: the training module and the independent torch_reference.Model on the exported file.
    meta, get = ref.load(path, torch.float32, dev)
    rmodel = ref.Model(json.loads(meta['fapool_config']), get)
    with torch.no_grad():
        ids = val_w[0, :256]
        r_logits = rmodel.forward(ids, [(None, None)] * CONFIG['nLayers'], 0)
        o_logits = net(ids[None])[0]
    xrel = float((o_logits - r_logits).norm() / r_logits.norm())
    log(f'training module vs torch_reference.Model on the file, 256 tokens: relative error {xrel:.2e}' +
        ('' if xrel < 1e-4 else '  <-- MISMATCH: the exported model is not the trained one'))

    goldens = [golden_run(path, p, a.golden_steps) for p in GOLDEN_PROMPTS]
    for g in goldens:
        log(f'golden {g["text"]!r}: {len(g["tokens"])} tokens (min margin {g["min_margin"]}): {g["continuation"]!r}')
    samples = [sample(net, p, a.sample_bytes, 0.8, 1 + i, dev) for i, p in enumerate(['A', 'The attention pool', 'Q:'])]
    for s in samples:
        log('sample (temperature 0.8):\n' + s)

    out = dict(
        model='fortune-4l', weights='fortune-4l.safetensors', bytes=os.path.getsize(path), sha256=sha, config=CONFIG,
        params=n_params, heldout_loss_nats_per_byte=heldout, heldout_bits_per_byte=heldout / math.log(2),
        best_val_loss_bf16=best, best_step=best_step, steps_run=step, train_seconds=round(train_s, 1),
        tokens_seen=step * B * T, batch=B, ctx=T, lr=a.lr, warmup=a.warmup, weight_decay=a.wd, dropout=a.dropout,
        corpus=dict(file='src/model/default/fortunes.txt.gz', bytes=len(text), sha256=hashlib.sha256(text).hexdigest(),
                    fortunes=n_fortunes, heldout_fortunes=n_val, heldout_bytes=len(val), train_bytes=len(train),
                    heldout_frac=a.heldout, split_seed=a.seed,
                    source='Debian fortunes + fortunes-min 1:1.99.1-7.3 (BSD licence, COPYRIGHT.fortunes)'),
        reference=dict(impl='test/fidelity/torch_reference.py Model', dtype='float32', device='cpu', near_tie=NEAR_TIE,
                       module_vs_reference_rel=xrel),
        torch=torch.__version__, device=device_name,
        golden=goldens, samples=samples, curve=curve)
    with open(os.path.join(a.out, 'golden.json'), 'w') as f:
        json.dump(out, f)
    log(f'wrote golden.json; done in {time.time() - T0:.1f} s')


if __name__ == '__main__':
    main()
