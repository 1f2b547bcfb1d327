"""Generating digits: VariationalAutoEncoder against AutoEncoderTransformer.sample.

scikit-learn's 8 x 8 digits scaled to [0, 1], split 70/30 (stratified, per
seed). Both models have ``n_components=8`` and their defaults otherwise;
each generates as many rows as there are held-out digits.

- **Two-sample test** (lower is better, 0.5 = indistinguishable): accuracy
  of a 5-nearest-neighbour classifier telling held-out real digits from
  generated ones, 5-fold cross-validated.
- **Copies?** Median distance from a generated row to its nearest training
  row, beside the same for held-out real rows: generated rows much closer to
  the training rows than real new rows are would be copies.
- **Density of held-out digits** (nats per digit, higher is better): the
  VAE's importance-weighted bound (``score_samples``, 16 draws); for the
  plain autoencoder, the Gaussian mixture its ``sample`` draws codes from,
  decoded with Gaussian noise of the per-pixel training residual variance,
  ``log mean_z N(x; decode(z), s^2)`` over 2,000 codes drawn from the mixture
  (both with a standard deviation of at least 1e-3 per pixel).

Usage::

    python benchmarks/bench_generate.py [--seeds 3] [--out benchmarks/results/generate.md]
"""

import warnings

import numpy as np
from _common import Stopwatch, command_line, markdown_table, produced_by, publish, torch_threads
from scipy.special import logsumexp
from sklearn.datasets import load_digits
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.neighbors import KNeighborsClassifier, NearestNeighbors

from skae import AutoEncoderTransformer, VariationalAutoEncoder

CODE = 8
MIN_SCALE = 1e-3


def two_sample_accuracy(real, generated, seed):
    X = np.vstack([real, generated])
    y = np.r_[np.zeros(len(real)), np.ones(len(generated))]
    cv_scores = cross_val_score(KNeighborsClassifier(5), X, y, cv=5)
    return float(cv_scores.mean())


def median_nearest_distance(rows, train):
    distances, _ = NearestNeighbors(n_neighbors=1).fit(train).kneighbors(rows)
    return float(np.median(distances))


def ae_log_density(ae, X_train, X_test, n_codes=2000, seed=0):
    """log p(x) of the AE + mixture + Gaussian pixel noise, by Monte Carlo."""
    residual = ae.inverse_transform(ae.transform(X_train)) - X_train
    scale = np.maximum(residual.std(axis=0), MIN_SCALE)
    Z = ae._draw_codes(n_codes, np.random.RandomState(seed))
    means = ae.inverse_transform(Z).astype(np.float64)  # (n_codes, n_features)
    out = []
    for x in X_test.astype(np.float64):
        log_px = (-0.5 * ((x - means) / scale) ** 2 - np.log(scale) - 0.5 * np.log(2 * np.pi)).sum(
            axis=1
        )
        out.append(logsumexp(log_px) - np.log(n_codes))
    return np.array(out)


def main():
    parser = command_line(__doc__, "generate.md")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    torch_threads()
    watch = Stopwatch()
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    rows = {
        "AutoEncoderTransformer(n_components=8).sample": [],
        "VariationalAutoEncoder(n_components=8).sample": [],
    }
    real = []
    for seed in range(args.seeds):
        X_train, X_test = train_test_split(X, test_size=0.3, stratify=y, random_state=seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ae = AutoEncoderTransformer(n_components=CODE, device="cpu", random_state=seed)
            ae.fit(X_train)
            vae = VariationalAutoEncoder(n_components=CODE, device="cpu", random_state=seed)
            vae.fit(X_train)
        real.append(median_nearest_distance(X_test, X_train))
        for name, model, density in [
            (next(iter(rows)), ae, lambda: ae_log_density(ae, X_train, X_test, seed=seed)),
            (list(rows)[1], vae, lambda: vae.score_samples(X_test)),
        ]:
            generated = model.sample(len(X_test), random_state=seed)
            result = (
                two_sample_accuracy(X_test, generated, seed),
                median_nearest_distance(generated, X_train),
                float(np.mean(density())),
                model.n_iter_,
            )
            rows[name].append(result)
            print(
                f"  seed {seed} {name:48s} 5-NN acc {result[0]:.3f}  nearest {result[1]:.3f}  "
                f"log p {result[2]:.1f}  epochs {result[3]}",
                flush=True,
            )

    header = [
        "generator",
        "5-NN two-sample accuracy (0.5 best)",
        "median distance to nearest training digit",
        "held-out log-density (nats/digit)",
        "epochs",
    ]
    cells = []
    for name, results in rows.items():
        acc, near, dens, epochs = np.mean(results, axis=0)
        cells.append([name, f"{acc:.3f}", f"{near:.3f}", f"{dens:.1f}", f"{epochs:.0f}"])
    cells.append(["real held-out digits (reference)", "-", f"{np.mean(real):.3f}", "-", "-"])
    command = f"python benchmarks/bench_generate.py --seeds {args.seeds}"
    lines = [
        "# Generating digits: VAE against the autoencoder's mixture of codes",
        "",
        f"{produced_by(command, watch.seconds)} Protocol at the top of the script; mean over seeds.",
        "",
        markdown_table(header, cells),
        "",
    ]
    publish("\n".join(lines), args)


if __name__ == "__main__":
    main()
