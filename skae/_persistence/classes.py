"""Which classes a model file may name, by their public names, and no code.

A file names every object's class by a public dotted name
(``skae.AEOutlierDetector``, ``sklearn.preprocessing.StandardScaler``); the
reader constructs only classes of this allowlist, and only torch's own
optimizers. No class may hold code: a ``FunctionTransformer`` only as the
identity that ``ColumnTransformer`` makes of ``"passthrough"``, and a
callable only where a class is expected (``optimizer``, ``dtype``).
"""

import importlib

import torch
from sklearn.base import BaseEstimator

from ..exceptions import ModelFileError

#: The scikit-learn classes a model file may hold besides skae's, by public name.
SKLEARN_CLASSES = (
    "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing.StandardScaler",
    "sklearn.preprocessing.MinMaxScaler",
    "sklearn.preprocessing.MaxAbsScaler",
    "sklearn.preprocessing.RobustScaler",
    "sklearn.preprocessing.Normalizer",
    "sklearn.decomposition.PCA",
    # preprocessing of tables: missing values, categories, columns
    "sklearn.compose.ColumnTransformer",
    "sklearn.impute.SimpleImputer",
    "sklearn.impute.MissingIndicator",
    "sklearn.preprocessing.OneHotEncoder",
    "sklearn.preprocessing.OrdinalEncoder",
    "sklearn.preprocessing.PolynomialFeatures",
    "sklearn.preprocessing.QuantileTransformer",
    "sklearn.preprocessing.PowerTransformer",
    "sklearn.feature_selection.VarianceThreshold",
    # only as the identity (func=None): ColumnTransformer's fitted "passthrough"
    "sklearn.preprocessing.FunctionTransformer",
)
SKAE_CLASSES = (
    "skae.AutoEncoderTransformer",
    "skae.DenoisingAutoEncoder",
    "skae.VQTransformer",
    "skae.AEOutlierDetector",
    "skae.DisentangledAutoEncoder",
    "skae.VariationalAutoEncoder",
)
ALLOWED_CLASSES = SKAE_CLASSES + SKLEARN_CLASSES
#: Parameters added to a class after files were written without them, with
#: the value that keeps the behaviour those files were fitted with: a file
#: that lacks one loads with this value, not the new default.
ADDED_PARAMETERS = {
    # 2026-12-03: the subsampled detector became the default (issue 28).
    "skae.AEOutlierDetector": {"max_samples": None, "n_estimators": 1},
}
#: How format 1 named each allowed class (by the module that defined it then).
FORMAT_1_NAMES = {
    "skae._autoencoder.AutoEncoderTransformer": "skae.AutoEncoderTransformer",
    "skae._denoising.DenoisingAutoEncoder": "skae.DenoisingAutoEncoder",
    "skae._vq.VQTransformer": "skae.VQTransformer",
    "skae._outlier.AEOutlierDetector": "skae.AEOutlierDetector",
    "skae._disentangle.DisentangledAutoEncoder": "skae.DisentangledAutoEncoder",
    "skae._vae.VariationalAutoEncoder": "skae.VariationalAutoEncoder",
    "sklearn.pipeline.Pipeline": "sklearn.pipeline.Pipeline",
    "sklearn.preprocessing._data.StandardScaler": "sklearn.preprocessing.StandardScaler",
    "sklearn.preprocessing._data.MinMaxScaler": "sklearn.preprocessing.MinMaxScaler",
    "sklearn.preprocessing._data.MaxAbsScaler": "sklearn.preprocessing.MaxAbsScaler",
    "sklearn.preprocessing._data.RobustScaler": "sklearn.preprocessing.RobustScaler",
    "sklearn.preprocessing._data.Normalizer": "sklearn.preprocessing.Normalizer",
    "sklearn.decomposition._pca.PCA": "sklearn.decomposition.PCA",
}
#: The largest manifest (``skae.json``) a model file may have, uncompressed.
#: A network's weights are arrays, not JSON: the manifest holds parameters and


def _import_public(name):
    """The object a public dotted name such as ``skae.VQTransformer`` names."""
    module, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(module), attr, None)


def _public_name(cls):
    """The allowed public name of ``cls``, or None when it has none."""
    return next((name for name in ALLOWED_CLASSES if _import_public(name) is cls), None)


def _allowed_class(name):
    if name not in ALLOWED_CLASSES:
        raise ModelFileError(f"The model file names a class that is not allowed: {name!r}.")
    return _import_public(name)


def _optimizer_name(cls):
    """``torch.optim.<Name>`` for one of torch's optimizers (its public name)."""
    name = f"torch.optim.{cls.__name__}"
    if _import_public(name) is not cls:
        raise TypeError(
            f"{cls.__module__}.{cls.__qualname__} is outside torch.optim: only torch's own "
            "optimizers can be loaded back"
        )
    return name


def _optimizer_class(name):
    module, _, attr = name.rpartition(".")
    if module != "torch.optim" and not module.startswith("torch.optim."):
        raise ModelFileError(f"The model file names an optimizer outside torch.optim: {name!r}.")
    cls = getattr(importlib.import_module(module), attr, None)
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
        raise ModelFileError(f"{name!r} is not a torch optimizer.")
    return cls


FUNCTION_TRANSFORMER = "sklearn.preprocessing.FunctionTransformer"
#: The parameters of a FunctionTransformer that hold code; None is the identity.
_FUNCTION_PARAMS = ("func", "inverse_func", "feature_names_out")
#: Where a callable may stand: a class that the allowlists name (an optimizer of
#: torch.optim, a numpy or Python type as ``dtype``), keyed by parameter name.
_CLASS_PARAMS = ("optimizer", "dtype")


def refuse_code(name, params, path):
    """Refuse, at save time, a FunctionTransformer that holds a function."""
    if name != FUNCTION_TRANSFORMER:
        return
    for key in _FUNCTION_PARAMS:
        value = params.get(key)
        if callable(value):
            what = getattr(value, "__qualname__", type(value).__qualname__)
            raise TypeError(
                f"{path} is a sklearn.preprocessing.FunctionTransformer with {key}={what}: a "
                "model file cannot hold a function, because restoring arbitrary code means "
                "running it, which is not safe. Use a transformer skae.save supports "
                "(skae._persistence.SKLEARN_CLASSES: PowerTransformer or QuantileTransformer "
                "in place of np.log1p, SimpleImputer, OneHotEncoder, ColumnTransformer...), "
                "or joblib.dump for files only you will load"
            )


def check_no_code(name, key, value):
    """Refuse, at load time, a callable outside ``optimizer``/``dtype`` (recursively)."""
    if isinstance(value, (list, tuple)):
        for item in value:
            check_no_code(name, key, item)
    elif isinstance(value, dict):
        for inner, item in value.items():
            check_no_code(name, inner if isinstance(inner, str) else key, item)
    elif callable(value) and not isinstance(value, BaseEstimator):
        if key not in _CLASS_PARAMS or not isinstance(value, type):
            raise ModelFileError(
                f"The model file sets {name}.{key} to the callable {value!r:.60}: a model "
                "file holds no code."
            )
