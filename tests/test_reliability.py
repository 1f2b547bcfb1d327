"""What happens after something goes wrong: failed fits, interrupts, bad values.

One regression test per reproduction of the reliability issue, on
``X = RandomState(0).normal(size=(200, 6))``.
"""

import pickle
import re
import signal
import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from skorch.callbacks import Callback

from skae import (
    AEOutlierDetector,
    AutoEncoderTransformer,
    DisentangledAutoEncoder,
    TrainingDivergedError,
    TrainingInterruptedWarning,
    VQTransformer,
)

from _registry import ESTIMATOR_CLASSES, call, make, output_methods

# Short fits are deliberate here; the warning is tested in test_autoencoder.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
FAST = dict(hidden_layer_sizes=(16,), max_epochs=5, device="cpu", random_state=0)


@pytest.fixture
def X():
    return np.random.RandomState(0).normal(size=(200, 6)).astype(np.float32)


def fitted_state(estimator, X):
    """What a caller sees of a fitted autoencoder: outputs and fitted numbers."""
    return {
        "transform": estimator.transform(X),
        "score": estimator.score(X),
        "n_iter_": estimator.n_iter_,
        "n_features_in_": estimator.n_features_in_,
        "weights": [p.detach().clone() for p in estimator.module_.parameters()],
        "optimizer": len(estimator.net_.optimizer_.state),
    }


def assert_same_state(before, after):
    np.testing.assert_array_equal(before["transform"], after["transform"])
    assert before["score"] == after["score"]
    assert before["n_iter_"] == after["n_iter_"]
    assert before["n_features_in_"] == after["n_features_in_"]
    for a, b in zip(before["weights"], after["weights"]):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


# -- (2) a failed training call leaves the estimator as it was ---------------
def test_diverged_partial_fit_keeps_the_model(X):
    ae = AutoEncoderTransformer(**FAST).fit(X)
    before = fitted_state(ae, X)
    with pytest.raises(TrainingDivergedError):
        ae.partial_fit(X * 1e30)
    assert_same_state(before, fitted_state(ae, X))
    assert np.isfinite(ae.transform(X)).all()
    ae.partial_fit(X)  # and it trains on normally
    assert np.isfinite(ae.score(X))


def test_failed_first_fit_leaves_the_estimator_unfitted(X):
    ae = AutoEncoderTransformer(optimizer="sgd", lr=1e6, **FAST)
    with pytest.raises(TrainingDivergedError):
        ae.fit(X * 1e3)
    assert not hasattr(ae, "n_features_in_")
    with pytest.raises(NotFittedError):
        ae.transform(X)


def test_failed_refit_on_other_width_keeps_the_old_model(X):
    ae = AutoEncoderTransformer(**FAST).fit(X)
    before = fitted_state(ae, X)
    X8 = np.random.RandomState(1).normal(size=(200, 8)).astype(np.float32) * 1e30
    with pytest.raises(TrainingDivergedError):
        ae.fit(X8)
    assert ae.n_features_in_ == 6
    assert_same_state(before, fitted_state(ae, X))


def test_failed_warm_fit_restores_weights_optimizer_and_history(X):
    ae = AutoEncoderTransformer(warm_start=True, **FAST).fit(X)
    state = {k: v.clone() for k, v in ae.net_.optimizer_.state_dict()["state"][0].items()}
    n_epochs = len(ae.history_)
    with pytest.raises(TrainingDivergedError):
        ae.fit(X * 1e30)
    assert len(ae.history_) == n_epochs
    for key, value in ae.net_.optimizer_.state_dict()["state"][0].items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)


def outputs(estimator, X):
    return [np.asarray(call(estimator, method, X)) for method in output_methods(estimator)]


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=lambda cls: cls.__name__)
def test_every_estimator_left_unfitted_by_a_diverged_first_fit(cls, X):
    estimator = make(cls, optimizer="sgd", lr=1e6, **FAST)
    params = estimator.get_params()
    with pytest.raises(TrainingDivergedError):
        call(estimator, "fit", X * 1e3)
    assert not hasattr(estimator, "n_features_in_")
    assert not [name for name in vars(estimator) if name.endswith("_") and not name.startswith("_")]
    assert estimator.get_params().keys() == params.keys()


