"""The models :class:`skae.AEOutlierDetector` fits by default, and its density term.

The default autoencoder is sized to the data width. After the trimmed
autoencoder fits, a variational autoencoder is fitted to the rows it rebuilds
best (a third of the autoencoder's trim), and its minus log-likelihood is
added to the reconstruction score. Reconstruction error alone misses anomalies that lie in the span the
autoencoder rebuilds but where the normal rows are sparse; trimming protects the
density from the outliers in the training rows, as it protects the
autoencoder. Both terms are put on one scale by the median and interquartile
range of their training scores. How the rule was chosen:
``benchmarks/results/detect_choices.md``.
"""

import warnings
from contextlib import contextmanager

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from .._autoencoder import AutoEncoderTransformer
from .._vae import VariationalAutoEncoder
from ..exceptions import TrainingInterruptedWarning


def validated_twin(estimator, public, private):
    """``estimator``'s method ``private`` when it is the validated-input twin of
    ``public`` (skae's own estimators), else ``estimator.public``.

    The detector validates ``X`` once and hands the rows to its autoencoders
    and density through these twins, as scikit-learn's meta-estimators call
    ``_score_samples`` "to avoid performing input validation a second time".
    A subclass that overrides ``public`` gets its own method called.
    """
    owner = next((c for c in type(estimator).__mro__ if private in vars(c)), None)
    if owner is None or getattr(type(estimator), public) is not vars(owner).get(public):
        return getattr(estimator, public)
    return getattr(estimator, private)


#: Widest hidden layer of the default autoencoder (twice the features up to
#: there). Reached only above 128 features, wider than any set the default was
#: chosen on; on InternetAds (1,555 features) it cut fit+score from 49 s to 2.4 s.
MAX_HIDDEN = 256


def default_estimator(n_features):
    """The autoencoder used when ``estimator=None``, sized to the data width.

    Wide and briefly trained with dropout: it learns a smooth map onto the
    dense part of the data instead of a tight bottleneck, which ranked
    anomalies best on the ODDS benchmark (``benchmarks/bench_detect.py``,
    ``benchmarks/results/detect.md``; the alternatives tried are in
    ``benchmarks/results/detect_choices.md``). The widths stop growing at
    :data:`MAX_HIDDEN` (code: half of it), so that a step costs time linear in
    the number of features, not quadratic.
    """
    return AutoEncoderTransformer(
        n_components=min(max(32, n_features), MAX_HIDDEN // 2),
        hidden_layer_sizes=(min(max(64, 2 * n_features), MAX_HIDDEN),),
        dropout=0.3,
        max_epochs=10,
        batch_size=128,
        lr=3e-3,
    )


def default_density(random_state=None, device="auto"):
    """The density model fitted when ``density_weight > 0``.

    A :class:`VariationalAutoEncoder` at its defaults but for the budget:
    60 epochs in batches of 128 at a learning rate of 3e-3 (its 300 epochs
    cost 2.3 times as long for the same ranking on the ODDS sets).
    """
    return VariationalAutoEncoder(
        max_epochs=60, batch_size=128, lr=3e-3, device=device, random_state=random_state
    )


def fit_density(density, X, sample_weight=None):
    """Fit ``density`` on ``X`` (weighted); a fixed budget, so no convergence warning."""
    fit_params = {} if sample_weight is None else {"sample_weight": sample_weight}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        validated_twin(density, "fit", "_fit_validated")(X, **fit_params)
    return density


def density_score(density, X):
    """Minus the log-likelihood of each row, as float64 (``inf`` for a row that
    overflows the network: ``score_samples`` gives it ``-inf``)."""
    score_samples = validated_twin(density, "score_samples", "_score_samples")
    return -np.asarray(score_samples(X), dtype=np.float64)


def robust_location_scale(scores):
    """Median and interquartile range of the finite ``scores`` (range floored above 0)."""
    finite = scores[np.isfinite(scores)]
    if finite.size == 0:
        return 0.0, 1.0
    q1, median, q3 = np.percentile(finite, [25, 50, 75])
    spread = q3 - q1
    if not spread > 0:
        spread = max(float(np.std(finite)), abs(float(median)) * 1e-6, 1e-12)
    return float(median), float(spread)


@contextmanager
def interrupt_raises():
    """Ctrl-C in a training phase stops the detector, not just that model.

    The models warn (``TrainingInterruptedWarning``) and keep a half-trained
    network; a detector would set its threshold on it. The warning becomes a
    ``KeyboardInterrupt``, and ``fit`` leaves the detector as it was.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("error", TrainingInterruptedWarning)
        try:
            yield
        except TrainingInterruptedWarning:
            raise KeyboardInterrupt from None
