"""Benchmark AEOutlierDetector against common outlier detectors.

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
used to choose a default; ``digits``, ten one-class tasks from scikit-learn's
digits (each class in turn is normal; 10% as many rows, drawn from the other
classes, are the anomalies). Reported: ROC-AUC and average precision of the
test anomaly scores (labels ``y == 1`` are anomalies), F1 of each method's own
outlier cut, and the fit + score time. Methods are ranked per dataset on the
mean ROC-AUC over seeds (1 = best).

Every method runs single-threaded (``torch.set_num_threads(1)``, BLAS/OpenMP
limited through ``threadpoolctl``) so that times compare.

Usage::

    python benchmarks/bench_detect.py               # both protocols on odds, writes results/
    python benchmarks/bench_detect.py --protocols clean --collections odds digits --no-write
    python benchmarks/bench_detect.py --methods "skae AEOutlierDetector" IsolationForest --no-write
    python benchmarks/bench_detect.py --collections odds digits --workers 2  # sections in parallel
"""

import argparse
import time
import warnings

import numpy as np
from _common import (
    DATA_DIR,
    MORE_DATA_DIR,
    RESULTS_DIR,
    in_processes,
    load_odds_sets,
    single_thread,
    standardize,
)
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.neighbors import LocalOutlierFactor
from sklearn.svm import OneClassSVM

SEEDS = (0, 1, 2)
PROTOCOLS = ("contaminated", "clean")
COLLECTIONS = ("odds", "odds-more", "digits")


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


def load_collection(collection, names=None):
    """``{name: (X, y)}`` of one collection."""
    if collection == "digits":
        return digits_tasks()
    return load_odds_sets(names, DATA_DIR if collection == "odds" else MORE_DATA_DIR)


def split(protocol, X, y, seed):
    """Train and test parts of one task: ``X_train, X_test, y_test``."""
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.4, random_state=seed)
    if protocol == "clean":
        X_train = X_train[y_train == 0]
    X_train, X_test = standardize(X_train, X_test)
    return X_train, X_test, y_test


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
        self.estimator = self.make(X.shape[1]).fit(X)
        return self


METHODS = {
    "skae AEOutlierDetector": _skae,
    "skae, trim_fraction=0": lambda seed: _skae(seed, trim_fraction=0.0),
    "skae, DenoisingAutoEncoder": lambda seed: _SkaeAround(seed, _denoising),
    "skae, density_weight=0 (before)": lambda seed: _skae(seed, density_weight=0.0),
    "skae, batches of 32 at lr 1e-3, density_weight=0": lambda seed: _SkaeAround(
        seed, _before, density_weight=0.0
    ),
    "skae, VariationalAutoEncoder in the detector": lambda seed: _SkaeAround(seed, _variational),
    "skae VariationalAutoEncoder, -log-likelihood": _VAELikelihood,
    "PyOD AutoEncoder": _pyod_ae,
    "PyOD VAE": _pyod_vae,
    "PyOD DeepSVDD": _PyODDeepSVDD,
    "IsolationForest": lambda seed: _Sklearn(IsolationForest(random_state=seed)),
    "LocalOutlierFactor": lambda seed: _Sklearn(LocalOutlierFactor(novelty=True)),
    "OneClassSVM": lambda seed: _Sklearn(OneClassSVM()),
    "PCA error": _PCAError,
}


# -- running -------------------------------------------------------------------
def evaluate(make, X, y, seeds=SEEDS, verbose=True, label="", protocol="contaminated"):
    """Return a list of ``(seed, auc, ap, f1, seconds)`` for one method on one dataset."""
    rows = []
    for seed in seeds:
        X_train, X_test, y_test = split(protocol, X, y, seed)
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
        f1 = (
            f1_score(y_test, method.is_outlier(X_test)) if hasattr(method, "is_outlier") else np.nan
        )
        rows.append((seed, auc, ap, f1, seconds))
        if verbose:
            print(
                f"  {label:<26} seed {seed}: AUC {auc:.3f}  AP {ap:.3f}  F1 {f1:.3f}  "
                f"{seconds:6.1f}s",
                flush=True,
            )
    return rows


def run(methods, datasets, seeds=SEEDS, verbose=True, protocol="contaminated"):
    """Evaluate every method on every dataset; return a tidy pandas DataFrame."""
    import pandas as pd

    # Warm up every method (imports, torch initialisation) outside the timings.
    warm = np.random.RandomState(0).normal(size=(64, 4))
    available = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for method_name in methods:
            try:
                METHODS[method_name](0).fit(warm).anomaly(warm)
            except ImportError as exc:
                print(f"skipped {method_name}: {exc}", flush=True)
                continue
            available.append(method_name)
    methods = available
    records = []
    for data_name, (X, y) in datasets.items():
        if verbose:
            print(
                f"{data_name}: {X.shape[0]} rows x {X.shape[1]} features, {y.mean():.1%} anomalies",
                flush=True,
            )
        for method_name in methods:
            for seed, auc, ap, f1, seconds in evaluate(
                METHODS[method_name], X, y, seeds, verbose, label=method_name, protocol=protocol
            ):
                records.append(
                    dict(
                        dataset=data_name,
                        method=method_name,
                        seed=seed,
                        auc=auc,
                        ap=ap,
                        f1=f1,
                        seconds=seconds,
                    )
                )
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