@pytest.mark.parametrize(
    "cls",
    [cls for cls in ESTIMATOR_CLASSES if hasattr(cls, "partial_fit")],
    ids=lambda c: c.__name__,
)
def test_every_model_kept_by_a_diverged_partial_fit(cls, X):
    estimator = call(make(cls, **FAST), "fit", X)
    before = outputs(estimator, X)
    weights = [p.detach().clone() for p in estimator.module_.parameters()]
    with pytest.raises(TrainingDivergedError):
        call(estimator, "partial_fit", X * 1e30)
    for a, b in zip(before, outputs(estimator, X)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(weights, estimator.module_.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_failed_disentangled_fit_keeps_groups(X):
    y = np.repeat([0, 1], 100)
    dae = DisentangledAutoEncoder(**FAST).fit(X, y)
    codes = dae.transform(X)
    with pytest.raises(ValueError, match="not seen in fit"):
        dae.partial_fit(X, np.full(200, 7))
    assert dae.classes_.tolist() == [0, 1]
    np.testing.assert_array_equal(dae.transform(X), codes)


# -- (3) a non-finite reconstruction error is an outlier ----------------------
@pytest.mark.parametrize("max_samples", ["auto", None])
def test_overflow_rows_are_outliers_with_the_extreme_score(X, max_samples):
    detector = AEOutlierDetector(max_samples=max_samples, random_state=0).fit(X)
    X_bad = np.vstack([np.full((1, 6), 3e38), X[:1]]).astype(np.float32)
    X_bad[1, 2] = 1e30
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow warning either
        scores = detector.score_samples(X_bad)
    assert not np.isnan(scores).any()
    assert np.all(scores == -np.inf)
    assert detector.predict(X_bad).tolist() == [-1, -1]
    errors = detector.estimator_.reconstruction_error(X_bad)
    assert np.all(errors == np.inf)


# -- (4) Ctrl-C stops training and says so -------------------------------------
class CtrlCAtEpoch(Callback):
    """Sends this process SIGINT at the end of epoch ``at`` (counted per call)."""

    def __init__(self, at):
        self.at = at

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == self.at:
            signal.raise_signal(signal.SIGINT)


@pytest.fixture
def default_sigint():
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_ctrl_c_keeps_weights_and_warns_interrupted(X, default_sigint):
    ae = AutoEncoderTransformer(callbacks=[CtrlCAtEpoch(2)], **{**FAST, "max_epochs": 20})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ae.fit(X)
    categories = [w.category for w in caught]
    assert TrainingInterruptedWarning in categories
    assert ConvergenceWarning not in categories
    assert ae.n_iter_ == 2
    assert np.isfinite(ae.transform(X)).all()


def test_ctrl_c_stops_the_detector(X, default_sigint):
    ae = AutoEncoderTransformer(callbacks=[CtrlCAtEpoch(1)], **FAST)
    detector = AEOutlierDetector(ae)
    with pytest.raises(KeyboardInterrupt):
        detector.fit(X)
    assert not hasattr(detector, "estimator_")
    assert not hasattr(detector, "offset_")


def test_early_stopping_is_not_an_interrupt(X):
    ae = AutoEncoderTransformer(n_iter_no_change=2, tol=10.0, **{**FAST, "max_epochs": 50})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ae.fit(X)
    assert ae.n_iter_ == 3


# -- (5) models tagged with a device this machine lacks load on the CPU -------
def test_cpu_index_device_pickles(X):
    ae = AutoEncoderTransformer(**{**FAST, "device": "cpu:0"}).fit(X)
    assert ae.device_ == torch.device("cpu")
    loaded = pickle.loads(pickle.dumps(ae))
    np.testing.assert_array_equal(loaded.transform(X), ae.transform(X))


@pytest.mark.parametrize("device", ["mps", "xpu", "cpu:0"])
def test_model_tagged_with_another_device_loads_on_cpu(X, device):
    ae = AutoEncoderTransformer(**FAST).fit(X)
    expected = ae.transform(X)
    ae.net_.device = device  # as if saved there
    loaded = pickle.loads(pickle.dumps(ae))
    assert loaded.device_ == torch.device("cpu")
    np.testing.assert_array_equal(loaded.transform(X), expected)


# -- (6) clear errors for parameters that cannot train -------------------------
@pytest.mark.parametrize(
    "params, n_rows, error, match",
    [
        (dict(batch_norm=True, batch_size=1), 200, ValueError, "batch_norm=True needs at least 2"),
        (dict(batch_norm=True), 1, ValueError, "batch_norm=True needs at least 2"),
        (dict(early_stopping=True), 1, ValueError, "early_stopping=True .* at least 2"),
        (dict(callbacks=["x"]), 200, TypeError, "callbacks must be skorch callbacks"),
        (dict(hidden_layer_sizes=(True,)), 200, ValueError, "hidden_layer_sizes"),
        (dict(device="meta"), 200, ValueError, "cannot hold a trained model"),
    ],
)
def test_untrainable_parameters_are_named(X, params, n_rows, error, match):
    ae = AutoEncoderTransformer(**{**FAST, **params})
    with pytest.raises(error, match=match):
        ae.fit(X[:n_rows])
    assert not hasattr(ae, "n_features_in_")


def test_batch_norm_with_early_stopping_on_two_rows_is_named(X):
    ae = AutoEncoderTransformer(batch_norm=True, early_stopping=True, **FAST)
    with pytest.raises(ValueError, match="1 training rows"):
        ae.fit(X[:2])


# -- (7) no silent inconsistencies --------------------------------------------
def test_warm_start_applies_a_new_optimizer_and_lr(X):
    ae = AutoEncoderTransformer(warm_start=True, **FAST).fit(X)
    ae.set_params(lr=0.05, optimizer="sgd").fit(X)
    optimizer = ae.net_.optimizer_
    assert isinstance(optimizer, torch.optim.SGD)
    assert optimizer.param_groups[0]["lr"] == 0.05


def test_warm_start_new_lr_keeps_the_adam_state(X):
    ae = AutoEncoderTransformer(warm_start=True, **FAST).fit(X)
    optimizer = ae.net_.optimizer_
    ae.set_params(lr=1e-4).partial_fit(X)
    assert ae.net_.optimizer_ is optimizer and len(optimizer.state) > 0
    assert optimizer.param_groups[0]["lr"] == 1e-4


def test_codes_are_checked_against_the_fitted_codebooks(X):
    vq = VQTransformer(n_codes=8, **FAST).fit(X)
    vq.set_params(n_codes=100, n_codebooks=3)
    with pytest.raises(ValueError, match=r"integers in \[0, 8\)"):
        vq.inverse_transform([[50]])
    assert vq.inverse_transform([[5]]).shape == (1, 6)


def test_latent_width_is_the_fitted_one(X):
    ae = AutoEncoderTransformer(n_components=2, **FAST).fit(X)
    ae.set_params(n_components=5)
    with pytest.raises(ValueError, match="expecting 2 latent"):
        ae.inverse_transform(np.zeros((1, 5)))


@pytest.mark.parametrize("n_samples", [True, 0, 2.0, "3"])
def test_sample_rejects_non_integers(X, n_samples):
    ae = AutoEncoderTransformer(**FAST).fit(X)
    with pytest.raises(ValueError, match="n_samples must be a positive integer"):
        ae.sample(n_samples)


def test_per_feature_must_be_a_bool(X):
    ae = AutoEncoderTransformer(**FAST).fit(X)
    with pytest.raises(TypeError, match="per_feature must be True or False"):
        ae.reconstruction_error(X, per_feature="yes")
    detector = AEOutlierDetector(ae).fit(X)
    with pytest.raises(TypeError, match="per_feature"):
        detector.reconstruction_error(X, per_feature="yes")


def test_failed_warm_fit_with_a_new_optimizer_keeps_the_old_one(X):
    ae = AutoEncoderTransformer(warm_start=True, **FAST).fit(X)
    adam = ae.net_.optimizer_
    with pytest.raises(TrainingDivergedError):
        ae.set_params(optimizer="sgd", lr=1e6).fit(X * 1e3)
    assert ae.net_.optimizer_ is adam and ae.net_.optimizer is torch.optim.Adam
    assert ae.net_.lr == 1e-3
    ae.set_params(optimizer="adam", lr=1e-3).fit(X)  # same settings: the Adam state goes on
    assert ae.net_.optimizer_ is adam


def test_vq_codes_of_overflowing_rows_are_an_error_not_code_0(X):
    vq = VQTransformer(n_codes=8, **FAST).fit(X)
    with pytest.raises(ValueError, match="not finite"):
        vq.transform(np.full((2, 6), 3e38, dtype=np.float32))
    np.testing.assert_array_equal(vq.transform(X), vq.predict(X)[:, None])


def test_optimizer_kwargs_reach_the_optimizer(X, tmp_path):
    import skae

    ae = AutoEncoderTransformer(optimizer="sgd", optimizer_kwargs={"momentum": 0.9}, **FAST).fit(X)
    group = ae.net_.optimizer_.param_groups[0]
    assert group["momentum"] == 0.9
    adam = AutoEncoderTransformer(optimizer_kwargs={"betas": (0.8, 0.9)}, **FAST).fit(X)
    assert tuple(adam.net_.optimizer_.param_groups[0]["betas"]) == (0.8, 0.9)
    loaded = skae.load(skae.save(adam, tmp_path / "m.skae") or tmp_path / "m.skae")
    assert loaded.get_params()["optimizer_kwargs"] == {"betas": (0.8, 0.9)}


@pytest.mark.parametrize(
    "kwargs, match",
    [({"lr": 0.1}, "may not set \\['lr'\\]"), ({"momentom": 0.9}, "not arguments of SGD")],
)
def test_bad_optimizer_kwargs_are_named(X, kwargs, match):
    ae = AutoEncoderTransformer(optimizer="sgd", optimizer_kwargs=kwargs, **FAST)
    with pytest.raises(ValueError, match=match):
        ae.fit(X)
    assert not hasattr(ae, "n_features_in_")


def test_warm_start_applies_new_optimizer_kwargs(X):
    ae = AutoEncoderTransformer(optimizer="sgd", warm_start=True, **FAST).fit(X)
    ae.set_params(optimizer_kwargs={"momentum": 0.5}).fit(X)
    assert ae.net_.optimizer_.param_groups[0]["momentum"] == 0.5


def test_no_convergence_warning_when_a_users_early_stopping_stops(X):
    from skorch.callbacks import EarlyStopping

    ae = AutoEncoderTransformer(
        callbacks=[EarlyStopping(monitor="train_loss", patience=2, threshold=10.0)],
        **{**FAST, "max_epochs": 50},
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ae.fit(X)
    assert ae.n_iter_ == 3


def test_failed_warm_fit_keeps_the_precision_of_inference(X):
    ae = AutoEncoderTransformer(warm_start=True, **FAST).fit(X)
    before = fitted_state(ae, X)
    with pytest.raises(TrainingDivergedError):
        ae.set_params(precision="bf16").fit(X * 1e30)
    assert ae.net_.precision == "fp32"
    assert_same_state(before, fitted_state(ae, X))


def test_ctrl_c_in_the_density_fit_stops_the_detector(X, default_sigint, monkeypatch):
    """The density model warned and the detector set a threshold on 3 of 60 epochs."""
    from skae import VariationalAutoEncoder
    from skae._outlier import every_row as detector_module

    def interrupted_density(random_state=None, device="auto"):
        return VariationalAutoEncoder(
            max_epochs=60, device="cpu", random_state=random_state, callbacks=[CtrlCAtEpoch(3)]
        )

    monkeypatch.setattr(detector_module, "default_density", interrupted_density)
    detector = AEOutlierDetector(AutoEncoderTransformer(**FAST), max_samples=None)
    with pytest.raises(KeyboardInterrupt):
        detector.fit(X)
    assert not hasattr(detector, "density_estimator_")
    assert not hasattr(detector, "offset_")


def test_ctrl_c_in_partial_fit_keeps_the_weights_and_stops_the_loop(X, default_sigint):
    ae = AutoEncoderTransformer(callbacks=[CtrlCAtEpoch(3)], **FAST)
    calls = 0
    with pytest.raises(KeyboardInterrupt, match="partial_fit was interrupted"):
        for _ in range(10):  # the checkpoint loop of docs/persistence.md
            calls += 1
            ae.partial_fit(X)
    assert calls == 3
    assert ae.n_iter_ == 3 and len(ae.history_) == 3  # the third epoch's weights are kept
    assert np.isfinite(ae.transform(X)).all()


# -- (7) divergence that keeps every loss finite says so ---------------------------
def test_a_loss_rising_far_above_the_first_is_divergence(X):
    ae = AutoEncoderTransformer(**{**FAST, "lr": 1e3, "batch_size": 8, "max_epochs": 5})
    with pytest.raises(TrainingDivergedError, match=r"rose from .* Lower `lr` \(it is 1000"):
        ae.fit(X)
    assert not hasattr(ae, "net_")


def test_vae_divergence_is_the_package_error(X):
    from skae import VariationalAutoEncoder

    # Finite huge rows: the likelihood's parameters become NaN (torch's
    # "Expected parameter scale ... Real()" ValueError before).
    vae = VariationalAutoEncoder(**{**FAST, "lr": 1e3, "batch_size": 8, "max_epochs": 3})
    with pytest.raises(TrainingDivergedError, match="Training diverged"):
        vae.fit(X * 1e18)
    assert not hasattr(vae, "net_")


def test_a_failed_partial_fit_leaves_the_network_in_evaluation_mode(X):
    ae = AutoEncoderTransformer(**FAST).fit(X)
    assert not ae.module_.training
    ae.set_params(lr=1e3, batch_size=8)
    with pytest.raises(TrainingDivergedError):
        for _ in range(5):
            ae.partial_fit(X)
    assert not ae.module_.training


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_vq_and_the_disentangler_train_in_half_precision(X, precision):

    small = dict(hidden_layer_sizes=(8,), max_epochs=2, device="cpu", random_state=0)
    for n_codebooks in (1, 2):
        vq = VQTransformer(n_codes=4, n_codebooks=n_codebooks, precision=precision, **small)
        codes = vq.fit(X).transform(X)
        assert codes.shape == (len(X), n_codebooks) and (codes >= 0).all() and (codes < 4).all()
    y = np.arange(len(X)) % 2
    dae = DisentangledAutoEncoder(n_components=2, group_dim=2, n_codes=4, precision=precision,
                                  **small).fit(X, y)  # fmt: skip
    assert np.isfinite(dae.transform(X)).all()


# -- (9) dates are not numbers ---------------------------------------------------------
@pytest.mark.parametrize("kind", ["datetime64[s]", "timedelta64[ms]", "frame"])
def test_dates_and_durations_are_refused(kind):
    import pandas as pd

    if kind == "frame":
        X = pd.DataFrame({"a": np.arange(20.0), "when": pd.date_range("2020", periods=20)})
        match = "column 'when' of X holds datetime64"
    else:
        X = np.arange(40).reshape(20, 2).astype(kind)
        match = re.escape(f"X holds {kind} values")
    for estimator in (
        AutoEncoderTransformer(**FAST),
        AEOutlierDetector(AutoEncoderTransformer(**FAST)),
    ):
        with pytest.raises(TypeError, match=match):
            estimator.fit(X)
    fitted = AutoEncoderTransformer(**FAST).fit(np.zeros((20, 2)))
    with pytest.raises(TypeError, match="dates or durations"):
        fitted.transform(np.arange(40).reshape(20, 2).astype("datetime64[s]"))
