"""Benchmark AEOutlierDetector against common outlier detectors on ODDS data.

Protocol (as PyOD's benchmark): for every dataset in ``shared/data/odds`` and
each of 3 seeds, a random stratification-free 60/40 train/test split; the
features are standardized with the training part's mean and deviation; every
detector is trained on the (contaminated, unlabeled) training part and scores
the test part. Reported: ROC-AUC and average precision of the test anomaly
scores (labels ``y == 1`` are anomalies) and the fit + score time. Methods are
ranked per dataset on the mean ROC-AUC over seeds (1 = best).

Every method runs single-threaded (``torch.set_num_threads(1)``, BLAS/OpenMP
limited through ``threadpoolctl``) so that times compare.

Usage::

    python benchmarks/bench_detect.py               # everything, writes results/
    python benchmarks/bench_detect.py --methods skae IsolationForest --no-write
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.svm import OneClassSVM

from _common import RESULTS_DIR, load_odds_sets, single_thread, split_standardized

SEEDS = (0, 1, 2)


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


class _SkaeDenoising(_Sklearn):
    """AEOutlierDetector around a DenoisingAutoEncoder of the default's size."""

    def __init__(self, seed):
        self.seed = seed

    def fit(self, X):
        from skae import AEOutlierDetector, DenoisingAutoEncoder
        from skae._outlier import _default_estimator

        default = _default_estimator(X.shape[1]).get_params()
        dae = DenoisingAutoEncoder(noise="masking", noise_level=0.2, **default)
        self.estimator = AEOutlierDetector(dae, random_state=self.seed).fit(X)
        return self


def _pyod_ae(seed):
    from pyod.models.auto_encoder import AutoEncoder

    return _PyOD(AutoEncoder(random_state=seed, device="cpu", verbose=0))


def _pyod_vae(seed):
    from pyod.models.vae import VAE

    return _PyOD(VAE(random_state=seed, device="cpu", verbose=0))


METHODS = {
    "skae AEOutlierDetector": _skae,
    "skae, trim_fraction=0": lambda seed: _skae(seed, trim_fraction=0.0),
    "skae, DenoisingAutoEncoder": _SkaeDenoising,
    "PyOD AutoEncoder": _pyod_ae,
    "PyOD VAE": _pyod_vae,
    "IsolationForest": lambda seed: _Sklearn(IsolationForest(random_state=seed)),
    "LocalOutlierFactor": lambda seed: _Sklearn(LocalOutlierFactor(novelty=True)),
    "OneClassSVM": lambda seed: _Sklearn(OneClassSVM()),
    "PCA error": _PCAError,
}


# -- running -------------------------------------------------------------------
def evaluate(make, X, y, seeds=SEEDS, verbose=True, label=""):
    """Return a list of ``(seed, auc, ap, f1, seconds)`` for one method on one dataset."""
    rows = []
    for seed in seeds:
        X_train, X_test, _, y_test = split_standardized(X, y, seed)
        method = make(seed)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            method.fit(X_train)
            anomaly = np.asarray(method.anomaly(X_test), dtype=np.float64)
        seconds = time.perf_counter() - start
        auc = roc_auc_score(y_test, anomaly)
        ap = average_precision_score(y_test, anomaly)
        # F1 of the method's own outlier cut (contamination="auto" or its default).
        f1 = f1_score(y_test, method.is_outlier(X_test)) if hasattr(method, "is_outlier") else np.nan
        rows.append((seed, auc, ap, f1, seconds))
        if verbose:
            print(f"  {label:<26} seed {seed}: AUC {auc:.3f}  AP {ap:.3f}  F1 {f1:.3f}  "
                  f"{seconds:6.1f}s", flush=True)
    return rows


