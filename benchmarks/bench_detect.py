"""Benchmark AEOutlierDetector against common outlier detectors.

The commands of the full benchmark (each writes one report in results/)::

    # the nine ODDS sets and digits, both protocols: results/detect.md, detect.csv
    python benchmarks/bench_detect.py --collections odds digits --workers 2
    # the 14 odds-more sets, both protocols: results/detect_more.md, detect_more.csv
    python benchmarks/bench_detect.py --collections odds-more --workers 2 --out detect_more
    # the four large tables (20,000 random rows of each), both protocols:
    # results/detect_large.md, detect_large.csv
    python benchmarks/bench_detect.py --collections large --workers 2 --out detect_large
    # the cost curve on the large tables (fit on N rows, score the test part):
    # results/detect_cost.md
    python benchmarks/bench_detect.py --cost-curve

Two protocols, on the same splits (as PyOD's benchmark: for each of 3 seeds a
random, stratification-free 60/40 train/test split):

- ``contaminated``: every detector is trained on the whole (unlabeled)
  training part, outliers included;
- ``clean``: trained on the normal rows of the training part only (the
  one-class or novelty setting).

Features are standardized with the training rows' mean and deviation (the
rows the detector is trained on); detectors score the whole test part.
Collections: ``odds``, the nine ODDS sets of ``shared/data/odds``;
``odds-more``, the 14 wider ADBench sets of ``shared/data/odds-more``, never
used to choose a default; ``large``, the four large ADBench tables of
``shared/data/large`` (41k to 619k rows), each cut to ``--max-rows`` random
rows (default 20,000; the same rows for every seed and method) before the
split so that the slow peers stay feasible; ``digits``, ten one-class tasks
from scikit-learn's digits (each class in turn is normal; 10% as many rows,
drawn from the other classes, are the anomalies). Reported: ROC-AUC, average
precision and precision at n (n = the true number of anomalies in the test
part) of the test anomaly scores (labels ``y == 1`` are anomalies), F1 of each
method's own outlier cut, and the fit + score time. Methods are ranked per
dataset on the mean ROC-AUC over seeds (1 = best). A method whose cost grows
faster than the rows is skipped above a number of training rows
(``SKIP_ABOVE``; ``--no-skip`` runs it anyway), the reason in its cells.

Peers: IsolationForest, LocalOutlierFactor, OneClassSVM (scikit-learn
defaults), PCA reconstruction error, kNN (distance to the 5th nearest
training row, PyOD's ``KNN`` default, through scikit-learn's
``NearestNeighbors``), and PyOD's AutoEncoder, VAE and DeepSVDD at their
defaults (PyOD 3.6.7, ``pip install pyod==3.6.7 --no-deps``; without it they
are skipped with a "needs pyod" line). PyOD 3 is needed for DeepSVDD: in
PyOD 2.0.5 and 2.1.0 it never updates its network (its ``loss.backward()``
is commented out), so its scores would be distances in a random network.

Cost curve (``--cost-curve``): on each large table, the contaminated split of
seed 0; each method is fitted on N = 10,000, 100,000 and all the training
rows (sizes at or above the training part dropped) and scores the whole test
part, fit and score timed apart, each cell in a fresh process whose peak
resident memory above its level before the fit is the "peak extra" memory
(``getrusage`` max RSS and a sampler of the current RSS). A cell that runs
past ``--max-seconds`` is stopped and reported as skipped, and the larger N
of that method on that table are not tried.

Every method runs single-threaded (``torch.set_num_threads(1)``, BLAS/OpenMP
limited through ``threadpoolctl``) so that times compare.

Usage::

    python benchmarks/bench_detect.py               # both protocols on odds, writes results/
    python benchmarks/bench_detect.py --protocols clean --collections odds digits --no-write
    python benchmarks/bench_detect.py --methods "skae AEOutlierDetector" IsolationForest --no-write
    python benchmarks/bench_detect.py --collections large --max-rows 2000 --seeds 0 --no-write
    python benchmarks/bench_detect.py --cost-curve --datasets campaign --max-seconds 600 kNN=120
"""

import argparse
import contextlib
import io
import math
import os
import queue as queue_module
import sys
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from multiprocessing import get_context

import numpy as np
import torch
from _common import (
    DATA_DIR,
    LARGE_DATA_DIR,
    MORE_DATA_DIR,
    RESULTS_DIR,
    in_processes,
    load_odds,
    load_odds_sets,
    markdown_table,
    produced_by,
    single_thread,
    standardize,
)
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import LocalOutlierFactor, NearestNeighbors
from sklearn.svm import OneClassSVM

