"""Benchmark DisentangledAutoEncoder on rows: is the group out of the content code?

Protocol: ``skae.datasets.GroupRenderer(n_groups=4, n_content=3,
n_features=12)`` (a seed-drawn nonlinear render of a 3-D content vector,
scaled and shifted per group), 2,000 rows per seed, the first 1,400 for
training and the last 600 held out, standardized with the training rows'
mean and deviation. For each ``method`` and each ``n_components`` in
{3, 8, 16, 32} (the true content is 3-D; a user does not know that), the
estimator is fitted with every other parameter at its default. Reported, as
the mean over seeds:

- ``probe``: the accuracy of an MLP (64 hidden units) trained to predict the
  group from the content codes of the training rows, on the held-out rows
  (chance 0.25; the must-hold is <= chance + 0.15 = 0.40);
- ``conversion``: the MSE between held-out rows converted to the next group
  (``convert`` at its default, which compensates half the over-smoothing)
  and the true rows of that group (known from the content), over the true
  rows' variance; leaving rows unchanged scores about 1.9.

Everything runs on one CPU thread; no data files are needed.

Usage::

    python benchmarks/bench_disentangle.py                 # writes results/disentangle.md
    python benchmarks/bench_disentangle.py --seeds 0 --no-write
"""

import numpy as np
from _common import (
    Stopwatch,
    markdown_table,
    publish,
    report_intro,
    report_parser,
    run_datasets,
)
from sklearn.neural_network import MLPClassifier

from skae import DisentangledAutoEncoder
from skae.datasets import GroupRenderer

#: The methods compared, all on rows ("instance_norm" needs sequences).
METHODS = ("mmd", "adversarial", "bottleneck")
WIDTHS = (3, 8, 16, 32)
SEEDS = (0, 1, 2)
N_GROUPS, N_TRAIN, N_ROWS = 4, 1400, 2000


def run_method(method, seeds):
    """``{n_components: {"probe": [...], "conversion": [...], "fit_s": [...]}}``."""
    results = {}
    for seed in seeds:
        truth = GroupRenderer(n_groups=N_GROUPS, n_content=3, n_features=12, random_state=seed)
        X, y, content = truth.sample(N_ROWS, random_state=seed + 1)
        mean, std = X[:N_TRAIN].mean(0), X[:N_TRAIN].std(0)
        X = (X - mean) / std
        y_target = (y[N_TRAIN:] + 1) % N_GROUPS
        X_true = (truth.render(content[N_TRAIN:], y_target) - mean) / std
        for width in WIDTHS:
            watch = Stopwatch()
            model = DisentangledAutoEncoder(
                n_components=width, method=method, device="cpu", random_state=seed
            ).fit(X[:N_TRAIN], y[:N_TRAIN])
            fit_s = watch.seconds
            Z = model.transform(X)
            probe = MLPClassifier((64,), max_iter=500, random_state=0)
            accuracy = probe.fit(Z[:N_TRAIN], y[:N_TRAIN]).score(Z[N_TRAIN:], y[N_TRAIN:])
            converted = model.convert(X[N_TRAIN:], y_target)
            error = np.mean((converted - X_true) ** 2) / X_true.var()
            row = results.setdefault(width, {"probe": [], "conversion": [], "fit_s": []})
            row["probe"].append(accuracy)
            row["conversion"].append(float(error))
            row["fit_s"].append(fit_s)
    return results


def table(all_results):
    header = ["method", *(f"probe, {w}" for w in WIDTHS), *(f"conversion, {w}" for w in WIDTHS)]
    lines = []
    for method, results in all_results.items():
        probes = [np.mean(results[w]["probe"]) for w in WIDTHS]
        cells = [f"**{p:.3f}**" if p > 1 / N_GROUPS + 0.15 else f"{p:.3f}" for p in probes]
        cells += [f"{np.mean(results[w]['conversion']):.3f}" for w in WIDTHS]
        fit_s = np.mean([np.mean(results[w]["fit_s"]) for w in WIDTHS])
        lines.append([f"`{method}`", *cells, f"{fit_s:.1f}"])
    return markdown_table([*header, "fit s (mean)"], lines)


def main(argv=None):
    args = report_parser(__doc__, METHODS, SEEDS, "disentangle.md").parse_args(argv)
    all_results, elapsed = run_datasets(run_method, args.datasets, args.seeds)
    report = f"""# Disentangling rows: group information left in the content code

{report_intro("bench_disentangle.py", elapsed, __doc__)}

Seeds: {", ".join(map(str, args.seeds))}. Columns ``probe, k`` / ``conversion, k``: at
``n_components=k``. A probe accuracy above chance + 0.15 (0.40) is in bold.

{table(all_results)}
"""
    publish(report, args)


if __name__ == "__main__":
    main()
