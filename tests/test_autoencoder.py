"""Behaviour of AutoEncoderTransformer and the training engine under it."""

import pickle
import re
import warnings

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from skorch.callbacks import Callback, LRScheduler

from skae import AutoEncoderTransformer, TrainingDivergedError

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(16,), max_epochs=5, device="cpu", random_state=0)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X.astype(np.float32), y


@pytest.fixture
def X_small():
    return np.random.RandomState(0).normal(size=(60, 5)).astype(np.float32)


def pca_mse(X_train, X_test, n_components):
    pca = PCA(n_components).fit(X_train)
    return np.mean((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2)


# -- shapes, dtypes, names ----------------------------------------------------
def test_fit_transform_shapes_and_dtype(X_small):
    ae = AutoEncoderTransformer(n_components=3, **FAST)
    Z = ae.fit_transform(X_small.astype(np.float64))
    assert Z.shape == (60, 3) and Z.dtype == np.float32
    X_rec = ae.inverse_transform(Z)
    assert X_rec.shape == X_small.shape and X_rec.dtype == np.float32
    assert ae.n_features_in_ == 5
    assert ae.n_iter_ == 5
    assert isinstance(ae.module_, torch.nn.Module)
    assert len(ae.history_[:, "train_loss"]) == 5


def test_feature_names_and_pandas_output(X_small):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X_small, columns=[f"f{i}" for i in range(5)])
    ae = AutoEncoderTransformer(n_components=3, **FAST).set_output(transform="pandas")
    out = ae.fit_transform(df)
    assert list(out.columns) == [f"autoencodertransformer{i}" for i in range(3)]
    assert list(ae.feature_names_in_) == list(df.columns)
    with pytest.warns(UserWarning, match="feature names"):
        ae.transform(X_small)


# -- learning -----------------------------------------------------------------
def test_training_reduces_loss(digits):
    X = digits[0][:400] / 16
    ae = AutoEncoderTransformer(n_components=8, max_epochs=20, device="cpu", random_state=0)
    ae.fit(X)
    losses = ae.history_[:, "train_loss"]
    assert losses[-1] < 0.5 * losses[0]


def test_linear_autoencoder_reaches_pca_error(digits):
    # No hidden layer and no activation: the optimum is PCA's subspace.
    X = StandardScaler().fit_transform(digits[0][:600])
    ae = AutoEncoderTransformer(
        n_components=5,
        hidden_layer_sizes=(),
        lr=1e-2,
        batch_size=64,
        max_epochs=100,
        n_iter_no_change=100,
        device="cpu",
        random_state=0,
    ).fit(X)
    assert -ae.score(X) <= 1.05 * pca_mse(X, X, 5)


def test_lbfgs_linear_autoencoder_matches_pca(digits):
    # Optimizers that need a closure (LBFGS) run through skorch's train_step.
    X = digits[0][:600] / 16
    ae = AutoEncoderTransformer(
        n_components=5,
        hidden_layer_sizes=(),
        optimizer=torch.optim.LBFGS,
        lr=1,
        batch_size=600,
        max_epochs=50,
        n_iter_no_change=50,
        device="cpu",
        random_state=0,
    ).fit(X)
    assert -ae.score(X) <= 1.01 * pca_mse(X, X, 5)


def test_default_autoencoder_beats_pca_on_held_out_digits(digits):
    X = digits[0] / 16
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
    ae = AutoEncoderTransformer(n_components=8, device="cpu", random_state=0).fit(X_train)
    ae_mse = np.mean((ae.inverse_transform(ae.transform(X_test)) - X_test) ** 2)
    assert ae_mse < 0.9 * pca_mse(X_train, X_test, 8)


@pytest.mark.parametrize("loss", ["mse", "mae", "huber", "bce"])
def test_losses_train(digits, loss):
    X = digits[0][:300] / 16
    ae = AutoEncoderTransformer(
        n_components=4, loss=loss, max_epochs=8, device="cpu", random_state=0
    ).fit(X)
    losses = ae.history_[:, "train_loss"]
    assert losses[-1] < losses[0]
    if loss == "bce":
        X_rec = ae.inverse_transform(ae.transform(X))
        assert X_rec.min() >= 0 and X_rec.max() <= 1


