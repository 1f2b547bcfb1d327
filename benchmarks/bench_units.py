"""Do VQ codes on speech become phone-like units? VQ against k-means, by phone labels.

espeak-ng reads 40 sentences in 16 voices (the first 16 of ``speech_voices(80)``)
and reports where each phoneme starts, so every 10 ms log-mel frame has its
phone (``make_speech_corpus(return_phones=True)``). Every system below turns
each frame into one of K units, learned without labels on the first 32
sentences; the phone labels only score the units, on the 8 held-out sentences:

- phone accuracy: each unit is mapped to the phone it most often carries in
  the *training* frames; the fraction of held-out frames whose unit's phone is
  their phone;
- phone purity (per unit, the share of its most common phone) and unit purity
  (per phone, the share of its most common unit), frame-weighted, held-out;
- NMI: normalized mutual information between phones and units (held-out;
  scikit-learn's arithmetic normalisation, ``2 I / (H(phone) + H(unit))``),
  and PNMI, the phone-normalized mutual information ``I / H(phone)`` used
  for speech units (HuBERT): the share of the phone's uncertainty a unit
  removes, not penalised for using many units evenly.

Systems, at K = 32, 64 and 128:

- k-means on the log-mel frame (per-bin standardized);
- k-means on stacked frames (7 frames, +-3 around each, utterance mean removed):
  the same frames the VQ autoencoder sees;
- ``VQTransformer(n_codes=K)`` on those stacked frames (VQ-VAE of frames);
- ``DisentangledAutoEncoder(method="instance_norm", n_codes=K)`` on the
  utterances: a VQ bottleneck on the per-frame content code of a
  convolutional autoencoder whose decoder is told the voice, so the units
  need not carry it (the VQ-VAE paper's speech setting); one row per
  ``code_jitter`` (``--jitters``, default 0, 0.7 and 1): in training each
  frame's code is swapped for a neighbour's with that probability
  (time-jitter, Chorowski et al. 2019), so the codes describe the slower,
  phone-level content.

Run: ``python benchmarks/bench_units.py`` (``--workers 2 --threads 1`` fits two
systems at a time; needs espeak-ng and librosa; the
corpus is cached with ``make_speech_corpus(cache_dir=True)``); writes
``benchmarks/results/units.md`` and ``units.png``.
"""

import os
import warnings

import numpy as np
from _common import (
    Stopwatch,
    command_line,
    in_processes,
    markdown_table,
    produced_by,
    publish,
    torch_threads,
)
from sklearn.cluster import KMeans
from sklearn.metrics import mutual_info_score, normalized_mutual_info_score

from skae import DisentangledAutoEncoder, VQTransformer
from skae.datasets import make_speech_corpus, speech_voices

N_SENTENCES, N_TRAIN_SENTENCES, CONTEXT = 40, 32, 3
KMEANS_ROWS = 40000


def stacked(mel):
    """Frames with their +-CONTEXT neighbours side by side, utterance mean removed."""
    mel = mel - mel.mean(0)
    padded = np.pad(mel, ((CONTEXT, CONTEXT), (0, 0)), mode="edge")
    return np.concatenate([padded[i : i + len(mel)] for i in range(2 * CONTEXT + 1)], axis=1)


def _entropy(labels):
    p = np.unique(labels, return_counts=True)[1] / len(labels)
    return float(-(p * np.log(p)).sum())


def unit_scores(units_train, phones_train, units_test, phones_test):
    """Phone accuracy, phone purity, unit purity, NMI, PNMI and units used (see the docstring)."""
    majority = {}
    for u in np.unique(units_train):
        names, counts = np.unique(phones_train[units_train == u], return_counts=True)
        majority[u] = names[counts.argmax()]
    names, counts = np.unique(phones_train, return_counts=True)
    fallback = names[counts.argmax()]
    predicted = np.array([majority.get(u, fallback) for u in units_test])

    def purity(a, b):  # frame-weighted share of each a-value's most common b-value
        total = 0
        for value in np.unique(a):
            _, counts = np.unique(b[a == value], return_counts=True)
            total += counts.max()
        return total / len(a)

    return dict(
        accuracy=float(np.mean(predicted == phones_test)),
        phone_purity=purity(units_test, phones_test),
        unit_purity=purity(phones_test, units_test),
        nmi=normalized_mutual_info_score(phones_test, units_test),
        pnmi=mutual_info_score(phones_test, units_test) / _entropy(phones_test),
        used=len(np.unique(units_train)),
    )


