"""The default detector: autoencoders on subsamples, scored by neighbour distances.

:class:`skae.AEOutlierDetector` with ``max_samples`` set (the default) fits
``n_estimators`` autoencoders, each on its own random subsample of
``max_samples`` rows, trimmed (retrained without the rows it rebuilds worst)
on that subsample. A row's anomaly score is the sum of three terms, each
centred on its median and divided by its interquartile range over a sample of
at most :data:`CALIBRATION_ROWS` training rows:

- **code**: the distance of the row's code, in each autoencoder, to its
  :data:`N_NEIGHBORS`-th nearest code among small blocks of training rows;
- **blocks**: the same distance in the input space, among :data:`BLOCKS`
  blocks of :data:`BLOCK_ROWS` rows;
- **nearest**: the distance to the nearest of the calibration rows.

The small blocks keep a cluster of outliers in the training rows from
hiding the test outliers near it (each block holds only a few of them); the
nearest-row distance is the sharpest one-class score when the training rows
are clean. Everything is computed in the input scaled by
:func:`.neighbors.robust_scaling`. Fitting costs the same whatever the number
of training rows; scoring is linear in it, against about 4,000 reference
rows. How the rule was chosen: ``benchmarks/results/detect_choices.md``.
"""

import time
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from .defaults import interrupt_raises, robust_location_scale, validated_twin
from .neighbors import block_distances, block_medians, nearest_distance, robust_scaling

#: Rows each autoencoder trains on when ``max_samples="auto"``.
AUTO_MAX_SAMPLES = 512
#: Neighbour rank of the block terms (PyOD's and most kNN detectors' default).
N_NEIGHBORS = 5
#: Blocks of input rows, and their size.
BLOCKS, BLOCK_ROWS = 10, 64
#: Blocks of codes per autoencoder, and their size.
CODE_BLOCKS, CODE_BLOCK_ROWS = 2, 128
#: Training rows that calibrate the terms and are the nearest-row reference.
CALIBRATION_ROWS = 1024
#: Scaled values from this size on overflow float32 distances: such a row
#: gets the extreme anomaly score, as a row the autoencoder cannot rebuild.
OVERFLOW = 1e18
#: The names of the terms, in the order of ``score_location_``.
TERMS = ("code", "blocks", "nearest")


def resolve_max_samples(max_samples, n_samples):
    """Rows per autoencoder: ``"auto"`` is 512, a float a fraction of the rows."""
    if max_samples == "auto":
        rows = AUTO_MAX_SAMPLES
    elif isinstance(max_samples, float):
        rows = int(np.ceil(max_samples * n_samples))
    else:
        rows = int(max_samples)
    return max(1, min(rows, n_samples))


def draw(rng, n_samples, size, probability):
    """``size`` distinct row indices, sorted (all rows when there are fewer),
    drawn with ``probability`` (the normalized sample weights) or uniformly.

    A uniform draw of a few rows among many keeps the first ``size`` distinct
    values of a stream of uniform indices (a uniform sample without
    replacement, as ``rng.choice`` draws, at a cost in ``size`` rather than in
    ``n_samples``: ``choice`` permutes every row, 4 ms for 370,000 rows).
    """
    available = n_samples if probability is None else int(np.count_nonzero(probability))
    size = min(size, available)
    if probability is not None or size * 8 > n_samples:
        return np.sort(rng.choice(n_samples, size, replace=False, p=probability))
    chosen = np.empty(0, dtype=np.intp)
    while len(chosen) < size:
        stream = np.concatenate([chosen, rng.randint(n_samples, size=2 * (size - len(chosen)))])
        _, first = np.unique(stream, return_index=True)
        chosen = stream[np.sort(first)]
    return np.sort(chosen[:size])


def _blocks(rng, n_samples, n_blocks, size, probability):
    """``n_blocks`` index blocks of ``size`` rows (fewer rows when ``n_samples`` is small)."""
    return np.stack([draw(rng, n_samples, size, probability) for _ in range(n_blocks)])


def fit_references(X, encoders, rng, probability):
    """The references and calibration of the terms, from the scaled training rows.

    ``encoders`` map scaled rows to the codes of each autoencoder. Returns the
    fitted attributes of the detector, by name, and the anomaly scores of the
    calibration rows, each scored without itself in the references (a row's
    distance to itself would make the training scores too low).
    """
    n = len(X)
    k = max(1, min(N_NEIGHBORS, n - 1))
    calibration = draw(rng, n, CALIBRATION_ROWS, probability)
    index = _blocks(rng, n, BLOCKS, BLOCK_ROWS, probability)
    code_index = [_blocks(rng, n, CODE_BLOCKS, CODE_BLOCK_ROWS, probability) for _ in encoders]
    state = {
        "n_neighbors_": k,
        "nearest_reference_": X[calibration],
        "neighbor_blocks_": X[index],
        "code_blocks_": np.stack(
            [
                encode(X[rows.ravel()]).reshape(*rows.shape, -1)
                for encode, rows in zip(encoders, code_index)
            ]
        ),
    }
    # Calibrate on the calibration rows (each left out of the references it is in).
    Q = state["nearest_reference_"]
    state["neighbor_medians_"] = block_medians(block_distances(Q, state["neighbor_blocks_"], k))
    state["code_medians_"] = np.stack(
        [
            block_medians(block_distances(encode(Q), blocks, k))
            for encode, blocks in zip(encoders, state["code_blocks_"])
        ]
    )
    terms = anomaly_terms(state, encoders, Q)
    location, scale = zip(*(robust_location_scale(term) for term in terms.T))
    state["score_location_"] = np.array(location)
    state["score_scale_"] = np.array(scale)
    scores = ((terms - state["score_location_"]) / state["score_scale_"]).sum(axis=1)
    return state, scores