@pytest.mark.parametrize(
    "params",
    [
        dict(batch_norm=True, dropout=0.2, activation="gelu"),
        dict(optimizer="sgd", lr=0.05, weight_decay=1e-4),
        dict(optimizer="adamw", weight_decay=1e-2, activation="tanh"),
    ],
)
def test_architecture_and_optimizer_options_train(X_small, params):
    ae = AutoEncoderTransformer(n_components=2, **{**FAST, "max_epochs": 10, **params})
    losses = ae.fit(X_small).history_[:, "train_loss"]
    assert np.all(np.isfinite(losses)) and losses[-1] < losses[0]


def test_batch_norm_with_one_row_tail(X_small):
    # 61 rows, batch 10: the one-row tail joins the previous batch.
    X = np.vstack([X_small, X_small[:1]])
    AutoEncoderTransformer(batch_norm=True, batch_size=10, **FAST).fit(X)


# -- stopping, warm start, partial_fit, callbacks ------------------------------
def test_early_stopping_uses_validation_and_stops(digits):
    X = digits[0][:500] / 16
    ae = AutoEncoderTransformer(
        n_components=4,
        early_stopping=True,
        n_iter_no_change=2,
        tol=1.0,
        max_epochs=50,
        device="cpu",
        random_state=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ae.fit(X)
    valid = ae.history_[:, "valid_loss"]
    assert ae.n_iter_ == 3 and len(valid) == 3
    # Training rows exclude the validation fraction.
    assert ae.history_[-1, "batches", 0, "train_batch_size"] <= 450


def test_convergence_warning_when_max_epochs_reached(X_small):
    with pytest.warns(ConvergenceWarning, match="max_epochs=2"):
        AutoEncoderTransformer(**{**FAST, "max_epochs": 2}).fit(X_small)


def test_warnings_point_at_the_users_call(X_small):
    """A warning names the caller's line, not skae/_base.py, however deep it
    was raised: the estimator, a Pipeline, a detector's inner fits, and
    unpickling a model saved on a device this machine lacks."""
    from skae import AEOutlierDetector

    short = dict(**{**FAST, "max_epochs": 2})
    fits = [
        lambda: AutoEncoderTransformer(**short).fit(X_small),
        lambda: make_pipeline(StandardScaler(), AutoEncoderTransformer(**short)).fit(X_small),
        lambda: AEOutlierDetector(AutoEncoderTransformer(**short), density_weight=0).fit(X_small),
    ]
    for fit in fits:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit()
        found = [w for w in caught if issubclass(w.category, ConvergenceWarning)]
        assert found and {w.filename for w in found} == {__file__}, [
            (w.filename, w.lineno) for w in found
        ]
    ae = AutoEncoderTransformer(**short)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ae.fit(X_small)
    ae.net_.device = "cuda:7"  # as if saved on a GPU
    data = pickle.dumps(ae)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pickle.loads(data)
    moved = [w for w in caught if "not available on this machine" in str(w.message)]
    assert moved and {w.filename for w in moved} == {__file__}


def test_partial_fit_continues_training(digits):
    X = digits[0][:300] / 16
    ae = AutoEncoderTransformer(n_components=4, device="cpu", random_state=0)
    before = None
    for _ in range(5):
        ae.partial_fit(X)
        if before is None:
            before = -ae.score(X)
    assert ae.n_iter_ == 5
    assert -ae.score(X) < before


def test_warm_start_keeps_weights(X_small):
    ae = AutoEncoderTransformer(warm_start=True, **FAST).fit(X_small)
    weight = ae.module_.encoder[0].weight.detach().clone()
    module = ae.module_
    ae.fit(X_small)
    assert ae.module_ is module and ae.n_iter_ == 10
    assert not torch.equal(weight, ae.module_.encoder[0].weight)
    cold = AutoEncoderTransformer(**FAST).fit(X_small)
    first = cold.module_
    assert cold.fit(X_small).module_ is not first


def test_user_callbacks_run(X_small):
    class CountEpochs(Callback):
        def initialize(self):
            self.count = 0
            return self

        def on_epoch_end(self, net, **kwargs):
            self.count += 1

    counter = CountEpochs()
    scheduler = LRScheduler(policy="StepLR", step_size=1, gamma=0.5)
    ae = AutoEncoderTransformer(callbacks=[counter, scheduler], **FAST).fit(X_small)
    assert counter.count == 5
    assert ae.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(1e-3 * 0.5**5)


# -- reproducibility, persistence -----------------------------------------------
def test_same_random_state_same_result(X_small):
    params = dict(FAST, dropout=0.1)
    Z1 = AutoEncoderTransformer(**params).fit_transform(X_small)
    Z2 = AutoEncoderTransformer(**params).fit_transform(X_small)
    np.testing.assert_array_equal(Z1, Z2)
    Z3 = AutoEncoderTransformer(**{**params, "random_state": 1}).fit_transform(X_small)
    assert not np.allclose(Z1, Z3)


def test_fit_does_not_touch_global_torch_rng(X_small):
    state = torch.random.get_rng_state()
    AutoEncoderTransformer(**FAST).fit(X_small)
    assert torch.equal(state, torch.random.get_rng_state())


def test_clone_and_joblib_roundtrip(tmp_path, X_small):
    ae = AutoEncoderTransformer(n_components=3, **FAST).fit(X_small)
    unfitted = clone(ae)
    assert unfitted.get_params() == ae.get_params() and not hasattr(unfitted, "net_")
    path = tmp_path / "ae.joblib"
    joblib.dump(ae, path)
    loaded = joblib.load(path)
    np.testing.assert_array_equal(loaded.transform(X_small), ae.transform(X_small))
    # A loaded model keeps training.
    loaded.partial_fit(X_small)
    assert loaded.n_iter_ == ae.n_iter_ + 1


def test_model_saved_on_unavailable_device_loads_on_cpu(X_small):
    # Pretend the model was trained on a GPU: skorch maps its tensors to the
    # CPU on a machine without CUDA and says so.
    ae = AutoEncoderTransformer(**FAST).fit(X_small)
    expected = ae.transform(X_small)
    ae.net_.device = "cuda"
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    with pytest.warns(Warning, match="not available"):
        loaded = pickle.loads(pickle.dumps(ae))
    assert loaded.device_ == torch.device("cpu")
    np.testing.assert_array_equal(loaded.transform(X_small), expected)


def test_device_auto_picks_available_device(X_small):
    ae = AutoEncoderTransformer(**{**FAST, "device": "auto"}).fit(X_small)
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert ae.device_.type == expected
    assert next(ae.module_.parameters()).device.type == expected


# -- in scikit-learn workflows --------------------------------------------------
def test_pipeline_grid_search_parallel(digits):
    X, y = digits[0][:300], digits[1][:300]
    pipe = make_pipeline(
        StandardScaler(),
        AutoEncoderTransformer(max_epochs=10, device="cpu", random_state=0),
        LogisticRegression(max_iter=300),
    )
    search = GridSearchCV(
        pipe, {"autoencodertransformer__n_components": [2, 8]}, cv=2, n_jobs=2, error_score="raise"
    )
    search.fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert scores[1] > scores[0] > 0.3


def test_grid_search_on_reconstruction_score(digits):
    X = digits[0][:300] / 16
    search = GridSearchCV(
        AutoEncoderTransformer(max_epochs=30, batch_size=32, device="cpu", random_state=0),
        {"n_components": [1, 8]},
        cv=2,
    )
    search.fit(X)
    assert search.best_params_ == {"n_components": 8}


def test_sample_resembles_training_data(digits):
    X = digits[0] / 16
    ae = AutoEncoderTransformer(n_components=8, device="cpu", random_state=0).fit(X)
    samples = ae.sample(500, random_state=0)
    assert samples.shape == (500, 64) and samples.dtype == np.float32
    np.testing.assert_array_equal(samples, ae.sample(500, random_state=0))
    rng = np.random.RandomState(0)
    real = X[rng.choice(len(X), 500, replace=False)]
    noise = rng.normal(X.mean(0), X.std(0), size=real.shape)

    def separability(fake):
        # A nearest-neighbour two-sample test: accuracy 0.5 = indistinguishable.
        data = np.vstack([real, fake])
        labels = np.r_[np.zeros(len(real)), np.ones(len(fake))]
        return cross_val_score(KNeighborsClassifier(5), data, labels, cv=5).mean()

    # Noise with each feature's mean and spread, but none of the digits' shape.
    acc_samples, acc_noise = separability(samples), separability(noise)
    assert acc_noise > 0.75
    assert acc_samples < 0.7 and acc_samples < acc_noise - 0.1


# -- errors -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "X, match",
    [
        ([[1.0, np.nan], [2.0, 3.0]], "NaN"),
        ([[1.0, np.inf], [2.0, 3.0]], "infinity"),
        (np.empty((0, 3)), "0 sample"),
        ([1.0, 2.0, 3.0], "2D array"),
        ([["a", "b"], ["c", "d"]], "could not convert|dtype"),
        ([[1e300, 0.0], [0.0, 1.0]], "infinity|too large"),
    ],
)
def test_bad_fit_input(X, match):
    with pytest.raises(ValueError, match=match):
        AutoEncoderTransformer(**FAST).fit(X)


