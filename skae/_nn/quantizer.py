"""Vector quantizers and the vector-quantized autoencoder module.

Pure torch: nothing here knows about estimators or the training engine. In
training mode a :class:`VectorQuantizer` looks after its own codebook:

- on its first training batch the codebook is initialised by k-means on that
  batch's inputs (the encoder outputs), not at random;
- codes unused for ``dead_code_steps`` training steps are re-seeded from the
  current batch, drawn with probability proportional to each row's squared
  quantization error (as k-means++ seeds), so they land where the codebook
  fits worst;
- with ``ema_decay`` the codebook follows exponential moving averages of the
  rows assigned to each code (no codebook gradient); with ``ema_decay=None``
  it is a parameter trained through a codebook loss.

All randomness comes from torch's global generator, so a seeded run repeats.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .mlp import EncoderDecoder


def squared_distances(x, codebook):
    """Squared Euclidean distances between rows and codes.

    Shape: ``x (batch, dim)``, ``codebook (n_codes, dim)`` -> ``(batch, n_codes)``.
    """
    return x.pow(2).sum(1, keepdim=True) - 2 * x @ codebook.T + codebook.pow(2).sum(1)


def kmeans(x, n_codes, n_iter=10):
    """Lloyd's k-means on the rows of ``x``, started from rows of ``x``.

    Starting rows are drawn with torch's global CPU generator, without
    replacement when there are enough rows, else with replacement (the
    duplicates then stay unused and are re-seeded later as dead codes).

    Returns
    -------
    centers : Tensor of shape (n_codes, dim)
    counts : Tensor of shape (n_codes,)
        Rows of ``x`` nearest to each center, as floats.
    """
    n = len(x)
    if n >= n_codes:
        start = torch.randperm(n)[:n_codes]
    else:
        start = torch.randint(n, (n_codes,))
    centers = x[start.to(x.device)].clone()  # (n_codes, dim)
    for _ in range(n_iter):
        counts, sums = cluster_sums(x, squared_distances(x, centers).argmin(1), n_codes)
        filled = counts > 0
        centers[filled] = sums[filled] / counts[filled, None]
    counts, _ = cluster_sums(x, squared_distances(x, centers).argmin(1), n_codes)
    return centers, counts


def cluster_sums(x, codes, n_codes):
    """Rows per code ``(n_codes,)`` and sum of each code's rows ``(n_codes, dim)``.

    A one-hot matrix product rather than ``index_add_``: deterministic on GPUs
    and a single kernel.
    """
    onehot = F.one_hot(codes, n_codes).to(x.dtype)  # (batch, n_codes)
    return onehot.sum(0), onehot.T @ x


def _full_precision(x):
    """Autocast off on ``x``'s device: the block computes in float32."""
    return torch.autocast(x.device.type, enabled=False)


