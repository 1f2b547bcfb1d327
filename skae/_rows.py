"""The predict-side methods of the row autoencoders.

:class:`RowTransformerMixin` gives an estimator built on
:class:`skae._base.BaseAutoEncoder` the scikit-learn transformer surface for
rows: ``fit``/``partial_fit`` without targets, ``transform`` to codes,
``inverse_transform`` back to rows, per-row ``reconstruction_error``,
``score`` and ``sample``. Estimators whose methods take other arguments (the
group labels of :class:`skae.DisentangledAutoEncoder`) do not use it.

An estimator whose codes are not a continuous latent (the integer codes of
:class:`skae.VQTransformer`) keeps the methods and documents them anew
through :attr:`RowTransformerMixin._method_docstrings`.
"""

from __future__ import annotations

import inspect
import types
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import TransformerMixin, _fit_context
from sklearn.mixture import GaussianMixture
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import check_is_fitted

from ._engine.choices import entry_losses
from ._typing import RandomStateLike
from ._utils import check_flag, check_n_samples

#: The estimator a training method returns (``self``).
_RowT = TypeVar("_RowT", bound="RowTransformerMixin")


def _with_docstring(function, doc, cls, returns=None):
    """``function`` as a method of ``cls`` under the docstring ``doc``
    (and the return hint ``returns``, a string, when given).

    A new function object on the same code, so the method behaves exactly
    as ``function`` and costs no extra call.
    """
    method = types.FunctionType(
        function.__code__,
        function.__globals__,
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )
    method.__kwdefaults__ = function.__kwdefaults__
    method.__dict__.update(function.__dict__)
    method.__doc__ = doc
    method.__annotations__ = dict(function.__annotations__)
    if returns is not None:
        method.__annotations__["return"] = returns
    method.__module__ = cls.__module__
    method.__qualname__ = f"{cls.__qualname__}.{function.__name__}"
    return method


