"""The variational autoencoder's network and its likelihood loss.

Pure torch: :class:`GaussianVAE` maps rows to a diagonal Gaussian posterior
over the code, draws a code by the reparameterization trick and decodes it to
the mean of a Gaussian likelihood with a learned scale per feature. Its
``forward`` returns that likelihood as a ``torch.distributions.Normal`` and
the KL term as an auxiliary loss, so that :class:`NormalNLL` as the training
engine's criterion makes the loss minus the evidence lower bound (ELBO) per
entry.
"""

import math

import torch
from torch import nn
from torch.distributions import Normal

from .mlp import EncoderDecoder

#: Bounds of the posterior's log-variance: exp(20) and exp(-30) keep the
#: sampling and the KL finite for any encoder output.
_LOG_VAR_RANGE = (-30.0, 20.0)
#: Smallest standard deviation of the likelihood: a feature constant in
#: training would otherwise drive its scale, and the log-likelihood, to
#: infinity.
MIN_SCALE = 1e-3


class NormalNLL(nn.Module):
    """Negative log-likelihood of the target under a ``Normal`` prediction.

    A criterion for the training engine: ``forward(dist, target)`` with
    ``dist`` a ``torch.distributions.Normal`` over each entry.

    Parameters
    ----------
    reduction : {"mean", "sum", "none"}, default="mean"
        As in torch's losses.
    """

    def __init__(self, reduction="mean"):
        super().__init__()
        self.reduction = reduction

    def forward(self, dist, target):
        nll = -dist.log_prob(target)
        if self.reduction == "mean":
            return nll.mean()
        if self.reduction == "sum":
            return nll.sum()
        return nll


class GaussianVAE(EncoderDecoder):
    """Gaussian posterior, standard normal prior, Gaussian likelihood.

    Parameters
    ----------
    encoder : torch.nn.Module
        Maps rows ``(batch, n_features)`` to ``(batch, 2 * n_components)``:
        the posterior's mean and log-variance.
    decoder : torch.nn.Module
        Maps codes ``(batch, n_components)`` to the likelihood's mean.
    n_features : int
        Width of the rows.
    beta : float, default=1.0
        Weight of the KL term (beta-VAE).

    Attributes
    ----------
    log_scale : torch.nn.Parameter of shape (n_features,)
        Log standard deviation of the likelihood, learned per feature (the
        standard deviation is at least :data:`MIN_SCALE`).
    kl_ramp : float
        Factor in [0, 1] on ``beta`` during a KL warm-up (set from outside).

    Shape
    -----
    - Input: ``(batch, n_features)``
    - Code: ``(batch, n_components)`` (the posterior mean)
    - Output: a ``Normal`` over ``(batch, n_features)`` and ``{"kl": scalar}``
    """

    def __init__(self, encoder, decoder, n_features, *, beta=1.0):
        super().__init__(encoder, decoder)
        self.n_features = n_features
        self.beta = beta
        self.kl_ramp = 1.0
        self.log_scale = nn.Parameter(torch.zeros(n_features))

    def posterior(self, x):
        """Mean and log-variance of ``q(z | x)``."""
        mean, log_var = self.encoder(x).chunk(2, dim=1)
        return mean, log_var.clamp(*_LOG_VAR_RANGE)

    def encode(self, x):
        return self.posterior(x)[0]

    def likelihood(self, z, validate_args=None):
        """``p(x | z)``: a Normal over every entry of the rows."""
        scale = self.log_scale.exp().clamp_min(MIN_SCALE)
        return Normal(self.decode(z), scale, validate_args=validate_args)

    def forward(self, x):
        mean, log_var = self.posterior(x)
        z = mean
        if self.training:
            z = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
        kl = 0.5 * (mean.pow(2) + log_var.exp() - 1.0 - log_var).sum(dim=1)
        # Per entry, as the engine's criterion averages the likelihood term.
        weight = self.beta * self.kl_ramp / self.n_features
        # No argument checks: a diverged network (NaN mean) gives a NaN loss,
        # which the engine reports as divergence (TrainingDivergedError).
        return self.likelihood(z, validate_args=False), {"kl": weight * kl.mean()}

    def log_likelihood(self, x, n_samples=1, generator=None):
        """Importance-weighted estimate of ``log p(x)`` per row, in nats.

        With ``n_samples=1`` this is the ELBO (with beta 1); more samples
        tighten the bound (Burda et al., 2016). Every row uses the same
        ``n_samples`` standard normal draws (from ``generator``), so a row's
        estimate does not depend on the other rows of the batch.
        """
        mean, log_var = self.posterior(x)
        std = (0.5 * log_var).exp()
        eps = torch.randn(
            (n_samples, 1, mean.shape[1]),
            generator=generator,
            device=mean.device,
            dtype=mean.dtype,
        )
        z = mean + std * eps  # (n_samples, batch, n_components)
        # No argument checks: a row that overflows the network gives NaN
        # parameters, and its likelihood is then -inf, not an exception.
        log_q = Normal(mean, std, validate_args=False).log_prob(z).sum(dim=-1)
        log_prior = Normal(0.0, 1.0, validate_args=False).log_prob(z).sum(dim=-1)
        flat = z.reshape(-1, z.shape[-1])
        p_x = self.likelihood(flat, validate_args=False)
        log_px = p_x.log_prob(x.repeat(n_samples, 1)).sum(dim=-1)
        log_w = log_px.reshape(n_samples, -1) + log_prior - log_q
        log_p = torch.logsumexp(log_w, dim=0) - math.log(n_samples)
        return torch.where(torch.isnan(log_p), -math.inf, log_p)
