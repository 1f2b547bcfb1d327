"""Robustness: every estimator against a grid of awkward inputs.

For each public estimator, the same grid of inputs (rows 0/1/2/9, columns
0/1/3, five dtypes, NaN/inf/huge/tiny values, constant and duplicate columns,
lists, pandas and sparse containers) is given to

- ``fit`` of a fresh estimator,
- the inference methods of an estimator fitted on clean data (3 columns),
- ``partial_fit`` of that fitted estimator (where it has one),

and each outcome is counted as: worked (finite output; errors and scores may
be inf), a clear error (``ValueError``, ``TypeError`` or
``TrainingDivergedError`` with a message), an unclear error (any other
exception), a NaN output, or, after a failed call on a fitted estimator, a
poisoned state (its outputs on clean rows changed). Goals: 0 unclear errors,
0 NaN outputs, 0 poisoned states. The report ends with a catalogue: each kind
of input and what ``AutoEncoderTransformer.fit`` does with it.

Usage::

    python benchmarks/bench_robustness.py            # writes results/robustness.md
    python benchmarks/bench_robustness.py --no-write
"""

import copy
import itertools
import warnings
from collections import Counter

import numpy as np
import pandas as pd
import scipy.sparse as sp
from _common import (
    Stopwatch,
    command_line,
    markdown_table,
    produced_by,
    publish,
    single_thread,
)

from skae import (
    AEOutlierDetector,
    AutoEncoderTransformer,
    DenoisingAutoEncoder,
    DisentangledAutoEncoder,
    TrainingDivergedError,
    VQTransformer,
)

TINY = dict(hidden_layer_sizes=(4,), max_epochs=2, batch_size=8, device="cpu", random_state=0)
ESTIMATORS = {
    "AutoEncoderTransformer": lambda: AutoEncoderTransformer(n_components=2, **TINY),
    "DenoisingAutoEncoder": lambda: DenoisingAutoEncoder(n_components=2, noise="masking", **TINY),
    "VQTransformer": lambda: VQTransformer(n_codes=4, n_components=2, **TINY),
    "AEOutlierDetector": lambda: AEOutlierDetector(AutoEncoderTransformer(n_components=2, **TINY)),
    "DisentangledAutoEncoder": lambda: DisentangledAutoEncoder(n_components=2, group_dim=2, **TINY),
}
CLEAR = (ValueError, TypeError, TrainingDivergedError)
#: Outputs that may hold inf (a row that cannot be rebuilt), never NaN.
MAY_BE_INF = {"reconstruction_error", "score_samples", "decision_function"}


# -- the grid of inputs -------------------------------------------------------
def make_input(n_rows, n_cols, scale, special, constant, dtype, container):
    values = np.random.RandomState(0).normal(size=(n_rows, n_cols)) * scale
    if n_rows and n_cols:
        if special is not None:
            values[0, 0] = special
        if constant:
            values[:, 0] = values[0, 0]
            if n_cols > 1:
                values[:, 1] = values[:, 0]
    with np.errstate(all="ignore"):
        table = values.astype(dtype) if dtype != "object" else values.astype(str).astype(object)
    if container == "list":
        return table.tolist()
    if container == "pandas":
        return pd.DataFrame(table, columns=[f"c{i}" for i in range(n_cols)])
    if container == "sparse" and dtype.startswith("float") and n_rows and n_cols:
        return sp.csr_matrix(table)
    return table


def grid(n_cols_choices=(0, 1, 3)):
    """``(description, X)`` for every input of the grid."""
    axes = dict(
        n_rows=(0, 1, 2, 9),
        n_cols=n_cols_choices,
        scale=(1.0, 1e-30, 1e30, 3e38),
        special=(None, np.nan, np.inf),
        constant=(False, True),
        dtype=("float32", "float64", "int64", "bool", "object"),
        container=("array", "list", "pandas", "sparse"),
    )
    for values in itertools.product(*axes.values()):
        case = dict(zip(axes, values))
        yield case, make_input(**case)


def n_items(X):
    return X.shape[0] if hasattr(X, "shape") else len(X)


# -- calling ------------------------------------------------------------------
def call(estimator, method, X):
    disentangled = isinstance(estimator, DisentangledAutoEncoder)
    args = (X, np.arange(n_items(X)) % 2) if disentangled else (X,)
    if method in ("fit", "partial_fit", "reconstruction_error") or (
        method == "score" and disentangled
    ):
        return getattr(estimator, method)(*args)
    return getattr(estimator, method)(X)


def inference_methods(estimator):
    if isinstance(estimator, AEOutlierDetector):
        return ["score_samples", "decision_function", "predict"]
    return ["transform", "reconstruction_error"]


