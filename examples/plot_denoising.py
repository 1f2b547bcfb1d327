"""
Denoising digits
================

A :class:`~skae.DenoisingAutoEncoder` trained to rebuild clean digits from copies
with gaussian noise, against projecting the noisy digits on PCA's first 16
components. Both see the same held-out noisy digits.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from skae import DenoisingAutoEncoder

X = load_digits().data / 16
X_train, X_test = train_test_split(X, test_size=0.25, random_state=0)
rng = np.random.RandomState(0)
X_noisy = X_test + rng.normal(0, 0.25, X_test.shape)

dae = DenoisingAutoEncoder(
    n_components=16, noise="gaussian", noise_level=1.0, device="cpu", random_state=0
).fit(X_train)
pca = PCA(n_components=16).fit(X_train)
images = {
    "clean": X_test,
    "noisy": X_noisy,
    "PCA(16)": pca.inverse_transform(pca.transform(X_noisy)),
    "denoised": dae.denoise(X_noisy),
}
for name, Xr in images.items():
    print(f"{name:>9}: MSE to clean {np.mean((Xr - X_test) ** 2):.4f}")

fig, axes = plt.subplots(4, 10, figsize=(10, 4.4))
for ax_row, (name, Xr) in zip(axes, images.items()):
    for ax, image in zip(ax_row, Xr[:10]):
        ax.imshow(image.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        ax.set(xticks=[], yticks=[])
    ax_row[0].set_ylabel(name)
plt.show()
