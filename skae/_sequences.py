"""Sequence input: validation and cutting into training windows.

Pure functions on numpy arrays; they know no estimator. A set of sequences is
a 3-D array ``(n_sequences, n_frames, n_features)`` or a list of 2-D arrays
``(n_frames_i, n_features)`` of varying lengths.
"""

import numpy as np
from sklearn.utils import check_array, column_or_1d


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
        raise ValueError(
            f"{estimator_name} requires y to be passed, but the target y is None."
        )
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