def section(protocol, collection, results, auc, summary, seeds):
    """Markdown of one protocol on one collection, and its figure."""
    ap = results.groupby(["dataset", "method"], sort=False)["ap"].mean().unstack("method")
    ap = ap[auc.columns].loc[auc.index]
    stem = (
        "detect"
        if (protocol, collection) == ("contaminated", "odds")
        else (f"detect_{protocol}_{collection}".replace("-", "_"))
    )
    trained_on = (
        "the contaminated training part"
        if protocol == "contaminated"
        else ("the normal rows of the training part")
    )
    plot_auc(auc, seeds, f"{collection}: trained on {trained_on}", RESULTS_DIR / f"{stem}.png")
    table = summary.rename(
        columns={
            "mean_auc": "mean ROC-AUC",
            "mean_ap": "mean AP",
            "mean_f1": "mean F1 of predict",
            "mean_rank": "mean rank (AUC)",
            "total_seconds": "fit+score s (total)",
        }
    )
    return [
        f"## {protocol.capitalize()} training, {collection}",
        "",
        f"Trained on {trained_on}.",
        "",
        table.to_markdown(floatfmt=".3f"),
        "",
        "ROC-AUC per dataset (mean over seeds):",
        "",
        auc.to_markdown(floatfmt=".3f"),
        "",
        f"![ROC-AUC per dataset]({stem}.png)",
        "",
        "Average precision per dataset (mean over seeds):",
        "",
        ap.to_markdown(floatfmt=".3f"),
        "",
    ]


def write_report(sections, seeds, elapsed, workers=1):
    """Write ``results/detect.md`` (with its figures) and ``results/detect.csv``."""
    import pandas as pd

    RESULTS_DIR.mkdir(exist_ok=True)
    frames = [
        results.assign(protocol=protocol, collection=collection)
        for (protocol, collection), (results, _, _) in sections.items()
    ]
    pd.concat(frames).to_csv(RESULTS_DIR / "detect.csv", index=False, float_format="%.4f")
    lines = [
        "# Outlier detection benchmark",
        "",
        "Generated by `python benchmarks/bench_detect.py`; the protocols are in its docstring "
        f"(random 60/40 splits, seeds {list(seeds)}, standardized on the training rows, "
        f"single-threaded). Total run time {elapsed / 60:.1f} min"
        + (f", the sections in {workers} parallel processes." if workers > 1 else "."),
        "",
        "Mean rank: among the methods without the `skae, ...` rows, which are ablations of "
        "skae's default (each is ranked as if it replaced the default). F1 of predict: of each "
        'method\'s own cut (skae and scikit-learn: `contamination="auto"`; PyOD: its default '
        "`contamination=0.1`). How skae's defaults were chosen: `detect_choices.md`.",
        "",
    ]
    for (protocol, collection), (results, auc, summary) in sections.items():
        lines += section(protocol, collection, results, auc, summary, seeds)
    (RESULTS_DIR / "detect.md").write_text("\n".join(lines))


def run_section(protocol, collection, methods, dataset_names, seeds):
    """One protocol on one collection: ``(results, auc table, summary table)``."""
    datasets = load_collection(collection, dataset_names)
    print(f"== {protocol} training, {collection}", flush=True)
    with single_thread():
        results = run(methods, datasets, seeds, protocol=protocol)
    return (results, *summarize(results))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--methods", nargs="+", default=list(METHODS), help="method names (default: all)"
    )
    parser.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=list(PROTOCOLS))
    parser.add_argument("--collections", nargs="+", choices=COLLECTIONS, default=["odds"])
    parser.add_argument(
        "--datasets", nargs="+", default=None, help="dataset names, e.g. WBC shuttle (default: all)"
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="run the protocol/collection sections in this many processes "
        "(each single-threaded; times then share the machine)",
    )
    parser.add_argument(
        "--no-write", action="store_true", help="print the tables, do not write results/"
    )
    args = parser.parse_args(argv)
    unknown = set(args.methods) - set(METHODS)
    if unknown:
        parser.error(f"unknown methods {sorted(unknown)}; choose from {list(METHODS)}")

    start = time.perf_counter()
    keys = [(p, c) for c in args.collections for p in args.protocols]
    jobs = [(p, c, args.methods, args.datasets, args.seeds) for p, c in keys]
    # With workers, sections in parallel processes, each single-threaded as alone.
    done = in_processes(run_section, jobs, args.workers)
    sections = {}
    for key, (results, auc, summary) in zip(keys, done):
        sections[key] = results, auc, summary
        print(f"\n== {key[0]} training, {key[1]}\n")
        print(auc.to_markdown(floatfmt=".3f"))
        print()
        print(summary.to_markdown(floatfmt=".3f"))
    elapsed = time.perf_counter() - start
    print(f"\ntotal {elapsed / 60:.1f} min")
    if not args.no_write:
        write_report(sections, args.seeds, elapsed, args.workers)
        print(f"wrote {RESULTS_DIR / 'detect.md'}")


if __name__ == "__main__":
    main()
