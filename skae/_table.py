"""The tables of the command line: a CSV (or Parquet) file as named columns of numbers.

:func:`read_cells` reads a file (``-`` for standard input; gzip-compressed
when its first bytes say so, whatever its name; a UTF-8 byte-order mark
dropped) into its column names and a 2-D array of cells as strings.
:func:`select` then picks the feature columns and turns them into numbers.
The rules, also on the command-line page of the documentation:

- The separator is ``sep``, or the one of ``, ; tab |`` that
  :class:`csv.Sniffer` finds in the first 64 KiB (a comma when it finds none).
- The first line is a header when one of its cells is not a number in a
  column whose other cells are, or when none of its cells is a number.
  Without a header the columns are named ``column 1``, ``column 2``, ...
- Duplicate column names are refused.
- A column none of whose cells is a number is text (a name, a label): it is
  not a feature, and is kept in the output.
- The id column is the one ``id_column`` names, or else the first column
  named ``id``, ``index`` (any case) or nothing (as ``DataFrame.to_csv``
  writes the index) whose cells are all integers. It is not a feature; the
  summary names rows by it.
- In every other column each cell must be a finite number that fits in
  float32 (the networks' precision): a cell that is empty, ``NA``, text,
  infinite or beyond +-3.4e38 is an error naming its line and column, unless
  ``drop_bad_columns``, which leaves such columns out instead.

Every problem raises :class:`TableError`, whose message names the file and
the line or column; the command line prints it as one line.
"""

import csv
import gzip
import io
import os
import re
import sys

import numpy as np

#: The largest magnitude the networks' float32 holds.
FLOAT32_MAX = float(np.finfo(np.float32).max)
#: Header names that mark an integer column as the rows' ids.
ID_NAMES = ("id", "index", "")
#: The separators the sniffer chooses from.
SEPARATORS = ",;\t|"
_INTEGER = re.compile(r"\s*[+-]?\d+\s*")


class TableError(ValueError):
    """A file that cannot be read as a table; the message names the file, line or column."""


def _read_bytes(path):
    if path == "-":
        data = sys.stdin.buffer.read()
    elif not os.path.isfile(path):
        raise TableError(f"{path}: no such file")
    else:
        with open(path, "rb") as handle:
            data = handle.read()
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as error:
            raise TableError(f"{path}: not a readable gzip file ({error})") from None
    return data


def _sniff(text):
    sample = text[:65536]
    if len(text) > len(sample) and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # whole lines only
    try:
        return csv.Sniffer().sniff(sample, delimiters=SEPARATORS).delimiter
    except csv.Error:
        return ","


def _cells_exact(text, sep, path):
    """The non-blank rows of ``text`` by :mod:`csv`, with the line each ends on."""
    rows, lines = [], []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    try:
        for row in reader:
            if row:  # blank lines are skipped
                rows.append(row)
                lines.append(reader.line_num)
    except csv.Error as error:
        raise TableError(f"line {reader.line_num} of {path}: not readable CSV ({error})") from None
    return rows, lines


