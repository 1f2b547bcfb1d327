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
    AEOutlierDetector,
    AutoEncoderTransformer,
    DenoisingAutoEncoder,
    DisentangledAutoEncoder,
    VQTransformer,
)
from skae._base import BaseAutoEncoder

REFERENCE = AutoEncoderTransformer
AUTOENCODERS = [DenoisingAutoEncoder, VQTransformer, DisentangledAutoEncoder]

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
}


def documented_parameters(cls):
    """``{name: (type, description)}`` of the class docstring's Parameters."""
    doc = NumpyDocString(inspect.getdoc(cls))
    return {p.name: (p.type, " ".join(" ".join(p.desc).split())) for p in doc["Parameters"]}


def shared_parameters():
    return list(inspect.signature(BaseAutoEncoder.__init__).parameters)[1:]


@pytest.mark.parametrize("cls", [REFERENCE, *AUTOENCODERS, AEOutlierDetector])
def test_every_constructor_parameter_is_documented(cls):
    documented = set(documented_parameters(cls))
    parameters = set(inspect.signature(cls.__init__).parameters) - {"self"}
    assert documented == parameters


@pytest.mark.parametrize("cls", AUTOENCODERS, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("name", shared_parameters())
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