def run(methods, datasets, seeds=SEEDS, verbose=True):
    """Evaluate every method on every dataset; return a tidy pandas DataFrame."""
    import pandas as pd

    # Warm up every method (imports, torch initialisation) outside the timings.
    warm = np.random.RandomState(0).normal(size=(64, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method_name in methods:
            METHODS[method_name](0).fit(warm).anomaly(warm)
    records = []
    for data_name, (X, y) in datasets.items():
        if verbose:
            print(f"{data_name}: {X.shape[0]} rows x {X.shape[1]} features, "
                  f"{y.mean():.1%} anomalies", flush=True)
        for method_name in methods:
            for seed, auc, ap, f1, seconds in evaluate(
                METHODS[method_name], X, y, seeds, verbose, label=method_name
            ):
                records.append(dict(dataset=data_name, method=method_name, seed=seed,
                                    auc=auc, ap=ap, f1=f1, seconds=seconds))
    return pd.DataFrame.from_records(records)


def summarize(results):
    """Per-dataset mean AUC table, and the per-method summary with mean ranks.

    Variants of skae (names starting ``"skae, "``) are ablations: each is
    ranked against the other methods as if it replaced the default detector,
    and the others are ranked without the variants.
    """
    per_dataset = results.groupby(["dataset", "method"], sort=False).mean(numeric_only=True)
    auc = per_dataset["auc"].unstack("method")
    methods = list(dict.fromkeys(results["method"]))
    auc = auc[methods].loc[list(dict.fromkeys(results["dataset"]))]
    variants = [m for m in methods if m.startswith("skae, ")]
    primary = [m for m in methods if m not in variants]
    mean_rank = auc[primary].rank(axis=1, ascending=False).mean(axis=0)
    for variant in variants:
        others = [m for m in primary if not m.startswith("skae")] + [variant]
        mean_rank[variant] = auc[others].rank(axis=1, ascending=False)[variant].mean()
    summary = per_dataset.groupby("method", sort=False).agg(
        mean_auc=("auc", "mean"), mean_ap=("ap", "mean"), mean_f1=("f1", "mean")
    )
    summary["mean_rank"] = mean_rank
    # Total fit + score seconds over all datasets and seeds.
    summary["total_seconds"] = results.groupby("method", sort=False)["seconds"].sum()
    summary = summary.loc[methods].sort_values("mean_rank")
    return auc, summary


def write_report(results, auc, summary, seeds, elapsed):
    """Write ``results/detect.md``, ``results/detect.png`` and ``results/detect.csv``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    RESULTS_DIR.mkdir(exist_ok=True)
    results.to_csv(RESULTS_DIR / "detect.csv", index=False, float_format="%.4f")

    ap = results.groupby(["dataset", "method"], sort=False)["ap"].mean().unstack("method")
    ap = ap[auc.columns].loc[auc.index]
    fig, ax = plt.subplots(figsize=(12, 5.5))
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
    ax.set_title("Outlier detection on ODDS datasets (60/40 split, trained on contaminated train part)")
    fig.tight_layout()
    fig.savefig(RESULTS_DIR / "detect.png", dpi=110)
    plt.close(fig)

    table = summary.rename(columns={
        "mean_auc": "mean ROC-AUC", "mean_ap": "mean AP",
        "mean_f1": "mean F1 of predict", "mean_rank": "mean rank (AUC)",
        "total_seconds": "fit+score s (total)",
    })
    lines = [
        "# Outlier detection benchmark",
        "",
        "Generated by `python benchmarks/bench_detect.py`; the protocol is in its docstring "
        f"(random 60/40 split, standardized on train, trained on the contaminated train part, "
        f"seeds {list(seeds)}, single-threaded). Total run time {elapsed / 60:.1f} min.",
        "",
        "Mean rank: among the methods without the `skae, ...` rows, which are ablations of "
        "skae's default (each is ranked as if it replaced the default). F1 of predict: of each "
        "method's own cut (skae and scikit-learn: `contamination=\"auto\"`; PyOD: its default "
        "`contamination=0.1`). How skae's defaults were chosen: `detect_choices.md`.",
        "",
        "## Summary",
        "",
        table.to_markdown(floatfmt=".3f"),
        "",
        "## ROC-AUC per dataset (mean over seeds)",
        "",
        auc.to_markdown(floatfmt=".3f"),
        "",
        "![ROC-AUC per dataset](detect.png)",
        "",
        "## Average precision per dataset (mean over seeds)",
        "",
        ap.to_markdown(floatfmt=".3f"),
        "",
    ]
    (RESULTS_DIR / "detect.md").write_text("\n".join(lines))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS),
                        help="method names (default: all)")
    parser.add_argument("--datasets", nargs="+", default=None,
                        help="dataset names, e.g. WBC shuttle (default: all)")
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--no-write", action="store_true",
                        help="print the tables, do not write results/")
    args = parser.parse_args(argv)
    unknown = set(args.methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}; choose from {list(METHODS)}")

    datasets = load_odds_sets(args.datasets)
    start = time.perf_counter()
    with single_thread():
        results = run(args.methods, datasets, args.seeds)
    elapsed = time.perf_counter() - start
    auc, summary = summarize(results)
    print()
    print(auc.to_markdown(floatfmt=".3f"))
    print()
    print(summary.to_markdown(floatfmt=".3f"))
    print(f"\ntotal {elapsed / 60:.1f} min")
    if not args.no_write:
        write_report(results, auc, summary, args.seeds, elapsed)
        print(f"wrote {RESULTS_DIR / 'detect.md'}")


if __name__ == "__main__":
    main()