class VectorQuantizer(nn.Module):
    """Snap each row to the nearest vector of a learned codebook.

    Parameters
    ----------
    n_codes : int
        Number of codebook vectors.
    code_dim : int
        Width of the rows and of the codebook vectors.
    commitment_cost : float, default=0.25
        Weight of the commitment loss ``||z - sg(z_q)||^2``, which keeps the
        encoder close to the codes it picks.
    ema_decay : float or None, default=0.99
        Decay of the moving averages that update the codebook; None learns
        the codebook by gradient through the codebook loss
        ``||sg(z) - z_q||^2`` instead.
    dead_code_steps : int, default=20
        A code unused for this many training steps is re-seeded.
    kmeans_iters : int, default=10
        Lloyd iterations of the k-means initialisation.
    eps : float, default=1e-5
        Laplace smoothing of the moving-average cluster sizes.

    Shape
    -----
    - Input: ``(batch, code_dim)``
    - Output: ``z_q (batch, code_dim)``, ``codes (batch,)`` int64 and a dict
      of scalar losses.
    """

    def __init__(
        self,
        n_codes,
        code_dim,
        *,
        commitment_cost=0.25,
        ema_decay=0.99,
        dead_code_steps=20,
        kmeans_iters=10,
        eps=1e-5,
    ):
        super().__init__()
        self.n_codes = n_codes
        self.code_dim = code_dim
        self.commitment_cost = commitment_cost
        self.ema_decay = ema_decay
        self.dead_code_steps = dead_code_steps
        self.kmeans_iters = kmeans_iters
        self.eps = eps
        codebook = torch.zeros(n_codes, code_dim)
        if ema_decay is None:
            self.codebook = nn.Parameter(codebook)
        else:
            self.register_buffer("codebook", codebook)
            self.register_buffer("cluster_size", torch.zeros(n_codes))
            self.register_buffer("code_sum", torch.zeros(n_codes, code_dim))
        self.register_buffer("steps_unused", torch.zeros(n_codes, dtype=torch.long))
        self.register_buffer("initialized", torch.tensor(False))

    def extra_repr(self):
        return (
            f"n_codes={self.n_codes}, code_dim={self.code_dim}, "
            f"commitment_cost={self.commitment_cost}, ema_decay={self.ema_decay}"
        )

    def nearest(self, z):
        """Index of the nearest code of each row, ``(batch,)`` int64."""
        with _full_precision(z):
            return squared_distances(z.float(), self.codebook.detach()).argmin(1)

    def forward(self, z):
        assert z.ndim == 2 and z.shape[1] == self.code_dim, (
            f"expected rows of width {self.code_dim}, got shape {tuple(z.shape)}"
        )
        # Under autocast (bf16/fp16 training) the rows come in half precision;
        # the codebook and its moving averages stay float32 (writing half rows
        # into them fails), and so do the distances that pick the codes.
        with _full_precision(z):
            return self._quantize(z.float())

    def _quantize(self, z):
        if self.training:
            if not self.initialized:
                self._init_codebook(z.detach())
            else:
                self._restart_dead_codes(z.detach())
        codes = self.nearest(z.detach())  # (batch,)
        z_q = self.codebook[codes]  # (batch, code_dim)
        losses = {"commitment": self.commitment_cost * F.mse_loss(z, z_q.detach())}
        if self.ema_decay is None:
            losses["codebook"] = F.mse_loss(z_q, z.detach())
        elif self.training:
            self._ema_update(z.detach(), codes)
        if self.training:
            with torch.no_grad():
                self.steps_unused += 1
                self.steps_unused[codes] = 0
        return z_q, codes, losses

    @torch.no_grad()
    def _init_codebook(self, z):
        """Set the whole codebook by k-means on the rows ``z``."""
        centers, counts = kmeans(z, self.n_codes, self.kmeans_iters)
        self._set_codes(torch.arange(self.n_codes, device=z.device), centers, counts)
        self.initialized.fill_(True)

    @torch.no_grad()
    def _restart_dead_codes(self, z):
        """Re-seed codes unused for ``dead_code_steps`` steps from rows of ``z``.

        Rows are drawn with probability proportional to their squared
        quantization error, so the new codes land where the codebook fits worst.
        """
        dead = torch.nonzero(self.steps_unused >= self.dead_code_steps).flatten()
        if len(dead) == 0:
            return
        errors = squared_distances(z, self.codebook).min(1).values.clamp_min(0)
        if not torch.isfinite(errors).all():
            # A diverging encoder: leave the codebook; the engine stops on the loss.
            return
        n_candidates = int(torch.count_nonzero(errors))
        if n_candidates > 0:
            replacement = n_candidates < len(dead)
            rows = torch.multinomial(errors, len(dead), replacement=replacement)
        else:
            rows = torch.randint(len(z), (len(dead),), device=z.device)
        self._set_codes(dead, z[rows], torch.ones(len(dead), device=z.device))

    def _set_codes(self, index, vectors, counts):
        self.codebook.data[index] = vectors
        self.steps_unused[index] = 0
        if self.ema_decay is not None:
            # Moving averages consistent with the new codes; an empty code
            # weighs as one row so that it is not pulled to the origin.
            counts = counts.to(self.cluster_size.dtype).clamp_min(1)
            self.cluster_size[index] = counts
            self.code_sum[index] = vectors * counts[:, None]

    @torch.no_grad()
    def _ema_update(self, z, codes):
        decay = self.ema_decay
        counts, sums = cluster_sums(z, codes, self.n_codes)
        self.cluster_size.mul_(decay).add_(counts, alpha=1 - decay)
        self.code_sum.mul_(decay).add_(sums, alpha=1 - decay)
        total = self.cluster_size.sum()
        size = (self.cluster_size + self.eps) / (total + self.n_codes * self.eps) * total
        self.codebook.copy_(self.code_sum / size[:, None])


