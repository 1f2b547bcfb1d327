"""The neighbour distances and the row draws of the subsampled detector,
checked against scikit-learn's NearestNeighbors and against counts."""

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from skae._outlier.neighbors import CHUNK_ROWS, block_distances, nearest_distance
from skae._outlier.subsampled import draw


def kth_distance_leaving_one_out(reference, Q, k):
    """Distance to the k-th nearest reference row, a row at distance 0 skipped."""
    distances, _ = NearestNeighbors(n_neighbors=k + 1).fit(reference).kneighbors(Q)
    return np.where(distances[:, 0] < 1e-4, distances[:, k], distances[:, k - 1])


@pytest.mark.parametrize("k", [1, 2, 5])
def test_block_distances_are_the_kth_neighbour_of_each_block(k):
    rng = np.random.RandomState(0)
    # More rows than a chunk, so that the chunks are stitched together.
    Q = rng.normal(size=(CHUNK_ROWS + 37, 6)).astype(np.float32)
    blocks = rng.normal(size=(4, 16, 6)).astype(np.float32)
    blocks[1, 3] = Q[7]  # a query that is a row of a block skips that row
    distances = block_distances(Q, blocks, k)
    assert distances.shape == (len(Q), 4)
    for b in range(4):
        np.testing.assert_allclose(
            distances[:, b], kth_distance_leaving_one_out(blocks[b], Q, k), atol=1e-5
        )
    assert distances[7, 1] > 0


def test_a_block_of_k_rows_gives_its_farthest_row():
    rng = np.random.RandomState(1)
    Q = rng.normal(size=(50, 3)).astype(np.float32)
    blocks = rng.normal(size=(2, 3, 3)).astype(np.float32)
    expected = np.linalg.norm(Q[:, None, None] - blocks[None], axis=-1).max(axis=2)
    np.testing.assert_allclose(block_distances(Q, blocks, 3), expected, atol=1e-5)


def test_nearest_distance_leaves_an_identical_row_out():
    rng = np.random.RandomState(2)
    R = rng.normal(size=(200, 5)).astype(np.float32)
    Q = np.vstack([R[:10], rng.normal(size=(40, 5))]).astype(np.float32)
    np.testing.assert_allclose(
        nearest_distance(Q, R), kth_distance_leaving_one_out(R, Q, 1), atol=1e-5
    )


@pytest.mark.parametrize("n_samples, size", [(10_000, 50), (100, 60), (30, 80)])
def test_draw_gives_distinct_sorted_rows(n_samples, size):
    rows = draw(np.random.RandomState(0), n_samples, size, None)
    assert len(rows) == min(size, n_samples)
    assert np.all(np.diff(rows) > 0) and rows[0] >= 0 and rows[-1] < n_samples


def test_a_few_rows_among_many_are_drawn_uniformly():
    # 50 of 1,000 rows (the stream of uniform indices, not a permutation),
    # 4,000 times: every row is expected 200 times, with a deviation of 13.8.
    rng = np.random.RandomState(0)
    counts = np.bincount(
        np.concatenate([draw(rng, 1000, 50, None) for _ in range(4000)]), minlength=1000
    )
    assert counts.sum() == 4000 * 50
    assert abs(counts - 200).max() < 5 * 13.8
    # the chi-square statistic of 999 degrees of freedom: mean 999, sd 44.7
    assert abs(((counts - 200) ** 2 / 200).sum() - 999) < 5 * 44.7


def test_weighted_draw_never_takes_a_zero_weight_row():
    probability = np.r_[np.zeros(500), np.full(500, 1 / 500)]
    rows = draw(np.random.RandomState(0), 1000, 400, probability)
    assert len(rows) == 400 and rows.min() >= 500
    # fewer positive weights than asked for: every positive row, once
    assert np.array_equal(
        draw(np.random.RandomState(0), 1000, 800, probability), np.arange(500, 1000)
    )
