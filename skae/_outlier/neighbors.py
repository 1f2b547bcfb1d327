"""Neighbour distances to small reference sets, the terms of the subsampled detector.

Pure numpy, no estimator. Every distance is computed by brute force against a
few hundred to a few thousand reference rows, in chunks of query rows, so
scoring is linear in the number of rows and its memory is flat. Three kinds of
reference:

- *blocks*: ``B`` random subsamples of ``s`` rows; a row's term is the mean,
  over the blocks, of its distance to its ``k``-th nearest row in the block,
  each divided by that block's typical (median) distance. A small block
  thins a cluster of outliers as IsolationForest's subsamples do, so the
  outliers in the training rows do not hide the test outliers near them;
- *nearest*: the distance to the nearest of a few thousand training rows,
  the one-class detector that ranks best when the training rows are clean;
- the same blocks in the code of an autoencoder (:mod:`.detector`).

A row at distance zero from a reference row is scored without that row
(leave-one-out), so that training rows, which are in the references, are
scored as new rows are.
"""

import numpy as np

#: Query rows per chunk: a chunk's distance matrix to 4,000 reference rows is
#: about 64 MB of float32.
CHUNK_ROWS = 4096


def robust_scaling(X):
    """Median and 5-95 percentile range of each column of ``X``.

    Dividing by a wide percentile range instead of the standard deviation
    keeps the outliers in the training rows from setting the scale of a
    feature. A column whose percentile range is zero (a rare binary or
    one-hot column) is divided by its full range instead, so that its rare
    value is one unit away, as far as a typical spread of another feature
    (its standard deviation would put it ten units away at 1%); a constant
    column by 1.
    """
    X = np.asarray(X, dtype=np.float64)
    low, center, high = np.percentile(X, [5, 50, 95], axis=0)
    spread = high - low
    full = X.max(axis=0) - X.min(axis=0)
    tiny = 1e-9 * max(float(np.max(np.abs(X))), 1.0)
    spread = np.where(spread > tiny, spread, np.where(full > tiny, full, 1.0))
    return center, spread


class _Reference:
    """Rows to measure distances to, kept as ``-2 R^T`` and ``|r|^2`` so that a
    chunk's ranking needs one matrix product and one addition (``|q|^2`` is
    the same for every reference row and is added only to the selected ones)."""

    def __init__(self, R):
        R = np.ascontiguousarray(R, dtype=np.float32)
        self.scaled_t = np.ascontiguousarray(-2.0 * R.T)
        self.norms = (R * R).sum(axis=1)

    def partial(self, Q):
        """``|r|^2 - 2 q.r`` for the rows of ``Q`` (float32)."""
        D = Q @ self.scaled_t
        D += self.norms
        return D


def _leave_one_out(selected, Q):
    """Distances from the selected ``|r|^2 - 2 q.r`` values, leaving one
    identical row out.

    ``selected[..., 0]`` is the smallest value of a row's reference,
    ``selected[..., 1]`` the wanted rank and ``selected[..., 2]`` the next
    one. A query whose nearest reference row is at distance zero (itself,
    when the query is a training row in the reference) is given the next
    rank, so that a training row is scored as a new row would be
    (leave-one-out) and the training scores set an honest cut.
    """
    q2 = (Q.astype(np.float64) ** 2).sum(axis=1)
    q2 = q2.reshape(-1, *([1] * (selected.ndim - 1)))
    d2 = np.maximum(selected + q2, 0.0)
    zero = d2[..., 0] <= 1e-6 * np.maximum(q2[..., 0], 1.0)
    return np.sqrt(np.where(zero, d2[..., 2], d2[..., 1]))


def block_distances(Q, blocks, k):
    """Distance of each row of ``Q`` to its ``k``-th nearest row of each block.

    Parameters
    ----------
    Q : ndarray of shape (n, d), float32
    blocks : ndarray of shape (n_blocks, s, d), float32
    k : int
        Neighbour rank, ``1 <= k < s``. A block row identical to the query
        is left out (see :func:`_leave_one_out`).

    Returns
    -------
    distances : ndarray of shape (n, n_blocks), float64
    """
    n_blocks, size, width = blocks.shape
    reference = _Reference(blocks.reshape(n_blocks * size, width))
    Q = np.ascontiguousarray(Q, dtype=np.float32)
    out = np.empty((len(Q), n_blocks))
    for start in range(0, len(Q), CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, len(Q))
        D = reference.partial(Q[start:stop]).reshape(-1, n_blocks, size)
        if k < size:
            # One partition at k (five times faster than at several ranks):
            # the k smallest lie before it, in no order. Their minimum and
            # maximum are taken slice by slice: a reduction along a short last
            # axis costs numpy several times more than k elementwise passes.
            D = np.partition(D, k, axis=2)
            low, high = D[:, :, 0].copy(), D[:, :, 0].copy()
            for rank in range(1, k):
                np.minimum(low, D[:, :, rank], out=low)
                np.maximum(high, D[:, :, rank], out=high)
            selected = np.stack([low, high, D[:, :, k]], axis=2)
        else:  # a block of k rows or fewer: its farthest row, nothing to skip to
            selected = np.stack([D.min(axis=2), D.max(axis=2), D.max(axis=2)], axis=2)
        out[start:stop] = _leave_one_out(selected, Q[start:stop])
    return out


def nearest_distance(Q, R):
    """Distance of each row of ``Q`` to its nearest row of ``R`` (float64),
    an identical row left out (see :func:`_leave_one_out`)."""
    reference = _Reference(R)
    Q = np.ascontiguousarray(Q, dtype=np.float32)
    out = np.empty(len(Q))
    for start in range(0, len(Q), CHUNK_ROWS):
        stop = min(start + CHUNK_ROWS, len(Q))
        D = reference.partial(Q[start:stop])
        nearest = np.argmin(D, axis=1)
        first = D[np.arange(len(D)), nearest]
        # The second nearest matters only for a row at distance zero (rare
        # but for training rows): mask the nearest there and look again.
        second = first.copy()
        if len(R) > 1:
            q2 = (Q[start:stop].astype(np.float64) ** 2).sum(axis=1)
            zero = np.flatnonzero(first + q2 <= 1e-6 * np.maximum(q2, 1.0))
            if zero.size:
                D[zero, nearest[zero]] = np.inf
                second[zero] = D[zero].min(axis=1)
        out[start:stop] = _leave_one_out(np.stack([first, first, second], axis=1), Q[start:stop])
    return out


def block_medians(distances):
    """Typical distance of each block (median over rows, floored above 0)."""
    medians = np.median(distances, axis=0)
    floor = max(float(medians.max(initial=0.0)) * 1e-6, 1e-12)
    return np.maximum(medians, floor)
