"""The parameters the estimators share are documented alike in each of them.

scikit-learn repeats a shared parameter's numpydoc entry in every class that
takes it; this test keeps the copies from drifting apart (as scikit-learn's
``assert_docstring_consistency`` does), and checks that each estimator
documents exactly the parameters of its constructor.
"""

import inspect

import pytest
from numpydoc.docscrape import NumpyDocString

from skae import (
    AutoEncoderTransformer,
    DenoisingAutoEncoder,
    DisentangledAutoEncoder,
    VariationalAutoEncoder,
    VQTransformer,
)
from skae._base import BaseAutoEncoder

from _registry import AUTOENCODERS, ESTIMATOR_CLASSES

REFERENCE = AutoEncoderTransformer

#: Shared parameters whose text rightly differs in an estimator, and why.
#: Their type (without the default) must still agree, or add ``"auto"`` to it.
SPECIFIC = {
    ("n_components", VQTransformer): "default 16 and the width of the quantized latent",
    ("n_components", DisentangledAutoEncoder): "'auto' by the kind of input, the content code only",
    ("hidden_layer_sizes", DenoisingAutoEncoder): "no linear-PCA remark: noise changes it",
    ("hidden_layer_sizes", VQTransformer): "the encoder maps to the latent, not a code",
    (
        "hidden_layer_sizes",
        DisentangledAutoEncoder,
    ): "'auto' by the kind of input; channels; the adversary",
    ("batch_norm", DisentangledAutoEncoder): "rows only (not the sequence network)",
    ("loss", DisentangledAutoEncoder): "bce for rows only",
    ("batch_size", DenoisingAutoEncoder): "swap noise draws donors within a batch",
    ("batch_size", VQTransformer): "the codebooks are initialised from the first batch",
    ("batch_size", DisentangledAutoEncoder): "'auto' by the kind of input; windows for sequences",
    ("early_stopping", DenoisingAutoEncoder): "which losses see corrupted inputs",
    ("early_stopping", DisentangledAutoEncoder): "the monitored loss leaves out the group terms",
    (
        "max_epochs",
        DisentangledAutoEncoder,
    ): "'auto' by the kind of input: 100 rows, 50 for windows",
    ("warm_start", VQTransformer): "the codebooks are kept too",
    ("random_state", DenoisingAutoEncoder): "it also seeds the noise",
    ("random_state", VQTransformer): "it also seeds the codebooks",
    ("hidden_layer_sizes", VariationalAutoEncoder): "no linear-PCA remark: the codes are drawn",
    ("tol", VariationalAutoEncoder): "the monitored loss is minus the ELBO",
    ("random_state", VariationalAutoEncoder): "it also seeds the codes drawn in training",
}


def documented_parameters(cls):
    """``{name: (type, description)}`` of the class docstring's Parameters."""
    doc = NumpyDocString(inspect.getdoc(cls))
    return {p.name: (p.type, " ".join(" ".join(p.desc).split())) for p in doc["Parameters"]}


def shared_parameters():
    """``(cls, name)`` of each shared parameter that an autoencoder takes.

    A class may leave one out (VariationalAutoEncoder has no ``loss``: its
    likelihood is fixed); then it has nothing to document alike.
    """
    names = list(inspect.signature(BaseAutoEncoder.__init__).parameters)[1:]
    return [
        (cls, name)
        for cls in AUTOENCODERS
        if cls is not REFERENCE
        for name in names
        if name in inspect.signature(cls.__init__).parameters
    ]


@pytest.mark.parametrize("cls", ESTIMATOR_CLASSES, ids=lambda cls: cls.__name__)
def test_every_constructor_parameter_is_documented(cls):
    documented = set(documented_parameters(cls))
    parameters = set(inspect.signature(cls.__init__).parameters) - {"self"}
    assert documented == parameters


@pytest.mark.parametrize("cls, name", shared_parameters(), ids=lambda p: getattr(p, "__name__", p))
def test_shared_parameter_documented_alike(cls, name):
    reference = documented_parameters(REFERENCE)[name]
    own = documented_parameters(cls)[name]
    if (name, cls) not in SPECIFIC:
        assert own == reference, (
            f"{cls.__name__}'s {name!r} entry drifted from {REFERENCE.__name__}'s"
        )
        return
    assert own[1] != reference[1], f"{name!r} of {cls.__name__} is no longer specific: drop it"
    own_type, reference_type = (entry[0].split(", default=")[0] for entry in (own, reference))
    assert own_type in (reference_type, f'{reference_type} or "auto"')
