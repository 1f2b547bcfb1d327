"""The ``skae`` command line: the demo, and anomalies of a CSV file.

``skae detect readings.csv`` trains a standardizing
:class:`~sklearn.pipeline.Pipeline` with :class:`skae.AEOutlierDetector` on
the numeric columns of a CSV (or Parquet) file and writes the file's rows
with three more columns: the anomaly score, whether the row is an anomaly, and
the column it is worst rebuilt in. ``--save-model`` keeps the fitted pipeline
(:func:`skae.save`, no pickle), with the names and order of its columns;
``skae score MODEL FILE`` (or ``detect --model``) scores a new file with it
instead of training, taking those columns by name. How a file is read (header,
id column, bad cells) is described in :mod:`skae._table`.

A bad file or argument ends the command with one line on standard error and
exit status 2, never a traceback; Ctrl-C ends it with one line and status
130, a closed standard output (``| head``) quietly with status 141; no
existing file is overwritten without ``--force``. The heavy imports (torch,
scikit-learn) wait until a command needs them, so ``--help`` and input errors
answer at once.
"""

import argparse
import contextlib
import os
import sys

from ._table import TableError, read_cells, select
from ._version import __version__


def _fail(message):
    """End the command with ``message`` on standard error and exit status 2."""
    print(f"skae: error: {message}", file=sys.stderr)
    raise SystemExit(2)


def read_table(path, columns=None, **options):
    """The numeric columns of a CSV file: ``(X, names, skipped)``.

    ``columns``, if given, are the names of the columns to use; ``options``
    are those of :func:`skae._table.select`. A problem ends the command with
    one line (:func:`_fail`).
    """
    try:
        names, cells, lines = read_cells(path, options.pop("sep", None))
        X, features, notes, _, _ = select(names, cells, lines, path, columns=columns, **options)
    except TableError as error:
        _fail(str(error))
    return X, features, [name for name, _ in notes]


def _contamination(text):
    if text == "auto":
        return text
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 0.5:
        raise argparse.ArgumentTypeError(f"give 'auto' or a share in (0, 0.5], not {text!r}")
    return value


def _check_new_file(path, force):
    """Refuse to overwrite ``path`` unless ``force``."""
    if path and os.path.exists(path) and not force:
        _fail(f"{path} exists; add --force to overwrite it")


def _load_detector(path):
    """The saved pipeline (or bare detector) at ``path``, as a pipeline."""
    from sklearn.pipeline import Pipeline

    from ._outlier.detector import AEOutlierDetector
    from ._persistence import load

    if not os.path.isfile(path):
        _fail(f"{path}: no such model file")
    try:
        pipeline = load(path)
    except (ValueError, TypeError, OSError) as error:
        _fail(f"{path}: not a skae model file ({error})")
    if not isinstance(pipeline, Pipeline):
        pipeline = Pipeline([("detector", pipeline)])
    if not isinstance(pipeline[-1], AEOutlierDetector):
        _fail(f"{path} holds no AEOutlierDetector")
    return pipeline


def _named(X, names):
    """``X`` as a DataFrame with columns ``names`` where pandas is installed,
    so that scikit-learn records and checks the names; else ``X``."""
    try:
        import pandas as pd
    except ImportError:
        return X
    return pd.DataFrame(X, columns=names, copy=False)


def _model_columns(pipeline):
    """The names of the columns a saved pipeline was fitted on, or None."""
    names = getattr(pipeline, "feature_names_in_", None)
    return None if names is None else [str(name) for name in names]


def _features(args, table, pipeline, say):
    """The features that the model takes from the input file's cells."""
    names, cells, lines = table
    options = dict(exclude=args.exclude or (), id_column=args.id_column)
    wanted = _model_columns(pipeline) if pipeline is not None else None
    if wanted is not None:
        if args.columns and sorted(args.columns) != sorted(wanted):
            _fail(f"--columns differ from the columns the model was trained on: {wanted}")
        X, features, skipped, ids, id_name = select(
            names, cells, lines, args.input, columns=wanted, required=True, **options
        )
    else:
        X, features, skipped, ids, id_name = select(
            names,
            cells,
            lines,
            args.input,
            columns=args.columns,
            drop_bad_columns=args.drop_bad_columns,
            **options,
        )
    for name, reason in skipped:
        say(f"skipped column {name!r}: {reason}")
    if pipeline is not None and wanted is None:
        expected = pipeline[0].n_features_in_
        if X.shape[1] != expected:
            _fail(
                f"the model in {args.model} was trained on {expected} numeric columns "
                f"(it does not name them); {args.input} has {X.shape[1]}"
            )
        say(f"the model does not name its columns: using {features} in this order")
    return names, cells, X, features, ids, id_name


