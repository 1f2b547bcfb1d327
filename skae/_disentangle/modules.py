"""Modules that split a code into content and group: the disentangling nets.

Nothing here knows about estimators or the training engine. Both networks
share one interface, used by :class:`skae.DisentangledAutoEncoder`:

- ``encode(x) -> z``: the content code, bounded by tanh (snapped to a
  codebook when the network has one; ``content_codes(x)`` gives the indices);
- ``decode(z, g) -> x_hat``: rows (or frames) rendered in group code ``g``;
- ``embed_group(x, ...)``: a code for a group not seen in training, from a
  few of its examples: encoded by the group encoder when the network has one
  (:mod:`skae._disentangle.group_encoder`), else fitted;
- ``forward(x, cond)``: the reconstruction of ``x`` in its own group
  ``cond`` (integer ids), plus the loss terms that keep the group out of the
  content code: ``{"mmd": ...}``, the discrepancy between the codes of each
  group and those of all groups (:func:`skae._disentangle.losses.group_mmd`), and/or
  ``{"adversary": cross_entropy}``, whose gradient is reversed (and scaled) on
  its way into the encoder.
"""

import torch
import torch.nn.functional as F
from torch import nn

from .._nn.dropout import Dropout
from .._nn.mlp import ACTIVATIONS, MLP, mirrored_mlps
from .._nn.quantizer import VectorQuantizer
from .group_encoder import GroupEncoder, same_group_partners
from .losses import group_mmd, reverse_gradient

#: Frames seen by each convolution of the sequence network.
KERNEL_SIZE = 5


def time_jitter(z, probability):
    """Replace each frame's code by a neighbour's with ``probability``.

    Time-jitter regularisation [1]_: in training, each code of
    ``z`` ``(batch, frames, n_components)`` is swapped for the code of the
    frame before or after it (each with ``probability / 2``; the first and
    last frames keep theirs on the side that has none). The decoder cannot
    rely on a code's exact frame, so the codes learn to describe slower,
    phone-like content rather than frame-exact detail.

    References
    ----------
    .. [1] J. Chorowski, R. J. Weiss, S. Bengio and A. van den Oord,
       "Unsupervised speech representation learning using WaveNet
       autoencoders", IEEE/ACM TASLP 27(12), 2019, arXiv:1901.08810.
    """
    draw = torch.rand(z.shape[:2], device=z.device)
    shift = torch.where(draw < probability / 2, -1, torch.where(draw < probability, 1, 0))
    frames = (torch.arange(z.shape[1], device=z.device) + shift).clamp(0, z.shape[1] - 1)
    return z.gather(1, frames.unsqueeze(-1).expand_as(z))


