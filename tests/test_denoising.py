"""Behaviour of DenoisingAutoEncoder and its training-batch corruptions."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.utils._param_validation import InvalidParameterError

from skae import AutoEncoderTransformer, DenoisingAutoEncoder
from skae._denoising import GaussianNoise, MaskingNoise, SwapNoise
from skae._noise import LEVEL_RANGE, NOISE_FLOOR

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(hidden_layer_sizes=(16,), max_epochs=3, device="cpu", random_state=0)
NOISES = ["gaussian", "masking", "swap"]


@pytest.fixture
def X_small():
    # Features on different scales, so per-feature statistics matter.
    rng = np.random.RandomState(0)
    return (rng.normal(size=(60, 5)) * [1, 10, 0.1, 3, 1] + [0, 5, -2, 0, 100]).astype(np.float32)


def _corrupt(dae, X, seed=0):
    """Apply the fitted corruption to ``X`` as one batch; return both tensors."""
    x = torch.from_numpy(np.array(X, dtype=np.float32))
    x_before = x.clone()
    x_tilde = dae.net_.corruption(x, torch.Generator().manual_seed(seed))
    assert torch.equal(x, x_before), "the corruption wrote into its input batch"
    return x, x_tilde


# Module-level callables, so estimators holding them pickle.
def uniform_noise(x, generator):
    return x + 0.1 * (torch.rand(x.shape, generator=generator, device=x.device) - 0.5)


def in_place_noise(x, generator):
    return x.add_(torch.randn(x.shape, generator=generator, device=x.device))


class CountingNoise:
    """Identity corruption that counts the rows it is given."""

    def __init__(self):
        self.n_rows = 0

    def __call__(self, x, generator):
        self.n_rows += x.shape[0]
        return x


@pytest.fixture
def one_thread():
    # Small networks train fastest on one thread, and a busy machine does not
    # make threads wait for each other.
    n_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n_threads)


# -- the denoising claim ---------------------------------------------
def test_denoise_digits_beats_noisy_input_pca_and_plain_autoencoder(one_thread):
    X = load_digits().data.astype(np.float32) / 16  # [0, 1]
    rng = np.random.RandomState(0)
    perm = rng.permutation(len(X))
    X_train, X_test = X[perm[:1400]], X[perm[1400:]]
    X_noisy = X_test + rng.normal(0, 0.25, X_test.shape).astype(np.float32)

    n_components = 16
    # Defaults only: the network's sizes, learning rate and epochs are not tuned.
    params = dict(device="cpu", random_state=0)
    # Noise 0.25 is about one standard deviation of a digits pixel.
    dae = DenoisingAutoEncoder(n_components, noise="gaussian", noise_level=1.0, **params)
    dae.fit(X_train)
    ae = AutoEncoderTransformer(n_components, **params).fit(X_train)
    pca = PCA(n_components).fit(X_train)

    def mse(X_rec):
        return np.mean((X_rec - X_test) ** 2)

    noisy_mse = mse(X_noisy)
    dae_mse = mse(dae.denoise(X_noisy))
    pca_mse = mse(pca.inverse_transform(pca.transform(X_noisy)))
    ae_mse = mse(ae.inverse_transform(ae.transform(X_noisy)))
    assert dae_mse < 0.5 * noisy_mse, (dae_mse, noisy_mse)
    assert dae_mse < pca_mse, (dae_mse, pca_mse)
    assert dae_mse < ae_mse, (dae_mse, ae_mse)


def test_denoise_without_impulse_threshold_is_inverse_transform_of_transform(X_small):
    dae = DenoisingAutoEncoder(n_components=2, batch_norm=True, **FAST).fit(X_small)
    expected = dae.inverse_transform(dae.transform(X_small))
    one_pass = dae.denoise(X_small, impulse_threshold=None)
    np.testing.assert_allclose(one_pass, expected, rtol=1e-5, atol=1e-5)
    assert dae.denoise(X_small).dtype == np.float32
    # A threshold no entry reaches changes nothing.
    np.testing.assert_array_equal(dae.denoise(X_small, impulse_threshold=1e9), one_pass)


@pytest.mark.parametrize("noise", NOISES)
def test_denoise_replaces_impulses_and_reconstructs_again(X_small, noise):
    X = (X_small - X_small.mean(0)) / X_small.std(0)
    dae = DenoisingAutoEncoder(n_components=2, noise=noise, noise_level=0.2, **FAST).fit(X)
    X_hit = X.copy()
    X_hit[:, 0] = 50.0  # far beyond 3 training deviations of any reconstruction
    X_rec = dae.denoise(X_hit, impulse_threshold=None)
    far = np.abs(X_hit - X_rec) > 3 * X.std(0)
    assert far[:, 0].all()
    # Masking fills in the value its network learned to fill in, the others the
    # reconstruction.
    fill = X.mean(0) if noise == "masking" else X_rec
    expected = dae.denoise(np.where(far, fill, X_hit), impulse_threshold=None)
    np.testing.assert_allclose(dae.denoise(X_hit), expected, rtol=1e-5, atol=1e-5)


# -- the corruptions ---------------------------------------------------------
@pytest.mark.parametrize("noise_level", [0.1, 0.5])
def test_gaussian_noise_scale_is_level_times_feature_std(X_small, noise_level):
    dae = DenoisingAutoEncoder(noise="gaussian", noise_level=noise_level, **FAST)
    dae.fit(X_small)
    assert isinstance(dae.net_.corruption, GaussianNoise)
    X = np.tile(X_small, (200, 1))  # 12,000 rows with X_small's spread
    x, x_tilde = _corrupt(dae, X)
    # Each feature's scale is floored at NOISE_FLOOR of the typical one, and each
    # row's level is noise_level times a draw from U(*LEVEL_RANGE).
    std = X_small.std(axis=0)
    scale = np.maximum(std, NOISE_FLOOR * std.mean())
    low, high = LEVEL_RANGE
    rms = np.sqrt((high**3 - low**3) / (3 * (high - low)))  # of U(low, high)
    noise = (x_tilde - x).numpy() / scale
    np.testing.assert_allclose(noise.std(axis=0), noise_level * rms, rtol=0.05)
    np.testing.assert_allclose(noise.mean(axis=0), 0, atol=0.05)
    # The level is drawn per row: rows differ in spread.
    row_std = noise.std(axis=1)
    assert row_std.max() > 2.5 * row_std.min()


def test_gaussian_noise_reaches_features_constant_in_training(X_small):
    X = np.hstack([X_small, np.zeros((len(X_small), 1), np.float32)])
    dae = DenoisingAutoEncoder(noise="gaussian", noise_level=0.5, **FAST).fit(X)
    x, x_tilde = _corrupt(dae, np.tile(X, (200, 1)))
    noise = (x_tilde - x).numpy()
    typical = X_small.std(axis=0).mean()
    low, high = LEVEL_RANGE
    rms = np.sqrt((high**3 - low**3) / (3 * (high - low)))
    np.testing.assert_allclose(noise[:, -1].std(), 0.5 * rms * typical, rtol=0.05)


@pytest.mark.parametrize("noise", ["masking", "swap"])
@pytest.mark.parametrize("noise_level", [0.1, 0.5])
def test_masking_and_swap_corrupt_the_requested_fraction(noise, noise_level):
    X = np.random.RandomState(1).normal(size=(4000, 6)).astype(np.float32) * [1, 2, 3, 4, 5, 6]
    dae = DenoisingAutoEncoder(noise=noise, noise_level=noise_level, **FAST).fit(X)
    x, x_tilde = _corrupt(dae, X)
    changed = (x_tilde != x).numpy()
    # Continuous data: a corrupted entry (almost) never keeps its value. Each
    # row's probability is noise_level times a draw from U(*LEVEL_RANGE).
    low, high = LEVEL_RANGE
    np.testing.assert_allclose(changed.mean(axis=0), noise_level * (low + high) / 2, atol=0.03)
    x, x_tilde = x.numpy(), x_tilde.numpy()
    for j in range(X.shape[1]):
        new_values = x_tilde[changed[:, j], j]
        if noise == "masking":
            assert isinstance(dae.net_.corruption, MaskingNoise)
            np.testing.assert_allclose(new_values, X[:, j].mean(), rtol=1e-4)
        else:
            assert isinstance(dae.net_.corruption, SwapNoise)
            # Swapped in from the same feature of other rows.
            assert np.isin(new_values, x[:, j]).all()


@pytest.mark.parametrize("noise", ["masking", "swap"])
def test_masking_and_swap_draw_a_level_per_row(noise):
    X = np.random.RandomState(2).normal(size=(2000, 1000)).astype(np.float32)
    dae = DenoisingAutoEncoder(noise=noise, noise_level=0.4, **FAST).fit(X[:64])
    x, x_tilde = _corrupt(dae, X)
    per_row = (x_tilde != x).numpy().mean(axis=1)
    low, high = LEVEL_RANGE
    # Within the range of levels, and spread far wider than one level's
    # binomial spread (0.014 at p=0.3 over 1,000 entries).
    assert 0.4 * low - 0.04 < per_row.min() < 0.4 * low + 0.04
    assert 0.4 * high - 0.04 < per_row.max() < 0.4 * high + 0.04
    assert per_row.std() > 3 * np.sqrt(0.3 * 0.7 / 1000)


def test_corruptions_pickled_before_the_level_range_keep_the_nominal_level():
    old = MaskingNoise(0.3, torch.zeros(4))
    state = old.__getstate__()
    del state["low"], state["high"]
    revived = MaskingNoise.__new__(MaskingNoise)
    revived.__setstate__(state)
    assert (revived.low, revived.high) == (1.0, 1.0)
    x = torch.ones(5000, 4)
    masked = revived(x, torch.Generator().manual_seed(0)) != x
    np.testing.assert_allclose(masked.float().mean().item(), 0.3, atol=0.02)


def test_swap_draws_donors_from_other_rows_and_leaves_single_rows():
    corruption = SwapNoise(1.0)
    x = torch.arange(12, dtype=torch.float32).reshape(4, 3)
    x_tilde = corruption(x, torch.Generator().manual_seed(0))
    column_of = x_tilde.numpy() % 3
    assert (column_of == [0, 1, 2]).all()  # same feature
    assert (x_tilde != x).all()  # never the row itself
    one_row = x[:1]
    assert torch.equal(corruption(one_row, torch.Generator()), one_row)


@pytest.mark.parametrize("noise", NOISES)
def test_zero_noise_level_is_identity(X_small, noise):
    dae = DenoisingAutoEncoder(noise=noise, noise_level=0.0, **FAST).fit(X_small)
    x, x_tilde = _corrupt(dae, X_small)
    assert torch.equal(x, x_tilde)


@pytest.mark.parametrize("noise", NOISES + [in_place_noise])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_user_input_untouched(X_small, noise, dtype):
    # float32 C-contiguous input shares memory with the training tensor.
    X = X_small.astype(dtype)
    X_before = X.copy()
    dae = DenoisingAutoEncoder(noise=noise, noise_level=0.5, batch_size=16, **FAST)
    dae.fit(X)
    dae.partial_fit(X)
    dae.denoise(X)
    np.testing.assert_array_equal(X, X_before)


def zeroing_noise(x, generator):
    return x.zero_()


def test_in_place_callable_cannot_corrupt_the_target(X_small):
    # A batch's target is the same tensor as its input: a callable that works
    # in place gets a copy, so the loss still compares with the clean rows.
    X = X_small - X_small.mean(axis=0)  # mean square about 22
    dae = DenoisingAutoEncoder(
        noise=zeroing_noise,
        max_epochs=1,
        batch_size=60,
        lr=1e-9,
        hidden_layer_sizes=(16,),
        device="cpu",
        random_state=0,
    )
    dae.fit(X)
    # net(0) against the clean rows; against zeroed targets it would be ~net(0)**2.
    assert dae.history_[-1, "train_loss"] > 5


# -- corruption only while training -------------------------------------------
def test_corruption_only_in_training(X_small):
    noise = CountingNoise()
    dae = DenoisingAutoEncoder(noise=noise, batch_size=10, **FAST).fit(X_small)
    assert noise.n_rows == 3 * 60  # every training row, every epoch
    noise.n_rows = 0
    Z = dae.transform(X_small)
    np.testing.assert_array_equal(Z, dae.transform(X_small))
    dae.inverse_transform(Z)
    dae.denoise(X_small)
    dae.score(X_small)
    dae.reconstruction_error(X_small)
    assert noise.n_rows == 0


def test_validation_rows_are_not_corrupted(X_small):
    noise = CountingNoise()
    dae = DenoisingAutoEncoder(
        noise=noise, early_stopping=True, validation_fraction=0.25, **FAST
    ).fit(X_small)
    assert noise.n_rows == dae.n_iter_ * 45  # 15 of the 60 rows held out


@pytest.mark.parametrize("noise", NOISES)
def test_transform_is_deterministic_with_strong_noise(X_small, noise):
    level = 2.0 if noise == "gaussian" else 0.9
    dae = DenoisingAutoEncoder(noise=noise, noise_level=level, **FAST).fit(X_small)
    np.testing.assert_array_equal(dae.transform(X_small), dae.transform(X_small))
    np.testing.assert_array_equal(dae.denoise(X_small), dae.denoise(X_small))
    assert dae.score(X_small) == dae.score(X_small)


# -- reproducibility -----------------------------------------------------------
def _state(dae):
    return [t.detach().clone() for t in dae.module_.state_dict().values()]


@pytest.mark.parametrize("noise", NOISES + [uniform_noise])
def test_same_seed_same_model(X_small, noise):
    params = dict(
        noise=noise,
        noise_level=0.5,
        batch_size=16,
        hidden_layer_sizes=(16,),
        max_epochs=3,
        device="cpu",
    )
    first = DenoisingAutoEncoder(random_state=0, **params).fit(X_small)
    second = DenoisingAutoEncoder(random_state=0, **params).fit(X_small)
    other = DenoisingAutoEncoder(random_state=1, **params).fit(X_small)
    for a, b in zip(_state(first), _state(second)):
        assert torch.equal(a, b)
    assert not all(torch.equal(a, b) for a, b in zip(_state(first), _state(other)))


def test_noise_draws_ignore_the_global_torch_seed(X_small):
    # Only random_state seeds the noise: the global torch RNG does not matter.
    fits = []
    for global_seed in (1, 2):
        torch.manual_seed(global_seed)
        fits.append(DenoisingAutoEncoder(noise="swap", noise_level=0.5, **FAST).fit(X_small))
    np.testing.assert_array_equal(fits[0].denoise(X_small), fits[1].denoise(X_small))


# -- callables, parameters, persistence -------------------------------------
def test_callable_noise(X_small):
    dae = DenoisingAutoEncoder(noise=uniform_noise, **FAST).fit(X_small)
    assert dae.transform(X_small).shape == (60, 2)
    x, x_tilde = _corrupt(dae, X_small)
    assert 0 < (x_tilde - x).abs().max() <= 0.05
    restored = pickle.loads(pickle.dumps(dae))
    np.testing.assert_array_equal(restored.transform(X_small), dae.transform(X_small))


def test_callable_noise_returning_wrong_shape_raises(X_small):
    dae = DenoisingAutoEncoder(noise=lambda x, generator: x[:, :2], **FAST)
    with pytest.raises(ValueError, match=r"must return a tensor of the batch's shape"):
        dae.fit(X_small)


@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(noise="salt"), InvalidParameterError, "'noise' parameter"),
        (dict(noise=0.3), InvalidParameterError, "'noise' parameter"),
        (dict(noise_level=-0.1), InvalidParameterError, "'noise_level' parameter"),
        (dict(noise_level="high"), InvalidParameterError, "'noise_level' parameter"),
        (dict(noise="masking", noise_level=1.5), ValueError, r"must be in \[0, 1\]"),
        (dict(noise="swap", noise_level=2), ValueError, r"must be in \[0, 1\]"),
    ],
)
def test_bad_noise_parameters(X_small, params, error, match):
    assert issubclass(error, ValueError)
    with pytest.raises(error, match=match):
        DenoisingAutoEncoder(**params, **FAST).fit(X_small)


def test_gaussian_noise_level_above_one_is_allowed(X_small):
    DenoisingAutoEncoder(noise="gaussian", noise_level=1.5, **FAST).fit(X_small)


def test_get_params_has_every_autoencoder_parameter():
    params = DenoisingAutoEncoder().get_params()
    assert set(params) == set(AutoEncoderTransformer().get_params()) | {"noise", "noise_level"}
    assert params["noise"] == "gaussian" and params["noise_level"] == 0.1
    dae = DenoisingAutoEncoder(5, noise="swap", noise_level=0.3, lr=0.01)
    assert clone(dae).get_params() == dae.get_params()


def test_pickle_keeps_the_corruption_and_training_continues(X_small):
    dae = DenoisingAutoEncoder(noise="masking", noise_level=0.3, warm_start=True, **FAST)
    dae.fit(X_small)
    restored = pickle.loads(pickle.dumps(dae))
    assert isinstance(restored.net_.corruption, MaskingNoise)
    np.testing.assert_array_equal(restored.denoise(X_small), dae.denoise(X_small))
    restored.fit(X_small)
    assert restored.n_iter_ == 6


def test_warm_start_uses_current_noise_parameters(X_small):
    dae = DenoisingAutoEncoder(noise="gaussian", noise_level=0.1, warm_start=True, **FAST)
    dae.fit(X_small)
    dae.set_params(noise="masking", noise_level=0.4).fit(X_small)
    assert isinstance(dae.net_.corruption, MaskingNoise)
    assert dae.net_.corruption.noise_level == 0.4
    assert dae.n_iter_ == 6