class RowTransformerMixin(TransformerMixin):
    """Row-transformer methods for a :class:`skae._base.BaseAutoEncoder`.

    Put it first among the bases, ``class Estimator(RowTransformerMixin,
    BaseAutoEncoder)``. The module must have ``encode``, ``decode`` and a
    ``forward`` returning the reconstruction (or ``(reconstruction,
    aux_losses)``). The estimator's codes come from ``_encode``, are checked
    by ``_check_codes`` and decoded by ``_decode``.

    It derives from :class:`~sklearn.base.TransformerMixin` so that
    scikit-learn's ``set_output`` wraps the :meth:`transform` defined here:
    ``_SetOutputMixin.__init_subclass__`` wraps only the methods a class
    defines itself, so a plain mixin's ``transform`` escaped the wrapping
    (``fit_transform`` gave a DataFrame, ``transform`` an ndarray).
    """

    if TYPE_CHECKING:  # what BaseAutoEncoder and the estimator provide
        _fit: Any
        _validate_rows: Any
        _encode: Any
        _infer: Any

    #: ``{method name: docstring}``: methods of this mixin that an estimator
    #: documents in its own words (:class:`skae.VQTransformer`: integer
    #: codes, not a latent). Each becomes the mixin's method under that
    #: docstring, in the estimator's own namespace, before scikit-learn's
    #: ``set_output`` wraps ``transform`` there.
    _method_docstrings: dict[str, str] = {}
    #: ``{method name: return hint}`` of those methods, where it differs.
    _method_returns: dict[str, str] = {}

    def __init_subclass__(cls, **kwargs):
        returns = cls.__dict__.get("_method_returns", {})
        for name, doc in cls.__dict__.get("_method_docstrings", {}).items():
            # The unwrapped method: scikit-learn wraps it again in the estimator's namespace.
            function = inspect.unwrap(RowTransformerMixin.__dict__[name])
            setattr(cls, name, _with_docstring(function, doc, cls, returns.get(name)))
        super().__init_subclass__(**kwargs)

    # -- fitting ------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(
        self: _RowT, X: ArrayLike, y: object = None, sample_weight: ArrayLike | None = None
    ) -> _RowT:
        """Train the autoencoder to reconstruct ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows. Converted to float32.
        y : None
            Ignored; present for API consistency.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Non-negative weight of each row in the reconstruction loss (each
            batch's loss is the weighted mean of its rows' losses, also on
            the validation rows of ``early_stopping``). None weighs rows
            equally. Rows are still drawn uniformly into batches.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return self._fit(X, partial=False, sample_weight=sample_weight)

    def _fit_validated(self, X, sample_weight=None):
        """:meth:`fit` on rows already validated (a float32 array without
        NaN): the twin a meta-estimator calls so that it validates its input
        once. The parameters are still validated; ``n_features_in_`` is set
        from ``X`` and there are no feature names (the caller keeps those)."""
        self._validate_params()
        return self._fit(X, partial=False, sample_weight=sample_weight, validated=True)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(
        self: _RowT, X: ArrayLike, y: object = None, sample_weight: ArrayLike | None = None
    ) -> _RowT:
        """Train for one pass over the rows of ``X``, keeping earlier training.

        The first call initialises the network; later calls continue with the
        same weights and optimizer state. No validation split and no early
        stopping are used.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            A batch of training rows.
        y : None
            Ignored; present for API consistency.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Non-negative weight of each row in the reconstruction loss.

        Returns
        -------
        self : object
            The updated estimator.
        """
        return self._fit(X, partial=True, sample_weight=sample_weight)

    # -- inference ----------------------------------------------------------
    def transform(self, X: ArrayLike) -> NDArray[np.float32]:
        """Encode ``X`` into the latent space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to encode.

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components), dtype float32
            Latent codes.
        """
        check_is_fitted(self)
        X = self._validate_rows(X)
        return self._encode(X)

    def _transform_validated(self, X):
        """:meth:`transform` of rows already validated (the twin a
        meta-estimator calls so that it validates its input once)."""
        return self._encode(X)

    def inverse_transform(self, X: ArrayLike) -> NDArray[np.float32]:
        """Decode latent codes back into the input space.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Latent codes, e.g. from :meth:`transform`.

        Returns
        -------
        X_rec : ndarray of shape (n_samples, n_features), dtype float32
            Reconstructed rows.
        """
        check_is_fitted(self)
        Z = self._check_codes(X)
        return self._decode(Z)

    def _check_codes(self, Z):
        Z = check_array(Z, dtype=np.float32)
        # The fitted width: n_components may have been set since.
        if Z.shape[1] != self._n_features_out:
            raise ValueError(
                f"X has {Z.shape[1]} features, but {type(self).__name__}."
                f"inverse_transform is expecting {self._n_features_out} latent "
                "features (n_components) as input."
            )
        return Z

    def _decode(self, Z):
        return self._infer(self.net_.module_.decode, Z)

    def _forward(self, x):
        """The module's reconstruction of a tensor, without auxiliary losses."""
        x_hat = self.net_.module_(x)
        return x_hat[0] if isinstance(x_hat, tuple) else x_hat

    def _reconstruct(self, X):
        """Encode and decode validated rows in one batched pass."""
        return self._infer(self._forward, X)

    def reconstruction_error(self, X: ArrayLike, per_feature: bool = False) -> NDArray[Any]:
        """Reconstruction loss of each row (lower is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to reconstruct.
        per_feature : bool, default=False
            Return the loss of every entry instead of the row means, to see
            which features a row is badly rebuilt in.

        Returns
        -------
        errors : ndarray of shape (n_samples,) or (n_samples, n_features)
            The training ``loss`` between each row and its reconstruction,
            averaged over features unless ``per_feature``; inf where the
            network overflows (e.g. on values near float32's limit).
        """
        check_is_fitted(self)
        check_flag(per_feature, "per_feature")
        return self._reconstruction_error(self._validate_rows(X), per_feature)

    def _reconstruction_error(self, X, per_feature=False):
        """:meth:`reconstruction_error` of rows already validated (float32,
        ``n_features_in_`` wide): the twin a meta-estimator calls, so that it
        validates its input once, as scikit-learn's meta-estimators do."""

        def loss(x):
            errors = entry_losses(self.loss, self._forward(x), x)
            return errors if per_feature else errors.mean(dim=1)

        return self._infer(loss, X, check_finite=False)

    def score(self, X: ArrayLike, y: object = None) -> float:
        """Minus the mean reconstruction loss of ``X`` (higher is better).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to score.
        y : None
            Ignored; present for API consistency.

        Returns
        -------
        score : float
            ``-mean(loss(X, reconstruct(X)))`` with the training ``loss``.
        """
        return -float(np.mean(self.reconstruction_error(X), dtype=np.float64))

    def sample(
        self, n_samples: int = 1, random_state: RandomStateLike = None
    ) -> NDArray[np.float32]:
        """Generate rows: decode codes drawn from a density of the training codes.

        The density is fitted to (a subsample of at most 10,000) codes of the
        training rows: a Gaussian mixture for continuous codes, fitted the
        first time this is called after a fit; for :class:`VQTransformer`'s
        discrete codes, their empirical distribution (code tuples of training
        rows drawn with replacement, so new rows resemble quantized training
        rows).

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows to generate.
        random_state : int, RandomState instance or None, default=None
            Seeds the draws from the latent density.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features), dtype float32
            Generated rows.
        """
        check_is_fitted(self)
        check_n_samples(n_samples)
        return self._decode(self._draw_codes(n_samples, check_random_state(random_state)))

    def _draw_codes(self, n_samples, rng):
        """Codes from a Gaussian mixture fitted to the kept training codes."""
        if self._latent_density is None:
            codes = self._training_codes
            self._latent_density = GaussianMixture(
                n_components=min(10, max(1, len(codes) // 50)),
                covariance_type="full",
                reg_covar=1e-4,
                random_state=0,
            ).fit(codes.astype(np.float64))
        density = self._latent_density
        # GaussianMixture.sample has no random_state argument: draw by hand.
        counts = rng.multinomial(n_samples, density.weights_)
        Z = np.concatenate(
            [
                mean + rng.standard_normal((count, len(mean))) @ np.linalg.cholesky(cov).T
                for mean, cov, count in zip(density.means_, density.covariances_, counts)
            ]
        )
        return Z[rng.permutation(n_samples)].astype(np.float32)