class _Disentangler(nn.Module):
    """Group codes (a table, or a group encoder) and the optional adversary."""

    #: Probability of :func:`time_jitter` on the decoded codes in training
    #: (sequence networks only).
    code_jitter = 0.0

    def _init_groups(
        self,
        n_components,
        n_groups,
        group_dim,
        adversary_sizes,
        adversary_weight,
        mmd_weight,
        n_codes=None,
    ):
        self.group_embedding = nn.Embedding(n_groups, group_dim)
        nn.init.normal_(self.group_embedding.weight, std=0.1)
        self.group_encoder = None  # a network that computes group codes, if any
        # Content codes snapped to a codebook (a VQ bottleneck), if any.
        self.quantizer = None if n_codes is None else VectorQuantizer(n_codes, n_components)
        self.mmd_weight = float(mmd_weight)
        self.adversary_weight = float(adversary_weight)
        self.adversary = None
        if adversary_weight > 0:
            self.adversary = MLP(n_components, adversary_sizes, n_groups, activation="relu")

    def _adversary_loss(self, z, cond):
        # z: (n, n_components) codes, cond: (n,) group ids.
        logits = self.adversary(reverse_gradient(z, self.adversary_weight))
        return F.cross_entropy(logits, cond)

    def group_codes(self, x, cond):
        """The group code of each item: looked up, or encoded from a partner.

        With a group encoder, an item's code is encoded from another item of
        its group in the batch (:func:`same_group_partners`), or from itself
        when it is its group's only item there (as AdaIN-VC always does),
        in training and validation alike.
        """
        if self.group_encoder is None:
            return self.group_embedding(cond)
        return self.group_encoder(x[same_group_partners(cond)])

    def _snap(self, z):
        # Any (..., n_components) codes -> nearest codebook vectors, indices, losses.
        z_q, codes, losses = self.quantizer(z.reshape(-1, z.shape[-1]))
        return z_q.reshape(z.shape), codes.reshape(z.shape[:-1]), losses

    def encode(self, x):
        """The content code; snapped to the codebook when there is one."""
        z = self.encode_continuous(x)
        return z if self.quantizer is None else self._snap(z)[0]

    def content_codes(self, x):
        """Index of the codebook vector of each content code: ``x`` -> ``(batch[, frames])``."""
        z = self.encode_continuous(x)
        return self.quantizer.nearest(z.reshape(-1, z.shape[-1])).reshape(z.shape[:-1])

    def forward(self, x, cond):
        z = self.encode_continuous(x)
        terms = {}
        z_decoded = z
        if self.quantizer is not None:
            z_q, _, losses = self._snap(z)
            z_decoded = z + (z_q - z).detach()  # straight-through gradient to the encoder
            terms.update({name: loss - loss.detach() for name, loss in losses.items()})
        if self.training and self.code_jitter > 0:
            z_decoded = time_jitter(z_decoded, self.code_jitter)
        x_hat = self.decode(z_decoded, self.group_codes(x, cond))
        # Only the gradients of these terms count: their values are kept out
        # of the monitored training loss, which stays the reconstruction
        # error. The adversary's loss *rises* as the code sheds the group; the
        # discrepancy is a noisy estimate from a subsample of the batch, which
        # would end training on a plateau of noise.
        if self.mmd_weight > 0 and self.training:
            mmd = self.mmd_weight * group_mmd(*self._frames(z, cond))
            terms["mmd"] = mmd - mmd.detach()
        if self.adversary is not None:
            loss = self._adversary_loss(*self._frames(z, cond))
            terms["adversary"] = loss - loss.detach()
        return (x_hat, terms) if terms else x_hat

    def embed_group(self, x, *, n_steps, lr, criterion, refine=False):
        """A group code for examples ``x`` of one group; the network stays fixed.

        With a group encoder: the mean of its codes of the examples (one
        forward pass), and unless ``refine`` that is the code (``n_steps``,
        ``lr`` and ``criterion`` are unused). Otherwise fitted: starting from
        that mean, or without a group encoder from the mean of the group
        embeddings, ``n_steps`` Adam steps on the code alone minimise
        ``criterion`` between ``x`` and ``x`` decoded from its own content
        codes in that group code.

        Shape: ``x`` as the network's input -> ``(group_dim,)``.
        """
        with torch.no_grad():
            if self.group_encoder is not None:
                g = self.group_encoder(x).mean(0)
                if not refine:
                    return g
            else:
                g = self.group_embedding.weight.mean(0)
            z = self.encode(x)
        g = g.clone().requires_grad_(True)
        optimizer = torch.optim.Adam([g], lr=lr)
        with torch.enable_grad():
            for _ in range(n_steps):
                optimizer.zero_grad()
                loss = criterion(self.decode(z, g.expand(len(x), -1)), x)
                # Gradient of the code only: the network's weights stay as they are.
                (g.grad,) = torch.autograd.grad(loss, g)
                optimizer.step()
        return g.detach()

    def extra_repr(self):
        return f"mmd_weight={self.mmd_weight}, adversary_weight={self.adversary_weight}"


