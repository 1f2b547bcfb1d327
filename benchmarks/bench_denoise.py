"""Benchmark DenoisingAutoEncoder: how well does ``denoise`` clean corrupted rows?

Protocol: for sklearn's digits (pixels scaled to [0, 1]) and ODDS datasets from
``shared/data/odds`` (standardized with the training part's mean and
deviation; labels unused), a fixed random 70/30 train/test split. The test rows
are corrupted with each noise type at two levels, defined exactly as the
estimator's training corruption:

- ``gaussian``: add ``N(0, (level * std_j)^2)``, ``std_j`` the training std of
  feature ``j``;
- ``masking``: each entry, with probability ``level``, set to its feature's
  training mean;
- ``swap``: each entry, with probability ``level``, replaced by the same
  feature's value in another random test row.

Reported: the mean squared error to the clean test rows of

- ``noisy``: the corrupted rows as they are;
- ``PCA``: their projection on the training rows' first ``k`` principal axes;
- ``AE``: ``AutoEncoderTransformer`` trained on the clean training rows;
- ``DAE``: ``DenoisingAutoEncoder`` trained with the same noise type and level;

with the same ``k = n_components`` for all, as mean ± std over seeds (the seed
draws the test corruption and the network's initialisation, shuffling and
training noise). The networks run at their defaults (only ``n_components``,
``noise`` and ``noise_level`` set), and again with hand-set sizes, learning
rate, weight decay and epochs (:data:`HAND_SET`, the ``hand-set`` columns: a
reference, not the product). Everything runs on one CPU thread. The DAE is trained on exactly the noise of the test rows: a
best case; mismatched noise is not measured.

Whether denoising training improves ``AEOutlierDetector``'s ROC-AUC is
measured in ``bench_detect.py`` (results/detect.md): with the detector's
defaults, a masking (0.2) ``DenoisingAutoEncoder`` in place of the default
autoencoder gives a mean ROC-AUC of 0.887 over the nine ODDS sets against 0.896
(better on satellite, worse on annthyroid and mammography); without trimming
(results/detect_choices.md) masking noise gives 0.849 and gaussian noise 0.751
against 0.866 for dropout. The common claim does not hold on these sets.

Usage::

    python benchmarks/bench_denoise.py                 # writes results/denoise.md
    python benchmarks/bench_denoise.py --datasets digits cardio --seeds 0 --no-write
"""

import sys

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
from sklearn.decomposition import PCA

from skae import AutoEncoderTransformer, DenoisingAutoEncoder

#: name -> (ODDS file or None for digits, n_components)
DATASETS = {
    "digits": (None, 16),
    "cardio": ("6_cardio.npz", 7),
    "pendigits": ("28_pendigits.npz", 6),
    "satellite": ("30_satellite.npz", 12),
}
#: noise -> its two levels (a multiple of the std for gaussian, else a probability)
NOISES = {"gaussian": (0.5, 1.0), "masking": (0.2, 0.5), "swap": (0.2, 0.5)}
SEEDS = (0, 1, 2)
#: The networks' settings: their defaults, and a hand-set reference.
NETWORKS = {
    "": dict(device="cpu"),
    " hand-set": dict(
        hidden_layer_sizes=(128, 64),
        batch_size=128,
        lr=1e-3,
        weight_decay=1e-4,
        max_epochs=150,
        early_stopping=True,
        n_iter_no_change=10,
        device="cpu",
    ),
}
METHODS = ("noisy", "PCA", "AE", "DAE", "AE hand-set", "DAE hand-set")


# -- data ----------------------------------------------------------------------
def corrupt(X, noise, level, X_train, rng):
    """Corrupt the rows of ``X`` as the estimator corrupts training batches."""
    mask = rng.random_sample(X.shape) < level
    if noise == "gaussian":
        return X + rng.standard_normal(X.shape) * (level * X_train.std(axis=0))
    if noise == "masking":
        return np.where(mask, X_train.mean(axis=0), X)
    n_rows = len(X)
    donors = (np.arange(n_rows)[:, None] + rng.randint(1, n_rows, X.shape)) % n_rows
    return np.where(mask, np.take_along_axis(X, donors, axis=0), X)


