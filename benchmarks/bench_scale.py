"""Benchmark training on rows read from a file: memory, time per row, and shuffling.

Protocol: a float32 ``.npy`` file of N x 64 rows (a 4-D curved manifold plus
noise, written chunk by chunk) is opened with ``np.load(mmap_mode="r")``;
its pages are dropped from the page cache (``posix_fadvise(DONTNEED)``), so
every run reads the file from disk. ``AutoEncoderTransformer(n_components=8,
batch_size=1024, max_epochs=1)`` is fitted for one epoch, then ``transform``
encodes every row. Reported per N:

- peak growth of the process's **anonymous** memory (``RssAnon`` of
  ``/proc/self/status``, sampled every 5 ms by a thread) during the fit and
  during the transform: what the data would cost if it were loaded, against
  page cache, which the kernel gives back;
- seconds per million rows of the fit and of the transform;
- the disk's sequential read speed of the same file (``cat`` to /dev/null,
  cold), for the fit's read rate to be compared with.

skae shuffles rows of a file-backed array in blocks of 1 MiB, visited in a
random order and read 64 MiB at a time, rows shuffled within that window
(``skae._engine.data.BatchIterator``). The reference row ``full permutation`` is
the same fit with one permutation of all rows (what skae did before), whose
every batch gathers rows from all over the file. The loss table compares the
two shufflings' training loss after two epochs on an in-memory copy whose
rows are *sorted* along the manifold (the worst case for block shuffling,
where a window holds similar rows), on one CPU thread.

Usage::

    python benchmarks/bench_scale.py                          # writes results/scale.md
    python benchmarks/bench_scale.py --sizes 1 4 --no-write   # millions of rows
"""

import contextlib
import os
import subprocess
import threading
import warnings
from pathlib import Path
from unittest import mock

import numpy as np
import torch
from _common import (
    Stopwatch,
    command_line,
    markdown_table,
    produced_by,
    publish,
    single_thread,
)

from skae import AutoEncoderTransformer

N_FEATURES = 64
CHUNK = 1 << 18
MODEL = dict(n_components=8, hidden_layer_sizes=(64,), batch_size=1024, device="cpu")


# -- memory ----------------------------------------------------------------------
def rss_anon_mib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("RssAnon:"):
                return int(line.split()[1]) / 1024
    raise OSError("no RssAnon in /proc/self/status")


class PeakAnon:
    """Peak growth of anonymous memory inside a ``with`` block, in MiB."""

    def __enter__(self):
        self.base = self.peak = rss_anon_mib()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()
        return self

    def _poll(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_anon_mib())

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_anon_mib())
        self.growth = self.peak - self.base


# -- data --------------------------------------------------------------------------
def write_file(path, n_rows, seed=0, order=False):
    """Write ``n_rows`` x 64 float32 rows near a 4-D manifold to ``path`` (.npy)."""
    rng = np.random.RandomState(seed)
    w1 = rng.normal(size=(4, 32)).astype(np.float32)
    w2 = (rng.normal(size=(32, N_FEATURES)) / 4).astype(np.float32)
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n_rows, N_FEATURES))
    for start in range(0, n_rows, CHUNK):
        t = rng.normal(size=(min(CHUNK, n_rows - start), 4)).astype(np.float32)
        X[start : start + len(t)] = np.tanh(t @ w1) @ w2 + 0.05 * rng.normal(
            size=(len(t), N_FEATURES)
        )
    if order:
        X[:] = X[np.argsort(X[:, 0])]
    X.flush()
    del X


def drop_from_page_cache(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def sequential_read_mb_s(path):
    drop_from_page_cache(path)
    watch = Stopwatch()
    subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)
    return os.path.getsize(path) / 2**20 / watch.seconds


# -- runs --------------------------------------------------------------------------
def run_size(path, n_rows, full_permutation=False):
    drop_from_page_cache(path)
    X = np.load(path, mmap_mode="r")
    ae = AutoEncoderTransformer(max_epochs=1, random_state=0, **MODEL)
    # The reference: one permutation of all rows, as skae shuffled before.
    shuffling = (
        mock.patch("skae._base.is_file_backed", return_value=False)
        if full_permutation
        else contextlib.nullcontext()
    )
    with shuffling, PeakAnon() as fit_mem:
        watch = Stopwatch()
        ae.fit(X)
        fit_s = watch.seconds
    drop_from_page_cache(path)
    with PeakAnon() as transform_mem:
        watch = Stopwatch()
        Z = ae.transform(X)
        transform_s = watch.seconds
    return {
        "rows": n_rows,
        "file MiB": os.path.getsize(path) / 2**20,
        "fit: anon MiB": fit_mem.growth,
        "fit: s per M rows": fit_s / n_rows * 1e6,
        "fit: read MiB/s": os.path.getsize(path) / 2**20 / fit_s,
        "transform: anon MiB": transform_mem.growth - Z.nbytes / 2**20,
        "transform: s per M rows": transform_s / n_rows * 1e6,
    }


def read_rate(path, block_rows, seconds):
    """Rows per second that the batch iterator delivers from the cold file (no training)."""
    from skae._engine.data import BatchIterator, TensorData, as_tensor

    drop_from_page_cache(path)
    data = TensorData(as_tensor(np.load(path, mmap_mode="r")))
    iterator = BatchIterator(
        data,
        MODEL["batch_size"],
        shuffle=True,
        generator=torch.Generator().manual_seed(0),
        block_rows=block_rows,
    )
    n_rows, watch = 0, Stopwatch()
    for x, _ in iterator:
        n_rows += len(x)
        if watch.seconds > seconds:
            break
    return n_rows / watch.seconds


