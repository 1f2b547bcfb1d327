"""The reconstruction detector: one autoencoder on every row, plus a density.

:class:`skae.AEOutlierDetector` with ``max_samples=None``: the autoencoder is
trained on every training row, retrained ``n_trim_steps`` times without the
rows it rebuilds worst, and a row's score is its (standardized) reconstruction
error, plus ``density_weight`` times a variational autoencoder's minus
log-likelihood, each on the scale of its training median and interquartile
range. Its cost grows with the rows times the epochs.
"""

import time
import warnings
from numbers import Integral

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from .defaults import (
    default_density,
    density_score,
    fit_density,
    interrupt_raises,
    robust_location_scale,
    validated_twin,
)


class EveryRowMixin:
    """The fit and the terms of ``max_samples=None`` for :class:`skae.AEOutlierDetector`."""

    def _fit_every_row(self, X, sample_weight, template):
        """One autoencoder on every row, trimmed, plus the density: the detector
        of ``max_samples=None``. Returns the training anomaly scores."""
        self.estimators_ = None
        params = template.get_params()
        # The density model is seeded from random_state, or else from the
        # autoencoder's own integer seed, so a seeded autoencoder stays repeatable.
        density_seed = params.get("random_state")
        if not isinstance(density_seed, Integral):
            density_seed = None
        if self.random_state is not None:
            rng = check_random_state(self.random_state)
            seed = rng.randint(np.iinfo(np.int32).max)
            if "random_state" in params:
                template.set_params(random_state=seed)
            density_seed = rng.randint(np.iinfo(np.int32).max)

        errors = self._fit_estimator(clone(template), X, sample_weight=sample_weight)
        for _ in range(self.n_trim_steps if self.trim_fraction > 0 else 0):
            # Outliers in the training rows teach the autoencoder to rebuild
            # them: train a fresh one without the rows worst rebuilt so far.
            scores = self._anomaly_score(errors)
            keep = scores <= np.quantile(scores, 1.0 - self.trim_fraction)
            errors = self._fit_estimator(clone(template), X, keep, sample_weight)

        scores = self._anomaly_score(errors)
        self.density_estimator_ = None
        if self._density_weight() > 0:
            # The density of the rows the last autoencoder rebuilds best, with
            # a lighter trim than the autoencoder's (a third of it), so that it
            # loses less of the edge of clean data (detect_choices.md).
            device = params.get("device", "auto")
            start = time.perf_counter()
            rows = scores <= np.quantile(scores, 1.0 - self.trim_fraction / 3)
            with interrupt_raises():
                density = fit_density(
                    default_density(density_seed, device).set_params(
                        verbose=max(0, self.verbose - 1)
                    ),
                    X[rows],
                    None if sample_weight is None else sample_weight[rows],
                )
            if self.verbose:
                print(
                    f"{type(self).__name__}: fitted {type(density).__name__} on "
                    f"{int(rows.sum())} of {len(X)} rows in {time.perf_counter() - start:.1f} s"
                )
            self.density_estimator_ = density
            nll = density_score(density, X)
            location, scale = zip(robust_location_scale(scores), robust_location_scale(nll))
            self.score_location_ = np.array(location)
            self.score_scale_ = np.array(scale)
            scores = self._combine(scores, nll)
        return scores

    def _fit_estimator(self, estimator, X, keep=slice(None), sample_weight=None):
        """Fit ``estimator`` on the rows ``X[keep]`` (weighted); set ``estimator_``
        and ``feature_scale_``, and return the per-entry errors of all of ``X``."""
        X_fit = X[keep]
        weight = None if sample_weight is None else sample_weight[keep]
        fit_params = {} if weight is None else {"sample_weight": weight}
        with warnings.catch_warnings():
            if self.estimator is None:
                # The default trains a fixed, short budget on purpose: training
                # to convergence also learns to rebuild the outliers.
                warnings.simplefilter("ignore", ConvergenceWarning)
            start = time.perf_counter()
            with interrupt_raises():
                validated_twin(estimator, "fit", "_fit_validated")(X_fit, **fit_params)
        if self.verbose:
            print(
                f"{type(self).__name__}: fitted {type(estimator).__name__} on {len(X_fit)} "
                f"of {len(X)} rows in {time.perf_counter() - start:.1f} s"
            )
        self.estimator_ = estimator
        errors = self._feature_errors(X)
        # Rows the network cannot rebuild (inf) do not set the typical error.
        kept = np.ma.masked_invalid(errors[keep])
        weights = None if weight is None else np.broadcast_to(weight[:, None], kept.shape)
        scale = np.ma.average(kept, axis=0, weights=weights).filled(0.0)
        # A feature rebuilt exactly everywhere (e.g. constant) must not divide
        # by zero: floor the scale at a tiny fraction of the mean scale.
        floor = max(float(scale.mean()), np.finfo(np.float32).tiny) * 1e-6
        self.feature_scale_ = np.maximum(scale, floor)
        return errors

    def _anomaly_score(self, errors):
        """Row reconstruction scores (higher is more abnormal) from per-entry errors."""
        if self.error == "standardized":
            errors = errors / self.feature_scale_
        return errors.mean(axis=1)

    def _combine(self, reconstruction, nll):
        """The reconstruction score plus ``density_weight`` times the density's,
        each centred on its training median and divided by its training IQR."""
        # Finite locations and scales: a row's inf term stays inf.
        terms = (np.stack([reconstruction, nll], axis=1) - self.score_location_) / self.score_scale_
        return terms[:, 0] + self._density_weight() * terms[:, 1]