SEEDS = (0, 1, 2)
PROTOCOLS = ("contaminated", "clean")
COLLECTIONS = ("odds", "odds-more", "large", "digits")
FOLDERS = {"odds": DATA_DIR, "odds-more": MORE_DATA_DIR, "large": LARGE_DATA_DIR}
#: Rows kept of each table (random, before the split) unless ``--max-rows`` says otherwise.
DEFAULT_MAX_ROWS = {"large": 20_000}
#: How the PyOD peers are installed beside a CPU torch (never let pip pull another torch).
PYOD_INSTALL = "pip install pyod==3.6.7 --no-deps && pip install numba"
#: Methods skipped above this many training rows, and why.
SKIP_ABOVE = {
    "OneClassSVM": (30_000, "RBF kernel, cost grows as rows squared"),
    "LocalOutlierFactor": (200_000, "20 neighbours of every training row"),
    "PyOD AutoEncoder": (100_000, "fixed epochs of batches of 32"),
    "PyOD VAE": (100_000, "fixed epochs of batches of 32"),
    "PyOD DeepSVDD": (100_000, "100 epochs of batches of 32"),
}
#: The cost curve: training sizes below the full training part, and its methods.
COST_SIZES = (10_000, 100_000)
COST_METHODS = ("skae AEOutlierDetector", "IsolationForest", "kNN")


def digits_tasks():
    """Ten one-class tasks: one digit is normal, 10% as many other digits are anomalies."""
    X, y = load_digits(return_X_y=True)
    rng = np.random.RandomState(0)
    tasks = {}
    for digit in range(10):
        normal, other = X[y == digit], X[y != digit]
        anomalies = other[rng.choice(len(other), len(normal) // 10, replace=False)]
        tasks[f"digit {digit}"] = (
            np.vstack([normal, anomalies]),
            np.r_[np.zeros(len(normal), int), np.ones(len(anomalies), int)],
        )
    return tasks


def cap_rows(X, y, max_rows):
    """At most ``max_rows`` random rows of a table (``RandomState(0)``, order kept); 0 = all."""
    if not max_rows or len(X) <= max_rows:
        return X, y
    rows = np.sort(np.random.RandomState(0).choice(len(X), max_rows, replace=False))
    return X[rows], y[rows]


def max_rows_of(collection, max_rows=None):
    """The row cap of a collection: ``max_rows`` if given, else its default (None = all)."""
    return DEFAULT_MAX_ROWS.get(collection) if max_rows is None else max_rows


def load_collection(collection, names=None, max_rows=None):
    """``{name: (X, y)}`` of one collection, each table cut to its row cap."""
    if collection == "digits":
        datasets = digits_tasks()
        if names:
            datasets = {k: v for k, v in datasets.items() if k in names}
    else:
        datasets = load_odds_sets(names, FOLDERS[collection])
    cap = max_rows_of(collection, max_rows)
    return {name: cap_rows(X, y, cap) for name, (X, y) in datasets.items()}


def split(protocol, X, y, seed):
    """Train and test parts of one task: ``X_train, X_test, y_test``."""
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.4, random_state=seed)
    if protocol == "clean":
        X_train = X_train[y_train == 0]
    X_train, X_test = standardize(X_train, X_test)
    return X_train, X_test, y_test


def precision_at_n(y_true, anomaly):
    """Share of anomalies among the n top-scored rows, n = the number of anomalies."""
    y_true = np.asarray(y_true)
    n = int(y_true.sum())
    if n == 0:
        return np.nan
    top = np.argsort(-anomaly, kind="stable")[:n]
    return float(y_true[top].mean())


# -- methods: each maps (seed) -> object with fit(X) and anomaly(X) (higher = abnormal)
class _Sklearn:
    """Wrap a scikit-learn outlier detector: anomaly = -score_samples."""

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X):
        self.estimator.fit(X)
        return self

    def anomaly(self, X):
        return -self.estimator.score_samples(X)

    def is_outlier(self, X):
        return self.estimator.predict(X) == -1


class _PCAError:
    """Squared reconstruction error of PCA with a quarter of the features as components."""

    def __init__(self, seed):
        self.seed = seed

    def fit(self, X):
        n_components = max(1, int(np.ceil(X.shape[1] / 4)))
        self.pca = PCA(n_components=n_components, random_state=self.seed).fit(X)
        return self

    def anomaly(self, X):
        X_rec = self.pca.inverse_transform(self.pca.transform(X))
        return ((X - X_rec) ** 2).mean(axis=1)


class _PyOD(_Sklearn):
    """Wrap a PyOD detector: anomaly = decision_function (higher = abnormal)."""

    def anomaly(self, X):
        return self.estimator.decision_function(X)

    def is_outlier(self, X):
        return self.estimator.predict(X) == 1


def _skae(seed, **params):
    from skae import AEOutlierDetector

    return _Sklearn(AEOutlierDetector(random_state=seed, **params))


