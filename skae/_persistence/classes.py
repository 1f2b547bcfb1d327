"""Which classes a model file may name, by their public names.

A file names every object's class by a public dotted name
(``skae.AEOutlierDetector``, ``sklearn.preprocessing.StandardScaler``); the
reader constructs only classes of this allowlist, and only torch's own
optimizers.
"""

import importlib

import torch

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
