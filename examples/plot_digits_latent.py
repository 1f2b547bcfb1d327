"""
Digits in two dimensions: autoencoder against PCA
=================================================

An :class:`~skae.AutoEncoderTransformer` with a 2-D code next to PCA's first two
components on scikit-learn's 8x8 digits. The autoencoder's nonlinear map separates
the classes that PCA's linear projection piles on top of each other; below, digits
rebuilt from 16-number codes of both.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA

from skae import AutoEncoderTransformer

X, y = load_digits(return_X_y=True)
X = X / 16  # pixels in [0, 1]

ae = AutoEncoderTransformer(n_components=2, device="cpu", random_state=0)
Z_ae = ae.fit_transform(X)
Z_pca = PCA(n_components=2).fit_transform(X)

fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
for ax, Z, title in zip(axes, (Z_pca, Z_ae), ("PCA", "AutoEncoderTransformer")):
    points = ax.scatter(Z[:, 0], Z[:, 1], c=y, cmap="tab10", s=6)
    ax.set(title=f"{title}: 2-D code", xticks=[], yticks=[])
fig.colorbar(points, ax=axes, label="digit", ticks=range(10))
plt.show()

# %%
# Reconstructions from 16 numbers
# -------------------------------
# Ten digits, and the same digits rebuilt from a 16-number code by PCA and by
# the autoencoder. ``score`` is minus the mean squared reconstruction error.
ae16 = AutoEncoderTransformer(n_components=16, device="cpu", random_state=0).fit(X)
pca16 = PCA(n_components=16).fit(X)
rows = {
    "original": X[:10],
    "PCA": pca16.inverse_transform(pca16.transform(X[:10])),
    "autoencoder": ae16.inverse_transform(ae16.transform(X[:10])),
}
fig, axes = plt.subplots(3, 10, figsize=(10, 3.4))
for ax_row, (name, images) in zip(axes, rows.items()):
    for ax, image in zip(ax_row, images):
        ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set(xticks=[], yticks=[])
    ax_row[0].set_ylabel(name)
plt.show()

pca_mse = np.mean((pca16.inverse_transform(pca16.transform(X)) - X) ** 2)
print(f"mean squared error, 16 numbers: PCA {pca_mse:.4f}, autoencoder {-ae16.score(X):.4f}")
