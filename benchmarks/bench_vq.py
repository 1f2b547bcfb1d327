"""Benchmark VQTransformer: reconstruction error per bit against k-means and PCA.

Protocol: for sklearn's digits (pixels scaled to [0, 1]) and two ODDS datasets
from ``shared/data/odds`` (standardized with the training part's mean and
deviation; labels unused), a fixed random 70/30 train/test split. Every method
is fitted on the training rows and encodes each test row with
``B = n_codebooks * log2(K)`` bits; reported is the mean squared error between
the test rows and their reconstruction from those bits, and the perplexity
(``exp`` of the entropy of code usage on the training rows; for several
codebooks the mean over codebooks, and the smallest).

- ``VQ``: ``VQTransformer(n_codes=K, n_codebooks=C)``, residual quantization,
  mean ± std over seeds.
- ``KMeans``: ``KMeans(K, n_init=10)``, one code per row (``log2(K)`` bits,
  the same budget as ``C = 1``). For one codebook it is the optimal quantizer
  of the training rows, up to k-means' local optima.
- ``RKMeans``: residual k-means at the same budget as VQ: ``C`` rounds of
  ``KMeans(K, n_init=10)``, each on what the previous rounds left (VQ's
  quantizer without the networks; equal to ``KMeans`` for ``C = 1``).
- ``PCA@B``: transform coding at the same budget. The training rows' principal
  component scores are quantized each with its own scalar Lloyd-Max quantizer
  (1-D k-means with ``2**b_j`` levels, fitted on the training scores;
  ``b_j = 0`` keeps only the component's mean). The ``B`` bits are allocated
  greedily, one at a time, to the component whose training distortion falls
  most from one more bit. A test row is projected, each score replaced by its
  nearest level, and mapped back. The allocation is shown as
  ``bits x components`` (e.g. ``3x2 2x1`` = two components with 3 bits and
  one with 2).

Usage::

    python benchmarks/bench_vq.py                    # writes results/vq.md
    python benchmarks/bench_vq.py --datasets digits --seeds 0 --no-write
"""

import math
import sys
from collections import Counter

import numpy as np
from _common import (
    Stopwatch,
    load_train_test,
    markdown_table,
    publish,
    report_intro,
    report_parser,
    require_data_dir,
    run_datasets,
)
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA

from skae import VQTransformer

#: name -> ODDS file, or None for digits
DATASETS = {"digits": None, "cardio": "6_cardio.npz", "satellite": "30_satellite.npz"}
N_CODES = (16, 64, 256)
N_CODEBOOKS = (1, 4)
SEEDS = (0, 1, 2)
NETWORK = dict(
    n_components=16,
    hidden_layer_sizes=(128, 64),
    batch_size=256,
    max_epochs=300,
    n_iter_no_change=30,
    device="cpu",
)


# -- metrics -------------------------------------------------------------------
def mse(X_rec, X):
    return float(np.mean((np.asarray(X_rec, dtype=np.float64) - X) ** 2))


def perplexity(codes, n_codes):
    p = np.bincount(codes, minlength=n_codes) / len(codes)
    p = p[p > 0]
    return float(np.exp(-np.sum(p * np.log(p))))


# -- baselines -------------------------------------------------------------------
def residual_kmeans(X_train, X_test, n_codes, n_codebooks):
    """Test MSE and per-stage training perplexities of residual k-means."""
    R_train, R_test = X_train.astype(np.float64), X_test.astype(np.float64)
    perplexities = []
    for _ in range(n_codebooks):
        km = KMeans(n_codes, n_init=10, random_state=0).fit(R_train)
        perplexities.append(perplexity(km.labels_, n_codes))
        R_train = R_train - km.cluster_centers_[km.labels_]
        R_test = R_test - km.cluster_centers_[km.predict(R_test)]
    return float(np.mean(R_test**2)), perplexities


