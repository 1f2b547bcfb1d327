"""scikit-learn compatible autoencoders on PyTorch."""

from ._autoencoder import AutoEncoderTransformer
from ._callbacks import TrainingDivergedError, TrainingInterruptedWarning
from ._denoising import DenoisingAutoEncoder
from ._disentangle import DisentangledAutoEncoder
from ._distributed import data_parallel
from ._outlier import AEOutlierDetector
from ._persistence import ModelFileError, load, save
from ._vae import VariationalAutoEncoder
from ._vq import VQTransformer

__version__ = "0.1.0.dev0"

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
