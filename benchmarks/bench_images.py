"""Images: denoising photographs with the convolutional DAE, and digits.

Part 1, denoising (PSNR in dB, higher is better). scikit-learn's two bundled
sample images (``load_sample_images``: china, flower) in grayscale
(``skimage.color.rgb2gray``), every second pixel in each direction (214 x 320),
gaussian noise of sigma = 25/255 (seeded). Each image is denoised by:

- ``DenoisingAutoEncoder(input_shape=(8, 8), ...)``, trained on 40,000 8 x 8
  patches of the *other*, clean image, each also transposed and flipped
  (each patch minus its mean; noise of exactly sigma added by a callable
  ``noise``), applied to every overlapping patch of
  the noisy image (minus its mean, added back) and reassembled by averaging
  (``reconstruct_from_patches_2d``);
- scikit-learn's dictionary-learning denoiser as in its gallery example
  (7 x 7 patches of the other image, 100 atoms, OMP with 2 atoms);
- scikit-image's total variation (Chambolle, weight 0.1), wavelet (BayesShrink)
  and non-local means (``h = 0.8 sigma_est``, 5 x 5 patches, distance 6, as in
  its gallery), with sigma estimated from the noisy image;
- BM3D (``bm3d`` on PyPI) given the true sigma.

Part 2, digits (scikit-learn's 8 x 8 digits, scaled to [0, 1], 70/30 split):
reconstruction MSE on held-out digits of the MLP and the convolutional
``AutoEncoderTransformer`` at the same code size, and one-class detection
(each digit in turn normal, trained on its training rows, ROC-AUC on all
held-out rows) with ``AEOutlierDetector`` around each.

Usage::

    python benchmarks/bench_images.py [--seeds 1] [--out benchmarks/results/images.md]

Needs ``scikit-image`` and ``bm3d`` (``pip install -e .[bench]``) for the
peers of part 1.
"""

import warnings

import numpy as np
import torch
from _common import (
    Stopwatch,
    command_line,
    markdown_table,
    produced_by,
    publish,
    torch_threads,
)
from sklearn.datasets import load_digits, load_sample_images
from sklearn.decomposition import MiniBatchDictionaryLearning
from sklearn.feature_extraction.image import extract_patches_2d, reconstruct_from_patches_2d
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from skae import AEOutlierDetector, AutoEncoderTransformer, DenoisingAutoEncoder

SIGMA = 25 / 255
PATCH = 8
#: The convolutional denoiser: code size, channels, training budget.
DAE_PARAMS = dict(
    n_components=64,
    hidden_layer_sizes=(64, 128),
    max_epochs=12,
    lr=2e-3,
    batch_size=128,
    device="cpu",
)
#: Patches of the other image the denoiser is trained on, each also
#: transposed and flipped either way (4x as many rows).
TRAIN_PATCHES = 40_000


def psnr(clean, estimate):
    return 10 * np.log10(1.0 / np.mean((clean - estimate) ** 2))


def load_images():
    from skimage.color import rgb2gray

    return {
        name: rgb2gray(image)[::2, ::2]
        for name, image in zip(("china", "flower"), load_sample_images().images)
    }


def gaussian_noise(x, generator):
    """Noise of exactly SIGMA on pixels (a callable ``noise`` of the DAE)."""
    return x + SIGMA * torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def centered_patches(image, size, max_patches=None, seed=0):
    patches = extract_patches_2d(image, (size, size), max_patches=max_patches, random_state=seed)
    rows = patches.reshape(len(patches), -1).astype(np.float32)
    means = rows.mean(axis=1, keepdims=True)
    return rows - means, means


def denoise_with_patches(denoise_rows, noisy, size):
    rows, means = centered_patches(noisy, size)
    clean_rows = denoise_rows(rows) + means
    return reconstruct_from_patches_2d(clean_rows.reshape(-1, size, size), noisy.shape)


def with_flips(rows, size):
    """Rows of patches, and the same patches transposed and flipped."""
    patches = rows.reshape(-1, size, size)
    variants = [patches, patches.transpose(0, 2, 1), patches[:, ::-1], patches[:, :, ::-1]]
    return np.ascontiguousarray(np.concatenate(variants).reshape(-1, size * size))


