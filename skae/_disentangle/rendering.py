"""Rendering content in a group: the disentangling autoencoder's methods.

:class:`GroupConversionMixin` holds the estimator's methods that render
content codes in a group given by label, by a code of its own or by a few
examples (:meth:`convert`, :meth:`embed_group`, ...). Labels and codes are
resolved by :mod:`skae._disentangle.labels`.
"""

from __future__ import annotations

from numbers import Real
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted

from .._engine.choices import LOSSES, entry_losses
from .._engine.data import as_tensor
from .._typing import RandomStateLike
from .._utils import check_flag, check_n_samples, check_positive_int, subsample
from .labels import group_codes, group_ids
from .sequences import cut_windows, is_sequences
from .spread import apply_map, compensation_map, feature_frames, moments, spread_map

#: Training windows (or rows) of a new group that ``embed_group`` fits to.
_MAX_EMBED_EXAMPLES = 2048
#: Default optimisation of a fitted (not encoded) new group code.
_EMBED_STEPS, _EMBED_LR = 200, 0.05
#: ``convert(..., variance_compensation="auto")`` with a trained target group:
#: half the log spread ratio (the geometric mean of rendered and real spread).
_AUTO_VARIANCE_COMPENSATION = 0.5


class GroupConversionMixin:
    """Rendering in groups, for :class:`skae.DisentangledAutoEncoder`.

    The methods that take a group: the learned group codes, a code for a new
    group (:meth:`embed_group`), decoding content codes in a group
    (:meth:`inverse_transform`), converting rows (:meth:`convert`) and
    generating rows in a group (:meth:`sample`), and the reconstruction
    error of rows decoded in their own group (:meth:`reconstruction_error`,
    :meth:`score`). The estimator provides
    ``classes_``, ``module_`` (with ``encode``, ``decode(z, g)``,
    ``group_embedding`` and ``embed_group``), ``_check_input``, ``_encode``,
    ``_infer`` and ``_training_codes``.
    """

    if TYPE_CHECKING:  # what DisentangledAutoEncoder provides
        classes_: NDArray[Any]
        module_: Any
        transform: Any
        _check_input: Any
        _encode: Any
        _infer: Any
        _training_codes: NDArray[np.float32]
        _group_moments: NDArray[np.float32]
        _sequence_input: Any

    @property
    def group_embeddings_(self) -> NDArray[np.float32]:
        """The code of each group in ``classes_``: (n_groups, group_dim)."""
        check_is_fitted(self)
        return self.module_.group_embedding.weight.detach().cpu().numpy().copy()

    def embed_group(
        self,
        X_examples: ArrayLike,
        *,
        n_steps: int = _EMBED_STEPS,
        lr: float = _EMBED_LR,
        refine: bool = False,
    ) -> NDArray[np.float32]:
        """A group code for a new group from a few of its rows (or sequences).

        With ``group_encoder=True`` the code is the mean of the group
        encoder's codes of the examples' windows: one forward pass
        (``n_steps`` and ``lr`` are not used unless ``refine``). Otherwise it
        is fitted to the examples: starting from the mean of
        :attr:`group_embeddings_`, ``n_steps`` Adam steps minimise the
        reconstruction loss of the examples decoded from their own content
        codes; the network stays fixed. Pass the result as ``group_code=`` to
        :meth:`convert` or :meth:`inverse_transform` (one-shot conversion).

        Parameters
        ----------
        X_examples : array-like of shape (n_examples, n_features), or sequences
            Rows (or sequences) of the new group, of the kind seen in fit.
        n_steps : int, default=200
            Optimisation steps.
        lr : float, default=0.05
            Step size of the optimisation.
        refine : bool, default=False
            With ``group_encoder=True``: start the optimisation from the
            encoder's code instead of returning it. The code then fits the
            examples more closely, at the cost of ``n_steps`` passes over
            them (a lower learning rate, e.g. 0.01, suits a start that is
            already near). Without a group encoder the code is always
            fitted and ``refine`` changes nothing.

        Returns
        -------
        group_code : ndarray of shape (group_dim,), dtype float32
            The code of the group of ``X_examples``.
        """
        check_is_fitted(self)
        check_flag(refine, "refine")
        check_positive_int(n_steps, "n_steps")
        if not isinstance(lr, Real) or not lr > 0:
            raise ValueError(f"lr must be a positive number, got {lr!r}.")
        return self._embed_checked(self._check_input(X_examples), n_steps, lr, refine)

    def _embed_checked(self, X, n_steps=_EMBED_STEPS, lr=_EMBED_LR, refine=False):
        """:meth:`embed_group` of examples already checked by ``_check_input``."""
        if self._sequence_input:
            X, _ = cut_windows(X, self.segment_length)
        x = as_tensor(subsample(X, _MAX_EMBED_EXAMPLES)).to(self.device_)
        module = self.module_
        module.eval()
        code = module.embed_group(
            x, n_steps=n_steps, lr=lr, criterion=LOSSES[self.loss](), refine=refine
        )
        return code.cpu().numpy().astype(np.float32)

    def _check_content_codes(self, Z):
        """Validate content codes: rows, a 3-D array or a list of sequences of codes."""
        if not (self._sequence_input and is_sequences(Z)):
            Z = check_array(Z, dtype=np.float32)
            codes = [Z]
        else:
            codes = [check_array(z, dtype=np.float32) for z in Z]
            Z = np.stack(codes) if getattr(Z, "ndim", None) == 3 else codes
        if any(z.shape[1] != self._n_features_out for z in codes):
            raise ValueError(
                f"X has {codes[0].shape[1]} features, but {type(self).__name__}."
                f"inverse_transform is expecting {self._n_features_out} latent "
                "features (n_components) as input."
            )
        return Z

    def inverse_transform(
        self, X: ArrayLike, y: ArrayLike | None = None, *, group_code: ArrayLike | None = None
    ) -> NDArray[np.float32] | list[NDArray[np.float32]]:
        """Render content codes in group(s) ``y`` (or a given group code).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components), or sequences
            Content codes, e.g. from :meth:`transform`.
        y : label or array-like of shape (n_samples,), default=None
            The group to render in: one label for all, or one per row
            (sequence). Required unless ``group_code`` is given.
        group_code : array-like of shape (group_dim,) or (n_samples, group_dim), \
                default=None
            Group code(s) to render in instead of ``y``, e.g. from
            :meth:`embed_group`.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features), dtype float32
            Rows (or sequences of frames) rendered in the chosen group(s).
        """
        check_is_fitted(self)
        Z = self._check_content_codes(X)
        G = group_codes(self.group_embeddings_, self.classes_, y, group_code, len(Z))
        decode = self.module_.decode
        if self._sequence_input and not isinstance(Z, list) and Z.ndim == 2:
            # Frames without time context (e.g. from sample): one frame each.
            return self._infer(decode, Z[:, None], cond=G)[:, 0]
        return self._infer(decode, Z, cond=G)

    def convert(
        self,
        X: ArrayLike,
        y_target: ArrayLike | None = None,
        *,
        group_code: ArrayLike | None = None,
        target_examples: ArrayLike | None = None,
        variance_compensation: Literal["auto"] | float = "auto",
    ) -> NDArray[np.float32] | list[NDArray[np.float32]]:
        """Render ``X`` in another group.

        The content codes of ``X`` (:meth:`transform`) are decoded in the
        target group (:meth:`inverse_transform`); for a trained target group
        the output is then moved half way to the group's training mean and
        spread (``variance_compensation``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or sequences
            Rows (or sequences) to convert.
        y_target : label or array-like of shape (n_samples,), default=None
            Target group, one label or one per row (sequence); one label
            with ``target_examples``. Required unless ``group_code`` or
            ``target_examples`` is given.
        group_code : array-like of shape (group_dim,) or (n_samples, group_dim), \
                default=None
            Target group code, e.g. from :meth:`embed_group` for a group not
            seen in training; one code with ``target_examples``.
        target_examples : array-like of shape (n_examples, n_features), or \
                sequences, default=None
            A few rows (sequences) of the one target group. Without
            ``y_target`` and ``group_code`` the group code is
            ``embed_group(target_examples)``. The output is then calibrated
            to them: each feature is shifted and scaled by the map that takes
            the model's own rendering of the examples (their content codes
            decoded in the target group) to the examples' mean and standard
            deviation (the scale kept within [0.1, 10]), so what the decoder
            misses of a group it never saw is corrected from the examples
            themselves.
        variance_compensation : "auto" or float in [0, 1], default="auto"
            Move the output towards the target group's training mean and
            spread, feature by feature. A decoder trained with a squared
            error renders the average of what it cannot predict, so its
            output varies less than real rows of the group (over-smoothing,
            the "global variance" of voice conversion [1]_). The fit records
            each group's per-feature mean and standard deviation, of its
            training rows (frames) and of the model's rendering of them; a
            feature is mapped to ``m_r + c (m - m_r) + (x - m_r) (s / s_r)
            ** c`` with ``c`` this value, ``m, s`` the real and ``m_r, s_r``
            the rendered moments of the target group (the ratio kept within
            [0.1, 10]). 0 is the plain decoding; 1 restores the group's
            training mean and spread in full, which makes the output more
            like the group and each row further from its exact conversion.
            ``"auto"``: 0.5 for groups given by ``y_target``, 0 with
            ``group_code`` or ``target_examples`` (no training moments; the
            examples calibrate in full). A number needs ``y_target`` alone.
            On speech 0.5 made a linear judge hear the target voice in 96-100%
            of the conversions instead of 53-75% (three seeds, two training
            lengths) at 0.02-0.06 dB more distortion, and it lowered the
            error of row conversions on
            :class:`~skae.datasets.GroupRenderer`
            (:doc:`benchmarks/results/vc_defaults.md </benchmarks/vc_defaults>`).
            A model that does not over-smooth (e.g. a wider network or a
            larger learning rate there) gains little from it and loses up to
            0.16 dB: use 0.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features), dtype float32
            The converted rows (sequences).

        References
        ----------
        .. [1] T. Toda, A. W. Black and K. Tokuda, "Voice conversion based on
           maximum-likelihood estimation of spectral parameter trajectory",
           IEEE TASLP 15(8), 2007.
        """
        strength = self._variance_compensation(
            variance_compensation, y_target, group_code, target_examples
        )
        if target_examples is None:
            converted = self.inverse_transform(self.transform(X), y_target, group_code=group_code)
            if strength == 0:
                return converted
            # strength > 0 only for targets given by label (y_target alone).
            ids = group_ids(self.classes_, y_target, len(converted))
            return apply_map(converted, *compensation_map(self._group_moments[ids], strength))
        if np.size(y_target) > 1 or (
            group_code is not None and np.ndim(group_code) > 1 and len(group_code) > 1
        ):
            raise ValueError(
                "target_examples are of one group: give one target label or one "
                "group_code of shape (group_dim,), not one per row."
            )
        examples = self._check_input(target_examples)
        if y_target is not None:
            y_target = np.ravel(y_target)[0]
        elif group_code is None:
            group_code = self._embed_checked(examples)
        else:
            group_code = np.ravel(group_code)
        rendered = self.inverse_transform(self._encode(examples), y_target, group_code=group_code)
        shift, scale = spread_map(
            *moments(feature_frames(rendered)), *moments(feature_frames(examples))
        )
        converted = self.inverse_transform(self.transform(X), y_target, group_code=group_code)
        return apply_map(converted, shift, scale)

    def _variance_compensation(self, value, y_target, group_code, target_examples):
        """The strength of :meth:`convert`'s variance compensation, checked."""
        check_is_fitted(self)
        by_label = y_target is not None and group_code is None and target_examples is None
        moments = getattr(self, "_group_moments", None)
        if isinstance(value, str) and value == "auto":
            # A model file from before the moments were recorded converts plainly.
            return _AUTO_VARIANCE_COMPENSATION if by_label and moments is not None else 0.0
        if isinstance(value, bool) or not isinstance(value, Real) or not 0 <= value <= 1:
            raise ValueError(
                f"variance_compensation must be 'auto' or a number in [0, 1], got {value!r}."
            )
        if value > 0 and not by_label:
            raise ValueError(
                "variance_compensation needs y_target (groups seen in fit) and neither "
                "group_code nor target_examples: it uses the training moments of the "
                "target groups (target_examples already calibrate to the examples)."
            )
        if value > 0 and moments is None:
            raise ValueError(
                "This model has no training moments of its groups (saved by an older skae); "
                "refit it to use variance_compensation."
            )
        return float(value)

    def reconstruction_error(
        self, X: ArrayLike, y: ArrayLike, per_feature: bool = False
    ) -> NDArray[Any] | list[NDArray[Any]]:
        """Reconstruction loss of each row (sequence) decoded in its own group.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or sequences
            Rows (sequences) to reconstruct.
        y : array-like of shape (n_samples,) or (n_sequences,)
            Their groups.
        per_feature : bool, default=False
            Return the loss of every entry instead of the means.

        Returns
        -------
        errors : ndarray of shape (n_samples,) or like ``X``
            The training ``loss`` per row (sequence: mean over its frames),
            or per entry when ``per_feature``.
        """
        check_is_fitted(self)
        check_flag(per_feature, "per_feature")
        X = self._check_input(X)
        X_hat = self.inverse_transform(self._encode(X), y)

        def loss(x_hat, x):
            return entry_losses(self.loss, as_tensor(x_hat), as_tensor(x)).numpy()

        if isinstance(X, list):
            errors = [loss(a, b) for a, b in zip(X_hat, X)]
            return errors if per_feature else np.array([e.mean() for e in errors], dtype=np.float32)
        errors = loss(X_hat, X)
        return errors if per_feature else errors.reshape(len(errors), -1).mean(axis=1)

    def score(self, X: ArrayLike, y: ArrayLike) -> float:
        """Minus the mean reconstruction loss of ``X`` in its groups ``y``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features), or sequences
            Rows (sequences) to score.
        y : array-like of shape (n_samples,) or (n_sequences,)
            Their groups.

        Returns
        -------
        score : float
            ``-mean(loss(X, reconstruct(X)))`` with the training ``loss``.
        """
        return -float(np.mean(self.reconstruction_error(X, y), dtype=np.float64))

    def sample(
        self, n_samples: int = 1, y: ArrayLike | None = None, random_state: RandomStateLike = None
    ) -> NDArray[np.float32]:
        """Render training content codes, drawn at random, in group(s) ``y``.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows (frames for sequence input) to generate.
        y : label or array-like of shape (n_samples,), default=None
            Group(s) to render in; None draws groups uniformly.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features), dtype float32
            Generated rows (frames).
        """
        check_is_fitted(self)
        check_n_samples(n_samples)
        rng = check_random_state(random_state)
        Z = self._training_codes[rng.randint(len(self._training_codes), size=n_samples)]
        if y is None:
            y = self.classes_[rng.randint(len(self.classes_), size=n_samples)]
        return self.inverse_transform(Z, y)
