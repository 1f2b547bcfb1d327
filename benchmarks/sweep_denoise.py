"""Which training corruption lets the DAE beat PCA on noise it never saw?

Scores candidate gaussian / masking / swap corruptions on ``bench_denoise.py``'s
mismatch grid (its :data:`~bench_denoise.MISMATCH`, the same splits and test
corruptions), the DAE at its defaults otherwise (only ``n_components``,
``noise`` and ``noise_level`` set)::

    python benchmarks/sweep_denoise.py DATASET[,DATASET] SEED[,SEED] '{"floor": 1, "spread": 1}' ...

A candidate is a JSON dict: ``floor`` f (every feature's gaussian scale is at
least ``f`` times the features' mean deviation), ``spread`` r (each row's level
is the nominal one times a draw from U(1 - r, 1 + r), or from U(lo, hi) for a
list ``[lo, hi]``); any other key is an estimator parameter. ``{}`` is the
estimator as it is. Prints, per candidate, DAE / PCA of every cell (the
diagonal first) and the worst ratio, for one reconstruction pass, for the
impulse rule with entries farther than 2 or 3 training deviations from their
reconstruction filled by it, for ``denoise``'s default (which fills by the
feature mean for masking), and for a rule that measures the distance in the
training rows' own reconstruction residual deviations instead, at each of
:data:`RESIDUAL_T`, filled as ``denoise`` fills (measured, not adopted). The
choices it led to are in ``results/denoise.md``.
"""

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning

from skae import DenoisingAutoEncoder

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_train_test, single_thread  # noqa: E402
from bench_denoise import DATASETS, MISMATCH, corrupt, mismatch, mse  # noqa: E402

#: Thresholds, in training residual deviations, of the residual impulse rule.
RESIDUAL_T = (3.0, 5.0, 8.0)


class _Candidate:
    def __init__(self, noise, level, std, floor, spread):
        self.noise, self.level = noise, level
        self.lo, self.hi = spread if isinstance(spread, list) else (1 - spread, 1 + spread)
        self.std = torch.maximum(std, floor * std.mean()) if std is not None else None

    def __call__(self, x, generator):
        u = torch.rand((x.shape[0], 1), generator=generator, device=x.device)
        level = self.level * (self.lo + (self.hi - self.lo) * u)  # (batch, 1)
        if self.noise == "gaussian":
            eps = torch.randn(x.shape, generator=generator, device=x.device)
            return x + eps * level * self.std
        mask = torch.rand(x.shape, generator=generator, device=x.device) < level
        if self.noise == "masking":
            return torch.where(mask, self.mean, x)
        n = x.shape[0]
        offset = torch.randint(1, n, x.shape, generator=generator, device=x.device)
        donors = (torch.arange(n)[:, None] + offset) % n
        return torch.where(mask, torch.gather(x, 0, donors), x)


class CandidateDAE(DenoisingAutoEncoder):
    candidate = {}

    def _corruption(self, X):
        if not set(self.candidate) & {"floor", "spread"}:
            return super()._corruption(X)
        std, mean = torch.std_mean(X, dim=0, correction=0)
        c = _Candidate(
            self.noise,
            self.noise_level,
            std,
            self.candidate.get("floor", 0.0),
            self.candidate.get("spread", 0.0),
        )
        c.mean = mean
        return c


def main(names, seeds, candidates):
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    for cand in candidates:
        CandidateDAE.candidate = cand
        ratios = []
        for name in names:
            file, k = DATASETS[name]
            X_train, X_test = load_train_test(file)
            pca = PCA(k).fit(X_train)
            std = np.maximum(X_train.std(0), 1e-6)
            for (noise, level), cells in MISMATCH.items():
                out = {c: [] for c in ("diag", *cells)}
                for seed in seeds:
                    params = {
                        key: tuple(v) if isinstance(v, list) else v
                        for key, v in cand.items()
                        if key not in ("floor", "spread")
                    }
                    dae = (
                        CandidateDAE(
                            k, noise=noise, noise_level=level, random_state=seed, device="cpu"
                        )
                        .set_params(**params)
                        .fit(X_train)
                    )
                    res_std = np.maximum(
                        (X_train - dae.denoise(X_train, impulse_threshold=None)).std(0), 1e-6
                    )
                    for cell in out:
                        rng = np.random.RandomState(seed)
                        if cell == "diag":
                            X_noisy = corrupt(X_test, noise, level, X_train, rng)
                        else:
                            X_noisy = mismatch(X_test, noise, level, cell, X_train, rng)
                        X_noisy = X_noisy.astype(np.float32)
                        p = mse(pca.inverse_transform(pca.transform(X_noisy)), X_test)
                        X_rec = dae.denoise(X_noisy, impulse_threshold=None)
                        d = [mse(X_rec, X_test)]
                        for t in (2.0, 3.0):
                            far = np.abs(X_noisy - X_rec) > t * std
                            X_fill = np.where(far, X_rec, X_noisy)
                            d.append(mse(dae.denoise(X_fill, impulse_threshold=None), X_test))
                        d.append(mse(dae.denoise(X_noisy), X_test))
                        # Impulses measured in the training rows' own residual
                        # deviation, filled as denoise fills them.
                        fill = dae._feature_mean if noise == "masking" else X_rec
                        for t in RESIDUAL_T:
                            far = np.abs(X_noisy - X_rec) > t * res_std
                            X_fill = np.where(far, fill, X_noisy).astype(np.float32)
                            d.append(mse(dae.denoise(X_fill, impulse_threshold=None), X_test))
                        out[cell].append((d, p))
                line = []
                for cell, v in out.items():
                    r = np.mean([d for d, _ in v], axis=0) / np.mean([p for _, p in v])
                    line.append(f"{cell}=" + "/".join(f"{x:.2f}" for x in r))
                    if cell != "diag":
                        ratios.append(r)
                print(f"  {name:10s} {noise:8s} {level}: " + " ".join(line), flush=True)
        ratios = np.array(ratios)
        worst = "/".join(f"{x:.3f}" for x in ratios.max(0))
        above = "/".join(str(x) for x in (ratios >= 1).sum(0))
        print(
            f"{json.dumps(cand)}: worst {worst}, cells >= 1: {above} of {len(ratios)}"
            " (one pass / impulses at t=2 / t=3 filled by the reconstruction / denoise's default)",
            flush=True,
        )


if __name__ == "__main__":
    with single_thread():
        main(
            sys.argv[1].split(","),
            [int(s) for s in sys.argv[2].split(",")],
            [json.loads(a) for a in sys.argv[3:]] or [{}],
        )