def outcome(fn, method):
    """One of worked / clear error / unclear error / NaN output, and a detail."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn()
    except CLEAR as exc:
        return ("clear error" if str(exc) else "unclear error"), f"{type(exc).__name__}: {exc}"
    except Exception as exc:  # noqa: BLE001 - counting what escapes is the point
        return "unclear error", f"{type(exc).__name__}: {exc}"
    if method in ("fit", "partial_fit"):
        return "worked", ""
    out = np.asarray(out, dtype=float)
    if np.isnan(out).any():
        return "NaN output", method
    if method not in MAY_BE_INF and not np.isfinite(out).all():
        return "NaN output", f"{method} gave inf"
    return "worked", ""


def fingerprint(estimator, X_clean):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return [np.asarray(call(estimator, m, X_clean)) for m in inference_methods(estimator)]


def run_estimator(name, make):
    counts = {kind: Counter() for kind in ("fit", "inference", "partial_fit")}
    examples = []
    X_clean = np.random.RandomState(1).normal(size=(40, 3)).astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = call(make(), "fit", X_clean)
    reference = fingerprint(fitted, X_clean)
    for case, X in grid():
        result, detail = outcome(lambda: call(make(), "fit", X), "fit")
        counts["fit"][result] += 1
        if result in ("unclear error", "NaN output"):
            examples.append((case, "fit", detail))
        if case["n_cols"] != 3:
            continue
        for method in inference_methods(fitted):
            result, detail = outcome(lambda: call(fitted, method, X), method)
            counts["inference"][result] += 1
            if result in ("unclear error", "NaN output"):
                examples.append((case, method, detail))
        if hasattr(fitted, "partial_fit"):
            trained = copy.deepcopy(fitted)
            result, detail = outcome(lambda: call(trained, "partial_fit", X), "partial_fit")
            if result != "worked":
                after = fingerprint(trained, X_clean)
                if any(not np.array_equal(a, b) for a, b in zip(reference, after)):
                    result = "poisoned state"
            counts["partial_fit"][result] += 1
    return counts, examples


# -- the catalogue --------------------------------------------------------------
CATALOGUE = [
    ("no rows", dict(n_rows=0, n_cols=3)),
    ("one row", dict(n_rows=1, n_cols=3)),
    ("no columns", dict(n_rows=9, n_cols=0)),
    ("one column", dict(n_rows=9, n_cols=1)),
    ("a NaN", dict(special=np.nan)),
    ("an inf", dict(special=np.inf)),
    ("values ~1e30 (finite in float32)", dict(scale=1e30)),
    ("values ~3e38 (beyond float32)", dict(scale=3e38)),
    ("values ~1e-30", dict(scale=1e-30)),
    ("constant and duplicate columns", dict(constant=True)),
    ("int64", dict(dtype="int64")),
    ("bool", dict(dtype="bool")),
    ("strings (object)", dict(dtype="object")),
    ("a list of lists", dict(container="list")),
    ("a pandas DataFrame", dict(container="pandas")),
    ("a scipy sparse matrix", dict(container="sparse")),
]


def catalogue():
    rows = []
    base = dict(
        n_rows=9,
        n_cols=3,
        scale=1.0,
        special=None,
        constant=False,
        dtype="float64",
        container="array",
    )
    for label, change in CATALOGUE:
        X = make_input(**{**base, **change})
        result, detail = outcome(
            lambda: call(ESTIMATORS["AutoEncoderTransformer"](), "fit", X), "fit"
        )
        detail = detail.replace("|", "/").split("\n")[0][:150]
        rows.append([label, result, detail])
    return markdown_table(["input", "outcome", "message"], rows, align="lll")


# -- report ---------------------------------------------------------------------
def report(results, elapsed):
    outcomes = ("worked", "clear error", "unclear error", "NaN output", "poisoned state")
    table, examples = [], []
    for name, (counts, found) in results.items():
        for kind, counter in counts.items():
            if counter:
                table.append([name, kind, sum(counter.values()), *(counter[k] for k in outcomes)])
        examples += [(name, *item) for item in found]
    lines = [
        "# Robustness: awkward inputs against every estimator",
        "",
        f"{produced_by('python benchmarks/bench_robustness.py', elapsed)} "
        "Each estimator gets the same grid of inputs (rows 0/1/2/9 x columns 0/1/3 x scale "
        "1, 1e-30, 1e30, 3e38 x none/NaN/inf x with or without constant and duplicate "
        "columns x float32/float64/int64/bool/object x array/list/pandas/sparse): `fit` of a fresh "
        "estimator on all of them, inference and `partial_fit` of an estimator fitted on clean "
        "data on the 3-column ones. Goals: 0 unclear errors, 0 NaN outputs, 0 poisoned states.",
        "",
        markdown_table(["estimator", "call", "cases", *outcomes], table, align="llrrrrrr"),
    ]
    if examples:
        lines += ["", "## Cases that missed the goals", ""]
        lines += [
            f"- {name} `{method}` on {case}: {detail[:200]}"
            for name, case, method, detail in examples[:40]
        ]
    lines += [
        "",
        "## Catalogue: input -> what `AutoEncoderTransformer().fit` does",
        "",
        "Nine rows by three float64 columns unless the input says otherwise; every estimator "
        "validates the same way.",
        "",
        catalogue(),
    ]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = command_line(__doc__, "robustness.md")
    parser.add_argument("--estimators", nargs="+", default=list(ESTIMATORS))
    args = parser.parse_args(argv)
    watch = Stopwatch()
    with single_thread():
        results = {}
        for name in args.estimators:
            results[name] = run_estimator(name, ESTIMATORS[name])
            print(name, {k: dict(v) for k, v in results[name][0].items()}, flush=True)
        text = report(results, watch.seconds)
    publish(text, args)


if __name__ == "__main__":
    main()