class Frames:
    """The corpus's training and held-out utterances, frames and phones."""

    def __init__(self, n_voices):
        corpus = make_speech_corpus(
            N_SENTENCES,
            speech_voices(80),
            return_phones=True,
            cache_dir=True,
            n_jobs=os.cpu_count(),
        )
        voices = corpus.speakers[:n_voices]
        keep = np.isin(corpus.speaker, voices)
        self.train = np.flatnonzero(keep & (corpus.sentence < N_TRAIN_SENTENCES))
        self.test = np.flatnonzero(keep & (corpus.sentence >= N_TRAIN_SENTENCES))
        self.speakers_train = corpus.speaker[self.train]
        raw_train = np.concatenate([corpus.mels[i] for i in self.train])
        mu, sd = raw_train.mean(0), raw_train.std(0)
        self.phones_train = np.concatenate([corpus.phones[i] for i in self.train])
        self.phones_test = np.concatenate([corpus.phones[i] for i in self.test])
        n_rows = min(KMEANS_ROWS, len(self.phones_train))
        self.rows = np.random.RandomState(0).choice(len(self.phones_train), n_rows, False)
        # What every codebook size uses, made once: standardized utterances
        # (the autoencoder's input), their frames, and the stacked frames.
        self.mels_train = [((corpus.mels[i] - mu) / sd).astype(np.float32) for i in self.train]
        self.mels_test = [((corpus.mels[i] - mu) / sd).astype(np.float32) for i in self.test]
        self.frames_train = np.concatenate(self.mels_train)
        self.frames_test = np.concatenate(self.mels_test)
        ctx_train = np.concatenate([stacked(corpus.mels[i]) for i in self.train])
        ctx_test = np.concatenate([stacked(corpus.mels[i]) for i in self.test])
        ctx_mu, ctx_sd = ctx_train.mean(0), ctx_train.std(0)
        self.ctx_train = ((ctx_train - ctx_mu) / ctx_sd).astype(np.float32)
        self.ctx_test = ((ctx_test - ctx_mu) / ctx_sd).astype(np.float32)


def kmeans_units(K, X_train, X_test, rows):
    model = KMeans(K, n_init=1, random_state=0).fit(X_train[rows])
    return model.predict(X_train), model.predict(X_test)


DAE_NAME = "DisentangledAutoEncoder, VQ content code"
_FRAMES = None  # each process's Frames, made once by _setup


def _setup(n_voices, threads):
    """This process's threads, warnings and frames (made once per process)."""
    global _FRAMES
    torch_threads(threads)
    # The VQ models stop at their epoch budget by design; the report says it once.
    warnings.filterwarnings("ignore", message=".*reached max_epochs.*")
    if _FRAMES is None:
        _FRAMES = Frames(n_voices)
    return _FRAMES


def system_names(jitters):
    """The systems of one codebook size: k-means twice, VQTransformer, the VQ
    content code of the disentangled model at each ``code_jitter``."""
    return [
        "k-means, log-mel frame",
        "k-means, stacked frames",
        "VQTransformer, stacked frames",
        *(f"{DAE_NAME}, code_jitter={j:g}" for j in jitters),
    ]


def fit_units(K, system, vq_epochs, dae_epochs):
    """``(units_train, units_test, fit seconds)`` of one system at codebook size ``K``
    (``vq_epochs``, ``dae_epochs``: the VQTransformer's and the disentangled model's budgets)."""
    frames = _FRAMES
    ctx_train, ctx_test = frames.ctx_train, frames.ctx_test
    watch = Stopwatch()
    if system == "k-means, log-mel frame":
        units = kmeans_units(K, frames.frames_train, frames.frames_test, frames.rows)
    elif system == "k-means, stacked frames":
        units = kmeans_units(K, ctx_train, ctx_test, frames.rows)
    elif system == "VQTransformer, stacked frames":
        vq = VQTransformer(K, max_epochs=vq_epochs, device="cpu", random_state=0)
        vq.fit(ctx_train[frames.rows])
        units = vq.transform(ctx_train)[:, 0], vq.transform(ctx_test)[:, 0]
    else:
        jitter = float(system.rsplit("=", 1)[1])
        dae = DisentangledAutoEncoder(
            n_components=32,
            group_dim=32,
            method="instance_norm",
            n_codes=K,
            code_jitter=jitter,
            hidden_layer_sizes=(256, 256),
            segment_length=64,
            batch_size=64,
            max_epochs=dae_epochs,
            device="cpu",
            random_state=0,
        )
        dae.fit(frames.mels_train, frames.speakers_train)
        units = (
            np.concatenate(dae.content_codes(frames.mels_train)),
            np.concatenate(dae.content_codes(frames.mels_test)),
        )
    return (*units, watch.seconds)


def _fit_job(K, system, vq_epochs, dae_epochs, n_voices, threads):
    _setup(n_voices, threads)
    return fit_units(K, system, vq_epochs, dae_epochs)