class ScalarQuantizer:
    """Lloyd-Max quantizer of one score: 1-D k-means with ``2**bits`` levels."""

    def __init__(self, scores, bits):
        n_levels = min(2**bits, len(np.unique(scores)))
        if bits == 0:
            self.levels = np.array([scores.mean()])
        else:
            km = KMeans(n_levels, n_init=3, random_state=0).fit(scores[:, None])
            self.levels = np.sort(km.cluster_centers_.ravel())
        self.distortion = float(np.mean((self(scores) - scores) ** 2))

    def __call__(self, scores):
        edges = (self.levels[1:] + self.levels[:-1]) / 2
        return self.levels[np.searchsorted(edges, scores)]


def pca_transform_coding(X_train, X_test, budgets):
    """Test MSE and bit allocation of PCA transform coding for each budget."""
    pca = PCA().fit(X_train)
    S_train, S_test = pca.transform(X_train), pca.transform(X_test)
    n_comp = S_train.shape[1]
    cache = {}

    def quantizer(j, bits):
        if (j, bits) not in cache:
            cache[j, bits] = ScalarQuantizer(S_train[:, j], bits)
        return cache[j, bits]

    bits = np.zeros(n_comp, dtype=int)
    results = {}
    for spent in range(1, max(budgets) + 1):
        gains = [
            quantizer(j, bits[j]).distortion - quantizer(j, bits[j] + 1).distortion
            for j in range(n_comp)
        ]
        bits[int(np.argmax(gains))] += 1
        if spent in budgets:
            S_q = np.column_stack([quantizer(j, bits[j])(S_test[:, j]) for j in range(n_comp)])
            allocation = Counter(int(b) for b in bits if b > 0)
            results[spent] = (
                mse(pca.inverse_transform(S_q), X_test),
                " ".join(f"{b}x{n}" for b, n in sorted(allocation.items(), reverse=True)),
            )
    return results


# -- one dataset -------------------------------------------------------------------
def run_dataset(name, seeds):
    """Return one result row per (K, n_codebooks), and the data's shape."""
    X_train, X_test = load_train_test(DATASETS[name])
    budgets = {int(c * math.log2(k)) for k in N_CODES for c in N_CODEBOOKS}
    pca = pca_transform_coding(X_train, X_test, budgets)
    rows = []
    for n_codes in N_CODES:
        kmeans_mse, kmeans_perp = residual_kmeans(X_train, X_test, n_codes, 1)
        for n_codebooks in N_CODEBOOKS:
            bits = int(n_codebooks * math.log2(n_codes))
            row = dict(
                K=n_codes,
                C=n_codebooks,
                bits=bits,
                vq=[],
                perp=[],
                perp_min=[],
                used=[],
                fit_s=[],
                kmeans=kmeans_mse,
                kmeans_perp=kmeans_perp[0],
                pca=pca[bits],
            )
            if n_codebooks == 1:
                row["rkmeans"] = kmeans_mse
            else:
                row["rkmeans"] = residual_kmeans(X_train, X_test, n_codes, n_codebooks)[0]
            for seed in seeds:
                watch = Stopwatch()
                vq = VQTransformer(
                    n_codes, n_codebooks=n_codebooks, random_state=seed, **NETWORK
                ).fit(X_train)
                row["fit_s"].append(watch.seconds)
                row["vq"].append(mse(vq.quantize(X_test), X_test))
                row["perp"].append(float(vq.perplexity_.mean()))
                row["perp_min"].append(float(vq.perplexity_.min()))
                row["used"].append(int(np.count_nonzero(vq.code_usage_, axis=1).min()))
            rows.append(row)
            print(
                f"{name} K={n_codes} C={n_codebooks}: VQ {np.mean(row['vq']):.4f} "
                f"KMeans {row['kmeans']:.4f} RKMeans {row['rkmeans']:.4f} "
                f"PCA@{bits} {row['pca'][0]:.4f} (fit {np.mean(row['fit_s']):.1f} s)",
                file=sys.stderr,
                flush=True,
            )
    return rows, (len(X_train) + len(X_test), X_train.shape[1])