class _SkaeAround(_Sklearn):
    """AEOutlierDetector around ``make(default)``, a variant of the default autoencoder.

    The default is built for the data's width at fit, as the detector does.
    """

    def __init__(self, seed, make, **params):
        self.seed = seed
        self.make = make
        self.params = params

    def fit(self, X):
        from skae import AEOutlierDetector
        from skae._outlier.defaults import default_estimator as _default_estimator

        estimator = self.make(_default_estimator(X.shape[1]))
        self.estimator = AEOutlierDetector(estimator, random_state=self.seed, **self.params).fit(X)
        return self


def _denoising(default):
    """A DenoisingAutoEncoder of the default's size."""
    from skae import DenoisingAutoEncoder

    return DenoisingAutoEncoder(noise="masking", noise_level=0.2, **default.get_params())


def _before(default):
    """The default as it trained before 2026-11-27: batches of 32 at lr 1e-3."""
    return default.set_params(batch_size=32, lr=1e-3)


def _variational(default):
    """A VariationalAutoEncoder of the default's size and training budget."""
    from skae import VariationalAutoEncoder

    params = default.get_params()
    shared = {
        k: params[k]
        for k in (
            "n_components",
            "hidden_layer_sizes",
            "dropout",
            "max_epochs",
            "batch_size",
            "lr",
            "device",
        )
    }
    return VariationalAutoEncoder(**shared)


class _VAELikelihood(_Sklearn):
    """VariationalAutoEncoder at its defaults: anomaly = minus the log-likelihood."""

    def __init__(self, seed):
        from skae import VariationalAutoEncoder

        self.estimator = VariationalAutoEncoder(device="cpu", random_state=seed)

    def is_outlier(self, X):
        # The 10% least likely training rows' level as the cut.
        train = self.train_anomaly_
        return self.anomaly(X) > np.percentile(train, 90)

    def fit(self, X):
        self.estimator.fit(X)
        self.train_anomaly_ = self.anomaly(X)
        return self


def _pyod_ae(seed):
    from pyod.models.auto_encoder import AutoEncoder

    return _PyOD(AutoEncoder(random_state=seed, device="cpu", verbose=0))


def _pyod_vae(seed):
    from pyod.models.vae import VAE

    return _PyOD(VAE(random_state=seed, device="cpu", verbose=0))


class _PyODDeepSVDD(_PyOD):
    """PyOD's DeepSVDD, which needs the data width when it is made."""

    def __init__(self, seed):
        from pyod.models.deep_svdd import DeepSVDD

        self.make = lambda n_features: DeepSVDD(n_features, random_state=seed, verbose=0)

    def fit(self, X):
        # It prints every epoch whatever its verbose says.
        with contextlib.redirect_stdout(io.StringIO()):
            self.estimator = self.make(X.shape[1]).fit(X)
        return self


class _KNN:
    """Distance to the k-th nearest training row: PyOD's ``KNN`` default (``method="largest"``).

    A test row's score is its distance to its 5th neighbour among the
    training rows; the cut of ``is_outlier`` is PyOD's: the 90th percentile
    (``contamination=0.1``) of the training rows' own scores, each row left
    out of its neighbours (computed outside the timed fit and score).
    """

    def __init__(self, seed, n_neighbors=5, contamination=0.1):
        self.n_neighbors = n_neighbors
        self.contamination = contamination

    def fit(self, X):
        self.nn = NearestNeighbors(n_neighbors=self.n_neighbors).fit(X)
        return self

    def anomaly(self, X):
        return self.nn.kneighbors(X)[0][:, -1]

    def is_outlier(self, X):
        train = self.nn.kneighbors()[0][:, -1]
        return self.anomaly(X) > np.percentile(train, 100 * (1 - self.contamination))


METHODS = {
    "skae AEOutlierDetector": _skae,
    "skae, every row (the default before)": lambda seed: _skae(
        seed, max_samples=None, n_trim_steps=2
    ),
    "skae, trim_fraction=0": lambda seed: _skae(seed, trim_fraction=0.0),
    "skae, DenoisingAutoEncoder": lambda seed: _SkaeAround(seed, _denoising),
    "skae, every row, density_weight=0": lambda seed: _skae(
        seed, max_samples=None, n_trim_steps=2, density_weight=0.0
    ),
    "skae, batches of 32 at lr 1e-3, density_weight=0": lambda seed: _SkaeAround(
        seed, _before, density_weight=0.0
    ),
    "skae, VariationalAutoEncoder in the detector": lambda seed: _SkaeAround(seed, _variational),
    "skae VariationalAutoEncoder, -log-likelihood": _VAELikelihood,
    "PyOD AutoEncoder": _pyod_ae,
    "PyOD VAE": _pyod_vae,
    "PyOD DeepSVDD": _PyODDeepSVDD,
    "IsolationForest": lambda seed: _Sklearn(IsolationForest(random_state=seed)),
    "kNN": _KNN,
    "LocalOutlierFactor": lambda seed: _Sklearn(LocalOutlierFactor(novelty=True)),
    "OneClassSVM": lambda seed: _Sklearn(OneClassSVM()),
    "PCA error": _PCAError,
}


