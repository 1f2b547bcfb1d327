"""Plumbing shared by the benchmark scripts: paths, data, splits, threads, reports.

The scripts import it as ``from _common import ...``: Python puts the folder
of the script it runs on ``sys.path``. Every ``bench_*.py`` takes from here:

- its command line (:func:`command_line`, :func:`report_parser`: ``--out``
  and ``--no-write``) and the writing of its report (:func:`publish`);
- the report's header (:func:`produced_by`, :func:`report_intro`: the
  command, the machine, the versions of Python, skae, torch, scikit-learn and
  numpy, the threads, the minutes taken);
- timing (:class:`Stopwatch`, :func:`best_time`);
- the thread policy: times that are compared run on one thread
  (:func:`single_thread`: torch and the BLAS/OpenMP pools); the benchmarks of
  quality set torch's threads once (:func:`torch_threads`, two by default, the
  suite's machine); ``bench_speed.py`` measures at torch's default threads,
  what a user gets, and reports them;
- markdown tables (:func:`markdown_table`).

The ODDS datasets are ``.npz`` files (arrays ``X`` and ``y``, ``y == 1`` for
anomalies) in the shared data folder beside the checkout,
``../shared/data/odds``; a script that needs one and cannot find it exits
with a message that says where it was looked for.
"""

import argparse
import os
import platform
import sys
import time
import warnings
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import sklearn
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import skae

#: This folder, and the one the scripts write their reports to.
BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
#: The ODDS datasets, in the shared data folder beside the checkout; 14 more
#: ADBench sets (wider, to confirm defaults) in ``odds-more``; four large
#: ADBench tables (41k to 619k rows) in ``large``.
DATA_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "odds"
MORE_DATA_DIR = DATA_DIR.parent / "odds-more"
LARGE_DATA_DIR = DATA_DIR.parent / "large"


# -- running -----------------------------------------------------------------------
@contextmanager
def single_thread():
    """Run the block on one CPU thread, so that times compare.

    Sets torch's intra-op threads to 1 (not restored on exit) and limits the
    BLAS/OpenMP pools through ``threadpoolctl`` for the block.
    """
    torch.set_num_threads(1)
    with threadpool_limits(limits=1):
        yield


def torch_threads(n=None):
    """Set torch's intra-op threads for the rest of the run; return their number.

    For the benchmarks of quality, whose times are reported but not compared
    across contenders; BLAS/OpenMP pools are left as they are.

    Parameters
    ----------
    n : int, optional
        Threads; default two (or the machine's cores, if fewer).
    """
    n = min(2, os.cpu_count() or 1) if n is None else n
    torch.set_num_threads(n)
    return n


class Stopwatch:
    """Wall time since it was made: ``watch = Stopwatch(); ...; watch.seconds``."""

    def __init__(self):
        self.start = time.perf_counter()

    @property
    def seconds(self):
        """Seconds since the stopwatch was made (``time.perf_counter``)."""
        return time.perf_counter() - self.start


def best_time(fn, calls=10):
    """Best wall time of ``calls`` calls of ``fn``.

    For calls that take milliseconds, where one call measures the machine's
    noise more than the code.
    """
    times = []
    for _ in range(calls):
        watch = Stopwatch()
        fn()
        times.append(watch.seconds)
    return min(times)


def in_processes(function, jobs, workers=1):
    """``[function(*job) for job in jobs]``, in ``workers`` spawned processes if above 1.

    The jobs are handed out one at a time in their order (put the slow ones
    first so the processes finish together); the results keep that order.
    """
    if workers <= 1:
        return [function(*job) for job in jobs]
    with get_context("spawn").Pool(min(workers, len(jobs))) as pool:
        return pool.starmap(function, jobs, chunksize=1)


def run_datasets(run_dataset, names, seeds):
    """Run a benchmark on each dataset, on one thread, and time it.

    scikit-learn's ``ConvergenceWarning`` is silenced for the rest of the run.

    Parameters
    ----------
    run_dataset : callable
        ``run_dataset(name, seeds)`` returns the results of one dataset.
    names : sequence of str
        The datasets, in order.
    seeds : sequence of int

    Returns
    -------
    results : dict
        ``{name: run_dataset(name, seeds)}``.
    elapsed : float
        Seconds taken by all of them.
    """
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    results = {}
    watch = Stopwatch()
    with single_thread():
        for name in names:
            results[name] = run_dataset(name, seeds)
    return results, watch.seconds


