"""A character-level transformer, trained with anyad to predict the next
character of a Python source file (anyad's own ``graph.py``: no download).

Token and position embeddings, ``--layers`` causal ``TransformerEncoderLayer``
blocks (pre-norm), a linear head; AdamW with gradient clipping. The same
script runs on every backend:

    python examples/train_char_transformer.py                     # numpy
    python examples/train_char_transformer.py --backend cupy      # a CUDA GPU
    python examples/train_char_transformer.py --backend torch

It prints the loss every ``--log-every`` steps, the validation loss at the
end (against ``log(vocabulary)``, the loss of a uniform guess), and a sampled
continuation of the file's first lines.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

import anyad as ad
from anyad import nn, optim
from anyad.nn import functional as F

TEXT = Path(ad.__file__).with_name("graph.py")


class CharTransformer(nn.Module):
    """Embeddings, causal transformer blocks and a head over ``vocab`` characters."""

    def __init__(self, vocab: int, context: int, width: int, heads: int, layers: int, *, rng, backend=None):
        super().__init__()
        kw = {"rng": rng, "backend": backend}
        self.tokens = nn.Embedding(vocab, width, **kw)
        self.positions = nn.Embedding(context, width, **kw)
        self.blocks = nn.ModuleList([
            nn.TransformerEncoderLayer(width, heads, dim_feedforward=4 * width, dropout=0.0,
                                       activation="gelu", batch_first=True, norm_first=True, **kw)
            for _ in range(layers)])
        self.norm = nn.LayerNorm(width, backend=backend)
        self.head = nn.Linear(width, vocab, **kw)
        i = np.arange(context)
        self.causal = ad.to_backend(i[None, :] > i[:, None], backend)  # True: the future, masked
        self.position_ids = ad.to_backend(i, backend)

    def forward(self, idx):
        n, t = idx.shape
        h = self.tokens(idx) + self.positions(self.position_ids[:t])
        for block in self.blocks:
            h = block(h, src_mask=self.causal[:t, :t])
        return self.head(self.norm(h))


def batches(data: np.ndarray, context: int, batch: int, rng: np.random.Generator):
    while True:
        starts = rng.integers(0, len(data) - context - 1, batch)
        x = np.stack([data[s:s + context] for s in starts])
        y = np.stack([data[s + 1:s + context + 1] for s in starts])
        yield x, y


def main(argv=None) -> float:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--backend", default="numpy", help="numpy (default), cupy, torch, ...")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--context", type=int, default=32)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--width", type=int, default=48)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    text = TEXT.read_text()
    chars = sorted(set(text))
    codes = np.array([chars.index(c) for c in text], dtype=np.int64)
    split = int(0.9 * len(codes))
    train, val = codes[:split], codes[split:]
    be = args.backend

    def dev(a):
        return ad.to_backend(a, be)

    model = CharTransformer(len(chars), args.context, args.width, args.heads, args.layers,
                            rng=args.seed, backend=be)
    opt = optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    data = batches(train, args.context, args.batch, np.random.default_rng(args.seed))
    print(f"{len(text):,} characters of {TEXT.name}, vocabulary {len(chars)}; "
          f"{sum(int(np.prod(p.shape)) for p in model.parameters()):,} parameters; "
          f"uniform guess: loss {math.log(len(chars)):.3f}")
    t0 = time.perf_counter()
    for step in range(1, args.steps + 1):
        x, y = next(data)
        logits = model(dev(x))
        loss = F.cross_entropy(ad.reshape(logits, (-1, len(chars))), dev(y.reshape(-1)))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % args.log_every == 0 or step == 1:
            print(f"step {step:4d}  loss {float(loss):.3f}  ({time.perf_counter() - t0:.1f} s)", flush=True)
    model.eval()
    vx, vy = next(batches(val, args.context, 64, np.random.default_rng(1)))
    with ad.no_grad():
        val_loss = float(F.cross_entropy(ad.reshape(model(dev(vx)), (-1, len(chars))), dev(vy.reshape(-1))))
        ctx = list(codes[:args.context])
        pick = np.random.default_rng(args.seed)
        for _ in range(120):  # a sampled continuation of the file's first lines
            logits = model(dev(np.array([ctx[-args.context:]])))
            last = ad.to_backend(F.softmax(logits[0, -1, :]), "numpy")
            prob = np.asarray(getattr(last, "value", last), dtype=np.float64)
            ctx.append(int(pick.choice(len(chars), p=prob / prob.sum())))
    print(f"validation loss {val_loss:.3f}")
    print("sample:", repr("".join(chars[c] for c in ctx[args.context:])))
    return val_loss


if __name__ == "__main__":
    main()
