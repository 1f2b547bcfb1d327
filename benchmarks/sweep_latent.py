"""Does a latent-density term help AEOutlierDetector's default? Scored on the same detectors.

``sweep_detect.py '{"latent": w}'`` seeds its detectors differently from
``bench_detect.py``, and seed-to-seed spread alone moves the mean ROC-AUC by
several thousandths. Here each detector of ``bench_detect.py``'s protocol
(ODDS sets, random 60/40 split, seeds 0-2, one thread, default detector with
``random_state=seed``) is fitted once, and its test scores are combined with
the Ledoit-Wolf Mahalanobis distance ``d`` of the autoencoder's code to the
training codes in several ways, so that every variant is compared on the same
fitted networks::

    python benchmarks/sweep_latent.py [dataset,dataset,...]

Variants, for weights ``w`` in {0.25, 0.5, 1}, with the density fitted on all
training codes (``all``) or on the 70% of training rows with the lowest
anomaly score (``kept``):

- ``iqr``: error and ``d`` each centred on the training median and divided by
  the training interquartile range, then summed with weight ``w``;
- ``sq``: error + ``w * d**2 / n_components`` (both about 1 on training rows);
- ``sqrt``: error + ``w * d / sqrt(n_components)``;
- ``mean``: error and ``d`` each divided by their training mean.

Prints the mean ROC-AUC over seeds per dataset and over datasets for each
variant; ``base`` is the detector's own score. The result is summarised in
``results/detect_choices.md``.
"""

import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.covariance import LedoitWolf
from sklearn.metrics import roc_auc_score

from skae import AEOutlierDetector

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_odds_sets, robust_scale, single_thread, split_standardized  # noqa: E402
from bench_detect import SEEDS  # noqa: E402

WEIGHTS = (0.25, 0.5, 1.0)


def variant_scores(detector, X_train, X_test):
    """Test anomaly scores (higher = abnormal) of every variant, by name."""
    error_train, error_test = -detector.score_samples(X_train), -detector.score_samples(X_test)
    Z_train, Z_test = detector.estimator_.transform(X_train), detector.estimator_.transform(X_test)
    n_components = Z_train.shape[1]
    kept = error_train <= np.quantile(error_train, 0.7)
    out = {"base": error_test}
    for fit_on, rows in (("all", slice(None)), ("kept", kept)):
        density = LedoitWolf().fit(Z_train[rows])
        d_train = np.sqrt(density.mahalanobis(Z_train))
        d_test = np.sqrt(density.mahalanobis(Z_test))
        for w in WEIGHTS:
            iqr = robust_scale(error_test, error_train) + w * robust_scale(d_test, d_train)
            out[f"iqr-{fit_on}-{w}"] = iqr
            out[f"sq-{fit_on}-{w}"] = error_test + w * d_test**2 / n_components
            out[f"sqrt-{fit_on}-{w}"] = error_test + w * d_test / np.sqrt(n_components)
            out[f"mean-{fit_on}-{w}"] = (
                error_test / error_train[rows].mean() + w * d_test / d_train[rows].mean()
            )
    return out


def main(names=None):
    aucs = {}
    with single_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        datasets = load_odds_sets(names)
        for name, (X, y) in datasets.items():
            for seed in SEEDS:
                X_train, X_test, _, y_test = split_standardized(X, y, seed)
                detector = AEOutlierDetector(random_state=seed).fit(X_train)
                for variant, scores in variant_scores(detector, X_train, X_test).items():
                    aucs.setdefault(variant, {}).setdefault(name, []).append(
                        roc_auc_score(y_test, scores)
                    )
    names = list(datasets)
    print("| variant | " + " | ".join(names) + " | mean |")
    print("|---" * (len(names) + 2) + "|")
    for variant, per_set in aucs.items():
        means = [np.mean(per_set[name]) for name in names]
        print(
            f"| {variant} | " + " | ".join(f"{m:.3f}" for m in means) + f" | {np.mean(means):.4f} |"
        )


if __name__ == "__main__":
    main(sys.argv[1].split(",") if len(sys.argv) > 1 else None)
