"""Tests of the in-memory batching helpers in skae._engine.data."""

import numpy as np
import torch

from skae._engine.inference import INFERENCE_BATCH_SIZE, apply_batched, items_per_chunk
from skae._utils import subsample


def test_apply_batched_stitches_chunks_in_order():
    X = np.arange(30, dtype=np.float32).reshape(10, 3)
    # Row sums tag each row; chunks of 3 leave a last partial chunk of 1.
    out = apply_batched(lambda t: t.sum(dim=1, keepdim=True) * 2, X, "cpu", batch_size=3)
    np.testing.assert_array_equal(out[:, 0], X.sum(axis=1) * 2)
    assert out.dtype == np.float32 and out.shape == (10, 1)


def test_apply_batched_result_does_not_depend_on_chunk_size():
    torch.manual_seed(0)
    layer = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU())
    X = np.random.default_rng(0).standard_normal((INFERENCE_BATCH_SIZE["cpu"] + 37, 5))
    X = X.astype(np.float32)
    default = apply_batched(layer, X, torch.device("cpu"))
    one_chunk = apply_batched(layer, X, torch.device("cpu"), batch_size=len(X))
    np.testing.assert_allclose(default, one_chunk, rtol=1e-6, atol=1e-6)
    with torch.no_grad():
        np.testing.assert_allclose(
            default, layer(torch.from_numpy(X)).numpy(), rtol=1e-6, atol=1e-6
        )


def test_apply_batched_sequences_lists_and_cond():
    rng = np.random.default_rng(0)

    def fn(x, g):  # (batch, frames, features), (batch, 1)
        return x.sum(dim=-1) + g

    X = rng.standard_normal((7, 5, 3)).astype(np.float32)
    G = np.arange(7, dtype=np.float32)[:, None]
    expected = X.sum(axis=-1) + G
    # 10 frames a chunk is 2 sequences of 5 frames: chunks of 2, 2, 2, 1.
    np.testing.assert_allclose(
        apply_batched(fn, X, "cpu", batch_size=10, cond=G), expected, rtol=1e-6
    )
    sequences = [X[0, :2], X[1], X[2, :4]]
    out = apply_batched(fn, sequences, "cpu", cond=G[:3])
    assert isinstance(out, list) and [len(o) for o in out] == [2, 5, 4]
    np.testing.assert_allclose(out[2], X[2, :4].sum(axis=-1) + 2, rtol=1e-6)


def test_apply_batched_keeps_integer_input():
    codes = np.array([[1], [2], [3]], dtype=np.int64)
    out = apply_batched(lambda c: c * 2, codes, "cpu")
    assert out.dtype == np.int64 and out[:, 0].tolist() == [2, 4, 6]


def test_items_per_chunk_counts_frames():
    assert items_per_chunk((100, 8), 16) == 16
    assert items_per_chunk((100, 5, 8), 16) == 3
    assert items_per_chunk((100, 64, 8), 16) == 1


def test_subsample_is_fixed_sorted_and_without_replacement():
    X = np.arange(100)
    picked = subsample(X, 10)
    assert len(np.unique(picked)) == 10 and np.all(np.diff(picked) > 0)
    np.testing.assert_array_equal(picked, subsample(X, 10))
    assert subsample(X, 100) is X
