"""Property tests: every estimator, on inputs of every awkward kind.

For any input (0/1 rows or columns, every dtype, NaN, inf, huge and tiny
values, constant and duplicate columns, pandas, sparse), a public method
either returns finite output of the documented shape or raises a
ValueError/TypeError (or TrainingDivergedError) with a message, and a failed
call leaves a fitted estimator exactly as it was. Bounded so the suite stays
fast: few examples, tiny networks, two epochs.
"""

import copy
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.exceptions import ConvergenceWarning

from skae import DenoisingAutoEncoder, TrainingDivergedError, VQTransformer

from _registry import ESTIMATOR_CLASSES, call, make, output_methods

TINY = dict(
    n_components=2,
    hidden_layer_sizes=(4,),
    max_epochs=2,
    batch_size=8,
    device="cpu",
    random_state=0,
)
OWN = {DenoisingAutoEncoder: dict(noise="masking"), VQTransformer: dict(n_codes=4)}
#: Every public estimator (tests/_registry.py), tiny.
ESTIMATORS = {
    cls.__name__: (lambda cls=cls: make(cls, **TINY, **OWN.get(cls, {})))
    for cls in ESTIMATOR_CLASSES
}
CLEAN_ERRORS = (ValueError, TypeError, TrainingDivergedError)
SETTINGS = settings(
    max_examples=int(__import__("os").environ.get("SKAE_FUZZ_EXAMPLES", 12)),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@st.composite
def awkward_inputs(draw, n_features=None):
    """An input table and a description of how it was made."""
    n_rows = draw(st.sampled_from([0, 1, 2, 3, 9, 24]))
    n_cols = n_features if n_features is not None else draw(st.sampled_from([0, 1, 3]))
    scale = draw(st.sampled_from([1.0, 1e-30, 1e30, 3e38]))
    values = np.random.RandomState(draw(st.integers(0, 3))).normal(size=(n_rows, n_cols)) * scale
    if n_rows and n_cols:
        special = draw(st.sampled_from([None, np.nan, np.inf, -np.inf]))
        if special is not None:
            values[0, 0] = special
        if draw(st.booleans()):
            values[:, 0] = values[0, 0]  # a constant column
        if n_cols > 1 and draw(st.booleans()):
            values[:, 1] = values[:, 0]  # a duplicate column
    dtype = draw(st.sampled_from(["float32", "float64", "int64", "bool", "object"]))
    with np.errstate(all="ignore"):
        table = values.astype(dtype) if dtype != "object" else values.astype(str).astype(object)
    container = draw(st.sampled_from(["array", "list", "pandas", "sparse"]))
    if container == "list":
        table = table.tolist()
    elif container == "pandas":
        pd = pytest.importorskip("pandas")
        table = pd.DataFrame(table, columns=[f"c{i}" for i in range(n_cols)])
    elif container == "sparse" and dtype in ("float32", "float64") and n_rows and n_cols:
        table = sp.csr_matrix(table)
    return table


#: Outputs that must be finite; errors and scores may be inf (a row that
#: cannot be rebuilt), never NaN.
FINITE = {"transform", "predict"}


def check_output(method, out):
    out = np.asarray(out, dtype=float)
    assert not np.isnan(out).any(), f"{method} returned NaN"
    if method in FINITE:
        assert np.isfinite(out).all(), f"{method} returned inf"
    return out


def outputs(estimator):
    """The per-row outputs a caller reads: the detector's verdicts, or codes and errors."""
    return output_methods(estimator)


def snapshot(estimator, X_ref):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [np.asarray(call(estimator, m, X_ref)) for m in outputs(estimator)]


def assert_finite_or_clean_error(fn):
    """Run ``fn``: a finite (inf allowed for errors/scores) result, or a clean error."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            return fn(), None
    except CLEAN_ERRORS as exc:
        assert str(exc), f"{type(exc).__name__} without a message"
        return None, exc


@pytest.fixture(scope="module")
def fitted():
    X = np.random.RandomState(0).normal(size=(40, 3)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return {name: call(make(), "fit", X) for name, make in ESTIMATORS.items()}, X


@pytest.mark.parametrize("name", ESTIMATORS)
@SETTINGS
@given(X=awkward_inputs())
def test_fit_on_awkward_input_works_or_says_why(name, X):
    estimator = ESTIMATORS[name]()
    result, error = assert_finite_or_clean_error(lambda: call(estimator, "fit", X))
    if error is not None:
        assert not hasattr(estimator, "n_features_in_"), "a failed fit left fitted state"
        return
    for method in outputs(estimator):
        out, _ = assert_finite_or_clean_error(lambda: call(estimator, method, X))
        if out is not None:
            check_output(method, out)


@pytest.mark.parametrize("name", ESTIMATORS)
@SETTINGS
@given(X=awkward_inputs(n_features=3))
def test_inference_on_awkward_input_never_gives_nan(name, X, fitted):
    estimator = fitted[0][name]
    before = snapshot(estimator, fitted[1])
    for method in outputs(estimator):
        out, _ = assert_finite_or_clean_error(lambda: call(estimator, method, X))
        if out is not None:
            out = check_output(method, out)
            assert len(out) == (X.shape[0] if hasattr(X, "shape") else len(X))
    for a, b in zip(before, snapshot(estimator, fitted[1])):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    "name", [cls.__name__ for cls in ESTIMATOR_CLASSES if hasattr(cls, "partial_fit")]
)
@SETTINGS
@given(X=awkward_inputs())
def test_failed_partial_fit_leaves_the_model_as_it_was(name, X, fitted):
    estimator = copy.deepcopy(fitted[0][name])
    before = snapshot(estimator, fitted[1])
    _, error = assert_finite_or_clean_error(lambda: call(estimator, "partial_fit", X))
    if error is not None:
        for a, b in zip(before, snapshot(estimator, fitted[1])):
            np.testing.assert_array_equal(a, b)