def moonshot(n_rows, folder):
    """One epoch and a transform of a file larger than this machine's memory."""
    from skae._engine.data import stream_block_rows

    path = folder / "moonshot.npy"
    watch = Stopwatch()
    write_file(path, n_rows)
    write_s = watch.seconds
    disk = sequential_read_mb_s(path)
    X = np.load(path, mmap_mode="r")
    rates = {
        "blocks (default)": read_rate(path, stream_block_rows(X), 60),
        "full permutation": read_rate(path, None, 60),
    }
    row = run_size(path, n_rows)
    path.unlink()
    return dict(row, write_s=write_s, disk=disk, rates=rates)


def shuffle_loss(n_rows, folder):
    """Training loss after two epochs: block shuffling against a full permutation."""
    path = folder / "sorted.npy"
    write_file(path, n_rows, seed=1, order=True)
    X_file = np.load(path, mmap_mode="r")
    X_memory = np.array(X_file)
    losses = {}
    for name, X in (("block shuffling (file)", X_file), ("full permutation (memory)", X_memory)):
        ae = AutoEncoderTransformer(max_epochs=2, random_state=0, **MODEL).fit(X)
        losses[name] = (ae.history_[:, "train_loss"], -ae.score(X_memory))
    path.unlink()
    return losses


def main(argv=None):
    parser = command_line(__doc__, "scale.md")
    parser.add_argument(
        "--sizes", nargs="+", type=float, default=[1, 4, 16], help="millions of rows"
    )
    parser.add_argument(
        "--folder",
        type=Path,
        default=Path("/tmp/skae_scale"),
        help="where the data files are written (deleted after)",
    )
    parser.add_argument(
        "--moonshot",
        type=float,
        default=None,
        help="millions of rows of a file larger than memory (e.g. 110)",
    )
    args = parser.parse_args(argv)
    args.folder.mkdir(parents=True, exist_ok=True)
    rows, watch = [], Stopwatch()
    with single_thread(), warnings.catch_warnings(action="ignore"):
        # The first fit of a process pays torch's one-time set-up in time and memory.
        warm = np.random.RandomState(0).normal(size=(5000, N_FEATURES)).astype(np.float32)
        AutoEncoderTransformer(max_epochs=2, random_state=0, **MODEL).fit(warm).transform(warm)
        for millions in args.sizes:
            n_rows = int(millions * 1e6)
            path = args.folder / f"rows_{n_rows}.npy"
            write_file(path, n_rows)
            disk = sequential_read_mb_s(path)
            for full in (False, True) if millions <= 4 else (False,):
                row = run_size(path, n_rows, full_permutation=full)
                row["shuffling"] = "full permutation" if full else "blocks (default)"
                row["disk MiB/s"] = disk
                rows.append(row)
                print(row, flush=True)
            path.unlink()
        losses = shuffle_loss(400_000, args.folder)
        big = moonshot(int(args.moonshot * 1e6), args.folder) if args.moonshot else None
        if big:
            print(big, flush=True)
    publish(_report(rows, losses, watch.seconds, big), args)


def _moonshot_report(big):
    if big is None:
        return ""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    rates = markdown_table(
        ["shuffling", "rows/s", "MiB/s"],
        [
            [name, f"{rate:,.0f}", f"{rate * N_FEATURES * 4 / 2**20:.2f}"]
            for name, rate in big["rates"].items()
        ],
    )
    return f"""
## A file larger than memory

{big["rows"]:,} x {N_FEATURES} float32 rows, {big["file MiB"] / 1024:.1f} GiB on disk, on a machine
with {memory:.1f} GiB of memory (written in {big["write_s"] / 60:.1f} min; `cat` reads it at
{big["disk"]:.0f} MiB/s). One epoch of `fit`: {big["fit: s per M rows"] * big["rows"] / 1e6 / 60:.1f} min
({big["fit: s per M rows"]:.2f} s per million rows, {big["fit: read MiB/s"]:.0f} MiB/s), anonymous memory
+{big["fit: anon MiB"]:.0f} MiB; `transform`: {big["transform: s per M rows"] * big["rows"] / 1e6 / 60:.1f} min,
+{big["transform: anon MiB"]:.0f} MiB besides its output. Batches read from the cold file for 60 s
without training, the two shufflings:

{rates}
"""


def _report(rows, losses, elapsed, big=None):
    keys = [
        "shuffling",
        "rows",
        "file MiB",
        "disk MiB/s",
        "fit: anon MiB",
        "fit: s per M rows",
        "fit: read MiB/s",
        "transform: anon MiB",
        "transform: s per M rows",
    ]
    table = markdown_table(
        keys,
        [
            [row["shuffling"], f"{row['rows']:,}"]
            + [f"{row[k]:.0f}" if row[k] >= 10 else f"{row[k]:.2f}" for k in keys[2:]]
            for row in rows
        ],
    )
    loss_table = markdown_table(
        ["shuffling", "loss, epoch 1", "loss, epoch 2", "MSE on all rows after"],
        [
            [name, f"{history[0]:.4f}", f"{history[-1]:.4f}", f"{mse:.4f}"]
            for name, (history, mse) in losses.items()
        ],
    )
    return f"""# Scale: training on rows read from a file

{produced_by("python benchmarks/bench_scale.py", elapsed)} Model:
`AutoEncoderTransformer({", ".join(f"{k}={v!r}" for k, v in MODEL.items())})`, one epoch.

{__doc__.split(chr(10) + chr(10), 1)[1].split("Usage::")[0].strip()}

{table}

Training loss, rows sorted along the manifold (400,000 x 64), two epochs:

{loss_table}
{_moonshot_report(big)}"""


if __name__ == "__main__":
    main()
