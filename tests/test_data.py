"""Tests of the in-memory batching helpers in skae._data."""

import numpy as np
import torch

from skae._data import INFERENCE_BATCH_SIZE, apply_batched


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
        np.testing.assert_allclose(default, layer(torch.from_numpy(X)).numpy(), rtol=1e-6, atol=1e-6)