def conv_dae(train_image, noisy, seed):
    rows, _ = centered_patches(train_image, PATCH, TRAIN_PATCHES, seed)
    rows = with_flips(rows, PATCH)
    dae = DenoisingAutoEncoder(
        input_shape=(PATCH, PATCH), noise=gaussian_noise, random_state=seed, **DAE_PARAMS
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dae.fit(rows)
    return denoise_with_patches(dae.denoise, noisy, PATCH)


def dictionary_learning(train_image, noisy, seed):
    rows, _ = centered_patches(train_image, 7, 20_000, seed)
    scale = rows.std()
    dico = MiniBatchDictionaryLearning(
        n_components=100,
        batch_size=200,
        alpha=1.0,
        max_iter=10,
        random_state=seed,
        transform_algorithm="omp",
        transform_n_nonzero_coefs=2,
    ).fit(rows / scale)

    def denoise_rows(x):
        return dico.transform(x / scale) @ dico.components_ * scale

    return denoise_with_patches(denoise_rows, noisy, 7)


def skimage_peers(noisy):
    """scikit-image's denoisers as ``{name: callable}`` (timed when called)."""
    from skimage.restoration import (
        denoise_nl_means,
        denoise_tv_chambolle,
        denoise_wavelet,
        estimate_sigma,
    )

    def nl_means():
        sigma = estimate_sigma(noisy)
        return denoise_nl_means(
            noisy, h=0.8 * sigma, sigma=sigma, patch_size=5, patch_distance=6, fast_mode=True
        )

    return {
        "total variation (scikit-image)": lambda: denoise_tv_chambolle(noisy, weight=0.1),
        "wavelet, BayesShrink (scikit-image)": lambda: denoise_wavelet(
            noisy, method="BayesShrink", mode="soft", rescale_sigma=True
        ),
        "non-local means (scikit-image)": nl_means,
    }


def run_denoising(seeds):
    images = load_images()
    names = list(images)
    results = {}  # method -> image -> [psnr per seed]
    times = {}
    for seed in range(seeds):
        for i, name in enumerate(names):
            clean, other = images[name], images[names[1 - i]]
            noisy = clean + SIGMA * np.random.default_rng(seed).standard_normal(clean.shape)
            estimates = {"noisy input": lambda: noisy}
            estimates["dictionary learning (scikit-learn)"] = lambda: dictionary_learning(
                other, noisy, seed
            )
            estimates["skae DenoisingAutoEncoder, conv"] = lambda: conv_dae(other, noisy, seed)
            try:
                estimates.update(skimage_peers(noisy))
            except ImportError as exc:
                print(f"  skipped scikit-image peers: {exc}")
            try:
                import bm3d

                estimates["BM3D (bm3d)"] = lambda: bm3d.bm3d(noisy, sigma_psd=SIGMA)
            except ImportError as exc:
                print(f"  skipped BM3D: {exc}")
            for method, make in estimates.items():
                watch = Stopwatch()
                value = psnr(clean, make())
                times.setdefault(method, []).append(watch.seconds)
                results.setdefault(method, {}).setdefault(name, []).append(value)
                print(f"  seed {seed} {name:6s} {method:40s} {value:6.2f} dB", flush=True)
    return names, results, times


# -- digits ---------------------------------------------------------------------
CODE = 8
DIGIT_MODELS = {
    "MLP (default, hidden 128-64)": dict(),
    "conv (input_shape=(8, 8), channels 32-64)": dict(
        input_shape=(8, 8), hidden_layer_sizes=(32, 64)
    ),
}


def run_digits(seeds):
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    mse, auc = {}, {}
    for seed in range(seeds):
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, test_size=0.3, stratify=y, random_state=seed
        )
        for name, params in DIGIT_MODELS.items():

            def model():
                return AutoEncoderTransformer(
                    n_components=CODE, device="cpu", random_state=seed, **params
                )

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ae = model().fit(X_train)
                error = np.mean((ae.inverse_transform(ae.transform(X_test)) - X_test) ** 2)
                mse.setdefault(name, []).append(error)
                for digit in range(10):
                    detector = AEOutlierDetector(model(), random_state=seed)
                    detector.fit(X_train[y_train == digit])
                    score = roc_auc_score(y_test != digit, -detector.score_samples(X_test))
                    auc.setdefault(name, []).append(score)
            print(
                f"  seed {seed} {name:45s} MSE {error:.4f}  mean AUC "
                f"{np.mean(auc[name][-10:]):.3f}",
                flush=True,
            )
    return mse, auc


def main():
    parser = command_line(__doc__, "images.md")
    parser.add_argument("--seeds", type=int, default=1)
    args = parser.parse_args()
    torch_threads()
    watch = Stopwatch()

    print("Denoising the sample images")
    names, results, times = run_denoising(args.seeds)
    print("Digits")
    mse, auc = run_digits(args.seeds)

    denoising = []
    for method, per_image in results.items():
        seconds = np.mean(times[method])
        denoising.append(
            [method, *(f"{np.mean(per_image[n]):.2f}" for n in names)]
            + ["< 0.1" if seconds < 0.05 else f"{seconds:.1f}"]
        )
    command = f"python benchmarks/bench_images.py --seeds {args.seeds}"
    lines = [
        "# Images: denoising photographs, and digits",
        "",
        f"{produced_by(command, watch.seconds)} Protocol at the top of the script.",
        "",
        f"## Denoising, sigma = 25/255 (PSNR in dB, mean of {args.seeds} noise draws)",
        "",
        markdown_table(["method", *names, "seconds per image"], denoising),
        "",
        f"The conv denoiser: `DenoisingAutoEncoder(input_shape=({PATCH}, {PATCH}), "
        + ", ".join(f"{k}={v!r}" for k, v in DAE_PARAMS.items() if k != "device")
        + ", noise=<sigma on pixels>)`, "
        f"trained on {TRAIN_PATCHES:,} patches of the other image and their 3 flips; its "
        "time includes training.",
        "",
        f"## Digits: MLP against convolutional autoencoder ({CODE} numbers per digit)",
        "",
        markdown_table(
            ["network", "held-out reconstruction MSE", "one-class ROC-AUC (mean of 10 digits)"],
            [[n, f"{np.mean(mse[n]):.4f}", f"{np.mean(auc[n]):.3f}"] for n in DIGIT_MODELS],
        ),
        "",
    ]
    publish("\n".join(lines), args)


if __name__ == "__main__":
    main()
