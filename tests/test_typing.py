"""The public API's type hints: on every parameter and return, as the docstrings say.

The package ships ``py.typed``; ``mypy skae`` (``make lint``) checks the hints
against the code, this test against the numpydoc types, so the two
descriptions of a signature do not drift apart. The comparison is by words,
not a parser: an ``array-like`` is an ``ArrayLike``, an ``ndarray`` of
``dtype float32`` an ``NDArray[np.float32]``, ``or None`` / ``default=None``
admits None, a set of strings is a ``Literal``.
"""

import inspect

import pytest
from numpydoc.docscrape import FunctionDoc, NumpyDocString

import skae
import skae.datasets

from _registry import ESTIMATOR_CLASSES

#: What the shared aliases of ``skae._typing`` stand for, in the words checked.
ALIASES = {
    "RandomStateLike": "int | RandomState | None",
    "Network": "Module | Callable | None",
    "Callbacks": "list | None",
    "Device": "str | device",
    "Activation": "Literal",
    "Loss": "Literal",
    "Precision": "Literal",
    "Optimizer": "Literal | type",
}


#: The TypeVars of the methods that return ``self``.
SELF = ("_RowT", "_EstimatorT")


def expand(hint):
    for alias, meaning in ALIASES.items():
        hint = hint.replace(alias, meaning)
    return hint


def public_methods():
    """``(owner, name, function, documented types)`` of the public signatures."""
    for cls in ESTIMATOR_CLASSES:
        yield cls, "__init__", cls.__init__, NumpyDocString(inspect.getdoc(cls))
        for name, member in inspect.getmembers(cls, inspect.isfunction):
            # scikit-learn's own methods (get_params, fit_transform, ...) keep its hints.
            if not name.startswith("_") and member.__module__.startswith("skae"):
                yield cls, name, member, FunctionDoc(member)
    for name in ("save", "load", "data_parallel"):
        yield skae, name, getattr(skae, name), FunctionDoc(getattr(skae, name))
    for name in skae.datasets.__all__:
        function = getattr(skae.datasets, name)
        if inspect.isfunction(function):
            yield skae.datasets, name, function, FunctionDoc(function)


CASES = list(public_methods())
IDS = [f"{getattr(owner, '__name__', owner)}.{name}" for owner, name, _, _ in CASES]


def hints(function):
    """``{parameter: hint}`` and the return hint, as the strings written."""
    signature = inspect.signature(function)
    params = {
        p.name: p.annotation
        for p in signature.parameters.values()
        if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }
    return params, signature.return_annotation


def stringify(hint):
    return hint if isinstance(hint, str) else inspect.formatannotation(hint)


@pytest.mark.parametrize("owner, name, function, doc", CASES, ids=IDS)
def test_every_parameter_and_return_is_annotated(owner, name, function, doc):
    params, returns = hints(function)
    missing = [p for p, hint in params.items() if hint is inspect.Parameter.empty]
    assert not missing, f"{name}: parameters without a hint: {missing}"
    assert returns is not inspect.Signature.empty, f"{name}: no return hint"


def agrees(documented, hint):
    """Why ``hint`` contradicts the numpydoc type ``documented``, or None."""
    hint = expand(stringify(hint))
    kind = documented.split(", default=")[0]
    if documented == "None":  # "Ignored": anything may be passed
        return None if hint in ("object", "None") else "an ignored argument is `object`"
    if "None" in documented and "None" not in hint:
        return "documented as taking None"
    if "None" in hint and "None" not in documented:
        return "hinted as taking None"
    if "array-like" in kind and "ArrayLike" not in hint:
        return "an array-like is `ArrayLike`"
    if kind.startswith("ndarray"):
        if "NDArray" not in hint and "ndarray" not in hint:
            return "an ndarray is `NDArray`"
        for dtype in ("float32", "int64"):
            if f"dtype {dtype}" in kind and dtype not in hint:
                return f"documented as {dtype}"
    if kind.startswith("{") and "Literal" not in hint:
        return "a set of strings is a `Literal`"
    for word in ("bool", "int", "float", "str"):
        if kind.startswith(word) and word not in hint:
            return f"documented as {word}"
    return None


@pytest.mark.parametrize("owner, name, function, doc", CASES, ids=IDS)
def test_hints_agree_with_the_docstring(owner, name, function, doc):
    params, returns = hints(function)
    documented = {p.name: p.type for p in doc["Parameters"]}
    problems = [
        f"{p} : {documented[p]} vs {stringify(params[p])!r}: {why}"
        for p in params
        if p in documented and (why := agrees(documented[p], params[p]))
    ]
    section = doc["Returns"]
    if section and section[0].name == "self":
        returned = stringify(returns)
        assert returned in (owner.__name__, *SELF), f"{name} returns {returned!r}, not self"
    elif doc["Yields"]:
        kind = doc["Yields"][0].type
        assert stringify(returns) == f"Iterator[{kind}]", f"{name} yields {kind}"
    elif len(section) == 1 and name != "__init__":
        if why := agrees(section[0].type, returns):
            problems.append(f"returns {section[0].type} vs {stringify(returns)!r}: {why}")
    assert not problems, f"{name}:\n" + "\n".join(problems)
