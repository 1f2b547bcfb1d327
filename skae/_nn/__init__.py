"""Pure torch modules: MLPs, convolutional encoders, quantizers, the VAE.

They know no estimator and no training engine; the estimators build them
through :mod:`skae._encoder_decoder` and the engine trains them.
"""