def anomaly_terms(state, encoders, X):
    """The uncalibrated terms of scaled rows, one column per name of :data:`TERMS`;
    ``state`` maps attribute names to the fitted references."""
    k = state["n_neighbors_"]
    codes = [
        block_distances(encode(X), blocks, k) / medians
        for encode, blocks, medians in zip(encoders, state["code_blocks_"], state["code_medians_"])
    ]
    blocks = block_distances(X, state["neighbor_blocks_"], k) / state["neighbor_medians_"]
    nearest = nearest_distance(X, state["nearest_reference_"])
    return np.stack(
        [np.concatenate(codes, axis=1).mean(axis=1), blocks.mean(axis=1), nearest], axis=1
    )


def anomaly_score(state, encoders, X):
    """The anomaly score of scaled rows: the sum of the calibrated terms."""
    terms = anomaly_terms(state, encoders, X)
    return ((terms - state["score_location_"]) / state["score_scale_"]).sum(axis=1)


def fit_trimmed(template, X, rows, trim_fraction, n_trim_steps, fit, errors_of):
    """Fit a clone of ``template`` on ``X[rows]``, then retrain it ``n_trim_steps``
    times without the ``trim_fraction`` of those rows it rebuilds worst.

    ``fit(estimator, X)`` trains, ``errors_of(estimator, X)`` gives the per-row
    reconstruction scores. Returns the last estimator.
    """
    S = X[rows]
    keep = np.ones(len(S), dtype=bool)
    estimator = fit(clone(template), S)
    for _ in range(n_trim_steps if trim_fraction > 0 else 0):
        scores = errors_of(estimator, S)
        keep = scores <= np.quantile(scores, 1.0 - trim_fraction)
        estimator = fit(clone(template), S[keep])
    return estimator


def quiet_fit(estimator, X):
    """Fit the default autoencoder on its fixed short budget (no convergence warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        validated_twin(estimator, "fit", "_fit_validated")(X)
    return estimator


class SubsampledMixin:
    """The fit and the scaling of the subsampled default for :class:`skae.AEOutlierDetector`."""

    def _fit_subsamples(self, X, sample_weight, template):
        """``n_estimators`` trimmed autoencoders on subsamples, scored by neighbour
        distances (:mod:`.subsampled`). Returns the training anomaly scores."""
        if self._density_weight() > 0:
            raise ValueError(
                f"density_weight={self.density_weight!r} needs max_samples=None: the "
                "density model is fitted on every training row."
            )
        rng = check_random_state(self.random_state)
        probability = None
        if sample_weight is not None:
            if not sample_weight.sum() > 0:
                raise ValueError("sample_weight must have a positive sum.")
            # Weights act by how often a row is drawn; a weight of 0 drops it.
            probability = sample_weight / sample_weight.sum()
        self.input_location_, self.input_scale_ = robust_scaling(X)
        Xs = self._scaled(X)
        rows = resolve_max_samples(self.max_samples, len(X))
        seeded = self.random_state is not None and "random_state" in template.get_params()
        estimators, scales = [], []
        for _ in range(self.n_estimators):
            if seeded:
                template.set_params(random_state=rng.randint(np.iinfo(np.int32).max))
            subsample = draw(rng, len(X), rows, probability)
            start = time.perf_counter()
            with interrupt_raises():
                estimator = fit_trimmed(
                    template, Xs, subsample, self.trim_fraction, self.n_trim_steps,
                    self._fit_quietly, lambda est, S: self._row_errors(est, S)[0],
                )  # fmt: skip
            scales.append(self._row_errors(estimator, Xs[subsample])[1])
            estimators.append(estimator)
            if self.verbose:
                print(
                    f"{type(self).__name__}: fitted {type(estimator).__name__} on "
                    f"{len(subsample)} of {len(X)} rows (trimmed {self.n_trim_steps}x) "
                    f"in {time.perf_counter() - start:.1f} s"
                )
        self.estimators_ = estimators
        self.estimator_ = estimators[0]
        self.feature_scale_ = np.mean(scales, axis=0)
        self.density_estimator_ = None
        state, scores = fit_references(Xs, self._encoders(), rng, probability)
        for name, value in state.items():
            setattr(self, name, value)
        return scores

    def _fit_quietly(self, estimator, X):
        if self.estimator is not None:
            validated_twin(estimator, "fit", "_fit_validated")(X)
            return estimator
        return quiet_fit(estimator, X)

    @staticmethod
    def _row_errors(estimator, X):
        """Standardized reconstruction score of each row by ``estimator`` and the
        per-feature scale: each feature's mean error, floored at a tenth of the
        mean over features so that a feature rebuilt almost exactly everywhere
        (one-hot, near-constant) cannot dominate."""
        errors = np.asarray(
            validated_twin(estimator, "reconstruction_error", "_reconstruction_error")(
                X, per_feature=True
            ),
            dtype=np.float64,
        )
        errors = np.where(np.isfinite(errors), errors, np.inf)
        scale = np.ma.masked_invalid(errors).mean(axis=0).filled(0.0)
        scale = np.maximum(scale, max(0.1 * float(scale.mean()), np.finfo(np.float32).tiny))
        return (errors / scale).mean(axis=1), scale

    def _scaled(self, X):
        """Rows in the detector's robust scaling, as float32 (an overflow is inf)."""
        with np.errstate(over="ignore"):
            return ((X - self.input_location_) / self.input_scale_).astype(np.float32)

    def _encoders(self):
        """The code map of each autoencoder, on scaled rows, as float32."""
        return [
            lambda X, est=est: np.asarray(
                validated_twin(est, "transform", "_transform_validated")(X), dtype=np.float32
            )
            for est in self.estimators_
        ]
