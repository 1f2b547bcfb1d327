"""``skae demo``: an autoencoder against PCA on scikit-learn's digits."""

import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

from ._autoencoder import AutoEncoderTransformer


def run_demo(n_components=8, out_dir="demo_output", random_state=0):
    """Fit PCA and AutoEncoderTransformer on digits and compare held-out error.

    Parameters
    ----------
    n_components : int, default=8
        Latent width of both models.
    out_dir : str or path, default="demo_output"
        Folder for the figure of originals against reconstructions.
    random_state : int, default=0
        Seeds the split and the autoencoder.

    Returns
    -------
    results : dict
        Held-out mean squared errors ``{"pca": ..., "autoencoder": ...}`` and
        the figure's path (None without matplotlib).
    """
    X, _ = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=random_state)
    print(f"digits: {len(X_train)} training and {len(X_test)} held-out images of 8x8 pixels")

    pca = PCA(n_components, random_state=random_state).fit(X_train)
    pca_rec = pca.inverse_transform(pca.transform(X_test))

    start = time.perf_counter()
    ae = AutoEncoderTransformer(
        n_components=n_components, max_epochs=300, early_stopping=True, random_state=random_state
    )
    ae.fit(X_train)
    ae_rec = ae.inverse_transform(ae.transform(X_test))
    seconds = time.perf_counter() - start

    results = {
        "pca": float(np.mean((pca_rec - X_test) ** 2)),
        "autoencoder": float(np.mean((ae_rec - X_test) ** 2)),
    }
    print(f"held-out reconstruction MSE with {n_components} components:")
    print(f"  PCA                     {results['pca']:.5f}")
    print(
        f"  AutoEncoderTransformer  {results['autoencoder']:.5f}  "
        f"({results['autoencoder'] / results['pca']:.2f} x PCA; {ae.n_iter_} epochs, "
        f"{seconds:.1f} s on {ae.device_})"
    )
    results["figure"] = _plot(X_test, pca_rec, ae_rec, Path(out_dir))
    return results


def _plot(X_test, pca_rec, ae_rec, out_dir, n_images=10):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no figure (pip install matplotlib)")
        return None
    rows = [("original", X_test), ("PCA", pca_rec), ("autoencoder", ae_rec)]
    fig, axes = plt.subplots(len(rows), n_images, figsize=(n_images, len(rows) + 0.4))
    for r, (name, images) in enumerate(rows):
        for c in range(n_images):
            ax = axes[r, c]
            ax.imshow(images[c].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[r, 0].set_ylabel(name)
    fig.suptitle("held-out digits and their reconstructions")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "digits_reconstruction.png"
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    print(f"figure: {path}")
    return path
