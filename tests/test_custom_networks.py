"""Your own encoder and decoder in AutoEncoderTransformer and DenoisingAutoEncoder."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from torch import nn

import skae
from skae import AEOutlierDetector, AutoEncoderTransformer, DenoisingAutoEncoder

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


class TwoLayer(nn.Module):
    """A user's network: ``TwoLayer(n_in, n_out)``, usable as encoder or decoder."""

    def __init__(self, n_in, n_out):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_in, 32), nn.Tanh(), nn.Linear(32, n_out))

    def forward(self, x):
        return self.net(x)


@pytest.fixture(scope="module")
def curve():
    t = np.random.RandomState(0).uniform(-1, 1, size=(600, 1))
    return np.hstack([t, t**2, np.sin(3 * t), -t, t**3]).astype(np.float32)


def test_user_networks_train_clone_and_pickle(curve):
    params = dict(
        n_components=1,
        encoder=TwoLayer,
        decoder=TwoLayer,
        max_epochs=60,
        batch_size=32,
        lr=3e-3,
        device="cpu",
        random_state=0,
    )
    ae = AutoEncoderTransformer(**params).fit(curve)
    assert isinstance(ae.module_.encoder, TwoLayer) and isinstance(ae.module_.decoder, TwoLayer)
    losses = ae.history_[:, "train_loss"]
    assert losses[-1] < 0.2 * losses[0]
    assert ae.reconstruction_error(curve).mean() < 0.05 * curve.var(axis=0).mean()
    twin = clone(ae)
    assert twin.encoder is TwoLayer and not hasattr(twin, "module_")
    again = pickle.loads(pickle.dumps(ae))
    np.testing.assert_array_equal(again.transform(curve), ae.transform(curve))
    # Same random_state, same model.
    np.testing.assert_array_equal(
        AutoEncoderTransformer(**params).fit(curve).transform(curve), ae.transform(curve)
    )


def test_a_module_given_as_is_is_copied_not_trained(curve):
    encoder, decoder = TwoLayer(5, 2), TwoLayer(2, 5)
    before = [p.detach().clone() for p in encoder.parameters()]
    dae = DenoisingAutoEncoder(
        2,
        encoder=encoder,
        decoder=decoder,
        noise="masking",
        noise_level=0.2,
        max_epochs=5,
        device="cpu",
        random_state=0,
    ).fit(curve)
    assert dae.module_.encoder is not encoder
    assert all(torch.equal(a, b) for a, b in zip(before, encoder.parameters()))
    assert dae.denoise(curve).shape == curve.shape


def test_shapes_and_halves_are_checked_before_training(curve):
    with pytest.raises(
        ValueError, match=r"encoder must map rows \(n, 5\) to codes \(n, n_components=2\)"
    ):
        AutoEncoderTransformer(2, encoder=TwoLayer(5, 3), decoder=TwoLayer, device="cpu").fit(curve)
    with pytest.raises(ValueError, match=r"decoder must map codes \(n, 2\) back to rows \(n, 5\)"):
        AutoEncoderTransformer(2, encoder=TwoLayer, decoder=TwoLayer(2, 4), device="cpu").fit(curve)
    with pytest.raises(ValueError, match="encoder cannot take rows of 5 features"):
        AutoEncoderTransformer(2, encoder=TwoLayer(7, 2), decoder=TwoLayer, device="cpu").fit(curve)
    with pytest.raises(ValueError, match="both encoder and decoder"):
        AutoEncoderTransformer(2, encoder=TwoLayer, device="cpu").fit(curve)
    with pytest.raises(TypeError, match="must return a torch.nn.Module"):
        AutoEncoderTransformer(2, encoder=lambda a, b: "net", decoder=TwoLayer, device="cpu").fit(
            curve
        )


def test_the_safe_format_refuses_user_networks(curve, tmp_path):
    ae = AutoEncoderTransformer(
        1, encoder=TwoLayer, decoder=TwoLayer, max_epochs=2, device="cpu"
    ).fit(curve)
    with pytest.raises(TypeError, match="cannot be saved without pickle"):
        skae.save(ae, tmp_path / "model.skae")


def test_the_detector_takes_an_autoencoder_with_user_networks(curve):
    ae = AutoEncoderTransformer(
        1, encoder=TwoLayer, decoder=TwoLayer, max_epochs=40, batch_size=32, lr=3e-3, device="cpu"
    )
    detector = AEOutlierDetector(ae, random_state=0).fit(curve)
    off_curve = curve[:20] + np.array([0, 1.5, -1.5, 0, 0], dtype=np.float32)
    assert np.median(detector.score_samples(off_curve)) < np.percentile(
        detector.score_samples(curve), 5
    )