def usage_figure(path, units_test, phones_test, K, title):
    """P(unit | phone) for the most frequent phones, units ordered by their phone."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names, counts = np.unique(phones_test, return_counts=True)
    top = names[np.argsort(-counts)][:30]
    table = np.zeros((len(top), K))
    for r, p in enumerate(top):
        table[r] = np.bincount(units_test[phones_test == p], minlength=K)
        table[r] /= max(table[r].sum(), 1)
    order = np.lexsort((-table.max(0), table.argmax(0)))
    fig, ax = plt.subplots(figsize=(12, 6))
    ax.imshow(table[:, order], aspect="auto", cmap="magma_r", vmin=0, vmax=1)
    ax.set_yticks(range(len(top)), top)
    ax.set_xlabel(f"unit (of {K}, ordered by the phone they carry most)")
    ax.set_ylabel("phone (espeak-ng)")
    ax.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv=None):
    parser = command_line(__doc__, "units.md")
    parser.add_argument("--sizes", type=int, nargs="+", default=[32, 64, 128])
    parser.add_argument("--voices", type=int, default=16)
    parser.add_argument("--vq-epochs", type=int, default=30)
    parser.add_argument("--dae-epochs", type=int, default=20)
    parser.add_argument(
        "--jitters",
        type=float,
        nargs="+",
        default=[0.0, 0.7, 1.0],
        help="code_jitter of the disentangled model: one row per value",
    )
    parser.add_argument("--threads", type=int, default=2, help="torch threads per process")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="fit the systems in this many processes (fit times then share the CPU)",
    )
    args = parser.parse_args(argv)
    run = Stopwatch()
    names = system_names(args.jitters)
    # The slow fits first, so that parallel workers finish together.
    keys = sorted(
        ((K, name) for K in args.sizes for name in names),
        key=lambda key: (not key[1].startswith(DAE_NAME), -key[0]),
    )
    frames = _setup(args.voices, args.threads)  # also checks the corpus before the workers start
    jobs = [
        (K, name, args.vq_epochs, args.dae_epochs, args.voices, args.threads) for K, name in keys
    ]
    done = dict(zip(keys, in_processes(_fit_job, jobs, args.workers)))
    n_phones = len(np.unique(frames.phones_train))
    rows = []
    for K in args.sizes:
        for name in names:
            units_train, units_test, seconds = done[K, name]
            s = unit_scores(units_train, frames.phones_train, units_test, frames.phones_test)
            rows.append(
                [K, name]
                + [f"{s[key]:.3f}" for key in ("accuracy", "nmi", "pnmi", "phone_purity")]
                + [f"{s['unit_purity']:.3f}", s["used"], f"{seconds:.0f}"]
            )
            print(rows[-1], flush=True)
        if K == args.sizes[len(args.sizes) // 2] and not args.no_write:
            name = names[-1]
            usage_figure(
                args.out.with_suffix(".png"),
                done[K, name][1],
                frames.phones_test,
                K,
                f"{name}, K={K}: P(unit | phone), held-out frames",
            )
    header = ["K", "units", "phone accuracy", "NMI", "PNMI", "phone purity", "unit purity"]
    header += ["units used", "fit s"]
    majority = np.unique(frames.phones_test, return_counts=True)[1].max() / len(frames.phones_test)
    text = (
        f"""# Phone-like units: VQ codes against k-means (benchmarks/bench_units.py)

espeak-ng corpus: the first {args.voices} voices of `speech_voices(80)`, 40 sentences each;
units learned without labels on sentences 1-{N_TRAIN_SENTENCES} ({len(frames.phones_train)} frames),
scored on sentences {N_TRAIN_SENTENCES + 1}-40 ({len(frames.phones_test)} frames) against
espeak-ng's phone of each 10 ms frame ({n_phones} phones; always guessing the most common one:
accuracy {majority:.3f}). k-means: scikit-learn `KMeans(K, n_init=1)` on {KMEANS_ROWS} training
frames. VQTransformer: defaults but `max_epochs={args.vq_epochs}`, fitted on the same {KMEANS_ROWS}
stacked frames. DisentangledAutoEncoder: `method="instance_norm", n_codes=K, n_components=32,
group_dim=32, hidden_layer_sizes=(256, 256), batch_size=64, max_epochs={args.dae_epochs}` and the
`code_jitter` of its row (time-jitter of the codes in training), fitted
on all training utterances with their voices (k-means and VQTransformer see {KMEANS_ROWS} of their
frames). Every model stops at its epoch budget (no early stopping; the reports of it are silenced).
{args.threads} CPU threads per process, {args.workers} process(es) side by side.
{produced_by("python benchmarks/bench_units.py", run.seconds)}

"""
        + markdown_table(header, rows, align="llrrrrrrr")
        + f"""

![P(unit | phone)]({args.out.with_suffix(".png").name})
"""
    )
    publish(text, args)


if __name__ == "__main__":
    main()