def read_cells(path, sep=None):
    """The column names, cells and line numbers of a CSV or Parquet file.

    Parameters
    ----------
    path : str
        A CSV file (optionally gzip-compressed), a Parquet file (``.parquet``
        or ``.pq``, read with pandas), or ``"-"`` for standard input.
    sep : str or None, default=None
        The separator; None sniffs it.

    Returns
    -------
    names : list of str
        The column names (``column 1``, ... without a header).
    cells : ndarray of shape (n_rows, n_columns), dtype object
        The cells, as strings.
    lines : ndarray of shape (n_rows,) or None
        The line of the file each row ends on (None for Parquet: messages
        then name the row).

    Notes
    -----
    CSV is read by the :mod:`csv` module, not by pandas: the cells must stay
    the file's strings (for line-and-column errors and for the output,
    which repeats them), and as strings ``pandas.read_csv(dtype=str)`` plus
    ``import pandas`` took 1.3 s on a 12.7 MB file where :mod:`csv` and
    numpy's conversion take 0.8 s (the reader this replaced took 6.8 s).
    """
    if str(path).lower().endswith((".parquet", ".pq")):
        return _read_parquet(path)
    data = _read_bytes(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise TableError(f"{path}: not UTF-8 text ({error})") from None
    if sep is None:
        sep = _sniff(text)
    rows, lines = _cells_exact(text, sep, path)
    if not rows:
        raise TableError(f"{path} has no rows")
    width = len(rows[0])
    for row, line in zip(rows, lines):
        if len(row) != width:
            raise TableError(f"line {line} of {path} has {len(row)} cells, not {width}")
    cells = np.empty((len(rows), width), dtype=object)
    cells[:] = rows
    lines = np.asarray(lines)
    if _has_header(cells):
        names, cells = [str(c).strip() for c in cells[0]], cells[1:]
        lines = None if lines is None else lines[1:]
        if len(cells) == 0:
            raise TableError(f"{path} has a header but no data rows")
    else:
        names = [f"column {j + 1}" for j in range(cells.shape[1])]
    seen = set()
    for name in names:
        if name in seen:
            raise TableError(f"{path} has two columns named {name!r}; rename one")
        seen.add(name)
    if cells.shape[1] == 1 and any(s in names[0] for s in SEPARATORS if s != sep):
        # One column whose name holds another separator: say how to split it.
        other = next(s for s in SEPARATORS if s != sep and s in names[0])
        raise TableError(
            f"{path} has one column, {names[0]!r}; if it is separated by {other!r}, give --sep"
        )
    return names, cells, lines


def _read_parquet(path):
    if path != "-" and not os.path.isfile(path):
        raise TableError(f"{path}: no such file")
    try:
        import pandas as pd

        frame = pd.read_parquet(path)
    except ImportError:
        raise TableError(
            "reading Parquet needs pandas and pyarrow: pip install pandas pyarrow"
        ) from None
    except Exception as error:  # noqa: BLE001 - any reader error is one line
        raise TableError(f"{path}: cannot read as Parquet ({error})") from None
    names = [str(name) for name in frame.columns]
    cells = np.empty(frame.shape, dtype=object)
    cells[:] = [
        [repr(v) if isinstance(v, float) else str(v) for v in row]
        for row in frame.itertuples(index=False)
    ]
    return names, cells, None


def _parse(column):
    """``(values, parsed)``: the cells of ``column`` as floats (NaN where
    a cell is not a number) and whether each is a number."""
    try:
        return column.astype(np.float64), np.ones(len(column), dtype=bool)
    except ValueError:
        pass
    values = np.full(len(column), np.nan)
    parsed = np.zeros(len(column), dtype=bool)
    for i, cell in enumerate(column):
        try:
            values[i] = float(cell)
            parsed[i] = True
        except ValueError:
            pass
    return values, parsed


def _is_number(cell):
    try:
        return bool(np.isfinite(float(cell)))
    except ValueError:
        return False


def _has_header(cells):
    """Whether the first row names the columns.

    It does when a cell of it is not a number in a column whose other cells
    (of the next thousand rows) are, or when none of its cells is a number; a
    column of ids is text in every row and says nothing.
    """
    first, rest = cells[0], cells[1:1001]
    if not any(_is_number(cell) for cell in first):
        return True
    return any(
        not _is_number(cell) and len(rest) and all(_is_number(c) for c in rest[:, j])
        for j, cell in enumerate(first)
    )


def _bad_cell(values, parsed):
    """Index of the first cell that is no usable float32 number, or None."""
    bad = ~parsed | ~(np.abs(values) <= FLOAT32_MAX)  # NaN compares False
    return int(np.argmax(bad)) if bad.any() else None


def _why(cell, value):
    if str(cell).strip() == "":
        return "an empty cell"
    if np.isnan(value):
        return f"{cell!r} is not a number"
    if np.isinf(value):
        return f"{cell!r} is infinite"
    return f"{cell!r} is beyond float32's range (+-{FLOAT32_MAX:.3g})"


def select(
    names,
    cells,
    lines,
    path,
    *,
    columns=None,
    exclude=(),
    id_column=None,
    drop_bad_columns=False,
    required=False,
):
    """The feature columns of a table, as numbers.

    Parameters
    ----------
    names, cells, lines : as returned by :func:`read_cells`
    path : str
        The file's name, for messages.
    columns : list of str or None, default=None
        The feature columns, in this order; None takes every numeric column
        but the id and ``exclude``.
    exclude : sequence of str, default=()
        Columns that are not features.
    id_column : str or None, default=None
        The column of row ids; None recognises one by the rule of the module.
    drop_bad_columns : bool, default=False
        Leave out (instead of refusing) a numeric column with a bad cell;
        never one of ``columns``.
    required : bool, default=False
        Whether ``columns`` are a saved model's columns (for messages).

    Returns
    -------
    X : ndarray of shape (n_rows, n_features), dtype float64
    features : list of str
        The names of the columns of ``X``.
    skipped : list of (str, str)
        The columns left out (not numeric, or with a bad cell under
        ``drop_bad_columns``) and why.
    ids : ndarray of shape (n_rows,) or None
        The id of each row, as written in the file.
    id_name : str or None
        The id column's name.
    """
    index = {name: j for j, name in enumerate(names)}
    asked = list(columns or []) + list(exclude) + ([id_column] if id_column is not None else [])
    unknown = [c for c in asked if c not in index]
    if unknown:
        listed = ", ".join(map(repr, unknown))
        if required:
            raise TableError(
                f"{path} lacks the column(s) {listed} that the model was trained on "
                f"(it has {', '.join(map(repr, names))})"
            )
        raise TableError(f"{path} has no column {listed}; it has {', '.join(map(repr, names))}")
    if columns and id_column in columns:
        raise TableError(f"column {id_column!r} cannot be both the id and a feature")
    parsed = {}

    def parse(j):
        if j not in parsed:
            parsed[j] = _parse(cells[:, j])
        return parsed[j]

    if id_column is None and not columns:
        id_column = next(
            (
                name
                for j, name in enumerate(names)
                if name.lower() in ID_NAMES
                and name not in exclude
                and all(_INTEGER.fullmatch(str(c)) for c in cells[:, j])
            ),
            None,
        )
    notes = []
    if columns:
        wanted = [index[c] for c in columns]
    else:
        skip = set(exclude) | {id_column}
        wanted = []
        for j, name in enumerate(names):
            if name in skip:
                continue
            if not parse(j)[1].any():
                notes.append((name, "not numeric"))
            else:
                wanted.append(j)
    features = []
    for j in wanted:
        values, ok = parse(j)
        if columns and not ok.any():
            raise TableError(f"column {names[j]!r} of {path} is not numeric")
        i = _bad_cell(values, ok)
        if i is None:
            features.append(j)
            continue
        where = f"line {lines[i]}" if lines is not None else f"data row {i + 1}"
        why = _why(cells[i, j], values[i])
        if drop_bad_columns and not columns:
            notes.append((names[j], f"{where}: {why}"))
            continue
        problem = f"{where} of {path}, column {names[j]!r}: {why}"
        hint = "" if columns else ", --exclude the column or give --drop-bad-columns"
        raise TableError(f"{problem}; fill or drop the value{hint}")
    if not features:
        raise TableError(f"{path} has no numeric column")
    X = np.column_stack([parse(j)[0] for j in features])
    ids = cells[:, index[id_column]] if id_column is not None else None
    return X, [names[j] for j in features], notes, ids, id_column