@contextlib.contextmanager
def _output(path):
    """Standard output for None or ``-``; else the file (gzip for ``.gz``),
    written whole or not at all: a temporary file beside it, then
    ``os.replace``, so a killed run keeps the old file."""
    if path in (None, "-"):
        yield sys.stdout
        sys.stdout.flush()
        return
    from ._persistence import atomic_write

    if str(path).lower().endswith(".gz"):
        import gzip

        with atomic_write(path, "wb") as raw, gzip.open(raw, "wt", newline="") as out:
            yield out
    else:
        with atomic_write(path, "w", newline="") as out:
            yield out


def detect(args):
    import csv
    import time
    import warnings

    import numpy as np

    out_path = None if args.out == "-" else args.out
    if (
        out_path
        and args.save_model
        and os.path.abspath(out_path) == os.path.abspath(args.save_model)
    ):
        _fail(f"--out and --save-model are both {out_path}; give two files")
    _check_new_file(out_path, args.force)
    _check_new_file(args.save_model, args.force)
    say = (lambda *a: None) if args.quiet else (lambda text: print(text, file=sys.stderr))
    start = time.perf_counter()
    table = read_cells(args.input, args.sep)  # a bad file fails before torch is imported
    seconds = time.perf_counter() - start
    pipeline = _load_detector(args.model) if args.model else None
    all_names, cells, X, names, ids, id_name = _features(args, table, pipeline, say)
    # Said once the file is known good, so that an error stays the only line.
    say(f"read {len(cells)} rows x {len(all_names)} columns from {args.input} in {seconds:.1f} s")
    # Named rows, unless a saved model was fitted without names.
    frame = X if pipeline is not None and _model_columns(pipeline) is None else _named(X, names)
    if pipeline is None:
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        from ._outlier.detector import AEOutlierDetector

        say(f"training on {len(X)} rows x {len(names)} columns ...")
        # Progress on standard error (standard output may be the scores): per
        # stage (each autoencoder, the density model) a bar with the time left
        # on a terminal, else a few plain lines; a line as each stage ends.
        verbose = 0 if args.quiet else 2
        detector = AEOutlierDetector(
            contamination=args.contamination, random_state=args.random_state, verbose=verbose
        )
        with contextlib.redirect_stdout(sys.stderr):
            pipeline = make_pipeline(StandardScaler(), detector).fit(frame)
        detector.set_params(verbose=0)  # a saved model stays quiet
        if _model_columns(pipeline) is None:  # no pandas: record the names by hand
            pipeline[0].feature_names_in_ = np.asarray(names, dtype=object)
    if args.save_model:
        from ._persistence import save

        save(pipeline, args.save_model)
    with warnings.catch_warnings():
        # Without pandas the rows are an ndarray, already in the model's order.
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        scaled = pipeline[:-1].transform(frame) if len(pipeline) > 1 else frame
        detector = pipeline[-1]
        anomaly = -detector.score_samples(scaled)
        errors = detector.reconstruction_error(scaled, per_feature=True) / detector.feature_scale_
    # predict's own rule (a NaN decision is an outlier), without scoring twice.
    outlier = ~((-anomaly - detector.offset_) >= 0)
    worst = [names[j] for j in np.argmax(errors, axis=1)]

    with _output(out_path) as out:
        writer = csv.writer(out)
        writer.writerow([*all_names, "anomaly_score", "is_anomaly", "worst_column"])
        for i, row in enumerate(cells):
            writer.writerow([*row, f"{anomaly[i]:.10g}", int(outlier[i]), worst[i]])
    say(
        f"{len(X)} rows, {len(names)} numeric columns: {int(outlier.sum())} outliers "
        f"({outlier.mean():.1%}; anomaly score above {detector.threshold_:.4g})"
    )
    if not np.isfinite(detector.threshold_) or np.isnan(anomaly).any():
        say(
            "warning: the model gives NaN scores or a NaN threshold; those rows are counted "
            "as outliers (the model file may be damaged)"
        )
    for i in np.argsort(np.nan_to_num(anomaly, nan=np.inf))[::-1][: min(5, int(outlier.sum()))]:
        label = f"{id_name or 'id'} {ids[i]}" if ids is not None else f"row {i + 1}"
        say(f"  {label}: anomaly score {anomaly[i]:.4g}, worst rebuilt column {worst[i]!r}")


