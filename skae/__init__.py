"""scikit-learn compatible autoencoders on PyTorch."""

from ._autoencoder import AutoEncoderTransformer
from ._denoising import DenoisingAutoEncoder
from ._disentangle import DisentangledAutoEncoder
from ._engine.distributed import data_parallel
from ._outlier import AEOutlierDetector
from ._persistence import load, save
from ._vae import VariationalAutoEncoder
from ._version import __version__
from ._vq import VQTransformer
from .exceptions import ModelFileError, TrainingDivergedError, TrainingInterruptedWarning

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
