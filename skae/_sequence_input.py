"""Rows or sequences: input checks of an estimator that takes either.

:class:`SequenceInputMixin` validates what :class:`skae.DisentangledAutoEncoder`
is given: rows ``(n_samples, n_features)``, or sequences (a 3-D array or a list
of 2-D arrays of varying lengths, one label per sequence) that are cut into
training windows. The first ``fit`` decides which of the two the estimator
takes from then on (``_sequence_input``). The array checks themselves are the
pure functions of :mod:`skae._sequences`.
"""

import numpy as np
from sklearn.utils.validation import validate_data

from ._sequences import check_sequence_labels, check_sequences, cut_windows, is_sequences


class SequenceInputMixin:
    """Validation of rows or sequences; for estimators with ``segment_length``."""

    def _check_rows_or_windows(self, X, y, *, reset):
        """Training rows, or windows cut from sequences, with their labels.

        Returns ``(X, y, owners)``: ``X`` rows or windows ``(n_windows,
        segment_length, n_features)``, ``y`` one label per row or sequence,
        and ``owners`` the index into ``y`` of each row or window.
        """
        sequences = is_sequences(X)
        if not reset and sequences != self._sequence_input:
            fitted, given = ("sequences", "rows") if self._sequence_input else ("rows", "sequences")
            raise ValueError(
                f"This estimator was fitted on {fitted}; continue training on "
                f"{fitted}, not {given}."
            )
        if sequences:
            X = self._check_sequence_width(check_sequences(X), reset=reset)
            y = check_sequence_labels(y, len(X), type(self).__name__)
            X, owners = cut_windows(X, self.segment_length)
        else:
            X, y = validate_data(self, X, y, reset=reset, dtype=np.float32)
            owners = slice(None)
        self._sequence_input = sequences
        return X, y, owners

    def _check_sequence_width(self, sequences, *, reset):
        """Set (``reset``) or check ``n_features_in_`` from validated sequences."""
        n_features = sequences[0].shape[1]
        if reset:
            self.n_features_in_ = n_features
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif n_features != self.n_features_in_:
            raise ValueError(
                f"X has {n_features} features, but {type(self).__name__} is "
                f"expecting {self.n_features_in_} features as input."
            )
        return sequences

    def _check_input(self, X):
        """Validate rows or sequences for inference: an array or list of arrays."""
        if not self._sequence_input:
            return validate_data(self, X, reset=False, dtype=np.float32)
        if not is_sequences(X):
            raise ValueError(
                "This estimator was fitted on sequences: give a 3-D array "
                "(n_sequences, n_frames, n_features) or a list of 2-D arrays."
            )
        sequences = self._check_sequence_width(check_sequences(X), reset=False)
        return np.stack(sequences) if getattr(X, "ndim", None) == 3 else sequences