def _parser():
    parser = argparse.ArgumentParser(
        prog="skae", description="skae on the command line: the demo, and anomalies of a CSV file."
    )
    parser.add_argument("--version", action="version", version=f"skae {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="an autoencoder against PCA on scikit-learn's digits")
    demo.add_argument("--n-components", type=int, default=8)
    demo.add_argument("--out", default="demo_output", help="folder for the figure")
    demo.add_argument("--random-state", type=int, default=0)

    find = sub.add_parser(
        "detect",
        help="anomalies of the rows of a CSV file",
        description="Train an autoencoder outlier detector on the numeric columns of a CSV "
        "file (or load one with --model) and write its rows with their anomaly score, "
        "whether each is an anomaly, and the column it is worst rebuilt in.",
    )
    find.add_argument(
        "input", help="CSV file (a header line is optional; .gz too), Parquet file, or - for stdin"
    )
    find.add_argument(
        "--contamination",
        type=_contamination,
        default="auto",
        help="expected share of outliers, e.g. 0.05, or 'auto' (default)",
    )
    find.add_argument("--random-state", type=int, default=0)
    find.add_argument(
        "--save-model", help="write the fitted pipeline, with its columns, here (skae.save)"
    )
    find.add_argument("--model", help="score with this saved pipeline instead of training")
    score = sub.add_parser(
        "score",
        help="score the rows of a file with a saved detector",
        description="Score the rows of a CSV or Parquet file with a pipeline saved by "
        "'skae detect --save-model'; the file needs the columns it was trained on (by name, "
        "in any order).",
    )
    score.add_argument("model", help="model file written by skae detect --save-model")
    score.add_argument("input", help="CSV (.gz too) or Parquet file, or - for stdin")
    for command in (find, score):
        command.add_argument(
            "--out",
            "--output",
            dest="out",
            help="CSV file to write, gzip-compressed for .gz (default, or -: standard output)",
        )
        command.add_argument("--columns", nargs="+", help="use these columns only (by name)")
        command.add_argument(
            "--exclude", nargs="+", metavar="COLUMN", help="columns that are not features"
        )
        command.add_argument(
            "--id-column",
            metavar="NAME",
            help="the column of row ids: not a feature, names rows in the summary "
            "(default: an integer column named id, index or nothing)",
        )
        command.add_argument(
            "--sep", help="the separator of the CSV file (default: sniffed among , ; tab |)"
        )
        command.add_argument(
            "--drop-bad-columns",
            action="store_true",
            help="leave out a numeric column with an empty, NA, text, infinite or "
            "out-of-float32 cell instead of stopping at it",
        )
        command.add_argument("--force", action="store_true", help="overwrite existing files")
        command.add_argument("--quiet", action="store_true", help="print no summary")
    return parser


def _run(argv):
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from ._demo import run_demo

        run_demo(args.n_components, args.out, args.random_state)
        return
    if args.command == "score":
        args.save_model = None
    if args.sep is not None:
        args.sep = {"\\t": "\t", "tab": "\t"}.get(args.sep, args.sep)
        if len(args.sep) != 1:
            _fail(f"--sep takes one character (or 'tab'), not {args.sep!r}")
    detect(args)


def main(argv=None):
    """Run the ``skae`` command line with ``argv`` (default: ``sys.argv[1:]``)."""
    try:
        _run(argv)
    except TableError as error:
        _fail(str(error))
    except KeyboardInterrupt:
        print("skae: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    except BrokenPipeError:
        # The reader of standard output left (``| head``): stop quietly, and
        # keep Python from complaining again when it flushes at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(141) from None
