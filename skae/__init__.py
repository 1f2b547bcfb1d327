"""scikit-learn compatible autoencoders on PyTorch.

The public names are imported on first use (PEP 562), so that ``import
skae`` (and the ``skae`` command line's ``--help`` and input errors) does not
wait for torch and scikit-learn; ``from skae import AEOutlierDetector``
works as with eager imports.
"""

import importlib
from typing import TYPE_CHECKING

from ._version import __version__

#: Each public name, and the module that defines it.
_PUBLIC = {
    "AEOutlierDetector": "._outlier",
    "AutoEncoderTransformer": "._autoencoder",
    "DenoisingAutoEncoder": "._denoising",
    "DisentangledAutoEncoder": "._disentangle",
    "ModelFileError": ".exceptions",
    "TrainingDivergedError": ".exceptions",
    "TrainingInterruptedWarning": ".exceptions",
    "VQTransformer": "._vq",
    "VariationalAutoEncoder": "._vae",
    "data_parallel": "._engine.distributed",
    "load": "._persistence",
    "save": "._persistence",
}

__all__ = [
    "AEOutlierDetector",
    "AutoEncoderTransformer",
    "DenoisingAutoEncoder",
    "DisentangledAutoEncoder",
    "ModelFileError",
    "TrainingDivergedError",
    "TrainingInterruptedWarning",
    "VQTransformer",
    "VariationalAutoEncoder",
    "data_parallel",
    "load",
    "save",
    "__version__",
]

if TYPE_CHECKING:  # what type checkers and IDEs read
    from ._autoencoder import AutoEncoderTransformer
    from ._denoising import DenoisingAutoEncoder
    from ._disentangle import DisentangledAutoEncoder
    from ._engine.distributed import data_parallel
    from ._outlier import AEOutlierDetector
    from ._persistence import load, save
    from ._vae import VariationalAutoEncoder
    from ._vq import VQTransformer
    from .exceptions import ModelFileError, TrainingDivergedError, TrainingInterruptedWarning


def __getattr__(name):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'skae' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name], __name__), name)
    globals()[name] = value  # the next look-up is a plain attribute
    return value


def __dir__():
    return sorted({*globals(), *__all__})
