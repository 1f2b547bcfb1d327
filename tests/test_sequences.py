"""Tests of the pure helpers for sequence input and group labels."""

import numpy as np
import pytest

from skae._disentangle.labels import encode_groups, group_codes, group_ids
from skae._disentangle.sequences import (
    check_sequence_labels,
    check_sequences,
    cut_windows,
    is_sequences,
)


def test_is_sequences():
    assert is_sequences(np.zeros((2, 5, 3)))
    assert is_sequences([np.zeros((5, 3)), np.zeros((7, 3))])
    assert not is_sequences(np.zeros((5, 3)))
    assert not is_sequences([])
    assert not is_sequences([[1.0, 2.0], [3.0, 4.0]])


def test_check_sequences_converts_and_rejects_mixed_widths():
    sequences = check_sequences([np.ones((4, 3), dtype=np.float64), np.ones((2, 3))])
    assert [s.dtype for s in sequences] == [np.float32, np.float32]
    with pytest.raises(ValueError, match=r"same number of features, got \[2, 3\]"):
        check_sequences([np.ones((4, 3)), np.ones((4, 2))])
    with pytest.raises(ValueError, match="NaN"):
        check_sequences([np.full((4, 3), np.nan)])


def test_check_sequence_labels():
    assert check_sequence_labels(["a", "b"], 2, "Est").tolist() == ["a", "b"]
    with pytest.raises(ValueError, match="Est requires y"):
        check_sequence_labels(None, 2, "Est")
    with pytest.raises(ValueError, match="3 labels for 2 sequences"):
        check_sequence_labels([0, 1, 2], 2, "Est")


def test_cut_windows_cover_every_frame_and_pad_short_sequences():
    long = np.arange(10, dtype=np.float32)[:, None]  # frames 0..9
    short = np.array([[100.0], [101.0]], dtype=np.float32)
    windows, owners = cut_windows([long, short], length=4)
    # Hop 2: starts 0, 2, 4, 6 cover 0..9; the short one is padded with its last frame.
    assert windows.shape == (5, 4, 1)
    assert owners.tolist() == [0, 0, 0, 0, 1]
    assert windows[3, :, 0].tolist() == [6, 7, 8, 9]
    assert windows[4, :, 0].tolist() == [100, 101, 101, 101]
    # A length the hop does not reach still ends a window at the last frame.
    windows, _ = cut_windows([np.arange(9, dtype=np.float32)[:, None]], length=4)
    assert windows[-1, :, 0].tolist() == [5, 6, 7, 8]


def test_group_ids_and_codes():
    classes, ids = encode_groups(np.array(["b", "a", "b"]))
    assert classes.tolist() == ["a", "b"] and ids.tolist() == [1, 0, 1]
    assert group_ids(classes, "b", 3).tolist() == [1, 1, 1]
    with pytest.raises(ValueError, match=r"not seen in fit: \['c'\]"):
        group_ids(classes, ["a", "c"], 2)
    with pytest.raises(ValueError, match="3 labels for 2 rows"):
        group_ids(classes, ["a", "b", "a"], 2)

    embeddings = np.array([[0.0, 1.0], [2.0, 3.0]], dtype=np.float32)
    np.testing.assert_array_equal(
        group_codes(embeddings, classes, ["b", "a"], None, 2), embeddings[[1, 0]]
    )
    np.testing.assert_array_equal(
        group_codes(embeddings, classes, None, [5.0, 6.0], 3), [[5, 6]] * 3
    )
    with pytest.raises(ValueError, match="exactly one of y"):
        group_codes(embeddings, classes, "a", [5.0, 6.0], 1)
    with pytest.raises(ValueError, match="expected group_dim=2"):
        group_codes(embeddings, classes, None, [5.0], 1)