def skip_reason(method_name, n_train):
    """Why a method is not run on ``n_train`` training rows, or None."""
    if method_name not in SKIP_ABOVE:
        return None
    limit, why = SKIP_ABOVE[method_name]
    return f"skipped: > {limit:,} training rows ({why})" if n_train > limit else None


def unavailable(method_name):
    """Why a method cannot run here (a missing package), or None; warms it up if it can.

    The warm-up (imports, torch initialisation) keeps those costs out of the timings.
    """
    warm = np.random.RandomState(0).normal(size=(64, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            METHODS[method_name](0).fit(warm).anomaly(warm)
        except ImportError as exc:
            if "pyod" in str(exc).lower() or method_name.startswith("PyOD"):
                return f"needs pyod ({PYOD_INSTALL}): {exc}"
            return f"needs {exc.name or exc}: {exc}"
    return None


# -- running -------------------------------------------------------------------
def evaluate(make, X, y, seeds=SEEDS, verbose=True, label="", protocol="contaminated", skip=True):
    """One method on one dataset: a list of records, one per seed.

    Each has ``seed, auc, ap, p_at_n, f1, fit_seconds, score_seconds, seconds,
    n_train, n_test, note``; a skipped seed has NaN metrics and its reason as
    ``note``.
    """
    rows = []
    for seed in seeds:
        X_train, X_test, y_test = split(protocol, X, y, seed)
        record = dict(seed=seed, n_train=len(X_train), n_test=len(X_test), note="")
        reason = skip_reason(label, len(X_train)) if skip else None
        if reason:
            nan = dict.fromkeys(
                ("auc", "ap", "p_at_n", "f1", "fit_seconds", "score_seconds", "seconds"), np.nan
            )
            rows.append({**record, **nan, "note": reason})
            if verbose:
                print(f"  {label:<26} seed {seed}: {reason}", flush=True)
            continue
        method = make(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = time.perf_counter()
            method.fit(X_train)
            fitted = time.perf_counter()
            anomaly = np.asarray(method.anomaly(X_test), dtype=np.float64)
            scored = time.perf_counter()
            # F1 of the method's own outlier cut (contamination="auto" or its default).
            f1 = (
                f1_score(y_test, method.is_outlier(X_test))
                if hasattr(method, "is_outlier")
                else np.nan
            )
        record.update(
            auc=roc_auc_score(y_test, anomaly),
            ap=average_precision_score(y_test, anomaly),
            p_at_n=precision_at_n(y_test, anomaly),
            f1=f1,
            fit_seconds=fitted - start,
            score_seconds=scored - fitted,
            seconds=scored - start,
        )
        rows.append(record)
        if verbose:
            print(
                f"  {label:<26} seed {seed}: AUC {record['auc']:.3f}  AP {record['ap']:.3f}  "
                f"P@n {record['p_at_n']:.3f}  F1 {f1:.3f}  {record['seconds']:6.1f}s",
                flush=True,
            )
    return rows


def run(methods, datasets, seeds=SEEDS, verbose=True, protocol="contaminated", skip=True):
    """Evaluate every method on every dataset.

    Returns
    -------
    results : pandas.DataFrame
        One row per dataset, method and seed (the columns of :func:`evaluate`).
    missing : dict
        ``{method: why}`` of the methods that cannot run here.
    """
    import pandas as pd

    missing = {}
    for method_name in methods:
        why = unavailable(method_name)
        if why:
            print(f"skipped {method_name}: {why}", flush=True)
            missing[method_name] = why
    methods = [m for m in methods if m not in missing]
    records = []
    for data_name, (X, y) in datasets.items():
        if verbose:
            print(
                f"{data_name}: {X.shape[0]} rows x {X.shape[1]} features, {y.mean():.1%} anomalies",
                flush=True,
            )
        for method_name in methods:
            for record in evaluate(
                METHODS[method_name], X, y, seeds, verbose, method_name, protocol, skip
            ):
                records.append(dict(dataset=data_name, method=method_name, **record))
    return pd.DataFrame.from_records(records), missing


def _per_dataset(results, column):
    """``dataset x method`` table of the mean of ``column`` over seeds, in the run's order."""
    table = results.groupby(["dataset", "method"], sort=False)[column].mean().unstack("method")
    methods = list(dict.fromkeys(results["method"]))
    return table[methods].loc[list(dict.fromkeys(results["dataset"]))]


def summarize(results):
    """Per-dataset mean AUC table, and the per-method summary with mean ranks.

    Variants of skae (names starting ``"skae, "``) are ablations: each is
    ranked against the other methods as if it replaced the default detector,
    and the others are ranked without the variants. A skipped method is
    ranked on the datasets it ran on; ``datasets`` says how many.
    """
    auc = _per_dataset(results, "auc")
    methods = list(auc.columns)
    variants = [m for m in methods if m.startswith("skae, ")]
    primary = [m for m in methods if m not in variants]
    mean_rank = auc[primary].rank(axis=1, ascending=False).mean(axis=0)
    for variant in variants:
        others = [m for m in primary if not m.startswith("skae")] + [variant]
        mean_rank[variant] = auc[others].rank(axis=1, ascending=False)[variant].mean()
    per_dataset = results.groupby(["dataset", "method"], sort=False).mean(numeric_only=True)
    summary = per_dataset.groupby("method", sort=False).agg(
        mean_auc=("auc", "mean"),
        mean_ap=("ap", "mean"),
        mean_p_at_n=("p_at_n", "mean"),
        mean_f1=("f1", "mean"),
        datasets=("auc", "count"),
    )
    summary["mean_rank"] = mean_rank
    # Total fit + score seconds over all datasets and seeds (skipped ones count 0).
    summary["total_seconds"] = results.groupby("method", sort=False)["seconds"].sum()
    summary = summary.loc[methods].sort_values("mean_rank")
    return auc, summary


SUMMARY_COLUMNS = {
    "mean_auc": ("mean ROC-AUC", ".3f"),
    "mean_ap": ("mean AP", ".3f"),
    "mean_p_at_n": ("mean precision@n", ".3f"),
    "mean_rank": ("mean rank (AUC)", ".2f"),
    "total_seconds": ("fit+score s (total)", ".1f"),
    "mean_f1": ("mean F1 of predict", ".3f"),
    "datasets": ("datasets run", "d"),
}


def _cell(value, fmt, note=""):
    """A formatted number, its note where it is missing, or ``nan``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return note or "nan"
    return format(int(value) if fmt == "d" else value, fmt)


def summary_table(summary):
    """The per-method summary as a markdown table."""
    columns = [c for c in SUMMARY_COLUMNS if c in summary.columns]
    header = ["method"] + [SUMMARY_COLUMNS[c][0] for c in columns]
    rows = [
        [method] + [_cell(summary.at[method, c], SUMMARY_COLUMNS[c][1]) for c in columns]
        for method in summary.index
    ]
    return markdown_table(header, rows)


def per_dataset_table(results, column):
    """``dataset x method`` markdown table of a mean metric; skipped cells say why."""
    table = _per_dataset(results, column)
    notes = (
        results.groupby(["dataset", "method"], sort=False)["note"]
        .agg(lambda v: next((n for n in v if n), ""))
        .unstack("method")
        .reindex(index=table.index, columns=table.columns)
    )
    rows = [
        [dataset]
        + [_cell(table.at[dataset, m], ".3f", notes.at[dataset, m]) for m in table.columns]
        for dataset in table.index
    ]
    return markdown_table(["dataset", *table.columns], rows)


def plot_auc(auc, seeds, title, path):
    """Bar chart of the per-dataset ROC-AUC of every method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(12, 0.6 * len(auc.index) * 1.5), 5.5))
    n_methods = len(auc.columns)
    width = 0.8 / n_methods
    x = np.arange(len(auc.index))
    for i, method in enumerate(auc.columns):
        ax.bar(x + (i - (n_methods - 1) / 2) * width, auc[method], width, label=method)
    ax.set_xticks(x, auc.index, rotation=20)
    ax.set_ylabel(f"ROC-AUC (mean of {len(seeds)} seeds)")
    ax.set_ylim(0.3, 1.0)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(ncol=5, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.15))
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def section(
    protocol, collection, results, auc, summary, seeds, missing=None, figure=True, out="detect"
):
    """Markdown of one protocol on one collection, and (with ``figure``) its figure.

    The figure is named after the report ``out`` as well, so that two reports of the same
    collection (e.g. ``large`` capped and at full size) do not overwrite each other's.
    """
    stem = (
        "detect"
        if (out, protocol, collection) == ("detect", "contaminated", "odds")
        else (f"{out}_{protocol}_{collection}".replace("-", "_"))
    )
    trained_on = (
        "the contaminated training part"
        if protocol == "contaminated"
        else ("the normal rows of the training part")
    )
    n_train = results.groupby("dataset", sort=False)["n_train"].mean()
    lines = [
        f"## {protocol.capitalize()} training, {collection}",
        "",
        f"Trained on {trained_on} ({n_train.min():,.0f} to {n_train.max():,.0f} rows).",
        "",
        summary_table(summary),
        "",
    ]
    lines += [f"Not run: {m}, {why}" for m, why in (missing or {}).items()]
    lines += ["", "ROC-AUC per dataset (mean over seeds):", "", per_dataset_table(results, "auc")]
    if figure:
        title = f"{collection}: trained on {trained_on}"
        plot_auc(auc, seeds, title, RESULTS_DIR / f"{stem}.png")
        lines += ["", f"![ROC-AUC per dataset]({stem}.png)"]
    for column, what in (("ap", "Average precision"), ("p_at_n", "Precision at n")):
        lines += [
            "",
            f"{what} per dataset (mean over seeds):",
            "",
            per_dataset_table(results, column),
        ]
    return lines + [""]