class DisentangledMLP(_Disentangler):
    """MLP content encoder and a decoder fed the content and the group code.

    Parameters
    ----------
    n_features : int
        Width of the data.
    n_components : int
        Width of the content code (tanh-bounded).
    n_groups : int
        Number of groups (rows of the embedding table).
    group_dim : int
        Width of the group code.
    hidden_sizes : sequence of int
        Hidden widths of the encoder; the decoder uses them reversed, the
        adversary as given.
    activation, dropout, batch_norm, output_activation
        As in :class:`skae._nn.mlp.MLP`.
    adversary_weight : float, default=0.0
        Scale of the reversed gradient from the group classifier into the
        encoder; 0 builds no classifier.
    mmd_weight : float, default=0.0
        Weight of :func:`group_mmd` of the content codes in the loss.
    n_codes : int or None, default=None
        Snap the content codes to the nearest of ``n_codes`` learned vectors
        (a :class:`~skae._nn.quantizer.VectorQuantizer`); None: continuous.

    Shape
    -----
    - Input: ``(batch, n_features)``, ``cond``: ``(batch,)`` integer ids
    - Code: ``(batch, n_components)``; group code ``(batch, group_dim)``
    - Output: ``(batch, n_features)``
    """

    def __init__(
        self,
        n_features,
        n_components,
        n_groups,
        group_dim,
        hidden_sizes,
        *,
        activation="relu",
        dropout=0.0,
        batch_norm=False,
        output_activation=None,
        adversary_weight=0.0,
        mmd_weight=0.0,
        n_codes=None,
    ):
        super().__init__()
        self.encoder, self.decoder = mirrored_mlps(
            n_features,
            hidden_sizes,
            n_components,
            decoder_extra_inputs=group_dim,
            code_activation="tanh",
            output_activation=output_activation,
            activation=activation,
            dropout=dropout,
            batch_norm=batch_norm,
        )
        self._init_groups(
            n_components, n_groups, group_dim, hidden_sizes, adversary_weight, mmd_weight, n_codes
        )

    def encode_continuous(self, x):
        return self.encoder(x)  # (batch, n_components)

    def decode(self, z, g):
        return self.decoder(torch.cat([z, g], dim=1))  # (batch, n_features)

    @staticmethod
    def _frames(z, cond):
        return z, cond


class _AdaIN(nn.Module):
    """Instance-normalise channels over time, then scale/shift from a code.

    ``normalize=False`` skips the normalisation (plain FiLM conditioning).
    """

    def __init__(self, channels, group_dim, normalize=True):
        super().__init__()
        self.normalize = normalize
        self.affine = nn.Linear(group_dim, 2 * channels)
        nn.init.zeros_(self.affine.weight)
        nn.init.zeros_(self.affine.bias)

    def forward(self, h, g):
        # h: (batch, channels, frames), g: (batch, group_dim)
        if self.normalize:
            h = F.instance_norm(h)
        scale, shift = self.affine(g).unsqueeze(-1).chunk(2, dim=1)
        return h * (1 + scale) + shift


