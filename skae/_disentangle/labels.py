"""Group labels and group codes of the disentangling autoencoder.

Pure functions on numpy arrays: labels become indices into the sorted group
labels seen in fit (``classes``), and the group to render in is given by
label or by a code of its own.
"""

import numpy as np
from sklearn.utils import check_array, column_or_1d
from sklearn.utils.multiclass import check_classification_targets


def encode_groups(y):
    """Sorted distinct labels of ``y`` and the index of each label among them.

    Returns
    -------
    classes : ndarray of shape (n_groups,)
    ids : ndarray of shape (n_samples,), dtype int64
    """
    check_classification_targets(y)
    classes, ids = np.unique(y, return_inverse=True)
    return classes, ids.astype(np.int64)


def group_ids(classes, y, n):
    """Indices into ``classes`` of one label (for all ``n`` items) or one per item.

    Raises
    ------
    ValueError
        If the number of labels is neither 1 nor ``n``, or a label is not in
        ``classes``.
    """
    y = np.asarray(y)
    if y.ndim == 0:
        y = np.repeat(y[None], n)
    y = column_or_1d(y)
    if len(y) != n:
        raise ValueError(
            f"y has {len(y)} labels for {n} rows or sequences; give one label or one per item."
        )
    ids = np.minimum(np.searchsorted(classes, y), len(classes) - 1)
    unseen = classes[ids] != y
    if unseen.any():
        raise ValueError(
            f"y contains groups not seen in fit: {np.unique(y[unseen])[:5].tolist()}; "
            f"known groups are {classes.tolist()[:10]}. For a new group use "
            "embed_group and group_code=, or convert(..., target_examples=)."
        )
    return ids.astype(np.int64)


def group_codes(embeddings, classes, y, group_code, n):
    """Group codes ``(n, group_dim)`` from labels ``y`` or a given ``group_code``.

    Parameters
    ----------
    embeddings : ndarray of shape (n_groups, group_dim)
        The code of each group in ``classes``.
    classes : ndarray of shape (n_groups,)
        The group labels seen in fit, sorted.
    y : label, array-like of shape (n,) or None
        The group(s) to render in.
    group_code : array-like of shape (group_dim,) or (n, group_dim), or None
        Code(s) to render in instead of ``y``.
    n : int
        Number of rows or sequences to render.
    """
    if (y is None) == (group_code is None):
        raise ValueError("Give exactly one of y (group labels) and group_code.")
    if group_code is None:
        return embeddings[group_ids(classes, y, n)]
    group_dim = embeddings.shape[1]
    codes = check_array(np.atleast_2d(group_code), dtype=np.float32)
    if codes.shape[1] != group_dim:
        raise ValueError(f"group_code has {codes.shape[1]} values, expected group_dim={group_dim}.")
    if len(codes) == 1:
        codes = np.repeat(codes, n, axis=0)
    if len(codes) != n:
        raise ValueError(
            f"group_code has {len(codes)} rows for {n} rows or sequences; give one or one per item."
        )
    return codes
