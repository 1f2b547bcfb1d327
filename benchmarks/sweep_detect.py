"""Compare settings of AEOutlierDetector on the ODDS sets: how its defaults were chosen.

Same protocol as ``bench_detect.py`` (random 60/40 split, standardized on the
training part, trained on the contaminated training part, seeds 0-2, one
thread), but for one detector setting at a time, given as JSON::

    python benchmarks/sweep_detect.py '{"hidden": [64], "code": 32, "dropout": 0.2,
                                        "epochs": 10, "batch": 32, "trim": 0.2, "steps": 2}'

Keys (all optional):

- ``hidden``, ``code``: hidden layer sizes and code size, in units or as a
  multiple of the data width ``d`` (``"code": "0.25d"`` = ``ceil(d / 4)``);
  by default the sizes of the detector's default estimator. Without any
  autoencoder key: the detector's own default estimator.
- ``dropout``, ``epochs``, ``batch``, ``batch_norm``: of the autoencoder.
- ``noise``, ``noise_level``: use a ``DenoisingAutoEncoder`` with this noise.
- ``error``: ``"standardized"`` or ``"raw"``; ``trim``: ``trim_fraction``;
  ``steps``: ``n_trim_steps``.
- ``ensemble``: average the scores of this many detectors with other seeds,
  each scaled by the median and interquartile range of its training scores.
- ``latent``: add this weight times the Ledoit-Wolf Mahalanobis distance of
  the code to the training codes (scaled the same way) to the score.

Prints one JSON line with the mean ROC-AUC over seeds per dataset, their mean
and the seconds taken; results of the settings tried are in
``results/detect_choices.md``.

``python benchmarks/sweep_detect.py --cuts`` compares instead rules for the
cut of ``contamination="auto"`` on the training scores of the default detector:
the fraction of training rows each flags and the F1 score of the flagged test
rows, with IsolationForest's own cut for reference.
"""

import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.covariance import LedoitWolf
from sklearn.metrics import roc_auc_score

from skae import AEOutlierDetector, AutoEncoderTransformer, DenoisingAutoEncoder

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import load_odds_sets, robust_scale, single_thread, split_standardized  # noqa: E402
from bench_detect import SEEDS  # noqa: E402


def _size(value, d):
    """A size given as a number of units, or as ``"<factor>d"`` of the width ``d``."""
    if isinstance(value, str):
        return max(1, int(np.ceil(float(value.removesuffix("d")) * d)))
    return int(value)


def make_detector(setting, d, random_state):
    """The AEOutlierDetector described by ``setting`` for data of width ``d``."""
    estimator = None
    if any(key in setting for key in ("hidden", "code", "dropout", "epochs", "batch", "noise")):
        params = dict(
            n_components=_size(setting.get("code", max(32, d)), d),
            hidden_layer_sizes=tuple(_size(h, d) for h in setting.get("hidden", [max(64, 2 * d)])),
            dropout=setting.get("dropout", 0.0),
            batch_norm=setting.get("batch_norm", False),
            max_epochs=setting.get("epochs", 10),
            batch_size=setting.get("batch", 32),
            device="cpu",
        )
        if "noise" in setting:
            estimator = DenoisingAutoEncoder(
                noise=setting["noise"], noise_level=setting.get("noise_level", 0.2), **params
            )
        else:
            estimator = AutoEncoderTransformer(**params)
    return AEOutlierDetector(
        estimator,
        error=setting.get("error", "standardized"),
        trim_fraction=setting.get("trim", 0.0),
        n_trim_steps=setting.get("steps", 1),
        random_state=random_state,
    )


def anomaly_scores(setting, X_train, X_test, seed):
    """Test anomaly scores (higher = abnormal) of one setting."""
    total = 0.0
    for member in range(setting.get("ensemble", 1)):
        detector = make_detector(setting, X_train.shape[1], seed * 100 + member)
        detector.fit(X_train)
        scores = robust_scale(-detector.score_samples(X_test), -detector.score_samples(X_train))
        if setting.get("latent"):
            Z_train = detector.estimator_.transform(X_train)
            density = LedoitWolf().fit(Z_train)
            distance = density.mahalanobis(detector.estimator_.transform(X_test))
            scores = scores + setting["latent"] * robust_scale(
                distance, density.mahalanobis(Z_train)
            )
        total = total + scores
    return total


def _cuts(scores):
    """Candidate thresholds on training anomaly scores, by name."""
    q1, median, q3 = np.percentile(scores, [25, 50, 75])
    mad = 1.4826 * np.median(np.abs(scores - median))
    logs = np.log(np.maximum(scores, np.finfo(np.float64).tiny))
    lq1, lmedian, lq3 = np.percentile(logs, [25, 50, 75])
    lmad = 1.4826 * np.median(np.abs(logs - lmedian))
    return {
        "Tukey 1.5 IQR": q3 + 1.5 * (q3 - q1),
        "Tukey 3 IQR": q3 + 3 * (q3 - q1),
        "median + 3 MAD": median + 3 * mad,
        "Tukey 1.5 IQR of log": np.exp(lq3 + 1.5 * (lq3 - lq1)),
        "median + 3 MAD of log": np.exp(lmedian + 3 * lmad),
        "fixed 10% (not data-driven)": np.percentile(scores, 90),
    }


def compare_cuts():
    """Print flagged training fraction and test F1 of each cut, per dataset."""
    import pandas as pd
    from sklearn.ensemble import IsolationForest
    from sklearn.metrics import f1_score

    records = []
    for name, (X, y) in load_odds_sets().items():
        for seed in SEEDS:
            X_train, X_test, _, y_test = split_standardized(X, y, seed)
            detector = AEOutlierDetector(random_state=seed).fit(X_train)
            train, test = -detector.score_samples(X_train), -detector.score_samples(X_test)
            for rule, cut in _cuts(train).items():
                records.append(
                    dict(
                        rule=rule,
                        dataset=name,
                        flagged=np.mean(train > cut),
                        f1=f1_score(y_test, test > cut),
                    )
                )
            forest = IsolationForest(random_state=seed).fit(X_train)
            records.append(
                dict(
                    rule="IsolationForest's own",
                    dataset=name,
                    flagged=np.mean(forest.predict(X_train) == -1),
                    f1=f1_score(y_test, forest.predict(X_test) == -1),
                )
            )
    table = pd.DataFrame(records).groupby(["rule", "dataset"], sort=False).mean()
    f1 = table["f1"].unstack("dataset")
    f1.insert(0, "mean F1", f1.mean(axis=1))
    f1.insert(1, "mean flagged", table["flagged"].unstack("dataset").mean(axis=1))
    print(f1.to_markdown(floatfmt=".3f"))


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        sys.exit(__doc__)
    if argv[0] == "--cuts":
        with single_thread(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compare_cuts()
        return
    setting = json.loads(argv[0])
    result = {}
    start = time.perf_counter()
    with single_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name, (X, y) in load_odds_sets().items():
            aucs = []
            for seed in SEEDS:
                X_train, X_test, _, y_test = split_standardized(X, y, seed)
                aucs.append(roc_auc_score(y_test, anomaly_scores(setting, X_train, X_test, seed)))
            result[name] = round(float(np.mean(aucs)), 4)
    result["mean"] = round(float(np.mean(list(result.values()))), 4)
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps({"setting": setting, "auc": result}))


if __name__ == "__main__":
    main()
