"""Convolutional networks for images given as rows (``input_shape``), and the
user's own networks around VQTransformer's quantizer."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

import skae
from skae import AEOutlierDetector, AutoEncoderTransformer, DenoisingAutoEncoder, VQTransformer
from skae._encoder_decoder import resolve_input_shape
from skae._nn.conv import ConvDecoder, ConvEncoder

FAST = dict(
    hidden_layer_sizes=(8, 16), max_epochs=20, batch_size=64, lr=3e-3, device="cpu", random_state=0
)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32)[:400], y[:400]


@pytest.mark.parametrize("shape", [(1, 8, 8), (3, 7, 5), (2, 1, 9), (5, 6)])
@pytest.mark.parametrize("channels", [(), (4,), (4, 8, 8)])
def test_the_decoder_gives_back_rows_of_the_encoders_images(shape, channels):
    n_pixels = int(np.prod(shape))
    encoder = ConvEncoder(shape, channels, 3)
    decoder = ConvDecoder(3, shape, channels, output_activation="sigmoid")
    x = torch.rand(4, n_pixels)
    z = encoder(x)
    x_hat = decoder(z)
    assert z.shape == (4, 3) and x_hat.shape == (4, n_pixels)
    assert ((x_hat > 0) & (x_hat < 1)).all()


def test_the_encoder_reads_rows_as_images_channel_first():
    # A row is images.reshape(n, -1) of (n, channels, height, width) images.
    torch.manual_seed(0)
    encoder = ConvEncoder((2, 4, 6), (3,), 2)
    images = torch.rand(5, 2, 4, 6)
    expected = encoder.head(encoder.features(images).flatten(1))
    torch.testing.assert_close(encoder(images.reshape(5, -1)), expected)
    # Another layout of the same numbers is another input.
    other = images.permute(0, 2, 3, 1).reshape(5, -1)
    assert not torch.allclose(encoder(other), expected)


def test_input_shape_is_resolved_and_checked():
    assert resolve_input_shape((8, 8), 64) == (8, 8)
    assert resolve_input_shape((1, -1), 10) == (1, 10)
    assert resolve_input_shape((3, -1, 4), 36) == (3, 3, 4)
    with pytest.raises(ValueError, match=r"does not describe rows of X's 65 features"):
        resolve_input_shape((8, 8), 65)
    with pytest.raises(ValueError, match="does not describe"):
        resolve_input_shape((3, -1), 10)
    for bad in [(8,), (1, 2, 3, 4), (-1, -1), (0, 8), (2.0, 4), (True, 4)]:
        with pytest.raises(ValueError, match="input_shape must be"):
            resolve_input_shape(bad, 8)


def test_a_shape_that_does_not_fit_is_a_clear_error_at_fit(digits):
    X, _ = digits
    ae = AutoEncoderTransformer(input_shape=(7, 7), **FAST)
    with pytest.raises(ValueError, match="input_shape=.7, 7. does not describe rows of X's 64"):
        ae.fit(X)
    assert not hasattr(ae, "net_")
    with pytest.raises(ValueError, match="give it or encoder/decoder, not both"):
        AutoEncoderTransformer(
            input_shape=(8, 8), encoder=torch.nn.Linear(64, 2), decoder=torch.nn.Linear(2, 64)
        ).fit(X)


def test_conv_autoencoder_learns_digits_and_takes_image_arrays(digits):
    X, _ = digits
    ae = AutoEncoderTransformer(n_components=8, input_shape=(8, 8), **FAST).fit(X)
    losses = ae.history_[:, "train_loss"]
    assert losses[-1] < 0.6 * losses[0]
    assert isinstance(ae.module_.encoder, ConvEncoder)
    Z = ae.transform(X)
    assert Z.shape == (len(X), 8) and ae.inverse_transform(Z).shape == X.shape
    # (n, 8, 8) and (n, 1, 8, 8) arrays are the same rows.
    np.testing.assert_array_equal(ae.transform(X.reshape(-1, 8, 8)), Z)
    np.testing.assert_array_equal(ae.transform(X.reshape(-1, 1, 8, 8)), Z)
    fitted_on_images = AutoEncoderTransformer(n_components=8, input_shape=(1, 8, 8), **FAST)
    fitted_on_images.fit(X.reshape(-1, 1, 8, 8))
    np.testing.assert_allclose(fitted_on_images.transform(X), Z, rtol=1e-5, atol=1e-6)
    # Without input_shape a 3-D array is refused as before.
    with pytest.raises(ValueError, match="dim"):
        AutoEncoderTransformer(**FAST).fit(X.reshape(-1, 8, 8))


def test_conv_models_save_and_load_safely(digits, tmp_path):
    X, _ = digits
    ae = AutoEncoderTransformer(n_components=4, input_shape=(8, 8), **{**FAST, "max_epochs": 3})
    ae.fit(X)
    skae.save(ae, tmp_path / "conv.skae")
    loaded = skae.load(tmp_path / "conv.skae")
    assert loaded.input_shape == (8, 8)
    np.testing.assert_array_equal(loaded.transform(X), ae.transform(X))


def test_conv_denoiser_vq_and_detector(digits):
    X, y = digits
    rng = np.random.RandomState(0)
    dae = DenoisingAutoEncoder(
        n_components=8, input_shape=(8, 8), noise="gaussian", noise_level=0.5, **FAST
    ).fit(X)
    noisy = X + 0.25 * rng.normal(size=X.shape).astype(np.float32)
    assert np.mean((dae.denoise(noisy) - X) ** 2) < np.mean((noisy - X) ** 2)

    vq = VQTransformer(n_codes=16, n_components=4, input_shape=(8, 8), **FAST).fit(X)
    codes = vq.transform(X)
    assert codes.shape == (len(X), 1) and vq.perplexity_ > 2
    assert vq.inverse_transform(codes).shape == X.shape

    # One-class: zeros are normal; the conv autoencoder's errors rank the
    # other digits higher.
    detector = AEOutlierDetector(
        AutoEncoderTransformer(n_components=4, input_shape=(8, 8), **FAST), random_state=0
    ).fit(X[y == 0])
    scores = -detector.score_samples(X)
    assert scores[y != 0].mean() > scores[y == 0].mean()


class Encoder(torch.nn.Sequential):
    def __init__(self, n_in, n_out):
        super().__init__(torch.nn.Linear(n_in, 32), torch.nn.ReLU(), torch.nn.Linear(32, n_out))


def test_vq_quantizes_between_the_users_encoder_and_decoder(digits):
    X, _ = digits
    vq = VQTransformer(n_codes=16, n_components=4, encoder=Encoder, decoder=Encoder, **FAST)
    vq.fit(X)
    assert isinstance(vq.module_.encoder, Encoder) and isinstance(vq.module_.decoder, Encoder)
    losses = vq.history_[:, "train_loss"]
    assert losses[-1] < losses[0]
    codes = vq.transform(X)
    assert codes.shape == (len(X), 1) and codes.max() < 16
    with pytest.raises(ValueError, match=r"encoder must map rows \(n, 64\) to codes"):
        VQTransformer(
            n_components=4, encoder=torch.nn.Linear(64, 3), decoder=torch.nn.Linear(4, 64), **FAST
        ).fit(X)