# -- data --------------------------------------------------------------------------
def data_error(problem):
    """Exit with ``problem`` and where the benchmarks expect the ODDS data.

    Parameters
    ----------
    problem : str
        What is missing, e.g. ``"ODDS dataset <path> not found"``.
    """
    sys.exit(
        f"error: {problem}; the benchmarks expect the shared data folder next to "
        "the repository, as ../shared/data/odds (see shared/data/odds/SOURCES.md)."
    )


def require_data_dir():
    """Exit with a clear message unless the ODDS data folder exists."""
    if not DATA_DIR.is_dir():
        data_error(f"the ODDS data folder {DATA_DIR} does not exist")


def load_odds(file, folder=DATA_DIR):
    """Load one ODDS dataset.

    Parameters
    ----------
    file : str
        Name of its ``.npz`` file in ``folder``, e.g. ``"6_cardio.npz"``.
    folder : Path, default=DATA_DIR
        :data:`DATA_DIR`, :data:`MORE_DATA_DIR` or :data:`LARGE_DATA_DIR`.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
    y : ndarray of shape (n_samples,), int
        1 for anomalies, 0 for normal rows.
    """
    path = folder / file
    if not path.is_file():
        data_error(f"ODDS dataset {path} not found")
    with np.load(path) as data:
        return data["X"].astype(np.float64), data["y"].astype(int)


def load_odds_sets(names=None, folder=DATA_DIR):
    """Load every ODDS dataset of ``folder``, or the named ones.

    Parameters
    ----------
    names : collection of str, optional
        Dataset names, the file name without its number and suffix
        (``"cardio"`` for ``6_cardio.npz``); default all.
    folder : Path, default=DATA_DIR
        :data:`DATA_DIR`, :data:`MORE_DATA_DIR` or :data:`LARGE_DATA_DIR`.

    Returns
    -------
    datasets : dict
        ``{name: (X, y)}`` as :func:`load_odds` returns them, sorted by name
        regardless of case.
    """
    require_data_dir()
    files = sorted(folder.glob("*.npz"))
    if not files:
        data_error(f"no ODDS datasets (*.npz) found in {folder}")
    datasets = {}
    for path in files:
        name = path.stem.split("_", 1)[-1]
        if not names or name in names:
            datasets[name] = load_odds(path.name, folder)
    return dict(sorted(datasets.items(), key=lambda item: item[0].lower()))


def load_train_test(file):
    """A fixed 70/30 train/test split of digits or of an ODDS dataset, scaled.

    Parameters
    ----------
    file : str or None
        The ODDS ``.npz`` file, standardized on the training part (labels
        dropped); None for scikit-learn's digits, pixels scaled to [0, 1].

    Returns
    -------
    X_train, X_test : ndarray, float32
        The split is ``random_state=0``, the same for every caller.
    """
    X = load_digits().data / 16.0 if file is None else load_odds(file)[0]
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
    if file is not None:
        X_train, X_test = standardize(X_train, X_test)
    return X_train.astype(np.float32), X_test.astype(np.float32)


def split_standardized(X, y, seed):
    """PyOD's protocol: a random 60/40 split, standardized on the training part.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    seed : int
        ``random_state`` of the split.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarray
    """
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.4, random_state=seed)
    return *standardize(X_train, X_test), y_train, y_test


def standardize(X_train, X_test):
    """Scale both parts with the training part's mean and deviation.

    Returns
    -------
    X_train, X_test : ndarray
    """
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test)


# -- scores ------------------------------------------------------------------------
def robust_scale(scores, train_scores):
    """Centre scores on the training median, in training interquartile ranges.

    Parameters
    ----------
    scores : ndarray
        The scores to scale.
    train_scores : ndarray
        The same score on the training rows.

    Returns
    -------
    ndarray
        ``(scores - median) / IQR``, the IQR floored at 1e-12.
    """
    q1, median, q3 = np.percentile(train_scores, [25, 50, 75])
    return (scores - median) / max(q3 - q1, 1e-12)


