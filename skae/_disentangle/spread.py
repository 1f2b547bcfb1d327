"""Per-feature maps that move a model's renderings to a group's mean and spread.

One map serves both corrections of
:meth:`skae.DisentangledAutoEncoder.convert`: the calibration to a few examples
of the target group (``target_examples=``, in full) and the variance
compensation of trained groups (``variance_compensation=``, part of the way,
from the moments recorded at fit by :func:`group_moments`). Each feature ``x``
of a rendering becomes ``x * scale + shift``, which is ``m_r + c (m - m_r) +
(x - m_r) (s / s_r) ** c`` for the rendered moments ``m_r, s_r``, the target
moments ``m, s`` and the strength ``c``.
"""

import numpy as np

#: Bounds of the per-feature spread ratio: a feature the model renders
#: (nearly) flat is not blown up.
SCALE_BOUNDS = (0.1, 10.0)


def feature_frames(X):
    """All rows (frames) of rows, a 3-D array or a list of sequences: (n, n_features)."""
    if isinstance(X, list):
        X = np.concatenate(X)
    return np.asarray(X).reshape(-1, np.shape(X)[-1])


def moments(frames):
    """Per-feature ``(mean, std)`` of ``frames`` ``(n, n_features)``."""
    return frames.mean(0), frames.std(0)


def spread_map(mean_r, std_r, mean, std, strength=1.0):
    """Per-feature ``shift, scale`` (float32) moving renderings of moments
    ``mean_r, std_r`` the fraction ``strength`` of the way to ``mean, std``.

    The spread ratio is clipped to :data:`SCALE_BOUNDS`; a feature rendered as
    a constant keeps ratio 1 and is only shifted. ``strength=1`` takes the
    rendered moments to the target's exactly; 0 is the identity. The
    arguments may hold one row of moments or one per item.
    """
    flat = std_r <= 1e-12
    ratio = np.clip(np.where(flat, 1.0, std / np.where(flat, 1.0, std_r)), *SCALE_BOUNDS)
    scale = ratio**strength
    shift = (1 - strength) * mean_r + strength * mean - scale * mean_r
    return shift.astype(np.float32), scale.astype(np.float32)


def apply_map(rendered, shift, scale):
    """``rendered * scale + shift`` as float32, keeping a list a list.

    ``rendered`` is rows ``(n, n_features)``, sequences ``(n, n_frames,
    n_features)`` or a list of ``(n_frames_i, n_features)`` arrays; ``shift``
    and ``scale`` are ``(n_features,)`` for all items or ``(n, n_features)``,
    one per item (row or sequence).
    """
    if isinstance(rendered, list):
        if shift.ndim == 1:
            shift, scale = [shift] * len(rendered), [scale] * len(rendered)
        return [(x * a + b).astype(np.float32) for x, a, b in zip(rendered, scale, shift)]
    if shift.ndim == 2 and rendered.ndim == 3:
        shift, scale = shift[:, None], scale[:, None]
    return (rendered * scale + shift).astype(np.float32)


def group_moments(X, X_hat, ids, n_groups, previous=None):
    """Per-group, per-feature mean and standard deviation of rows (frames)
    ``X`` and of their renderings ``X_hat`` in their own group.

    Parameters
    ----------
    X, X_hat : ndarray of shape (n, n_features) or (n, n_frames, n_features)
        Training rows (windows) and the model's rendering of them.
    ids : ndarray of shape (n,)
        Group index of each row (window).
    n_groups : int
        Number of groups.
    previous : ndarray of shape (n_groups, 4, n_features) or None
        Moments of an earlier training call, kept for the groups absent
        from ``ids`` (``partial_fit``); NaN for a group never seen.

    Returns
    -------
    moments : ndarray of shape (n_groups, 4, n_features), dtype float32
        For each group: the mean and std of ``X``, then those of ``X_hat``.
    """
    n_features = X.shape[-1]
    if previous is None:
        previous = np.full((n_groups, 4, n_features), np.nan, dtype=np.float32)
    result = previous.copy()
    for g in np.unique(ids):
        real = moments(X[ids == g].reshape(-1, n_features))
        rendered = moments(X_hat[ids == g].reshape(-1, n_features))
        result[g] = [*real, *rendered]
    return result


def compensation_map(target_moments, strength):
    """:func:`spread_map` of items whose target groups have ``target_moments``
    ``(n, 4, n_features)`` (rows of :func:`group_moments`): ``(n, n_features)``
    shifts and scales."""
    mean, std, mean_r, std_r = (target_moments[:, k] for k in range(4))
    return spread_map(mean_r, std_r, mean, std, strength)