# -- one dataset -------------------------------------------------------------------
def run_dataset(name, seeds):
    """Return ``{(noise, level): {method: [mse per seed]}}``, the fit times, the
    data's shape and ``{method: [mse on clean test rows per seed]}``."""
    file, k = DATASETS[name]
    X_train, X_test = load_train_test(file)
    pca = PCA(k).fit(X_train)
    results, times = {}, {f"{m}{n}": [] for n in NETWORKS for m in ("AE", "DAE")}
    # The floor: how well each model rebuilds the clean test rows.
    clean = {"PCA": [mse(pca.inverse_transform(pca.transform(X_test)), X_test)], "AE": []}
    for seed in seeds:
        aes = {}
        for suffix, network in NETWORKS.items():
            watch = Stopwatch()
            aes[suffix] = AutoEncoderTransformer(k, random_state=seed, **network).fit(X_train)
            times[f"AE{suffix}"].append(watch.seconds)
        clean["AE"].append(mse(aes[""].inverse_transform(aes[""].transform(X_test)), X_test))
        for noise, levels in NOISES.items():
            for level in levels:
                rng = np.random.RandomState(seed)
                X_noisy = corrupt(X_test, noise, level, X_train, rng).astype(np.float32)
                rebuilt = {"noisy": X_noisy, "PCA": pca.inverse_transform(pca.transform(X_noisy))}
                for suffix, network in NETWORKS.items():
                    watch = Stopwatch()
                    dae = DenoisingAutoEncoder(
                        k, noise=noise, noise_level=level, random_state=seed, **network
                    ).fit(X_train)
                    times[f"DAE{suffix}"].append(watch.seconds)
                    ae = aes[suffix]
                    rebuilt[f"AE{suffix}"] = ae.inverse_transform(ae.transform(X_noisy))
                    rebuilt[f"DAE{suffix}"] = dae.denoise(X_noisy)
                row = results.setdefault((noise, level), {m: [] for m in METHODS})
                for method, X_rec in rebuilt.items():
                    row[method].append(mse(X_rec, X_test))
    fits = ", ".join(f"{m} fit {np.mean(t):.1f} s" for m, t in times.items())
    print(f"{name}: {fits} (mean)", file=sys.stderr, flush=True)
    shape = (len(X_train) + len(X_test), X_train.shape[1], k)
    return results, times, shape, clean


def mse(X_rec, X):
    return float(np.mean((X_rec - X) ** 2, dtype=np.float64))


# -- report ------------------------------------------------------------------------
def table(all_results, seeds):
    header = ["dataset (n, d, k)", "noise", "level", *METHODS, "DAE / PCA"]
    lines = []
    for name, (results, _, shape, _) in all_results.items():
        for (noise, level), row in results.items():
            means = {m: np.mean(v) for m, v in row.items()}
            best = min(METHODS[1:], key=means.get)
            cells = []
            for method in METHODS:
                cell = f"{means[method]:.4f}"
                if len(seeds) > 1:
                    cell += f" ± {np.std(row[method]):.4f}"
                cells.append(f"**{cell}**" if method == best else cell)
            ratio = means["DAE"] / means["PCA"]
            lines.append([f"{name} {shape}", noise, level, *cells, f"{ratio:.2f}"])
    return markdown_table(header, lines, align="l" * len(header))


def clean_table(all_results):
    rows = [
        [name, f"{np.mean(clean['PCA']):.4f}", f"{np.mean(clean['AE']):.4f}"]
        for name, (_, _, _, clean) in all_results.items()
    ]
    return markdown_table(["dataset", "PCA", "AE"], rows, align="lll")


def summary(all_results, suffix=""):
    """Counts of rows where the DAE (of ``NETWORKS[suffix]``) beats each reference."""
    dae, ae = f"DAE{suffix}", f"AE{suffix}"
    wins = {"DAE < AE": 0, "DAE < PCA": 0, "DAE < noisy / 2": 0}
    n = 0
    for results, _, _, _ in all_results.values():
        for row in results.values():
            means = {m: np.mean(v) for m, v in row.items()}
            n += 1
            wins["DAE < AE"] += means[dae] < means[ae]
            wins["DAE < PCA"] += means[dae] < means["PCA"]
            wins["DAE < noisy / 2"] += means[dae] < means["noisy"] / 2
    return ", ".join(f"{key}: {count}/{n}" for key, count in wins.items())


def time_table(all_results):
    rows = [
        [name, *(f"{np.mean(times[m]):.1f}" for m in METHODS[2:])]
        for name, (_, times, _, _) in all_results.items()
    ]
    return markdown_table(["dataset", *(f"{m} fit s" for m in METHODS[2:])], rows)


def main(argv=None):
    args = report_parser(__doc__, DATASETS, SEEDS, "denoise.md").parse_args(argv)
    require_data_dir()
    all_results, elapsed = run_datasets(run_dataset, args.datasets, args.seeds)

    report = f"""# Denoising: MSE to the clean rows (lower is better)

{report_intro("bench_denoise.py", elapsed, __doc__)}

Seeds: {", ".join(map(str, args.seeds))}. Networks at their defaults (`AE`, `DAE`) and
hand-set (`{NETWORKS[" hand-set"]}`). Best of the denoisers in bold; `DAE / PCA` is the
ratio of the mean MSEs of the DAE at its defaults and of PCA.

{table(all_results, args.seeds)}

Summary over the rows, at the defaults: {summary(all_results)}.
Hand-set: {summary(all_results, " hand-set")}.

Mean fit time per network (one CPU thread):

{time_table(all_results)}

For reference, the MSE of rebuilding the *clean* test rows (the floor a
bottleneck of width k leaves even without noise; mean over seeds):

{clean_table(all_results)}
"""
    publish(report, args)


if __name__ == "__main__":
    main()
