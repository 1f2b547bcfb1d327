"""Helpers of the estimators: argument checks and row subsampling.

The checks cover what scikit-learn's parameter constraints cannot express;
each raises a ValueError or TypeError that names the problem, before any
training or inference starts. :func:`subsample` is the one fixed-seed row
subsampler.
"""

from numbers import Integral

import numpy as np
from sklearn.utils.validation import validate_data
from skorch.callbacks import Callback


def check_no_datetimes(X, name="X"):
    """Raise a TypeError if ``X`` holds dates or durations.

    numpy converts ``datetime64`` and ``timedelta64`` values to floats
    without a word (seconds or nanoseconds since 1970, by the unit), so a
    table with a time column would train on numbers in the 1e9-1e18 range.
    Arrays, pandas DataFrames (by column) and lists of arrays are checked.
    """
    if hasattr(X, "dtypes") and not isinstance(X.dtypes, np.dtype):  # a DataFrame
        items = list(zip(X.columns, X.dtypes))
    elif hasattr(X, "dtype"):
        items = [(None, X.dtype)]
    elif isinstance(X, (list, tuple)) and X and hasattr(X[0], "dtype"):
        items = [(None, x.dtype) for x in X]
    else:
        items = []
    for column, dtype in items:
        if getattr(dtype, "kind", None) in ("M", "m"):
            where = name if column is None else f"column {column!r} of {name}"
            raise TypeError(
                f"{where} holds {dtype} values (dates or durations), which would silently "
                "become huge numbers; convert them to numeric features first (e.g. seconds "
                "since a reference time, scaled) or drop them."
            )


def validate_rows(estimator, X, *args, **kwargs):
    """scikit-learn's ``validate_data``, refusing dates first (:func:`check_no_datetimes`)."""
    check_no_datetimes(X)
    return validate_data(estimator, X, *args, **kwargs)


def reset_n_features(estimator, n_features):
    """Record the width of a new training input as ``validate_data(reset=True)``
    does, for input validated by other means (sequences, a meta-estimator's
    rows): ``n_features_in_`` set, no ``feature_names_in_``."""
    estimator.n_features_in_ = n_features
    if hasattr(estimator, "feature_names_in_"):
        del estimator.feature_names_in_


def check_positive_int(value, name):
    """Raise a ValueError unless ``value`` is a positive int (not a bool)."""
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")


def check_n_samples(n_samples):
    """Raise a ValueError unless ``n_samples`` (of ``sample``) is a positive int."""
    check_positive_int(n_samples, "n_samples")


def check_flag(value, name):
    """Raise a TypeError unless ``value`` is a bool (``per_feature``, ...)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}.")


def check_training_setup(estimator, X, partial):
    """Raise a clear error for parameters of ``estimator`` that cannot train on ``X``.

    ``partial`` is a ``partial_fit`` call (one epoch, no validation split).
    """
    sizes = estimator._resolved("hidden_layer_sizes")
    try:
        ok = all(isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes)
    except TypeError:
        ok = False
    if not ok or isinstance(sizes, str):
        raise ValueError(
            f"hidden_layer_sizes must be a sequence of positive integers, got {sizes!r}."
        )
    if estimator.loss == "bce" and (X.min() < 0 or X.max() > 1):
        raise ValueError(
            "loss='bce' needs data in [0, 1]; scale it first, e.g. with "
            "MinMaxScaler, or use loss='mse'."
        )
    holds_out = estimator.early_stopping and not partial
    if holds_out and len(X) < 2:
        raise ValueError(
            f"early_stopping=True holds out validation rows and needs at least 2 "
            f"training rows, got {len(X)}."
        )
    n_valid = min(max(1, int(round(estimator.validation_fraction * len(X)))), len(X) - 1)
    n_train = len(X) - n_valid if holds_out else len(X)
    batch_size = estimator._resolved("batch_size")
    if estimator.batch_norm and (batch_size < 2 or n_train < 2):
        raise ValueError(
            "batch_norm=True needs at least 2 rows per training batch; got "
            f"batch_size={batch_size} and {n_train} training rows."
        )
    for item in estimator.callbacks or []:
        named = isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
        callback = item[1] if named else item
        if not isinstance(callback, Callback) and not (
            isinstance(callback, type) and issubclass(callback, Callback)
        ):
            raise TypeError(
                f"callbacks must be skorch callbacks or (name, callback) tuples, got {item!r}."
            )


def subsample(X, max_rows, seed=0):
    """At most ``max_rows`` rows of ``X``, drawn without replacement, in order.

    The draw uses its own generator seeded by ``seed``, so it neither reads
    nor moves any global random state; ``X`` is returned as it is when it has
    ``max_rows`` rows or fewer.
    """
    if len(X) <= max_rows:
        return X
    rng = np.random.default_rng(seed)
    return X[np.sort(rng.choice(len(X), max_rows, replace=False))]