class ResidualVectorQuantizer(nn.Module):
    """Stack of :class:`VectorQuantizer`; each quantizes what the previous left.

    The first stage quantizes ``z``; stage ``i`` quantizes the residual
    ``z - (q_1 + ... + q_{i-1})``; the output is ``q_1 + ... + q_n``. With one
    stage this is a plain vector quantizer.

    Parameters
    ----------
    n_codebooks : int
        Number of stages, each with its own codebook.
    n_codes : int
        Codes per codebook.
    code_dim : int
        Width of the rows and codes.
    **kwargs
        Passed to every :class:`VectorQuantizer`.

    Shape
    -----
    - Input: ``(batch, code_dim)``
    - Output: ``z_q (batch, code_dim)``, ``codes (batch, n_codebooks)`` int64
      and a dict of scalar losses summed over the stages.
    """

    def __init__(self, n_codebooks, n_codes, code_dim, **kwargs):
        super().__init__()
        self.stages = nn.ModuleList(
            VectorQuantizer(n_codes, code_dim, **kwargs) for _ in range(n_codebooks)
        )

    @property
    def codebooks(self):
        """All codebooks, ``(n_codebooks, n_codes, code_dim)``."""
        return torch.stack([stage.codebook.detach() for stage in self.stages])

    def forward(self, z):
        residual = z
        z_q = torch.zeros_like(z)
        codes, losses = [], {}
        for stage in self.stages:
            q, stage_codes, stage_losses = stage(residual)
            residual = residual - q.detach()
            z_q = z_q + q
            codes.append(stage_codes)
            for name, value in stage_losses.items():
                losses[name] = losses.get(name, 0) + value
        return z_q, torch.stack(codes, 1), losses

    def lookup(self, codes):
        """Sum of the chosen codes: ``(batch, n_codebooks)`` -> ``(batch, code_dim)``."""
        assert codes.ndim == 2 and codes.shape[1] == len(self.stages), (
            f"expected codes of shape (batch, {len(self.stages)}), got {tuple(codes.shape)}"
        )
        z_q = 0
        for i, stage in enumerate(self.stages):
            z_q = z_q + stage.codebook[codes[:, i]]
        return z_q


class VQAutoEncoder(EncoderDecoder):
    """Encoder, residual vector quantizer and decoder.

    ``encode`` gives continuous latents, ``quantize`` snaps them to codes and
    ``decode`` rebuilds rows from quantized latents. When ``code_dim`` differs
    from ``n_components`` the codes are looked up in a ``code_dim``-wide
    linear projection of the encoder output (factorized codes) and projected
    back before decoding.

    Parameters
    ----------
    encoder : torch.nn.Module
        Maps rows ``(batch, n_features)`` to latents ``(batch, n_components)``.
    decoder : torch.nn.Module
        Maps latents ``(batch, n_components)`` back to rows.
    n_components : int
        Width of the encoder output and decoder input.
    n_codes : int
        Codes per codebook.
    n_codebooks : int
        Residual quantization stages.
    code_dim : int
        Width of the codebook vectors.
    **quantizer_kwargs
        Passed to every :class:`VectorQuantizer`.

    Shape
    -----
    - Input: ``(batch, n_features)``
    - Latent: ``(batch, code_dim)``; codes: ``(batch, n_codebooks)`` int64
    - Output: ``(batch, n_features)`` and a dict of scalar losses
    """

    def __init__(
        self,
        encoder,
        decoder,
        n_components,
        *,
        n_codes,
        n_codebooks,
        code_dim,
        **quantizer_kwargs,
    ):
        super().__init__(encoder, decoder)
        factorized = code_dim != n_components
        self.project_in = nn.Linear(n_components, code_dim) if factorized else nn.Identity()
        self.quantizer = ResidualVectorQuantizer(n_codebooks, n_codes, code_dim, **quantizer_kwargs)
        self.project_out = nn.Linear(code_dim, n_components) if factorized else nn.Identity()

    def encode(self, x):
        return self.project_in(self.encoder(x))  # (batch, code_dim)

    def quantize(self, z):
        return self.quantizer(z)  # z_q (batch, code_dim), codes, losses

    def codes(self, x):
        """Codes of the rows ``x``, ``(batch, n_codebooks)``; -1 where the latent
        (or its squared norm, in the distances) overflows, since the
        nearest-code search would otherwise pick a code for NaN."""
        z = self.encode(x)
        overflow = ~torch.isfinite(z.pow(2).sum(dim=1))
        return self.quantizer(z)[1].masked_fill(overflow[:, None], -1)

    def embed(self, x):
        return self.quantizer(self.encode(x))[0]  # (batch, code_dim)

    def decode(self, z_q):
        return self.decoder(self.project_out(z_q))  # (batch, n_features)

    def decode_codes(self, codes):
        return self.decode(self.quantizer.lookup(codes))  # (batch, n_features)

    def forward(self, x):
        z = self.encode(x)
        z_q, _, losses = self.quantizer(z)
        if self.training:
            z_q = z + (z_q - z).detach()  # straight-through gradient to the encoder
        return self.decode(z_q), losses