def test_bad_input_after_fit(X_small):
    ae = AutoEncoderTransformer(n_components=3, **FAST).fit(X_small)
    with pytest.raises(
        ValueError, match="X has 4 features, but AutoEncoderTransformer is expecting 5"
    ):
        ae.transform(X_small[:, :4])
    with pytest.raises(ValueError, match=re.escape("expecting 3 latent features")):
        ae.inverse_transform(X_small)
    with pytest.raises(ValueError, match="NaN"):
        ae.transform(np.full((2, 5), np.nan))
    with pytest.raises(ValueError, match="n_samples"):
        ae.sample(0)


def test_unfitted_use():
    ae = AutoEncoderTransformer()
    for method, arg in [
        ("transform", [[0.0]]),
        ("inverse_transform", [[0.0, 0.0]]),
        ("score", [[0.0]]),
        ("sample", 1),
    ]:
        with pytest.raises(NotFittedError):
            getattr(ae, method)(arg)
    with pytest.raises(NotFittedError):
        ae.module_  # noqa: B018 (reading the property is the test)


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(n_components=0), ValueError, "n_components"),
        (dict(loss="cosine"), ValueError, "loss"),
        (dict(lr=-1.0), ValueError, "lr"),
        (dict(dropout=1.0), ValueError, "dropout"),
        (dict(hidden_layer_sizes=(16, 0)), ValueError, "hidden_layer_sizes"),
        (dict(hidden_layer_sizes="wide"), ValueError, "hidden_layer_sizes"),
        (dict(device="tpu9"), ValueError, "device"),
        (dict(optimizer="adagrad2"), ValueError, "optimizer"),
    ],
)
def test_invalid_parameters(X_small, params, error, match):
    with pytest.raises(error, match=match):
        AutoEncoderTransformer(**{**FAST, **params}).fit(X_small)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_without_cuda(X_small):
    with pytest.raises(ValueError, match="CUDA is not available"):
        AutoEncoderTransformer(**{**FAST, "device": "cuda"}).fit(X_small)


def test_bce_needs_unit_interval(X_small):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        AutoEncoderTransformer(loss="bce", **FAST).fit(X_small)


def test_divergence_is_reported_not_returned(X_small):
    ae = AutoEncoderTransformer(optimizer="sgd", lr=1e6, **{**FAST, "max_epochs": 20})
    with pytest.raises(TrainingDivergedError, match="diverged"):
        ae.fit(X_small * 1e3)


def test_feature_names_out_follow_the_fitted_model(X_small):
    ae = AutoEncoderTransformer(n_components=3, **FAST)
    with pytest.raises(NotFittedError):
        ae.get_feature_names_out()
    ae.fit(X_small).set_params(n_components=5)
    names = ["autoencodertransformer0", "autoencodertransformer1", "autoencodertransformer2"]
    assert ae.get_feature_names_out().tolist() == names
