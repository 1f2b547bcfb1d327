"""AEOutlierDetector's PyOD-style surface: decision_scores_, labels_, predict_proba,
predict_confidence, checked against PyOD's own formulas written out here."""

import numpy as np
import pytest
from scipy.special import erf
from scipy.stats import binom

from skae import AEOutlierDetector, AutoEncoderTransformer

FAST = dict(hidden_layer_sizes=(16,), max_epochs=10, device="cpu", random_state=0)
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module", params=["auto", 0.1])
def fitted(request):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 5)).astype(np.float32)
    X[:, 4] = X[:, 0] - X[:, 1]
    X_test = np.vstack([X[:20], rng.normal(size=(5, 5)) * 4]).astype(np.float32)
    detector = AEOutlierDetector(
        AutoEncoderTransformer(n_components=3, **FAST), contamination=request.param
    ).fit(X)
    return detector, X, X_test


def test_training_scores_and_labels(fitted):
    detector, X, _ = fitted
    np.testing.assert_allclose(
        detector.decision_scores_, -detector.score_samples(X), rtol=1e-6, atol=1e-6
    )
    np.testing.assert_array_equal(detector.labels_, (detector.predict(X) == -1).astype(int))


def pyod_proba(train, test, method):
    """PyOD 2.x BaseDetector.predict_proba, written out."""
    if method == "linear":
        outlier = ((test - train.min()) / (train.max() - train.min())).clip(0, 1)
    else:
        outlier = erf((test - train.mean()) / (train.std() * np.sqrt(2))).clip(0, 1)
    return np.column_stack([1 - outlier, outlier])


def pyod_confidence(train, test, threshold, contamination, labels):
    """PyOD 2.x BaseDetector.predict_confidence, written out (its loops kept)."""
    n = len(train)
    n_instances = np.vectorize(lambda x: np.count_nonzero(train <= x))(test)
    posterior = np.vectorize(lambda x: (1 + x) / (2 + n))(n_instances)
    contam = labels.sum() / n if contamination == "auto" else contamination
    confidence = np.vectorize(lambda p: 1 - binom.cdf(n - int(n * contam), n, p))(posterior)
    prediction = (test > threshold).astype(int)
    np.place(confidence, prediction == 0, 1 - confidence[prediction == 0])
    return confidence


@pytest.mark.parametrize("method", ["linear", "unify"])
def test_predict_proba_is_pyods(fitted, method):
    detector, _, X_test = fitted
    test = -detector.score_samples(X_test)
    proba = detector.predict_proba(X_test, method=method)
    np.testing.assert_allclose(
        proba, pyod_proba(detector.decision_scores_, test, method), atol=1e-12
    )
    assert proba.shape == (25, 2) and np.all((proba >= 0) & (proba <= 1))
    # The far rows are the likely outliers.
    assert proba[20:, 1].mean() > proba[:20, 1].mean()


def test_predict_confidence_is_pyods(fitted):
    detector, _, X_test = fitted
    test = -detector.score_samples(X_test)
    expected = pyod_confidence(
        detector.decision_scores_,
        test,
        detector.threshold_,
        detector.contamination,
        detector.labels_,
    )
    np.testing.assert_allclose(detector.predict_confidence(X_test), expected, atol=1e-12)
    proba, confidence = detector.predict_proba(X_test, return_confidence=True)
    np.testing.assert_allclose(confidence, expected, atol=1e-12)


def test_unknown_method_is_refused(fitted):
    with pytest.raises(ValueError, match="'linear' or 'unify'"):
        fitted[0].predict_proba(fitted[2], method="rank")
