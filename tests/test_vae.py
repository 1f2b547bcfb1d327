"""VariationalAutoEncoder: ELBO training, log-likelihood scores, prior samples."""

import numpy as np
import pytest
import torch
from torch.distributions import Normal

import skae
from skae import AEOutlierDetector, VariationalAutoEncoder
from skae._nn.vae import GaussianVAE

FAST = dict(
    hidden_layer_sizes=(32,), max_epochs=40, batch_size=32, lr=3e-3, device="cpu", random_state=0
)


@pytest.fixture(scope="module")
def X():
    rng = np.random.RandomState(0)
    latent = rng.normal(size=(400, 2))
    return (np.tanh(latent @ rng.normal(size=(2, 6))) + 0.05 * rng.normal(size=(400, 6))).astype(
        np.float32
    )


@pytest.fixture(scope="module")
def vae(X):
    return VariationalAutoEncoder(n_components=2, **FAST).fit(X)


def test_training_raises_the_elbo(vae):
    losses = vae.history_[:, "train_loss"]  # minus the ELBO per entry
    assert losses[-1] < losses[0] - 0.5
    rows = np.zeros((3, 6), np.float32)
    assert vae.transform(rows).shape == (3, 2)
    assert vae.inverse_transform(vae.transform(rows)).shape == (3, 6)


def test_log_likelihood_is_exact_when_the_code_does_not_matter():
    # Posterior = prior and a constant decoder: p(x) = N(x; c, sigma) exactly,
    # whatever the draws.
    n_features, k = 3, 2
    encoder = torch.nn.Linear(n_features, 2 * k)
    decoder = torch.nn.Linear(k, n_features)
    for layer in (encoder, decoder):
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
    with torch.no_grad():
        decoder.bias.copy_(torch.tensor([0.5, -1.0, 2.0]))
    module = GaussianVAE(encoder, decoder, n_features)
    with torch.no_grad():
        module.log_scale.copy_(torch.tensor([0.0, -0.5, 0.3]))
    x = torch.randn(5, n_features)
    expected = Normal(decoder.bias, module.log_scale.exp()).log_prob(x).sum(dim=1)
    got = module.log_likelihood(x, n_samples=7, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(got, expected)
    with torch.no_grad():
        _, aux = module.eval()(x)
    assert float(aux["kl"]) == 0.0  # posterior equals prior


def test_scores_are_deterministic_per_row_and_rank_outliers_low(vae, X):
    scores = vae.score_samples(X)
    assert scores.shape == (len(X),) and np.isfinite(scores).all()
    np.testing.assert_array_equal(vae.score_samples(X), scores)
    order = np.random.RandomState(1).permutation(len(X))
    np.testing.assert_allclose(vae.score_samples(X[order]), scores[order], rtol=1e-5)
    np.testing.assert_allclose(vae.score_samples(X[:7]), scores[:7], rtol=1e-5)
    outliers = X[:50] + 3.0
    assert np.median(vae.score_samples(outliers)) < np.percentile(scores, 5)
    assert vae.score(X) == pytest.approx(scores.mean())


def test_a_row_that_overflows_the_network_is_impossible_not_an_error(vae, X):
    X_bad = np.vstack([np.full((1, X.shape[1]), 3e38), X[:2]]).astype(np.float32)
    scores = vae.score_samples(X_bad)
    assert scores[0] == -np.inf and np.isfinite(scores[1:]).all()
    np.testing.assert_allclose(scores[1:], vae.score_samples(X[:2]), rtol=1e-5)


def test_more_importance_samples_tighten_the_bound(vae, X):
    elbo = vae.set_params(n_importance_samples=1).score(X)
    iwae = vae.set_params(n_importance_samples=64).score(X)
    vae.set_params(n_importance_samples=16)
    assert iwae > elbo


def test_samples_come_from_the_prior_and_follow_the_seed(vae, X):
    a = vae.sample(500, random_state=0)
    assert a.shape == (500, 6) and a.dtype == np.float32
    np.testing.assert_array_equal(vae.sample(500, random_state=0), a)
    assert not np.array_equal(vae.sample(500, random_state=1), a)
    # Generated rows look like the data: per-feature means and spreads close.
    np.testing.assert_allclose(a.mean(axis=0), X.mean(axis=0), atol=0.25)
    np.testing.assert_allclose(a.std(axis=0), X.std(axis=0), rtol=0.5)


def test_kl_warmup_ramps_the_kl_weight(X):
    short = VariationalAutoEncoder(kl_warmup=4, **{**FAST, "max_epochs": 2}).fit(X)
    assert short.module_.kl_ramp == pytest.approx(0.25)  # epoch 2 of a 4-epoch ramp
    short.partial_fit(X)
    assert short.module_.kl_ramp == pytest.approx(0.5)  # the ramp goes on
    done = VariationalAutoEncoder(kl_warmup=2, **{**FAST, "max_epochs": 5}).fit(X)
    assert done.module_.kl_ramp == 1.0


def test_beta_pushes_the_code_towards_the_prior(X):
    def mean_kl(beta):
        est = VariationalAutoEncoder(beta=beta, **FAST).fit(X)
        mean, log_var = est.module_.posterior(torch.from_numpy(X))
        return float(0.5 * (mean**2 + log_var.exp() - 1 - log_var).sum(dim=1).mean())

    assert mean_kl(4.0) < mean_kl(0.25)


def test_saves_safely_and_detects(vae, X, tmp_path):
    skae.save(vae, tmp_path / "vae.skae")
    loaded = skae.load(tmp_path / "vae.skae")
    np.testing.assert_array_equal(loaded.score_samples(X), vae.score_samples(X))
    np.testing.assert_array_equal(loaded.sample(5, random_state=0), vae.sample(5, random_state=0))
    detector = AEOutlierDetector(VariationalAutoEncoder(**FAST), random_state=0).fit(X)
    flagged = detector.predict(np.vstack([X[:20], X[:20] + 3.0]))
    assert (flagged[20:] == -1).mean() > 0.9 and (flagged[:20] == 1).mean() > 0.8


def test_same_seed_same_model(X):
    a = VariationalAutoEncoder(**{**FAST, "max_epochs": 3}).fit(X)
    b = VariationalAutoEncoder(**{**FAST, "max_epochs": 3}).fit(X)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