def caps_line(collections, max_rows):
    """What the row caps were, for the report's header."""
    caps = {c: max_rows_of(c, max_rows) for c in collections}
    capped = [f"`{c}` {cap:,}" for c, cap in caps.items() if cap]
    if not capped:
        return "Every table at its full size."
    return (
        "Tables cut to at most this many random rows before the split (the same rows for "
        f"every seed and method, `--max-rows`): {', '.join(capped)}; the others at full size."
    )


def pyod_version():
    """``", PyOD x.y.z"`` if PyOD is installed, else ``", no PyOD"``."""
    try:
        from importlib.metadata import version

        return f", PyOD {version('pyod')}"
    except Exception:
        return ", no PyOD"


def write_report(sections, seeds, elapsed, workers=1, out="detect", caps="", command=""):
    """Write ``results/<out>.md`` (with its figures) and ``results/<out>.csv``."""
    import pandas as pd

    RESULTS_DIR.mkdir(exist_ok=True)
    frames = [
        results.assign(protocol=protocol, collection=collection)
        for (protocol, collection), (results, _, _, _) in sections.items()
    ]
    pd.concat(frames).to_csv(RESULTS_DIR / f"{out}.csv", index=False, float_format="%.4f")
    lines = [
        "# Outlier detection benchmark",
        "",
        produced_by(command, elapsed)[:-1]
        + pyod_version()
        + "."
        + (f" The sections in {workers} parallel processes." if workers > 1 else ""),
        "",
        "The protocols are in `bench_detect.py`'s docstring "
        f"(random 60/40 splits, seeds {list(seeds)}, standardized on the training rows, "
        f"single-threaded). {caps}",
        "",
        "Mean rank: among the methods without the `skae, ...` rows, which are ablations of "
        "skae's default (each is ranked as if it replaced the default). Precision@n: among the "
        "n top-scored test rows, n the true number of test anomalies. F1 of predict: of each "
        'method\'s own cut (skae and scikit-learn: `contamination="auto"`; PyOD and kNN: '
        "`contamination=0.1`). How skae's defaults were chosen: `detect_choices.md`.",
        "",
    ]
    for (protocol, collection), (results, auc, summary, missing) in sections.items():
        lines += section(protocol, collection, results, auc, summary, seeds, missing, out=out)
    (RESULTS_DIR / f"{out}.md").write_text("\n".join(lines))


