"""``sample_weight`` in ``fit``: a weighted reconstruction loss."""

import inspect

import numpy as np
import pytest

from skae import AEOutlierDetector, AutoEncoderTransformer, VQTransformer

from _registry import AUTOENCODERS, make

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
FAST = dict(
    hidden_layer_sizes=(16,), max_epochs=40, batch_size=32, lr=3e-3, device="cpu", random_state=0
)


@pytest.fixture(scope="module")
def two_kinds():
    """Rows on two different 1-D curves in 6-D: A (first half), B (second half)."""
    rng = np.random.RandomState(0)
    t = rng.uniform(-1, 1, size=(400, 1))
    a = np.hstack([t, t**2, -t, 2 * t, t**3, np.zeros_like(t)])
    b = np.hstack([np.zeros_like(t), -t, t**2, t, -2 * t, t**3])
    return np.vstack([a[:200], b[200:]]).astype(np.float32)


#: The autoencoders whose fit takes weights (the detector's test is below).
WEIGHTED = [cls for cls in AUTOENCODERS if "sample_weight" in inspect.signature(cls.fit).parameters]
#: A latent of one number for the 1-D curves; VQ rebuilds them from 16 codes.
LATENT = {VQTransformer: dict(n_codes=16, n_components=16)}


def test_every_row_autoencoder_takes_weights():
    assert {cls.__name__ for cls in WEIGHTED} >= {
        "AutoEncoderTransformer", "DenoisingAutoEncoder", "VQTransformer", "VariationalAutoEncoder"
    }  # fmt: skip


@pytest.mark.parametrize("cls", WEIGHTED, ids=lambda cls: cls.__name__)
def test_zero_weights_leave_rows_out_of_the_loss(cls, two_kinds):
    X = two_kinds
    only_a = np.r_[np.ones(200), np.zeros(200)]
    params = {**FAST, **LATENT.get(cls, dict(n_components=1))}
    model = make(cls, **params).fit(X, sample_weight=only_a)
    error = model.reconstruction_error(X)
    flipped = make(cls, **params).fit(X, sample_weight=1 - only_a).reconstruction_error(X)
    # Each model rebuilds the rows it was weighted on far better than the others.
    assert error[:200].mean() < 0.25 * error[200:].mean()
    assert flipped[200:].mean() < 0.25 * flipped[:200].mean()


def test_unit_weights_equal_no_weights(two_kinds):
    plain = AutoEncoderTransformer(n_components=2, **FAST).fit(two_kinds)
    weighted = AutoEncoderTransformer(n_components=2, **FAST).fit(
        two_kinds, sample_weight=np.ones(len(two_kinds))
    )
    np.testing.assert_allclose(weighted.transform(two_kinds), plain.transform(two_kinds), atol=1e-4)


def test_weights_reach_the_validation_loss(two_kinds):
    # With early stopping the held-out rows are weighted too: B rows weighing
    # zero cannot make the validation loss worse.
    only_a = np.r_[np.ones(200), np.zeros(200)]
    model = AutoEncoderTransformer(
        n_components=1, early_stopping=True, validation_fraction=0.3, **FAST
    ).fit(two_kinds, sample_weight=only_a)
    best_valid = min(model.history_[:, "valid_loss"])
    error = model.reconstruction_error(two_kinds)  # the best epoch's weights
    # The held-out loss is the A rows' error, not the mean over A and B rows.
    assert best_valid < 2 * error[:200].mean() < 0.5 * error.mean(), (
        best_valid,
        error[:200].mean(),
        error.mean(),
    )


def test_bad_weights_are_refused(two_kinds):
    ae = AutoEncoderTransformer(**FAST)
    with pytest.raises(ValueError, match="Negative"):
        ae.fit(two_kinds, sample_weight=-np.ones(len(two_kinds)))
    with pytest.raises(ValueError, match="non-zero"):
        ae.fit(two_kinds, sample_weight=np.zeros(len(two_kinds)))
    with pytest.raises(ValueError, match="shape"):
        ae.fit(two_kinds, sample_weight=np.ones(3))
    assert not hasattr(ae, "net_")


def test_detector_passes_weights_to_its_autoencoder(two_kinds):
    only_a = np.r_[np.ones(200), np.zeros(200)]
    detector = AEOutlierDetector(
        AutoEncoderTransformer(n_components=1, **FAST), trim_fraction=0, random_state=0
    ).fit(two_kinds, sample_weight=only_a)
    scores = -detector.score_samples(two_kinds)
    assert np.median(scores[200:]) > 4 * np.median(scores[:200])
