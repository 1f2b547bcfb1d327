"""Rows whose content and group are known: :class:`GroupRenderer`.

A test bed for disentangling: every row's content is known, so a model's
content code and its conversions to other groups can be checked against the
truth. Public as :class:`skae.datasets.GroupRenderer`.
"""

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import check_random_state


class GroupRenderer:
    """Rows that render a known content vector in a known group.

    A row is ``tanh(c @ W1) @ W2 * scale[g] + shift[g]``: a nonlinear render
    of a content vector ``c``, scaled and shifted feature by feature in group
    ``g``. The content is distributed alike in every group and asymmetrically
    (a symmetric one would let a converter align groups up to a reflection);
    groups differ along two random directions, so the last group lies among
    the others and can stand for a group not seen in training. Because the
    content of every row is known, ``render(c, g_target)`` is the true
    conversion of a row to another group.

    Parameters
    ----------
    n_groups : int, default=8
        Number of groups.
    n_content : int, default=2
        Width of the content vector.
    n_features : int, default=10
        Width of the rows.
    random_state : int, RandomState instance or None, default=0
        Seeds the render's weights and the groups' scales and shifts.

    Examples
    --------
    >>> from skae.datasets import GroupRenderer
    >>> task = GroupRenderer(n_groups=4, n_content=3)
    >>> X, y, content = task.sample(100, random_state=0)
    >>> X.shape, y.shape, content.shape
    ((100, 10), (100,), (100, 3))
    >>> task.render(content, (y + 1) % 4).shape  # the true conversions
    (100, 10)
    """

    def __init__(
        self,
        n_groups: int = 8,
        n_content: int = 2,
        n_features: int = 10,
        random_state: int | np.random.RandomState | None = 0,
    ) -> None:
        rng = check_random_state(random_state)
        self.n_groups = n_groups
        self.n_content = n_content
        self.w1 = rng.normal(size=(n_content, 16))
        self.w2 = rng.normal(size=(16, n_features)) / 4
        u = rng.normal(size=(n_groups, 2))
        self.scale = np.exp(0.4 * u @ rng.normal(size=(2, n_features)))
        self.shift = 0.5 * u @ rng.normal(size=(2, n_features))

    def content(
        self, shape: tuple[int, ...], random_state: int | np.random.RandomState | None = None
    ) -> np.ndarray:
        """Draw content vectors: an array of shape ``(*shape, n_content)`` in [-1, 1]."""
        rng = check_random_state(random_state)
        return 2 * rng.beta(2, 4, size=(*shape, self.n_content)) - 1

    def render(self, content: np.ndarray, groups: ArrayLike) -> np.ndarray:
        """Rows (float32) of ``content`` in ``groups``.

        ``content`` is ``(n, n_content)`` with ``groups`` ``(n,)``, or
        sequences ``(n, n_frames, n_content)`` with one group per sequence.
        """
        groups = np.asarray(groups)
        if content.ndim == 3:
            groups = groups[:, None]
        rows = np.tanh(content @ self.w1) @ self.w2 * self.scale[groups] + self.shift[groups]
        return rows.astype(np.float32)

    def sample(
        self,
        n_samples: int,
        groups: int | None = None,
        random_state: int | np.random.RandomState | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw ``n_samples`` rows in random groups (of ``range(groups)``).

        Parameters
        ----------
        n_samples : int
            Number of rows.
        groups : int or None, default=None
            Draw groups from ``range(groups)``; all ``n_groups`` when None.
        random_state : int, RandomState instance or None, default=None
            Seeds the content and the groups.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features), dtype float32
        y : ndarray of shape (n_samples,)
            The group of each row.
        content : ndarray of shape (n_samples, n_content)
            The content of each row.
        """
        rng = check_random_state(random_state)
        content = self.content((n_samples,), rng)
        y = rng.randint(self.n_groups if groups is None else groups, size=n_samples)
        return self.render(content, y), y, content
