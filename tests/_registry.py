"""The one list of public estimators that the tests run over.

Built from ``skae.__all__``, as scikit-learn's ``all_estimators()``: every
exported class that is a scikit-learn estimator is in
:data:`ESTIMATOR_CLASSES`, :func:`make` builds a small fast instance of each,
and :data:`VARIANTS` adds the other configurations the common checks cover.
A class exported without an entry in :data:`_OWN` fails
``tests/test_common.py::test_every_public_estimator_has_a_registry_instance``,
so a new estimator is tested everywhere the day it is exported.

Test files import it as ``from _registry import ...`` (pytest puts ``tests/``
on the path for its rootdir-less test modules).
"""

import inspect

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import get_tags

import skae
from skae import (
    AEOutlierDetector,
    AutoEncoderTransformer,
    DenoisingAutoEncoder,
    DisentangledAutoEncoder,
    VariationalAutoEncoder,
    VQTransformer,
)
from skae._base import BaseAutoEncoder


def public_estimator_classes():
    """The classes of ``skae.__all__`` that are scikit-learn estimators."""
    objects = (getattr(skae, name) for name in skae.__all__)
    return [obj for obj in objects if isinstance(obj, type) and issubclass(obj, BaseEstimator)]


ESTIMATOR_CLASSES = public_estimator_classes()
#: The autoencoders: estimators trained by the engine themselves.
AUTOENCODERS = [cls for cls in ESTIMATOR_CLASSES if issubclass(cls, BaseAutoEncoder)]

#: The training settings every test instance starts from: small and fast,
#: the checks fit dozens of times on tiny data.
FAST = dict(max_epochs=5, hidden_layer_sizes=(8,), device="cpu")

#: What each estimator needs beyond :data:`FAST` to be small and valid.
#: Every class of :data:`ESTIMATOR_CLASSES` must have an entry.
_OWN = {
    AutoEncoderTransformer: {},
    DenoisingAutoEncoder: {},
    VQTransformer: dict(n_codes=8, n_components=4),
    VariationalAutoEncoder: {},
    DisentangledAutoEncoder: dict(n_components=2, group_dim=2),
    # The detector's settings go to its autoencoder (see make).
    AEOutlierDetector: {},
}


def make(cls, **params):
    """A small fast instance of ``cls``, ``params`` overriding the defaults.

    For :class:`skae.AEOutlierDetector`, the parameters it takes itself
    (``contamination``, ``random_state``, ...) go to the detector and the
    others to its :class:`skae.AutoEncoderTransformer`; ``random_state``
    goes to both.
    """
    if cls not in _OWN:
        raise KeyError(f"{cls.__name__} has no instance in tests/_registry.py: add it to _OWN")
    if cls is AEOutlierDetector:
        own = set(inspect.signature(cls.__init__).parameters) - {"self", "estimator"}
        detector = {k: v for k, v in params.items() if k in own}
        inner = {k: v for k, v in params.items() if k not in own or k == "random_state"}
        return cls(estimator=make(AutoEncoderTransformer, **inner), **detector)
    return cls(**{**FAST, **_OWN[cls], **params})


#: One small fast instance of each public estimator that has an entry in
#: :data:`_OWN` (a class without one fails the registry's own test, not the
#: collection of every test module).
INSTANCES = [make(cls) for cls in ESTIMATOR_CLASSES if cls in _OWN]


class UserNetwork(torch.nn.Sequential):
    """A user's encoder or decoder class, built for the data's width at fit."""

    def __init__(self, n_in, n_out):
        super().__init__(torch.nn.Linear(n_in, 8), torch.nn.ReLU(), torch.nn.Linear(8, n_out))


#: Other configurations of the same classes that the common checks cover.
VARIANTS = [
    make(AutoEncoderTransformer, encoder=UserNetwork, decoder=UserNetwork),
    make(DenoisingAutoEncoder, noise="masking", noise_level=0.3),
    make(DenoisingAutoEncoder, noise="swap", noise_level=0.3),
    # Convolutional networks: one-channel strips of any width.
    make(AutoEncoderTransformer, input_shape=(1, -1)),
    make(VQTransformer, n_codebooks=2),
    make(VQTransformer, encoder=UserNetwork, decoder=UserNetwork),
    make(VariationalAutoEncoder, kl_warmup=2, n_importance_samples=2),
]


# -- calling any of them ---------------------------------------------------------
def needs_y(estimator):
    """Whether ``fit`` and the scoring methods take group labels ``y``."""
    return get_tags(estimator).target_tags.required


def labels(X):
    """Two groups, alternating, for the rows of ``X``."""
    n = X.shape[0] if hasattr(X, "shape") else len(X)
    return np.arange(n) % 2


#: Methods that take ``y`` when the estimator needs it.
_WITH_Y = {"fit", "partial_fit", "reconstruction_error", "score"}


def call(estimator, method, X):
    """``estimator.<method>(X)``, with labels for the estimators that need them."""
    if method in _WITH_Y and needs_y(estimator):
        return getattr(estimator, method)(X, labels(X))
    return getattr(estimator, method)(X)


#: The per-row outputs a caller reads from a fitted estimator.
OUTPUT_METHODS = (
    "transform",
    "reconstruction_error",
    "score_samples",
    "decision_function",
    "predict",
)


def output_methods(estimator):
    """The methods of :data:`OUTPUT_METHODS` that ``estimator`` has."""
    return [method for method in OUTPUT_METHODS if hasattr(estimator, method)]