class DisentangledConv(_Disentangler):
    """1-D convolutional content encoder and group-conditioned decoder.

    With ``instance_norm=True`` every hidden encoder layer is instance
    normalised over time (removing per-utterance channel statistics, where
    the group lives) and the decoder injects the group code by adaptive
    instance normalisation (AdaIN-VC); otherwise the decoder conditions its
    hidden layers on the group code by a learned scale and shift (FiLM).
    The group code is also concatenated to the decoder's input.

    Parameters
    ----------
    n_features : int
        Features per frame.
    n_components : int
        Width of the per-frame content code (tanh-bounded).
    n_groups : int
        Number of groups.
    group_dim : int
        Width of the group code.
    hidden_sizes : sequence of int
        Channels of the encoder's hidden convolutions; reversed in the decoder.
    activation : str, default="relu"
        Hidden activation.
    dropout : float, default=0.0
        Dropout probability after hidden activations.
    instance_norm : bool, default=False
        Instance normalisation in the encoder and AdaIN in the decoder.
    group_encoder : bool, default=False
        Compute group codes from the sequences with a
        :class:`~skae._disentangle.group_encoder.GroupEncoder` of the encoder's widths
        instead of looking them up.
    adversary_weight : float, default=0.0
        Scale of the reversed gradient from a frame-level group classifier.
    mmd_weight : float, default=0.0
        Weight of :func:`group_mmd` of the per-frame content codes in the loss.
    n_codes : int or None, default=None
        Snap each frame's content code to the nearest of ``n_codes`` learned
        vectors (a :class:`~skae._nn.quantizer.VectorQuantizer`); None: continuous.
    code_jitter : float, default=0.0
        In training, the decoder gets each frame's content code replaced by
        a neighbour's with this probability (:func:`time_jitter`).

    Shape
    -----
    - Input: ``(batch, frames, n_features)``, ``cond``: ``(batch,)`` ids
    - Code: ``(batch, frames, n_components)``; group code ``(batch, group_dim)``
    - Output: ``(batch, frames, n_features)``
    """

    def __init__(
        self,
        n_features,
        n_components,
        n_groups,
        group_dim,
        hidden_sizes,
        *,
        activation="relu",
        dropout=0.0,
        instance_norm=False,
        group_encoder=False,
        adversary_weight=0.0,
        mmd_weight=0.0,
        n_codes=None,
        code_jitter=0.0,
    ):
        super().__init__()
        self.instance_norm = instance_norm
        self.code_jitter = float(code_jitter)
        self.activation = ACTIVATIONS[activation]()
        self.dropout = Dropout(dropout) if dropout > 0 else nn.Identity()
        pad = KERNEL_SIZE // 2
        widths = [n_features, *hidden_sizes]
        self.encoder = nn.ModuleList(
            nn.Conv1d(a, b, KERNEL_SIZE, padding=pad, padding_mode="replicate")
            for a, b in zip(widths[:-1], widths[1:])
        )
        self.to_code = nn.Conv1d(widths[-1], n_components, 1)
        widths = [n_components + group_dim, *reversed(hidden_sizes)]
        self.decoder = nn.ModuleList(
            nn.Conv1d(a, b, KERNEL_SIZE, padding=pad, padding_mode="replicate")
            for a, b in zip(widths[:-1], widths[1:])
        )
        self.conditioners = nn.ModuleList(
            _AdaIN(b, group_dim, normalize=instance_norm) for b in widths[1:]
        )
        self.to_output = nn.Conv1d(widths[-1], n_features, 1)
        self._init_groups(
            n_components, n_groups, group_dim, hidden_sizes, adversary_weight, mmd_weight, n_codes
        )
        if group_encoder:
            self.group_encoder = GroupEncoder(n_features, hidden_sizes, group_dim, activation)
            # Sums and counts of each group's encoded codes over the training
            # calls so far: the group codes are their means.
            self.register_buffer("group_code_sums", torch.zeros(n_groups, group_dim))
            self.register_buffer("group_code_counts", torch.zeros(n_groups))

    @torch.no_grad()
    def add_group_codes(self, codes, ids):
        """Add encoded group codes to their groups; each seen group's code is their mean.

        The group encoder's codes of training items, summed per group over
        the training calls so far (``group_code_sums``, ``group_code_counts``):
        every group seen so far gets the mean as its entry of
        ``group_embedding``, the code it is rendered in by id.

        Shape: ``codes`` ``(n, group_dim)``, ``ids`` ``(n,)`` group ids.
        """
        sums, counts = self.group_code_sums, self.group_code_counts
        ids = ids.to(sums.device)
        sums.index_add_(0, ids, codes.to(sums.device))
        counts.index_add_(0, ids, torch.ones(len(ids), device=counts.device))
        seen = counts > 0
        self.group_embedding.weight[seen] = sums[seen] / counts[seen, None]

    def encode_continuous(self, x):
        h = x.transpose(1, 2)  # (batch, n_features, frames)
        for conv in self.encoder:
            h = conv(h)
            if self.instance_norm:
                h = F.instance_norm(h)
            h = self.dropout(self.activation(h))
        return torch.tanh(self.to_code(h)).transpose(1, 2)  # (batch, frames, n_components)

    def decode(self, z, g):
        # z: (batch, frames, n_components), g: (batch, group_dim)
        h = z.transpose(1, 2)
        h = torch.cat([h, g.unsqueeze(-1).expand(-1, -1, h.shape[-1])], dim=1)
        for conv, condition in zip(self.decoder, self.conditioners):
            h = self.dropout(self.activation(condition(conv(h), g)))
        return self.to_output(h).transpose(1, 2)  # (batch, frames, n_features)

    @staticmethod
    def _frames(z, cond):
        # Every frame's code is classified: (batch * frames, n_components).
        n_frames = z.shape[1]
        return z.reshape(-1, z.shape[-1]), cond.repeat_interleave(n_frames)

    def extra_repr(self):
        return (
            f"instance_norm={self.instance_norm}, code_jitter={self.code_jitter}, "
            f"{super().extra_repr()}"
        )
