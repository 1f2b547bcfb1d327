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

The grid (:func:`run_grid`) converts held-out rows of synthetic families, one
factor at a time from 3 content dimensions, 4 groups, 24 features and noise
0.1 (:data:`CHOOSE`: content 1-6, groups 2-16, widths 8-64, noise 0-0.3), and
of held-out families (:data:`CONFIRM`), at the defaults
(``DisentangledAutoEncoder()``): the MSE of ``convert`` to the true, clean
rendering in the next group, beside that of the target group's mean training
row (``target mean``), both over the true rows' variance; ``ratio`` is the
first over the second (the must-hold: <= 0.1 on the median family), and the
probe's accuracy beside chance (the largest group's share; must-hold: within
chance + 0.1).

Everything runs on one CPU thread; no data files are needed.

Usage::

    python benchmarks/bench_disentangle.py                 # writes results/disentangle.md
    python benchmarks/bench_disentangle.py --seeds 0 --no-write
"""

import json
import time

import numpy as np
from _common import publish, report_intro, report_parser, run_datasets, single_thread
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
            start = time.perf_counter()
            model = DisentangledAutoEncoder(
                n_components=width, method=method, device="cpu", random_state=seed
            ).fit(X[:N_TRAIN], y[:N_TRAIN])
            fit_s = time.perf_counter() - start
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


#: The families of the grid: (n_content, n_groups, n_features, noise), one factor
#: at a time from the first. :data:`CHOOSE` chose the row defaults (on seed 0);
#: :data:`CONFIRM`, values that played no part, and seeds 1 and 2 confirm them.
CHOOSE = (
    (3, 4, 24, 0.1),
    *((c, 4, 24, 0.1) for c in (1, 2, 4, 6)),
    *((3, g, 24, 0.1) for g in (2, 8, 16)),
    *((3, 4, w, 0.1) for w in (8, 64)),
    *((3, 4, 24, n) for n in (0.0, 0.3)),
)
CONFIRM = ((5, 6, 32, 0.2), (2, 12, 16, 0.05), (4, 3, 48, 0.15), (6, 10, 40, 0.1), (1, 16, 12, 0.2))
#: Seeds of the grid: the choosing one, then the confirming ones.
GRID_SEEDS = {"choose": (0,), "confirm": (1, 2)}


def run_cell(cell, seed, params=None):
    """Convert held-out rows of one family at the defaults; compare with the truth.

    Rows are ``GroupRenderer(n_groups, n_content, n_features)`` renders plus
    gaussian noise of ``noise`` times each feature's deviation, standardized
    on the training part. Returns the conversion's MSE to the true (clean)
    rendering in the next group, that of the target group's mean training
    row (the baseline), both over the true rows' variance, the probe's
    accuracy and its chance (the held-out share of the most frequent group).
    """
    n_content, n_groups, n_features, noise = cell
    truth = GroupRenderer(n_groups, n_content, n_features, random_state=seed)
    X, y, content = truth.sample(N_ROWS, random_state=seed + 1)
    rng = np.random.RandomState(seed + 2)
    X = X + noise * X.std(0) * rng.standard_normal(X.shape)
    mean, std = X[:N_TRAIN].mean(0), X[:N_TRAIN].std(0)
    X = ((X - mean) / std).astype(np.float32)
    y_target = (y[N_TRAIN:] + 1) % n_groups
    X_true = (truth.render(content[N_TRAIN:], y_target) - mean) / std
    start = time.perf_counter()
    model = DisentangledAutoEncoder(device="cpu", random_state=seed, **(params or {}))
    model.fit(X[:N_TRAIN], y[:N_TRAIN])
    fit_s = time.perf_counter() - start
    Z = model.transform(X)
    probe = MLPClassifier((64,), max_iter=500, random_state=0)
    accuracy = probe.fit(Z[:N_TRAIN], y[:N_TRAIN]).score(Z[N_TRAIN:], y[N_TRAIN:])
    group_means = np.stack([X[:N_TRAIN][y[:N_TRAIN] == g].mean(0) for g in range(n_groups)])
    variance = X_true.var()
    return {
        "conversion": float(
            np.mean((model.convert(X[N_TRAIN:], y_target) - X_true) ** 2) / variance
        ),
        "baseline": float(np.mean((group_means[y_target] - X_true) ** 2) / variance),
        "probe": accuracy,
        "chance": np.bincount(y[N_TRAIN:]).max() / len(y[N_TRAIN:]),
        "fit_s": fit_s,
    }


def run_grid(cells, seeds, params=None):
    """``{cell: {key: [value per seed]}}`` of :func:`run_cell`."""
    results = {}
    for cell in cells:
        for seed in seeds:
            row = run_cell(cell, seed, params)
            for key, value in row.items():
                results.setdefault(cell, {}).setdefault(key, []).append(value)
    return results


def grid_table(results):
    """One line per family, then the median cell's ratio and the worst probe excess."""
    lines = [
        "| content, groups, features, noise | conversion | target mean | ratio | probe | chance |"
        " fit s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    ratios, excess = [], []
    for cell, row in results.items():
        m = {key: np.mean(values) for key, values in row.items()}
        ratio = m["conversion"] / m["baseline"]
        ratios.append(ratio)
        excess.append(m["probe"] - m["chance"])
        lines.append(
            f"| {', '.join(map(str, cell))} | {m['conversion']:.3f} | {m['baseline']:.3f} | "
            f"{ratio:.3f} | {m['probe']:.3f} | {m['chance']:.3f} | {m['fit_s']:.1f} |"
        )
    summary = (
        f"Median ratio over the {len(ratios)} families {np.median(ratios):.3f} "
        f"(worst {max(ratios):.3f}); probe above chance by at most {max(excess):.3f}."
    )
    return "\n".join(lines), summary


def table(all_results):
    lines = [
        "| method | "
        + " | ".join(f"probe, {w}" for w in WIDTHS)
        + " | "
        + " | ".join(f"conversion, {w}" for w in WIDTHS)
        + " | fit s (mean) |",
        "|---|" + "---:|" * (2 * len(WIDTHS) + 1),
    ]
    for method, results in all_results.items():
        probes = [np.mean(results[w]["probe"]) for w in WIDTHS]
        cells = [f"**{p:.3f}**" if p > 1 / N_GROUPS + 0.15 else f"{p:.3f}" for p in probes]
        cells += [f"{np.mean(results[w]['conversion']):.3f}" for w in WIDTHS]
        fit_s = np.mean([np.mean(results[w]["fit_s"]) for w in WIDTHS])
        lines.append(f"| `{method}` | " + " | ".join(cells) + f" | {fit_s:.1f} |")
    return "\n".join(lines)


def main(argv=None):
    parser = report_parser(__doc__, METHODS, SEEDS, "disentangle.md")
    parser.add_argument(
        "--grid-only",
        choices=["choose", "confirm"],
        help="print only the grid's choosing or confirming part (for sweeps)",
    )
    parser.add_argument("--params", type=json.loads, default={}, help="estimator parameters (JSON)")
    args = parser.parse_args(argv)
    if args.grid_only:
        cells = CHOOSE if args.grid_only == "choose" else CHOOSE + CONFIRM
        with single_thread():
            results = run_grid(cells, GRID_SEEDS[args.grid_only], args.params)
        lines, summary = grid_table(results)
        print(f"{args.params}\n{lines}\n{summary}")
        return
    all_results, elapsed = run_datasets(run_method, args.datasets, args.seeds)
    report = f"""# Disentangling rows: group information left in the content code

{report_intro("bench_disentangle.py", elapsed, __doc__)}

Seeds: {", ".join(map(str, args.seeds))}. Columns ``probe, k`` / ``conversion, k``: at
``n_components=k``. A probe accuracy above chance + 0.15 (0.40) is in bold.

{table(all_results)}

## Conversions against the truth, across families, at the defaults

{grid_section(args.params)}
"""
    publish(report, args)


def grid_section(params):
    """The grid of families at the defaults: the choosing part, then the held-out one."""
    with single_thread():
        chosen = run_grid(CHOOSE, GRID_SEEDS["choose"], params)
        held_out = run_grid(CHOOSE + CONFIRM, GRID_SEEDS["confirm"], params)
    parts = []
    for title, results in (
        ("Choosing families, seed 0 (the row defaults were chosen here)", chosen),
        ("The same families at seeds 1-2, then held-out families (confirmation)", held_out),
    ):
        lines, summary = grid_table(results)
        parts.append(f"{title}:\n\n{lines}\n\n{summary}")
    return "\n\n".join(parts)


if __name__ == "__main__":
    main()