def run_section(protocol, collection, methods, dataset_names, seeds, max_rows=None, skip=True):
    """One protocol on one collection: ``(results, auc, summary, missing)``, or None if empty."""
    datasets = load_collection(collection, dataset_names, max_rows)
    if not datasets:
        print(f"== {protocol} training, {collection}: no datasets selected", flush=True)
        return None
    print(f"== {protocol} training, {collection}", flush=True)
    with single_thread():
        results, missing = run(methods, datasets, seeds, protocol=protocol, skip=skip)
    return (results, *summarize(results), missing)


# -- the cost curve ------------------------------------------------------------
def _rss():
    """This process's resident memory now, in bytes (Linux ``/proc``; 0 elsewhere)."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def cost_cell(method_name, path, n, messages):
    """In a fresh process: fit one method on ``n`` training rows of a table, score its test part.

    Puts ``("started",)`` on ``messages`` once the data is ready, then
    ``("done", fit s, score s, AUC, peak extra MiB)`` or ``("error", text)``.
    """
    import resource

    try:
        X, y = load_odds(path.name, path.parent)
        X_train, X_test, _, y_test = train_test_split(X, y, test_size=0.4, random_state=0)
        rows = np.sort(np.random.RandomState(0).permutation(len(X_train))[:n])
        X_train, X_test = standardize(X_train[rows], X_test)
        del X, y
        with single_thread():
            why = unavailable(method_name)
            if why:
                messages.put(("error", why))
                return
            method = METHODS[method_name](0)
            before = _rss()
            max_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            peak, stop = [before], threading.Event()

            def sample():
                while not stop.wait(0.01):
                    peak[0] = max(peak[0], _rss())

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            messages.put(("started",))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                method.fit(X_train)
                fitted = time.perf_counter()
                anomaly = np.asarray(method.anomaly(X_test), dtype=np.float64)
                scored = time.perf_counter()
            stop.set()
            sampler.join()
            max_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            top = max(peak[0], max_after if max_after > max_before else 0)
            auc = roc_auc_score(y_test, anomaly)
            messages.put(("done", fitted - start, scored - fitted, auc, (top - before) / 2**20))
    except Exception as exc:  # reported in the table, the run goes on
        messages.put(("error", f"{type(exc).__name__}: {exc}"))


def _message(messages, process, timeout):
    """The next message of a cell's process, or None after ``timeout`` s or if it died."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return messages.get(timeout=min(1.0, max(0.01, deadline - time.monotonic())))
        except queue_module.Empty:
            if not process.is_alive():
                try:
                    return messages.get(timeout=1.0)
                except queue_module.Empty:
                    return ("error", f"the process died (exit code {process.exitcode})")
            if time.monotonic() >= deadline:
                return None


