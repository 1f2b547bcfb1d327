"""Training on rows read from a file: block shuffling and anonymous memory."""

import os

import numpy as np
import pytest
import torch

from skae import AutoEncoderTransformer
from skae._engine import data as _data
from skae._engine.data import BatchIterator, TensorData, is_file_backed, stream_block_rows


def test_block_shuffle_visits_every_row_once_in_bounded_windows(monkeypatch):
    # Small blocks and windows so that 1,000 rows make many of each.
    monkeypatch.setattr(_data, "STREAM_WINDOW_BYTES", 4 * 10 * 8 * 4)
    X = torch.arange(1000 * 8, dtype=torch.float32).reshape(1000, 8)
    seen_windows = []
    original = TensorData.read_ranges

    def spy(self, ranges, pool=None):
        seen_windows.append(sum(b - a for a, b in ranges))
        return original(self, ranges, pool)

    monkeypatch.setattr(TensorData, "read_ranges", spy)
    iterator = BatchIterator(
        TensorData(X), 32, shuffle=True, generator=torch.Generator().manual_seed(0), block_rows=10
    )
    batches = [x for x, _ in iterator]
    rows = torch.cat(batches)[:, 0].long() // 8
    assert sorted(rows.tolist()) == list(range(1000))  # each row exactly once
    assert max(seen_windows) == 40 and len(seen_windows) == 25  # 4 blocks of 10 per window
    assert len(batches) == len(iterator)
    # Shuffled: not the file order, and another pass is another order.
    assert rows.tolist() != list(range(1000))
    again = torch.cat([x for x, _ in iterator])[:, 0].long() // 8
    assert again.tolist() != rows.tolist()


def test_next_window_is_read_while_this_one_trains(monkeypatch):
    monkeypatch.setattr(_data, "STREAM_WINDOW_BYTES", 4 * 10 * 8 * 4)
    X = torch.randn(1000, 8)
    requested = []
    original = TensorData.read_ranges

    def spy(self, ranges, pool=None):
        requested.append(pool is not None)
        return original(self, ranges, pool)

    def batches(read):
        monkeypatch.setattr(TensorData, "read_ranges", read)
        iterator = BatchIterator(
            TensorData(X),
            32,
            shuffle=True,
            generator=torch.Generator().manual_seed(0),
            block_rows=10,
        )
        return iter(iterator)

    ahead = batches(spy)
    next(ahead)
    assert requested == [True, True]  # the first window and, already, the second
    parallel = [next(ahead)] + list(ahead)
    # The same batches as reading each window whole when it is needed.
    serial = batches(lambda self, ranges, pool=None: original(self, ranges))
    next(serial)
    for a, b in zip(parallel, list(serial), strict=True):
        assert torch.equal(a[0], b[0])


def test_block_shuffle_is_reproducible():
    X = torch.randn(500, 4)

    def order(seed):
        it = BatchIterator(
            TensorData(X),
            16,
            shuffle=True,
            generator=torch.Generator().manual_seed(seed),
            block_rows=7,
        )
        return torch.cat([x for x, _ in it])

    assert torch.equal(order(3), order(3)) and not torch.equal(order(3), order(4))


def test_file_backed_arrays_are_recognised(tmp_path):
    X = np.lib.format.open_memmap(tmp_path / "x.npy", mode="w+", dtype=np.float32, shape=(100, 16))
    view = np.asarray(X)[10:]
    assert is_file_backed(X) and is_file_backed(view) and not is_file_backed(np.ones(3))
    assert stream_block_rows(X) == (1 << 20) // 64


def _rss_anon_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    return None


@pytest.mark.skipif(
    not os.path.exists("/proc/self/status"), reason="RssAnon is read from Linux's /proc"
)
def test_memmap_is_fitted_and_transformed_without_loading_it(tmp_path):
    # 2,000,000 x 32 float32: a 244 MiB file. Fitting one epoch and
    # transforming it must not bring it into anonymous memory.
    n, d = 2_000_000, 32
    X = np.lib.format.open_memmap(tmp_path / "big.npy", mode="w+", dtype=np.float32, shape=(n, d))
    rng = np.random.RandomState(0)
    projection = rng.normal(size=(2, d)).astype(np.float32)
    for start in range(0, n, 250_000):
        t = rng.normal(size=(250_000, 2)).astype(np.float32)
        X[start : start + 250_000] = np.tanh(t @ projection)
    X.flush()
    del X
    X = np.load(tmp_path / "big.npy", mmap_mode="r")
    before = _rss_anon_mib()
    ae = AutoEncoderTransformer(
        n_components=2,
        hidden_layer_sizes=(16,),
        max_epochs=1,
        batch_size=4096,
        device="cpu",
        random_state=0,
    )
    with pytest.warns(Warning):  # one epoch: max_epochs ends it
        ae.fit(X)
    assert ae.net_.shuffle_block_rows == stream_block_rows(X)
    Z = ae.transform(X)
    grown = _rss_anon_mib() - before
    assert Z.shape == (n, 2)
    # The file is 244 MiB; a shuffling window is 64 MiB and Z 15 MiB.
    assert grown < 0.6 * X.nbytes / 2**20, grown
    # And the epoch taught it something: rows are rebuilt far better than by
    # their mean.
    head = np.asarray(X[:20_000])
    assert ae.reconstruction_error(head).mean() < 0.5 * head.var(axis=0).mean()


