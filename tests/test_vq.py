"""Tests of VQTransformer and its quantizer modules."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils._param_validation import InvalidParameterError

from skae import VQTransformer
from skae._nn.quantizer import ResidualVectorQuantizer, VectorQuantizer

FAST = dict(max_epochs=5, hidden_layer_sizes=(16,), n_components=4, device="cpu")


@pytest.fixture(scope="module")
def digits():
    X = load_digits().data
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
    scaler = MinMaxScaler().fit(X_train)
    return (
        scaler.transform(X_train).astype(np.float32),
        scaler.transform(X_test).astype(np.float32),
    )


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.RandomState(0)
    centers = rng.normal(scale=4, size=(4, 5))
    return (centers[rng.randint(4, size=300)] + rng.normal(size=(300, 5))).astype(np.float32)


def fit_quietly(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X)


def kmeans_error(X_train, X_test, n_codes):
    km = KMeans(n_clusters=n_codes, random_state=0).fit(X_train)
    return np.mean((X_test - km.cluster_centers_[km.predict(X_test)]) ** 2)


# -- API ----------------------------------------------------------------------
@pytest.mark.parametrize("n_codebooks", [1, 3])
@pytest.mark.parametrize("code_dim", [None, 2])
def test_shapes_and_round_trip(blobs, n_codebooks, code_dim):
    vq = fit_quietly(
        VQTransformer(
            n_codes=8, n_codebooks=n_codebooks, code_dim=code_dim, random_state=0, **FAST
        ),
        blobs,
    )
    codes = vq.transform(blobs)
    assert codes.shape == (len(blobs), n_codebooks)
    assert codes.dtype == np.int64
    assert codes.min() >= 0 and codes.max() < 8

    X_rec = vq.inverse_transform(codes)
    assert X_rec.shape == blobs.shape
    assert X_rec.dtype == np.float32
    # quantize is the same decode of the same codes.
    np.testing.assert_allclose(vq.quantize(blobs), X_rec, rtol=1e-6, atol=1e-6)

    width = 4 if code_dim is None else code_dim
    assert vq.codebooks_.shape == (n_codebooks, 8, width)
    embedding = vq.embed(blobs)
    assert embedding.shape == (len(blobs), width)
    # The quantized latent is the sum of the chosen vectors of every codebook.
    expected = sum(vq.codebooks_[i, codes[:, i]] for i in range(n_codebooks))
    np.testing.assert_allclose(embedding, expected, rtol=1e-5, atol=1e-5)

    np.testing.assert_array_equal(vq.predict(blobs), codes[:, 0])
    assert vq.code_usage_.shape == (n_codebooks, 8)
    np.testing.assert_array_equal(vq.code_usage_.sum(axis=1), len(blobs))
    assert vq.perplexity_.shape == (n_codebooks,)
    assert np.all((vq.perplexity_ >= 1) & (vq.perplexity_ <= 8 + 1e-9))
    names = [f"vqtransformer{i}" for i in range(n_codebooks)]
    np.testing.assert_array_equal(vq.get_feature_names_out(), names)


def test_fit_predict_matches_fit_then_predict(blobs):
    vq = VQTransformer(n_codes=4, random_state=0, **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        labels = clone(vq).fit_predict(blobs)
    np.testing.assert_array_equal(labels, fit_quietly(vq, blobs).predict(blobs))


def test_same_random_state_same_codes(blobs):
    params = dict(n_codes=8, n_codebooks=2, random_state=3, **FAST)
    a = fit_quietly(VQTransformer(**params), blobs)
    b = fit_quietly(VQTransformer(**params), blobs)
    np.testing.assert_array_equal(a.transform(blobs), b.transform(blobs))
    np.testing.assert_array_equal(a.codebooks_, b.codebooks_)
    c = fit_quietly(VQTransformer(**{**params, "random_state": 4}), blobs)
    assert not np.array_equal(a.codebooks_, c.codebooks_)


@pytest.mark.parametrize(
    "codes, match",
    [
        (np.array([[0, 8]]), r"integers in \[0, 8\)"),
        (np.array([[-1, 0]]), r"integers in \[0, 8\)"),
        (np.array([[0.5, 1.0]]), r"integers in \[0, 8\)"),
        (np.array([[0, 1, 2]]), "expecting 2 codes per row"),
    ],
)
def test_inverse_transform_rejects_bad_codes(blobs, codes, match):
    vq = fit_quietly(VQTransformer(n_codes=8, n_codebooks=2, random_state=0, **FAST), blobs)
    with pytest.raises(ValueError, match=match):
        vq.inverse_transform(codes)


def test_inverse_transform_accepts_integral_floats(blobs):
    vq = fit_quietly(VQTransformer(n_codes=8, random_state=0, **FAST), blobs)
    codes = vq.transform(blobs[:10])
    np.testing.assert_array_equal(
        vq.inverse_transform(codes.astype(np.float64)), vq.inverse_transform(codes)
    )


@pytest.mark.parametrize(
    "params",
    [
        dict(n_codes=0),
        dict(n_codebooks=0),
        dict(code_dim=0),
        dict(ema_decay=1.0),
        dict(commitment_cost=-1.0),
    ],
)
def test_invalid_parameters(blobs, params):
    with pytest.raises(InvalidParameterError):
        VQTransformer(**params, **FAST).fit(blobs)


def test_sample_decodes_training_codes(blobs):
    vq = fit_quietly(VQTransformer(n_codes=8, random_state=0, **FAST), blobs)
    X_new = vq.sample(50, random_state=0)
    assert X_new.shape == (50, blobs.shape[1])
    decoded = vq.inverse_transform(np.unique(vq.transform(blobs), axis=0))
    # Every generated row is the decoding of a code used by a training row.
    gaps = ((X_new[:, None, :] - decoded[None]) ** 2).sum(-1).min(1)
    np.testing.assert_allclose(gaps, 0, atol=1e-8)
    np.testing.assert_array_equal(X_new, vq.sample(50, random_state=0))
    with pytest.raises(ValueError, match="positive integer"):
        vq.sample(0)


def test_partial_fit_keeps_codebook_initialisation(blobs):
    vq = VQTransformer(n_codes=8, random_state=0, **FAST)
    vq.partial_fit(blobs[:100])
    stage = vq.module_.quantizer.stages[0]
    assert bool(stage.initialized)
    vq.partial_fit(blobs[100:])
    assert vq.transform(blobs).shape == (len(blobs), 1)
    # code_usage_ counts the rows of the last call.
    assert vq.code_usage_.sum() == len(blobs) - 100


def test_gradient_codebook_without_ema(blobs):
    vq = VQTransformer(n_codes=4, ema_decay=None, random_state=0, **{**FAST, "max_epochs": 30})
    vq = fit_quietly(vq, blobs)
    codebook = vq.module_.quantizer.stages[0].codebook
    assert isinstance(codebook, torch.nn.Parameter)
    assert any(p is codebook for group in vq.net_.optimizer_.param_groups for p in group["params"])
    # Loss-trained codebooks separate the four blobs.
    labels = vq.predict(blobs)
    assert len(np.unique(labels)) == 4


# -- quantizer modules -----------------------------------------------------
def test_kmeans_initialisation_from_first_batch():
    torch.manual_seed(0)
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    z = centers.repeat(50, 1) + 0.1 * torch.randn(200, 2)
    vq = VectorQuantizer(4, 2).train()
    z_q, codes, losses = vq(z)
    assert bool(vq.initialized)
    # One code per cluster, each at its cluster's mean.
    distances = torch.cdist(vq.codebook, centers)
    assert torch.all(distances.min(1).values < 0.1)
    assert len(torch.unique(distances.argmin(1))) == 4
    assert set(losses) == {"commitment"}


def test_dead_codes_are_reseeded_from_current_batch():
    torch.manual_seed(0)
    vq = VectorQuantizer(8, 2, dead_code_steps=5).train()
    vq(torch.randn(64, 2))  # initialise around the origin
    # The data moves far away: all codes but the nearest go unused, then get
    # re-seeded onto the new data.
    far = torch.randn(64, 2) + torch.tensor([50.0, 50.0])
    for _ in range(7):
        _, codes, _ = vq(far)
    assert len(torch.unique(codes)) >= 6
    # Only the code that kept being used is still on its way (EMA).
    assert int((vq.codebook.norm(dim=1) > 40).sum()) >= 7


def test_ema_updates_move_codes_to_assigned_means():
    torch.manual_seed(0)
    vq = VectorQuantizer(1, 3, ema_decay=0.5).train()
    z = torch.randn(32, 3)
    vq(z)  # initialisation: the single code is the mean
    shifted = z + 2.0
    for _ in range(20):
        vq(shifted)
    torch.testing.assert_close(vq.codebook[0], shifted.mean(0), atol=1e-3, rtol=0)


def test_eval_mode_changes_nothing():
    torch.manual_seed(0)
    vq = ResidualVectorQuantizer(2, 4, 3).train()
    vq(torch.randn(20, 3))
    state = {k: v.clone() for k, v in vq.state_dict().items()}
    vq.eval()
    vq(torch.randn(20, 3) + 5)
    for key, value in vq.state_dict().items():
        torch.testing.assert_close(value, state[key])


def test_residual_stages_reduce_error():
    torch.manual_seed(0)
    z = torch.randn(256, 4)
    vq = ResidualVectorQuantizer(3, 8, 4).train()
    for _ in range(30):
        vq(z)
    vq.eval()
    _, codes, _ = vq(z)
    errors = []
    for n in range(1, 4):
        z_q = sum(vq.stages[i].codebook[codes[:, i]] for i in range(n))
        errors.append(float(((z - z_q) ** 2).mean()))
    assert errors[0] > errors[1] > errors[2]


# -- quality on digits -------------------------------------------------------
def test_codebook_usage_on_digits(digits):
    X_train, _ = digits
    vq = fit_quietly(VQTransformer(n_codes=32, random_state=0, device="cpu"), X_train)
    assert np.count_nonzero(vq.code_usage_[0]) >= 28
    assert vq.perplexity_[0] > 20


def test_one_codebook_close_to_kmeans(digits):
    X_train, X_test = digits
    vq = VQTransformer(
        n_codes=16, max_epochs=300, n_iter_no_change=300, random_state=0, device="cpu"
    )
    vq = fit_quietly(vq, X_train)
    mse = np.mean((X_test - vq.quantize(X_test)) ** 2)
    assert mse <= 1.15 * kmeans_error(X_train, X_test, 16)


def test_residual_codebooks_beat_kmeans(digits):
    X_train, X_test = digits
    vq = VQTransformer(n_codes=16, n_codebooks=4, max_epochs=200, random_state=0, device="cpu")
    vq = fit_quietly(vq, X_train)
    mse = np.mean((X_test - vq.quantize(X_test)) ** 2)
    assert mse <= 0.8 * kmeans_error(X_train, X_test, 16)


def test_transform_is_the_mixins_documented_for_integer_codes(blobs):
    import inspect

    from numpydoc.docscrape import NumpyDocString

    from skae._rows import RowTransformerMixin

    pd = pytest.importorskip("pandas")
    for name, returned in [("transform", "int64"), ("inverse_transform", "float32")]:
        method = getattr(VQTransformer, name)
        # The mixin's code (under set_output's wrapper, for transform): no copy.
        mixins = inspect.unwrap(getattr(RowTransformerMixin, name))
        assert inspect.unwrap(method).__code__ is mixins.__code__
        assert returned in NumpyDocString(method.__doc__)["Returns"][0].type
    assert (
        "n_codebooks"
        in NumpyDocString(VQTransformer.inverse_transform.__doc__)["Parameters"][0].type
    )
    # scikit-learn's set_output still wraps VQTransformer's own transform.
    vq = fit_quietly(VQTransformer(n_codes=4, max_epochs=1, device="cpu", random_state=0), blobs)
    codes = vq.set_output(transform="pandas").transform(blobs)
    assert isinstance(codes, pd.DataFrame) and codes.shape == (len(blobs), 1)
