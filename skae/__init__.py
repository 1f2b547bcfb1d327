"""scikit-learn compatible autoencoders on PyTorch."""

from ._autoencoder import AutoEncoderTransformer
from ._net import TrainingDivergedError

__version__ = "0.1.0.dev0"

__all__ = ["AutoEncoderTransformer", "TrainingDivergedError", "__version__"]
