"""Rows or sequences: the input checks of the disentangling estimator.

A set of sequences is a 3-D array ``(n_sequences, n_frames, n_features)`` or a
list of 2-D arrays ``(n_frames_i, n_features)`` of varying lengths. The module
functions are pure numpy (validation, cutting into training windows) and know
no estimator. :class:`SequenceInputMixin` validates what
:class:`skae.DisentangledAutoEncoder` is given: rows, or sequences (one label
per sequence) cut into training windows. The first ``fit`` decides which of
the two the estimator takes from then on (``_sequence_input``).
"""

import numpy as np
from sklearn.utils import check_array, column_or_1d

from .._utils import reset_n_features, validate_rows


def is_sequences(X):
    """True for a 3-D array or a non-empty list/tuple of 2-D arrays."""
    if getattr(X, "ndim", None) == 3:
        return True
    return (
        isinstance(X, (list, tuple))
        and len(X) > 0
        and all(getattr(x, "ndim", None) == 2 for x in X)
    )


def check_sequences(X):
    """Validate sequences; return them as a list of float32 2-D arrays.

    Every sequence is checked like a 2-D array of rows (finite, non-empty).

    Raises
    ------
    ValueError
        If a sequence is invalid, or the sequences differ in width.
    """
    sequences = [check_array(x, dtype=np.float32) for x in X]
    widths = {x.shape[1] for x in sequences}
    if len(widths) != 1:
        raise ValueError(
            f"All sequences must have the same number of features, got {sorted(widths)}."
        )
    return sequences


def check_sequence_labels(y, n_sequences, estimator_name):
    """One label per sequence as a 1-D array, or a ValueError saying what is off."""
    if y is None:
        raise ValueError(f"{estimator_name} requires y to be passed, but the target y is None.")
    y = column_or_1d(y, warn=True)
    if len(y) != n_sequences:
        raise ValueError(
            f"y has {len(y)} labels for {n_sequences} sequences; give one per sequence."
        )
    return y


def cut_windows(sequences, length):
    """Cut sequences into windows of ``length`` frames, half overlapping.

    A sequence shorter than ``length`` is padded by repeating its last frame;
    the last window of a sequence ends at its last frame.

    Returns
    -------
    windows : ndarray of shape (n_windows, length, n_features)
    owners : ndarray of shape (n_windows,)
        Index of the sequence each window was cut from.
    """
    hop = max(1, length // 2)
    windows, owners = [], []
    for i, x in enumerate(sequences):
        if len(x) < length:
            x = np.concatenate([x, np.repeat(x[-1:], length - len(x), axis=0)])
        starts = list(range(0, len(x) - length + 1, hop))
        if starts[-1] != len(x) - length:
            starts.append(len(x) - length)
        windows.extend(x[s : s + length] for s in starts)
        owners.extend([i] * len(starts))
    return np.stack(windows), np.asarray(owners)


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
            X, y = validate_rows(self, X, y, reset=reset, dtype=np.float32)
            owners = slice(None)
        self._sequence_input = sequences
        return X, y, owners

    def _check_sequence_width(self, sequences, *, reset):
        """Set (``reset``) or check ``n_features_in_`` from validated sequences."""
        n_features = sequences[0].shape[1]
        if reset:
            reset_n_features(self, n_features)
        elif n_features != self.n_features_in_:
            raise ValueError(
                f"X has {n_features} features, but {type(self).__name__} is "
                f"expecting {self.n_features_in_} features as input."
            )
        return sequences

    def _check_input(self, X):
        """Validate rows or sequences for inference: an array or list of arrays."""
        if not self._sequence_input:
            return validate_rows(self, X, reset=False, dtype=np.float32)
        if not is_sequences(X):
            raise ValueError(
                "This estimator was fitted on sequences: give a 3-D array "
                "(n_sequences, n_frames, n_features) or a list of 2-D arrays."
            )
        sequences = self._check_sequence_width(check_sequences(X), reset=False)
        return np.stack(sequences) if getattr(X, "ndim", None) == 3 else sequences