# -- command line and report -------------------------------------------------------
def command_line(doc, out=None, out_help="the report file"):
    """The command line of a benchmark: its description, and where it writes.

    Parameters
    ----------
    doc : str
        The script's docstring; its first paragraph describes the command.
    out : str, optional
        Default file name of ``--out`` in :data:`RESULTS_DIR`; with it, the
        parser also has ``--no-write`` (see :func:`publish`).
    out_help : str, default="the report file"
        The help text of ``--out``.

    Returns
    -------
    argparse.ArgumentParser
    """
    parser = argparse.ArgumentParser(description=" ".join(doc.split("\n\n")[0].split()))
    if out is not None:
        parser.add_argument("--out", type=Path, default=RESULTS_DIR / out, help=out_help)
        parser.add_argument("--no-write", action="store_true", help="print only")
    return parser


def report_parser(doc, datasets, seeds, out):
    """The command line of a benchmark that writes one report.

    Parameters
    ----------
    doc : str
        The script's docstring; its first paragraph describes the command.
    datasets, seeds : sequence
        The choices and defaults of ``--datasets``, the defaults of ``--seeds``.
    out : str
        Default file name of ``--out`` in :data:`RESULTS_DIR`.

    Returns
    -------
    argparse.ArgumentParser
        With ``--datasets``, ``--seeds``, ``--no-write`` and ``--out``.
    """
    parser = command_line(doc, out)
    parser.add_argument("--datasets", nargs="+", choices=list(datasets), default=list(datasets))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(seeds))
    return parser


def machine(device="cpu"):
    """The machine, in words: processor, cores, system, and the GPU with ``device="cuda"``."""
    cpu = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"{platform.system()} {platform.release()}"
    )
    if torch.device(device).type == "cuda" and torch.cuda.is_available():
        return f"{torch.cuda.get_device_name()}, {cpu}"
    return cpu


def versions():
    """The versions the numbers depend on: Python, skae, torch, scikit-learn, numpy."""
    return (
        f"Python {platform.python_version()}, skae {skae.__version__}, torch {torch.__version__}, "
        f"scikit-learn {sklearn.__version__}, numpy {np.__version__}"
    )


def produced_by(command, elapsed=None, device="cpu"):
    """The report's header line: the command, where, with what, how long.

    Parameters
    ----------
    command : str
        The command that produced the report, e.g.
        ``"python benchmarks/bench_vq.py --seeds 0"``.
    elapsed : float, optional
        Seconds the benchmark ran.
    device : str, default="cpu"
        ``"cuda"`` names the GPU too.

    Returns
    -------
    str
        ``"Produced by `command` in 3.2 min on <machine>, <n> torch threads;
        <versions>."``, torch's threads as they are when it is called.
    """
    took = "" if elapsed is None else f" in {elapsed / 60:.1f} min"
    n = torch.get_num_threads()
    threads = "one CPU thread" if n == 1 else f"{n} torch threads"
    return f"Produced by `{command}`{took} on {threads} ({machine(device)}); {versions()}."


def report_intro(script, elapsed, doc):
    """The report's opening: how it was produced, then the script's protocol.

    Parameters
    ----------
    script : str
        The script's file name, e.g. ``"bench_vq.py"``.
    elapsed : float
        Seconds the benchmark ran.
    doc : str
        The script's docstring; the part between its first line and
        ``Usage::`` is the protocol.

    Returns
    -------
    str
    """
    protocol = doc.split("Usage::")[0].split("\n", 2)[2].strip()
    return f"{produced_by(f'python benchmarks/{script}', elapsed)}\n\n{protocol}"


def markdown_table(header, rows, align=None):
    """A markdown table.

    Parameters
    ----------
    header : sequence of str
        The column titles.
    rows : iterable of sequences
        The cells of each row, formatted already (other values go through ``str``).
    align : str, optional
        ``"l"`` or ``"r"`` per column; default the first column left, the
        others (numbers) right.

    Returns
    -------
    str
        The table's lines, joined by newlines, without a final one.
    """
    align = align or "l" + "r" * (len(header) - 1)
    if len(align) != len(header):
        raise ValueError(f"align has {len(align)} letters for {len(header)} columns")
    rule = "".join("---|" if a == "l" else "---:|" for a in align)
    lines = ["| " + " | ".join(header) + " |", "|" + rule]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines)


def publish(report, args):
    """Print ``report`` and, unless ``args.no_write``, write it to ``args.out``."""
    print(report)
    if not args.no_write:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(report)
        print(f"wrote {args.out}", file=sys.stderr)
