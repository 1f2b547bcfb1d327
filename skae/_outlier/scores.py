"""The outlier-score surface that PyOD, and the tools built on it, expect.

PyOD's detectors keep the training anomaly scores (``decision_scores_``) and
labels (``labels_``, 1 = outlier) and turn scores into outlier probabilities
(``predict_proba``) and into the confidence of a prediction
(``predict_confidence``). :class:`OutlierScoresMixin` gives a scikit-learn
style detector the same surface, so threshold libraries and model-combination
frameworks written for PyOD take it as it is. It relies on ``score_samples``
(higher is more normal), ``threshold_`` (on the anomaly-score scale),
``contamination`` and the fitted ``decision_scores_``. The mixin also gives
scikit-learn's surface from ``score_samples`` and ``offset_``
(``decision_function``, ``predict``), and :func:`tukey_threshold` is the cut
of ``contamination="auto"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import erf
from scipy.stats import binom
from sklearn.utils.validation import check_is_fitted

#: Tukey's fence of ``contamination="auto"``: a row is an outlier when its
#: anomaly score is more than this many interquartile ranges above the third
#: quartile of the training scores.
AUTO_IQR_FACTOR = 1.5


def tukey_threshold(scores):
    """Third quartile + ``AUTO_IQR_FACTOR`` interquartile ranges of the scores."""
    q1, q3 = np.percentile(scores, [25, 75])
    return float(q3 + AUTO_IQR_FACTOR * (q3 - q1))


class OutlierScoresMixin:
    """PyOD's scoring methods for a detector whose anomaly score is ``-score_samples``."""

    if TYPE_CHECKING:  # what the detector provides
        score_samples: Any
        decision_scores_: NDArray[Any]
        offset_: float

    @property
    def labels_(self):
        """1 for the training rows that are outliers, 0 for the others (PyOD's labels)."""
        check_is_fitted(self)
        # A NaN score or threshold (a hostile file, a broken model) flags the row.
        return (~(self.decision_scores_ <= self.threshold_)).astype(int)

    def predict_proba(
        self,
        X: ArrayLike,
        method: Literal["linear", "unify"] = "linear",
        return_confidence: bool = False,
    ) -> NDArray[Any] | tuple[NDArray[Any], NDArray[Any]]:
        """Probability that each row is an outlier, as PyOD computes it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to score.
        method : {"linear", "unify"}, default="linear"
            ``"linear"``: the anomaly score min-max scaled by the training
            scores, clipped to [0, 1]. ``"unify"``: the Gaussian scaling of
            Kriegel et al. [1]_, ``erf((s - mean) / (std * sqrt(2)))`` with the
            training scores' mean and deviation, clipped to [0, 1].
        return_confidence : bool, default=False
            Also return :meth:`predict_confidence`.

        Returns
        -------
        proba : ndarray of shape (n_samples, 2)
            Columns: probability of being normal, of being an outlier.
        confidence : ndarray of shape (n_samples,)
            Only with ``return_confidence``.

        References
        ----------
        .. [1] H.-P. Kriegel, P. Kröger, E. Schubert and A. Zimek,
           "Interpreting and unifying outlier scores", SDM 2011.
        """
        check_is_fitted(self)
        if method not in ("linear", "unify"):
            raise ValueError(f"method must be 'linear' or 'unify', got {method!r}.")
        scores = -self.score_samples(X)
        train = self.decision_scores_
        if method == "linear":
            span = train.max() - train.min()
            outlier = (scores - train.min()) / (span if span > 0 else 1.0)
        else:
            std = train.std()
            outlier = erf((scores - train.mean()) / ((std if std > 0 else 1.0) * np.sqrt(2)))
        outlier = np.nan_to_num(outlier, nan=1.0).clip(0, 1)
        proba = np.column_stack([1 - outlier, outlier])
        if return_confidence:
            return proba, self._confidence(scores)
        return proba

    def predict_confidence(self, X: ArrayLike) -> NDArray[Any]:
        """How surely each prediction would stand with other training rows.

        The ExCeeD estimate of Perini et al. [1]_, as PyOD computes it: the
        probability, under a Bayesian model of the training scores, that the
        row's label (outlier or not) is the same when the training set is
        drawn again.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to score.

        Returns
        -------
        confidence : ndarray of shape (n_samples,)
            In [0, 1]; 1 is a prediction that no perturbation of the training
            set would change.

        References
        ----------
        .. [1] L. Perini, V. Vercruyssen and J. Davis, "Quantifying the
           confidence of anomaly detectors in their example-wise
           predictions", ECML PKDD 2020.
        """
        check_is_fitted(self)
        return self._confidence(-self.score_samples(X))

    def _confidence(self, scores):
        train = np.sort(self.decision_scores_)
        n = len(train)
        below = np.searchsorted(train, scores, side="right")  # training scores <= each score
        posterior = (1 + below) / (2 + n)
        contamination = self.contamination
        if not isinstance(contamination, (float, int)):
            contamination = self.labels_.mean()
        confidence = 1 - binom.cdf(n - int(n * contamination), n, posterior)
        normal = scores <= self.threshold_
        confidence[normal] = 1 - confidence[normal]
        return confidence

    def decision_function(self, X: ArrayLike) -> NDArray[Any]:
        """Shifted opposite of the anomaly score: negative for outliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to score.

        Returns
        -------
        scores : ndarray of shape (n_samples,)
            ``score_samples(X) - offset_``; negative values are outliers.
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """Predict whether each row is an inlier (+1) or an outlier (-1).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows to classify.

        Returns
        -------
        is_inlier : ndarray of shape (n_samples,)
            +1 for inliers, -1 for outliers (also a row whose decision is
            NaN: a NaN ``offset_`` or score cannot vouch for any row).
        """
        decision = self.decision_function(X)
        is_inlier = np.ones(decision.shape[0], dtype=int)
        is_inlier[~(decision >= 0)] = -1
        return is_inlier