def cost_sizes(n_rows):
    """The training sizes of the cost curve for a table of ``n_rows`` rows."""
    n_train = n_rows - math.ceil(0.4 * n_rows)
    return [n for n in COST_SIZES if n < n_train] + [n_train]


def run_cost_task(method_name, path, sizes, max_seconds):
    """One method on one table, N increasing: ``{N: (fit, score, auc, MiB) or why}``.

    A cell past ``max_seconds`` (fit + score) is stopped; the larger N are not tried.
    """
    context = get_context("spawn")
    cells = {}
    over = None
    for n in sizes:
        if over is not None:
            cells[n] = f"skipped: > {max_seconds:g} s at N = {over:,}"
            continue
        messages = context.Queue()
        process = context.Process(target=cost_cell, args=(method_name, path, n, messages))
        process.start()
        message = _message(messages, process, 900)  # loading the table, imports
        if message is not None and message[0] == "started":
            message = _message(messages, process, max_seconds)
        if message is None:
            process.terminate()
            cells[n] = f"skipped: > {max_seconds:g} s"
            over = n
        elif message[0] == "done":
            cells[n] = message[1:]
        else:
            cells[n] = message[1]
        process.join()
        label = cells[n] if isinstance(cells[n], str) else f"{sum(cells[n][:2]):.1f} s"
        print(f"  {path.stem} N={n:,} {method_name}: {label}", flush=True)
    return cells


def parse_max_seconds(values):
    """``["900", "kNN=300"]`` to ``(900.0, {"kNN": 300.0})``: a default and per-method limits."""
    default, per_method = 900.0, {}
    for value in values:
        name, sep, seconds = value.rpartition("=")
        if sep:
            per_method[name] = float(seconds)
        else:
            default = float(seconds)
    return default, per_method


def cost_curve(methods, names, max_seconds, workers=1):
    """The cost curve on the large tables: ``{(table, shape, N, method): cell}``."""
    files = sorted(LARGE_DATA_DIR.glob("*.npz"))
    default, per_method = max_seconds
    tasks = []
    shapes = {}
    for path in files:
        name = path.stem.split("_", 1)[-1]
        if names and name not in names:
            continue
        with np.load(path) as data:
            shapes[path] = data["X"].shape
        for method_name in methods:
            limit = per_method.get(method_name, default)
            tasks.append((method_name, path, cost_sizes(shapes[path][0]), limit))
    with ThreadPoolExecutor(max(1, workers)) as pool:
        done = list(pool.map(lambda task: run_cost_task(*task), tasks))
    cells = {}
    for (method_name, path, _, _), task_cells in zip(tasks, done):
        for n, cell in task_cells.items():
            cells[(path.stem.split("_", 1)[-1], shapes[path], n, method_name)] = cell
    return cells


def cost_report(cells, methods, elapsed, command, workers=1):
    """The markdown of the cost curve."""
    header = [
        "table",
        "rows x features",
        "N train",
        "method",
        "fit s",
        "score s (test part)",
        "fit+score s",
        "x IsolationForest",
        "peak extra MiB",
        "AUC",
    ]
    rows = []
    order = sorted(cells, key=lambda key: (key[0].lower(), key[2], methods.index(key[3])))
    for table, shape, n, method_name in order:
        cell = cells[(table, shape, n, method_name)]
        first = [table, f"{shape[0]:,} x {shape[1]}", f"{n:,}", method_name]
        if isinstance(cell, str):
            rows.append(first + [cell] + [""] * 5)
            continue
        fit, score, auc, mib = cell
        forest = cells.get((table, shape, n, "IsolationForest"))
        ratio = "" if isinstance(forest, str) or forest is None else (fit + score) / sum(forest[:2])
        n_test = shape[0] - (shape[0] - math.ceil(0.4 * shape[0]))
        rows.append(
            first
            + [
                f"{fit:.2f}",
                f"{score:.2f} ({n_test:,} rows)",
                f"{fit + score:.2f}",
                ratio if ratio == "" else f"{ratio:.1f}",
                f"{mib:.0f}",
                f"{auc:.3f}",
            ]
        )
    doc = __doc__.split("Cost curve (``--cost-curve``): ")[1].split("\n\n")[0]
    return "\n".join(
        [
            "# Outlier detection: cost against the training rows",
            "",
            produced_by(command, elapsed)
            + (f" {workers} cells at a time." if workers > 1 else " One cell at a time."),
            "",
            "Cost curve: " + " ".join(doc.replace("``", "`").split()),
            " The split is the contaminated protocol's (every training row, outliers included); "
            "the training rows are the first N of a random permutation (`RandomState(0)`). "
            "x IsolationForest: fit+score seconds over IsolationForest's at the same N, same run. "
            f"Methods: {', '.join(methods)} (skae's at `random_state=0`).",
            "",
            markdown_table(header, rows, align="lrrl" + "r" * 6),
            "",
        ]
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--methods",
        nargs="+",
        default=None,
        help="method names (default: all; with --cost-curve: " + ", ".join(COST_METHODS) + ")",
    )
    parser.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=list(PROTOCOLS))
    parser.add_argument("--collections", nargs="+", choices=COLLECTIONS, default=["odds"])
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=None,
        help="dataset names, e.g. WBC shuttle campaign (default: all)",
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument(
        "--max-rows",
        type=int,
        default=None,
        help="keep at most this many random rows of every table, before the split "
        f"(0: all; default {DEFAULT_MAX_ROWS} and the other collections whole)",
    )
    parser.add_argument(
        "--no-skip",
        action="store_true",
        help="run every method at every size (default: skip those of SKIP_ABOVE above "
        "their training rows)",
    )
    parser.add_argument(
        "--cost-curve",
        action="store_true",
        help="time fit and score at N = 10,000, 100,000 and all training rows of the large "
        "tables; writes results/detect_cost.md",
    )
    parser.add_argument(
        "--max-seconds",
        nargs="+",
        default=["900"],
        help="with --cost-curve: stop a cell past this many fit+score seconds; "
        "NAME=SECONDS for one method (default 900)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="run the protocol/collection sections (with --cost-curve: the cells) in this many "
        "processes (each single-threaded; times then share the machine)",
    )
    parser.add_argument(
        "--out",
        default=None,
        help="report name in results/ (default detect: detect.md and detect.csv; "
        "with --cost-curve detect_cost: detect_cost.md)",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print the tables, do not write results/"
    )
    args = parser.parse_args(argv)
    methods = args.methods or list(COST_METHODS if args.cost_curve else METHODS)
    unknown = set(methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}; choose from {list(METHODS)}")
    command = "python benchmarks/bench_detect.py " + " ".join(
        f'"{a}"' if " " in a else a for a in (sys.argv[1:] if argv is None else argv)
    )

    # Every timed run is single-threaded, in this process or in its workers (and the
    # report's header says so).
    torch.set_num_threads(1)
    start = time.perf_counter()
    if args.cost_curve:
        try:
            max_seconds = parse_max_seconds(args.max_seconds)
        except ValueError:
            parser.error(f"--max-seconds takes SECONDS or NAME=SECONDS, not {args.max_seconds}")
        cells = cost_curve(methods, args.datasets, max_seconds, args.workers)
        report = cost_report(cells, methods, time.perf_counter() - start, command, args.workers)
        print("\n" + report)
        if not args.no_write:
            path = RESULTS_DIR / f"{args.out or 'detect_cost'}.md"
            path.write_text(report)
            print(f"wrote {path}")
        return

    keys = [(p, c) for c in args.collections for p in args.protocols]
    jobs = [
        (p, c, methods, args.datasets, args.seeds, args.max_rows, not args.no_skip) for p, c in keys
    ]
    # With workers, sections in parallel processes, each single-threaded as alone.
    done = in_processes(run_section, jobs, args.workers)
    sections = {key: result for key, result in zip(keys, done) if result is not None}
    for (protocol, collection), (results, auc, summary, missing) in sections.items():
        lines = section(protocol, collection, results, auc, summary, args.seeds, missing, False)
        print("\n" + "\n".join(lines))
    elapsed = time.perf_counter() - start
    print(f"\ntotal {elapsed / 60:.1f} min")
    if sections and not args.no_write:
        out = args.out or "detect"
        caps = caps_line(args.collections, args.max_rows)
        write_report(sections, args.seeds, elapsed, args.workers, out, caps, command)
        print(f"wrote {RESULTS_DIR / (out + '.md')}")


if __name__ == "__main__":
    main()
