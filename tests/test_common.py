"""scikit-learn's own estimator checks on every public estimator."""

import warnings

import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from skae import AutoEncoderTransformer

# Small and fast: the checks fit dozens of times on tiny data.
FAST = dict(max_epochs=5, hidden_layer_sizes=(8,), device="cpu")

ESTIMATORS = [AutoEncoderTransformer(**FAST)]

# No check is expected to fail.
EXPECTED_FAILED_CHECKS = {}


@parametrize_with_checks(
    ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS.get(type(est).__name__, {})
)
def test_sklearn_compatible(estimator, check):
    with warnings.catch_warnings():
        # max_epochs=5 is deliberately short; the warning is tested elsewhere.
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)
