"""The disentangling autoencoder and everything only it uses.

``estimator`` (:class:`DisentangledAutoEncoder`), ``rendering`` (the methods
that render content in a group), ``labels`` and ``sequences`` (its input
checks), ``spread`` (the per-feature maps of ``convert``), and its torch parts:
``modules``, ``losses`` and ``group_encoder``.
"""

from .estimator import DisentangledAutoEncoder

__all__ = ["DisentangledAutoEncoder"]