# -- report ------------------------------------------------------------------------
def table(all_results, seeds):
    header = ["dataset (n, d)", "K", "C", "bits", "VQ MSE", "VQ perplexity (mean / min)"]
    header += ["codes used (min)", "KMeans MSE", "KMeans perplexity", "RKMeans MSE"]
    header += ["PCA@bits MSE", "PCA bits", "VQ / KMeans", "VQ / PCA"]
    lines = []
    for name, (rows, shape) in all_results.items():
        for row in rows:
            vq = np.mean(row["vq"])
            cell = f"{vq:.4f}" + (f" ± {np.std(row['vq']):.4f}" if len(seeds) > 1 else "")
            pca_mse, pca_bits = row["pca"]
            cells = {
                "vq": (vq, cell),
                "rkmeans": (row["rkmeans"], f"{row['rkmeans']:.4f}"),
                "pca": (pca_mse, f"{pca_mse:.4f}"),
            }
            best = min(value for value, _ in cells.values())
            cells = {
                key: f"**{text}**" if value == best else text
                for key, (value, text) in cells.items()
            }
            lines.append(
                [f"{name} {shape}", row["K"], row["C"], row["bits"], cells["vq"]]
                + [f"{np.mean(row['perp']):.1f} / {np.mean(row['perp_min']):.1f}"]
                + [f"{min(row['used'])} / {row['K']}"]
                + [f"{row['kmeans']:.4f}", f"{row['kmeans_perp']:.1f}", cells["rkmeans"]]
                + [cells["pca"], pca_bits, f"{vq / row['kmeans']:.2f}", f"{vq / pca_mse:.2f}"]
            )
    return markdown_table(header, lines, align="l" * len(header))


def summary(all_results):
    rows = [row for rows, _ in all_results.values() for row in rows]
    vq = {id(row): np.mean(row["vq"]) for row in rows}
    below_pca = sum(vq[id(r)] < r["pca"][0] for r in rows)
    below_rkmeans = sum(vq[id(r)] < r["rkmeans"] for r in rows)
    lines = [
        f"- VQ below PCA@bits in {below_pca}/{len(rows)} rows, below RKMeans (same "
        f"budget, no networks) in {below_rkmeans}/{len(rows)}."
    ]
    for n_codebooks in N_CODEBOOKS:
        ratios = [vq[id(r)] / r["kmeans"] for r in rows if r["C"] == n_codebooks]
        lines.append(
            f"- VQ / KMeans(K) with C = {n_codebooks}: {min(ratios):.2f} to "
            f"{max(ratios):.2f} (median {np.median(ratios):.2f})."
        )
    return "\n".join(lines)


def main(argv=None):
    args = report_parser(__doc__, DATASETS, SEEDS, "vq.md").parse_args(argv)
    if any(DATASETS[name] for name in args.datasets):
        require_data_dir()
    all_results, elapsed = run_datasets(run_dataset, args.datasets, args.seeds)

    report = f"""# Vector quantization: test MSE at a bit budget (lower is better)

{report_intro("bench_vq.py", elapsed, __doc__)}

Seeds: {", ".join(map(str, args.seeds))}. `VQTransformer` settings besides
`n_codes`, `n_codebooks` and `random_state` (defaults otherwise:
`commitment_cost=0.25`, `ema_decay=0.99`, `lr=1e-3`): `{NETWORK}`.
`K` codes per codebook, `C` codebooks, `bits = C * log2(K)` per row. Best of
VQ / RKMeans / PCA@bits (the methods at the row's budget) in bold; `codes
used (min)` is the fewest codes any VQ codebook used on the training rows over
the seeds.

{table(all_results, args.seeds)}

Summary:

{summary(all_results)}
"""
    publish(report, args)


if __name__ == "__main__":
    main()
