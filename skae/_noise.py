"""Corruptions of training batches for :class:`skae.DenoisingAutoEncoder`.

Each is a small module-level class holding per-feature statistics as tensors,
called as ``corruption(x, generator) -> x_tilde`` by the training engine on the
input of every training batch. Module-level classes, so fitted estimators
pickle.
"""

import torch

NOISES = ("gaussian", "masking", "swap")


# -- corruptions -----------------------------------------------------------
class _FeatureNoise:
    """Base of the built-in corruptions: per-feature tensors, pickled on CPU.

    Subclasses store their statistics in ``self.stats`` (a dict of tensors of
    shape ``(n_features,)``) and implement ``__call__(x, generator)``. Nothing
    is written into ``x``: it may share memory with the target and with the
    user's array.
    """

    def __init__(self, noise_level, stats, low=1.0, high=1.0):
        self.noise_level = float(noise_level)
        self.stats = stats
        self.low, self.high = float(low), float(high)

    def _level(self, x, generator):
        """``noise_level``, or per row ``noise_level * U(low, high)`` of shape (batch, 1)."""
        if self.low == self.high:
            return self.noise_level * self.low
        u = torch.rand((x.shape[0], 1), generator=generator, device=x.device, dtype=x.dtype)
        return self.noise_level * (self.low + (self.high - self.low) * u)

    def _stat(self, name, x):
        stat = self.stats[name]
        if stat.device != x.device:
            # Only after unpickling or a device change; then kept there.
            stat = self.stats[name] = stat.to(x.device)
        return stat

    def __getstate__(self):
        # Tensors on an accelerator would not unpickle on a CPU-only machine.
        state = self.__dict__.copy()
        state["stats"] = {name: t.cpu() for name, t in self.stats.items()}
        return state

    def __setstate__(self, state):
        # Corruptions pickled before the per-row range trained at the nominal level.
        self.__dict__.update({"low": 1.0, "high": 1.0, **state})

    def __repr__(self):
        return (
            f"{type(self).__name__}(noise_level={self.noise_level}, "
            f"low={self.low}, high={self.high})"
        )


#: Gaussian training noise: every feature's scale is at least this share of the
#: features' mean deviation, so that near-constant features (border pixels)
#: still get noise to learn to ignore, as test noise rarely spares them.
NOISE_FLOOR = 0.5
#: Every built-in training noise: each row's level (a deviation multiple, or the
#: probability of masking / swapping an entry) is ``noise_level`` times a draw
#: from U(*LEVEL_RANGE), so that the network denoises weaker and stronger noise
#: than the nominal level, not that level alone. Chosen on the mismatch grid of
#: ``benchmarks/bench_denoise.py`` (digits and cardio), confirmed on pendigits
#: and satellite, which it does not use (results/denoise.md).
LEVEL_RANGE = (0.25, 1.25)


class GaussianNoise(_FeatureNoise):
    """Add ``N(0, (noise_level * u_i * std_j)^2)`` to entry ``(i, j)``.

    ``u_i`` is drawn per row from U(``low``, ``high``); ``low = high = 1``
    gives every row the nominal level.

    Parameters
    ----------
    noise_level : float
        Nominal noise standard deviation as a multiple of each feature's spread.
    std : torch.Tensor of shape (n_features,)
        Per-feature scale (the training rows' standard deviation, floored).
    low, high : float, default=1.0
        Range of the per-row multiplier of ``noise_level``.
    """

    def __init__(self, noise_level, std, low=1.0, high=1.0):
        super().__init__(noise_level, {"std": std}, low, high)

    def __call__(self, x, generator):
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        level = self._level(x, generator)  # a float, or (batch, 1)
        return x + noise * (level * self._stat("std", x))


class MaskingNoise(_FeatureNoise):
    """Set each entry of row ``i``, with probability ``noise_level * u_i``, to
    its feature's mean.

    Parameters
    ----------
    noise_level : float
        Nominal probability, in [0, 1], that an entry is masked.
    mean : torch.Tensor of shape (n_features,)
        Per-feature mean of the training rows.
    low, high : float, default=1.0
        Range of the per-row multiplier ``u_i`` of ``noise_level``; a
        probability above 1 masks every entry of the row.
    """

    def __init__(self, noise_level, mean, low=1.0, high=1.0):
        super().__init__(noise_level, {"mean": mean}, low, high)

    def __call__(self, x, generator):
        mask = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return torch.where(mask < self._level(x, generator), self._stat("mean", x), x)


class SwapNoise(_FeatureNoise):
    """Replace each entry of row ``i``, with probability ``noise_level * u_i``,
    by the same feature's value in another row of the batch, drawn at random.

    A batch of one row is returned unchanged (there is no other row).

    Parameters
    ----------
    noise_level : float
        Nominal probability, in [0, 1], that an entry is swapped.
    low, high : float, default=1.0
        Range of the per-row multiplier ``u_i`` of ``noise_level``.
    """

    def __init__(self, noise_level, low=1.0, high=1.0):
        super().__init__(noise_level, {}, low, high)

    def __call__(self, x, generator):
        n_rows = x.shape[0]
        if n_rows < 2:
            return x
        mask = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        mask = mask < self._level(x, generator)
        # An offset in [1, n_rows) never picks the row itself.
        offset = torch.randint(1, n_rows, x.shape, generator=generator, device=x.device)
        donors = (torch.arange(n_rows, device=x.device)[:, None] + offset) % n_rows
        return torch.where(mask, torch.gather(x, 0, donors), x)


class CallableNoise:
    """Run a user's ``f(x, generator) -> x_tilde`` on a copy of the batch.

    The copy lets ``f`` work in place without touching the target; the result
    is checked to be a tensor of the batch's shape.
    """

    def __init__(self, func):
        self.func = func

    def __call__(self, x, generator):
        x_tilde = self.func(x.clone(), generator)
        if not isinstance(x_tilde, torch.Tensor) or x_tilde.shape != x.shape:
            got = tuple(x_tilde.shape) if isinstance(x_tilde, torch.Tensor) else type(x_tilde)
            raise ValueError(
                f"noise={self.func!r} must return a tensor of the batch's shape "
                f"{tuple(x.shape)}, got {got}."
            )
        return x_tilde.to(x.dtype)

    def __repr__(self):
        return f"CallableNoise({self.func!r})"


# -- estimator -------------------------------------------------------------