def test_block_split_holds_out_whole_blocks_and_copies_nothing():
    X = torch.arange(1000 * 4, dtype=torch.float32).reshape(1000, 4)
    data = TensorData(X)
    train, valid = data.split_blocks(100, 30, torch.Generator().manual_seed(0))
    assert train.X is X and valid.X is X  # views of the same tensor
    assert 100 <= len(valid) < 130 and len(train) + len(valid) == 1000

    def rows(d):
        return torch.cat([x for x, _ in BatchIterator(d, 64)])[:, 0].long() // 4

    seen_train, seen_valid = rows(train).tolist(), rows(valid).tolist()
    assert sorted(seen_train + seen_valid) == list(range(1000))  # disjoint, complete
    assert seen_valid == sorted(seen_valid)  # validation read in file order
    assert all(b - a <= 30 for a, b in valid.ranges)
    shuffled = BatchIterator(train, 64, shuffle=True, generator=torch.Generator(), block_rows=30)
    assert sorted(
        torch.cat([x for x, _ in shuffled])[:, 0].long().div(4, rounding_mode="floor").tolist()
    ) == sorted(seen_train)
    assert len(shuffled) == len(list(shuffled)) or abs(len(shuffled) - len(list(shuffled))) <= 1


@pytest.mark.skipif(
    not os.path.exists("/proc/self/status"), reason="RssAnon is read from Linux's /proc"
)
def test_early_stopping_on_a_memmap_holds_out_blocks_without_loading_it(tmp_path):
    n, d = 1_000_000, 32  # a 122 MiB file
    X = np.lib.format.open_memmap(tmp_path / "es.npy", mode="w+", dtype=np.float32, shape=(n, d))
    rng = np.random.RandomState(0)
    projection = rng.normal(size=(2, d)).astype(np.float32)
    for start in range(0, n, 250_000):
        X[start : start + 250_000] = np.tanh(
            rng.normal(size=(250_000, 2)).astype(np.float32) @ projection
        )
    X.flush()
    del X
    X = np.load(tmp_path / "es.npy", mmap_mode="r")
    params = dict(
        n_components=2,
        hidden_layer_sizes=(16,),
        max_epochs=2,
        batch_size=4096,
        device="cpu",
        random_state=0,
    )

    def peak_growth(**extra):
        ae = AutoEncoderTransformer(**params, **extra)
        before = _rss_anon_mib()
        with pytest.warns(Warning):  # two epochs: max_epochs ends it
            peak = _peak_rss_anon_mib(lambda: ae.fit(X))
        return ae, peak - before

    peak_growth()  # the first fit's one-off allocations out of the count
    _, plain = peak_growth()
    ae, held_out = peak_growth(early_stopping=True)
    valid_losses = ae.history_[:, "valid_loss"]
    assert len(valid_losses) == 2 and all(np.isfinite(valid_losses))
    # Holding out blocks costs no copy: a copy of the training rows would
    # add 110 MiB to the peak (the file is 122 MiB).
    assert held_out < plain + 0.25 * X.nbytes / 2**20, (held_out, plain)


def _peak_rss_anon_mib(fn):
    """Largest RssAnon seen (polled every 5 ms) while ``fn()`` runs."""
    import threading

    peak, done = [_rss_anon_mib()], threading.Event()

    def poll():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_anon_mib())
            done.wait(0.005)

    watcher = threading.Thread(target=poll)
    watcher.start()
    try:
        fn()
    finally:
        done.set()
        watcher.join()
    return max(peak[0], _rss_anon_mib())


def test_partial_fit_over_chunks_trains_as_well_as_fit():
    # The recipe of docs/user_guide/scale.md for data that arrives in chunks
    # (Parquet row groups, dask blocks, files): one partial_fit per chunk, the
    # chunks visited in a new order every pass.
    rng = np.random.RandomState(0)
    t = rng.normal(size=(6000, 2))
    X = np.tanh(t @ rng.normal(size=(2, 12))).astype(np.float32)
    chunks = np.array_split(X, 12)
    params = dict(
        n_components=2, hidden_layer_sizes=(32,), batch_size=64, device="cpu", random_state=0
    )

    streamed = AutoEncoderTransformer(**params)
    order = np.random.RandomState(1)
    for _ in range(15):
        for k in order.permutation(len(chunks)):
            streamed.partial_fit(chunks[k])
    with pytest.warns(Warning):  # 15 epochs end it
        whole = AutoEncoderTransformer(max_epochs=15, **params).fit(X)
    error, reference = streamed.reconstruction_error(X).mean(), whole.reconstruction_error(X).mean()
    assert error < 1.25 * reference and error < 0.1 * X.var(axis=0).mean(), (error, reference)


def test_outputs_written_chunk_by_chunk_into_a_memmap_equal_the_whole_call(tmp_path):
    # The recipe of docs/user_guide/scale.md for outputs as large as the input.
    rng = np.random.RandomState(0)
    X = np.tanh(rng.normal(size=(3000, 2)) @ rng.normal(size=(2, 10))).astype(np.float32)
    ae = AutoEncoderTransformer(
        n_components=2, hidden_layer_sizes=(16,), max_epochs=3, device="cpu", random_state=0
    )
    with pytest.warns(Warning):  # three epochs: max_epochs ends it
        ae.fit(X)
    out = np.lib.format.open_memmap(
        tmp_path / "rebuilt.npy", mode="w+", dtype=np.float32, shape=X.shape
    )
    for start in range(0, len(X), 700):
        rows = X[start : start + 700]
        out[start : start + len(rows)] = ae.inverse_transform(ae.transform(rows))
    out.flush()
    np.testing.assert_allclose(
        np.load(tmp_path / "rebuilt.npy"),
        ae.inverse_transform(ae.transform(X)),
        rtol=1e-5,
        atol=1e-6,
    )
