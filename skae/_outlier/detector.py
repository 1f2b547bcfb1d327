"""Outlier detection with autoencoders: the estimator, its parameters and its scores."""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, OutlierMixin, _fit_context, clone
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
)

from .._base import DOC_LINK_TEMPLATE
from .._fitted import unchanged_on_error
from .._typing import RandomStateLike
from .._utils import check_flag, validate_rows
from .defaults import default_estimator, density_score, validated_twin
from .every_row import EveryRowMixin
from .scores import OutlierScoresMixin, tukey_threshold
from .subsampled import OVERFLOW, SubsampledMixin, anomaly_score


class AEOutlierDetector(
    SubsampledMixin, EveryRowMixin, OutlierScoresMixin, OutlierMixin, BaseEstimator
):
    """Unsupervised outlier detection with an ensemble of autoencoders on subsamples.

    By default (``max_samples="auto"``) the detector works as
    IsolationForest does, on small random subsamples, so that fitting costs
    the same whatever the number of training rows and a cluster of outliers
    in the training rows cannot hide the test outliers near it:

    1. every feature is centred on its median and divided by its 5-95
       percentile range (``input_location_``, ``input_scale_``);
    2. ``n_estimators`` autoencoders are each trained on their own random
       subsample of ``max_samples`` rows, then retrained ``n_trim_steps``
       times without the ``trim_fraction`` of that subsample they rebuild
       worst, so that they do not learn to rebuild the outliers;
    3. a row's anomaly score sums three terms, each centred on its median
       and divided by its interquartile range over at most 1,024 training
       rows (the *calibration* rows): the distance of the row's code, in
       each autoencoder, to its 5th nearest code among small blocks of
       training rows; the same distance in the scaled input among ten blocks
       of 64 rows; and the distance to the nearest calibration row.

    Distances in the learned code see rows that lie where the training rows
    are sparse even when they are easy to rebuild; the small blocks keep
    outliers in the training rows from shielding each other (each block
    holds few of them); the nearest-row distance is the sharpest one-class
    score when the training rows are clean. Scoring is linear in the rows,
    against about 2,400 reference rows, in chunks (flat memory). A training
    row is scored without itself in the references (leave-one-out), as a
    new row would be.

    With ``max_samples=None`` it is the reconstruction detector (the default
    before ``max_samples`` existed):
    one autoencoder trained on every row, and the reconstruction score of a
    row is its reconstruction error, either the mean of the per-feature
    errors (``error="raw"``) or their mean after dividing each by the typical
    training error of its feature (``error="standardized"``), trimmed as
    above on every row. With ``density_weight > 0`` (``"auto"``: 2 there) a
    :class:`VariationalAutoEncoder` is fitted to the training rows whose
    reconstruction score is below its ``1 - trim_fraction / 3`` quantile, and
    the anomaly score is
    ``(e - median(e)) / IQR(e) + density_weight * (n - median(n)) / IQR(n)``,
    with ``e`` the reconstruction score and ``n`` the density's minus
    log-likelihood, medians and interquartile ranges over the training rows.
    Its cost grows with the rows times the epochs: 35 to 39 times IsolationForest's
    on the nine ODDS sets, where the default is at 1.9 to 2.0 times
    (:doc:`benchmarks/results/detect.md </benchmarks/detect>`).

    The scores follow scikit-learn's outlier conventions (as
    :class:`~sklearn.ensemble.IsolationForest`): :meth:`score_samples` is minus
    the anomaly score (higher is more normal), :meth:`decision_function` is
    ``score_samples(X) - offset_`` (negative for outliers) and :meth:`predict`
    returns +1 for inliers and -1 for outliers.

    With ``max_samples=None``, scale the input first (e.g.
    ``StandardScaler``), as for any autoencoder; the default scales its input
    itself.

    Parameters
    ----------
    estimator : skae autoencoder or None, default=None
        The autoencoder to train, e.g. :class:`AutoEncoderTransformer` or
        :class:`DenoisingAutoEncoder`: any estimator with ``fit`` and
        ``reconstruction_error(X, per_feature=True)``. It is cloned at fit.
        Each of the ``n_estimators`` is a clone. None uses an
        :class:`AutoEncoderTransformer` sized to the data width
        ``d``: one hidden layer of ``min(max(64, 2 * d), 256)`` units, a code
        of ``min(max(32, d), 128)`` units, dropout 0.3, 10 epochs in batches
        of 128 at a learning rate of 3e-3. It does not compress; the dropout
        and the short training keep it from learning the identity. This ranked anomalies best of the settings
        tried on the ODDS benchmark (:doc:`benchmarks/results/detect.md </benchmarks/detect>`).
    contamination : "auto" or float, default="auto"
        The expected proportion of outliers in the training data, in
        (0, 0.5]. A float sets ``offset_`` so that this proportion of the
        training rows is flagged. ``"auto"`` uses Tukey's fence: a row is an
        outlier when its anomaly score is more than 1.5 interquartile ranges
        above the third quartile of the training scores, a cut that adapts
        to the spread of the errors and that the outliers themselves barely
        move.
    error : {"standardized", "raw"}, default="standardized"
        How the per-feature reconstruction errors of a row become its
        reconstruction score. ``"raw"``: their mean (the mean squared error for the default
        ``loss="mse"``; the autoencoder's own ``loss`` in general).
        ``"standardized"``: the mean of each feature's error divided by the
        mean training error of that feature.
    trim_fraction : float in [0, 0.5), default=0.3
        Robust training. After a first fit on its rows (its subsample, or
        every row with ``max_samples=None``), a fresh autoencoder is trained
        on those rows without the ``trim_fraction`` of them with the highest
        reconstruction (``max_samples=None``: anomaly) scores, so that it does not learn to
        rebuild the outliers in the training data; this is repeated
        ``n_trim_steps`` times, each time trimming by the latest scores (as
        the concentration steps of the minimum covariance determinant). 0
        trains once on every row. Trimming more rows than there are outliers
        costs some ranking quality at the edge of the normal data: on training
        rows known to be clean (a one-class task), use 0 (benchmark:
        :doc:`benchmarks/results/detect.md </benchmarks/detect>`, clean-training sections).
    n_trim_steps : int, default=1
        How many times each autoencoder is retrained on the trimmed rows when
        ``trim_fraction > 0``; fitting trains ``1 + n_trim_steps``
        autoencoders per estimator. (2 before ``max_samples`` existed.)
    max_samples : "auto", int, float or None, default="auto"
        The rows each autoencoder is trained on, drawn without replacement
        (with probabilities proportional to ``sample_weight``, when given):
        ``"auto"`` is ``min(512, n_samples)``, an int that many rows, a float
        in (0, 1] that fraction of them. None trains one autoencoder on every
        row and scores by reconstruction error (and density), see above.
    n_estimators : int, default=3
        Autoencoders in the ensemble (``max_samples`` set): each has its own
        subsample and its own code term.
    density_weight : "auto" or float >= 0, default="auto"
        Weight of the density term in the anomaly score of
        ``max_samples=None``; ``"auto"`` is 2 there and 0 (no density) with
        subsamples, where a positive weight is an error (the density model is
        fitted on every row). 0 fits no density
        model: the score is the reconstruction score alone. The density model is
        ``VariationalAutoEncoder(max_epochs=60, batch_size=128, lr=3e-3)``,
        on the device of the autoencoder; it roughly doubles to triples the
        fit time of the default detector. On 23 ADBench sets it raised the
        mean ROC-AUC with clean and with contaminated training rows alike
        (:doc:`benchmarks/results/detect_choices.md </benchmarks/detect_choices>`).
    random_state : int, RandomState instance or None, default=None
        Seeds the subsamples, the autoencoders and the density model: their
        ``random_state`` is set to integers drawn from this one. None keeps the
        ``random_state`` of ``estimator`` and seeds the density model with
        it when it is an integer.
    verbose : int, default=0
        1 prints one line per fit (rows used, seconds); 2 also shows the
        progress of each fit of the default autoencoder and of the density
        model (``verbose=1`` of theirs: a bar with the time left on a
        terminal, a few lines elsewhere); 3 their per-epoch tables. A given
        ``estimator`` keeps its own ``verbose``.

    Attributes
    ----------
    estimator_ : estimator
        The fitted clone of ``estimator`` (or of the default autoencoder);
        with ``trim_fraction > 0`` the one trained on the kept rows. With
        ``max_samples`` set, the first of ``estimators_``.
    estimators_ : list of estimators or None
        The fitted autoencoders of the ensemble, each on its subsample's
        kept rows, or None with ``max_samples=None``.
    input_location_, input_scale_ : ndarray of shape (`n_features_in_`,)
        Median and 5-95 percentile range (a zero range falls back to the
        standard deviation, then 1) of each training feature, with
        ``max_samples`` set: the autoencoders and distances see
        ``(X - input_location_) / input_scale_``.
    n_neighbors_ : int
        Neighbour rank of the block terms (5, fewer on tiny data).
    code_blocks_ : ndarray of shape (n_estimators, 2, 128, n_components)
        Codes of the training rows of the code term's blocks.
    code_medians_ : ndarray of shape (n_estimators, 2)
        Median distance of the calibration rows to each code block.
    neighbor_blocks_ : ndarray of shape (10, 64, `n_features_in_`)
        Scaled training rows of the input term's blocks.
    neighbor_medians_ : ndarray of shape (10,)
        Median distance of the calibration rows to each block.
    nearest_reference_ : ndarray of shape (n_calibration, `n_features_in_`)
        The calibration rows (at most 1,024 scaled training rows).
    density_estimator_ : VariationalAutoEncoder or None
        The fitted density model (None when ``density_weight=0``).
    score_location_ : ndarray of shape (3,) or (2,)
        Medians of the code, block and nearest terms over the calibration
        rows; with ``max_samples=None``, training medians of the
        reconstruction score and of the density's minus log-likelihood (only
        when the density weight is positive).
    score_scale_ : ndarray of shape (3,) or (2,)
        Their interquartile ranges, the divisors of the sum.
    feature_scale_ : ndarray of shape (`n_features_in_`,)
        Mean reconstruction error of each feature over the rows
        ``estimator_`` was trained on (the mean over the ensemble, in the
        scaled input, floored at a tenth of the mean over features, with
        ``max_samples`` set); the divisor of ``error="standardized"``.
    offset_ : float
        Offset that turns :meth:`score_samples` into :meth:`decision_function`:
        rows with ``score_samples(X) < offset_`` are outliers.
    threshold_ : float
        The same cut on the scale of the anomaly score (``-offset_``): rows
        whose anomaly score exceeds it are outliers.
    decision_scores_ : ndarray of shape (n_samples,) or (n_calibration,)
        Anomaly scores of the training rows (higher is more abnormal), as
        PyOD's detectors keep them; with ``max_samples`` set and more than
        1,024 training rows, those of the calibration rows (each left out of
        the references), a sample that sets the cut without scoring every
        training row; ``labels_`` marks those above
        ``threshold_`` with 1. With them, :meth:`predict_proba` and
        :meth:`predict_confidence` work as PyOD's do, for tools written for
        PyOD (threshold libraries, model combination).
    n_features_in_ : int
        Number of features seen during :meth:`fit`.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :meth:`fit`, when ``X`` has string
        column names.

    See Also
    --------
    sklearn.ensemble.IsolationForest : Isolation-based outlier detection.
    sklearn.neighbors.LocalOutlierFactor : Density-based outlier detection.
    sklearn.svm.OneClassSVM : Support of a high-density region.
    AutoEncoderTransformer : The default autoencoder.

    References
    ----------
    .. [1] M. Sakurada and T. Yairi, "Anomaly detection using autoencoders
       with nonlinear dimensionality reduction", MLSDA workshop, 2014.
    .. [2] C. C. Aggarwal, "Outlier Analysis", 2nd ed., Springer, 2017,
       chapter 3 (reconstruction-based outlier scores).

    Examples
    --------
    >>> import numpy as np
    >>> from skae import AEOutlierDetector, AutoEncoderTransformer
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 4))
    >>> X[:, 3] = X[:, 0] + X[:, 1]
    >>> ae = AutoEncoderTransformer(n_components=3, max_epochs=20, device="cpu",
    ...                             random_state=0)
    >>> detector = AEOutlierDetector(ae, contamination=0.05).fit(X)
    >>> int((detector.predict(X) == -1).sum())
    10
    >>> X_new = np.array([[0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, -4.0]])
    >>> detector.predict(X_new)
    array([ 1, -1])
    """

    _doc_link_module = "skae"
    _doc_link_template = DOC_LINK_TEMPLATE

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "reconstruction_error"]), None],
        "contamination": [
            StrOptions({"auto"}),
            Interval(Real, 0, 0.5, closed="right"),
        ],
        "error": [StrOptions({"standardized", "raw"})],
        "trim_fraction": [Interval(Real, 0, 0.5, closed="left")],
        "n_trim_steps": [Interval(Integral, 1, None, closed="left")],
        "max_samples": [
            StrOptions({"auto"}),
            Interval(Integral, 2, None, closed="left"),
            Interval(Real, 0, 1, closed="right"),
            None,
        ],
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "density_weight": [StrOptions({"auto"}), Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        estimator: BaseEstimator | None = None,
        *,
        contamination: Literal["auto"] | float = "auto",
        error: Literal["standardized", "raw"] = "standardized",
        trim_fraction: float = 0.3,
        n_trim_steps: int = 1,
        max_samples: Literal["auto"] | int | float | None = "auto",
        n_estimators: int = 3,
        density_weight: Literal["auto"] | float = "auto",
        random_state: RandomStateLike = None,
        verbose: int = 0,
    ) -> None:
        self.estimator = estimator
        self.contamination = contamination
        self.error = error
        self.trim_fraction = trim_fraction
        self.n_trim_steps = n_trim_steps
        self.max_samples = max_samples
        self.n_estimators = n_estimators
        self.density_weight = density_weight
        self.random_state = random_state
        self.verbose = verbose

    @_fit_context(
        # The autoencoder validates its own parameters when it is fitted.
        prefer_skip_nested_validation=False
    )
    def fit(
        self, X: ArrayLike, y: object = None, sample_weight: ArrayLike | None = None
    ) -> AEOutlierDetector:
        """Train the autoencoder on ``X`` and set the outlier cut.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows, mostly normal. Converted to float32.
        y : None
            Ignored; present for API consistency.
        sample_weight : array-like of shape (n_samples,) or None, default=None
            Non-negative weight of each row in the autoencoder's loss and in
            the typical per-feature errors of ``error="standardized"``. The
            trimming and the cut rank the rows without weights. The
            ``estimator`` must accept ``sample_weight`` in ``fit``.

        Returns
        -------
        self : object
            The fitted detector.
        """
        # A failed fit (or Ctrl-C) leaves the detector as it was.
        with unchanged_on_error(self):
            self._fit(X, sample_weight)
        return self

    def _fit(self, X, sample_weight=None):
        X = validate_rows(self, X, dtype=np.float32)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        if self.estimator is None:
            template = default_estimator(X.shape[1])
            template.set_params(verbose=max(0, self.verbose - 1))
        else:
            template = clone(self.estimator)
        if self.max_samples is None:
            scores = self._fit_every_row(X, sample_weight, template)
        else:
            scores = self._fit_subsamples(X, sample_weight, template)
        if self.contamination == "auto":
            self.threshold_ = tukey_threshold(scores)
        else:
            self.threshold_ = float(np.quantile(scores, 1.0 - self.contamination))
        self.offset_ = -self.threshold_
        self.decision_scores_ = scores

    def _density_weight(self):
        """``density_weight``, with ``"auto"`` resolved: 2 on every row, else 0."""
        if self.density_weight == "auto":
            return 2.0 if self.max_samples is None else 0.0
        return self.density_weight

    def _feature_errors(self, X):
        """Per-entry reconstruction errors of validated rows, as float64.

        A non-finite error (a row the network cannot rebuild) is inf, so the
        row has the largest anomaly score: it is an outlier, never an inlier.
        """
        if getattr(self, "estimators_", None) is not None:
            # The subsampled detector: the mean over its autoencoders, in its scaling.
            X = self._scaled(X)
            estimators = self.estimators_
        else:
            estimators = [self.estimator_]
        errors = np.mean(
            [
                np.asarray(
                    validated_twin(est, "reconstruction_error", "_reconstruction_error")(
                        X, per_feature=True
                    ),
                    dtype=np.float64,
                )
                for est in estimators
            ],
            axis=0,
        )
        return np.where(np.isfinite(errors), errors, np.inf)

    def _scores(self, X):
        """Anomaly scores of validated rows (higher is more abnormal)."""
        if getattr(self, "estimators_", None) is not None:
            Xs = self._scaled(X)
            # Values whose squares overflow float32 distances: the extreme score.
            overflow = ~np.all(np.abs(Xs) < OVERFLOW, axis=1)
            scores = anomaly_score(vars(self), self._encoders(), np.where(overflow[:, None], 0, Xs))
            scores[overflow] = np.inf
            return scores
        scores = self._anomaly_score(self._feature_errors(X))
        if self.density_estimator_ is None:
            return scores
        return self._combine(scores, density_score(self.density_estimator_, X))

    def reconstruction_error(self, X: ArrayLike, per_feature: bool = False) -> NDArray[Any]:
        """Raw reconstruction errors of the fitted autoencoder.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to reconstruct.
        per_feature : bool, default=False
            Return the error of every entry instead of the row means, to see
            which features make a row anomalous.

        Returns
        -------
        errors : ndarray of shape (n_samples,) or (n_samples, n_features)
            The autoencoder's ``loss`` between each row and its
            reconstruction, averaged over features unless ``per_feature``.
        """
        check_is_fitted(self)
        check_flag(per_feature, "per_feature")
        X = validate_rows(self, X, reset=False, dtype=np.float32)
        errors = self._feature_errors(X)
        return errors if per_feature else errors.mean(axis=1)

    def score_samples(self, X: ArrayLike) -> NDArray[Any]:
        """Minus the anomaly score of each row: the higher, the more normal.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            Minus the anomaly score of each row: the (standardized, with
            ``error="standardized"``) reconstruction error, plus the density
            term when ``density_weight > 0`` (see the class description);
            ``-inf`` for a row the network cannot rebuild (its values overflow
            float32 arithmetic inside the network), which is therefore always
            an outlier.
        """
        check_is_fitted(self)
        X = validate_rows(self, X, reset=False, dtype=np.float32)
        return -self._scores(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags
