"""Voice conversion with DisentangledAutoEncoder on a synthesized parallel corpus.

espeak-ng reads the same sentences in 8 voices (+1 unseen voice); the model is
trained on the log-mels of the first 80% of the sentences and converts every
held-out utterance to every other voice. Because the corpus is parallel, the
real target utterance exists and the conversion is scored against it:

- two speaker judges trained on real speech (training sentences, all voices):
  utterance-level logistic regression on per-bin mean/std of the log-mel, and
  a frame-level MLP (utterance decision by summed log-probabilities); the
  fraction of conversions judged as the *target* and as the *source*;
- mel-cepstral distortion (MCD, dB; DCT of the log-mel amplitude,
  coefficients 1-24) and log-mel MSE against the real target after DTW;
- speaker accuracy of a frame MLP on the content code (chance 1/8; a probe that
  learned nothing scores the most frequent voice's share of the frames).

Baselines in the same run: the unchanged source, the target's mean frame, and
the per-bin mean/std shift from source to target statistics. An unseen voice
is converted to with ``embed_group`` from ~5 s of its speech.

Run: ``python benchmarks/bench_vc.py`` (needs espeak-ng, librosa, soundfile);
writes ``benchmarks/results/vc.md`` and example audio/spectrograms under
``benchmarks/results/vc/``.
"""

import argparse
import itertools
import os
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _common import (
    RESULTS_DIR,
    Stopwatch,
    command_line,
    markdown_table,
    produced_by,
    torch_threads,
)
from scipy.fft import dct
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import DisentangledAutoEncoder
from skae.datasets import UNSEEN_VOICE, VOICES, make_speech_corpus, mel_to_audio

SEEN = [v[0] for v in VOICES]
UNSEEN = UNSEEN_VOICE[0]
CACHE = Path(os.environ.get("SKAE_CACHE", Path.home() / ".cache" / "skae"))


def load_corpus(n_sentences):
    path = CACHE / f"speech_corpus_{n_sentences}.npz"
    if path.exists():
        data = np.load(path, allow_pickle=True)
        return {k: data[k] for k in data.files}
    corpus = make_speech_corpus(n_sentences, VOICES + (UNSEEN_VOICE,))
    data = dict(
        mels=np.array(corpus.mels, dtype=object),
        speaker=corpus.speaker,
        sentence=corpus.sentence,
        sentences=np.array(corpus.sentences),
    )
    CACHE.mkdir(parents=True, exist_ok=True)
    np.savez(path, **data)
    return data


# -- metrics ---------------------------------------------------------------
def cepstra(log_mel):
    """Mel-cepstral coefficients 1-24 of natural-log mel power frames.

    Log power -> log amplitude, then the DCT-II scaled as the cepstrum (the
    inverse DFT of a log spectrum of ``2 * n_mels`` points), the scaling that
    the usual MCD formula assumes; c0 (energy) is dropped.
    """
    n_mels = log_mel.shape[1]
    return dct(log_mel / 2, type=2, norm="ortho", axis=1)[:, 1:25] / np.sqrt(2 * n_mels)


def aligned_distortion(converted, target):
    """(MCD in dB, log-mel MSE) after DTW on mel-cepstra."""
    import librosa

    ca, cb = cepstra(converted), cepstra(target)
    _, path = librosa.sequence.dtw(X=ca.T, Y=cb.T, metric="euclidean")
    i, j = path[:, 0], path[:, 1]
    mcd = 10 / np.log(10) * np.mean(np.sqrt(2 * np.sum((ca[i] - cb[j]) ** 2, axis=1)))
    mse = np.mean((converted[i] - target[j]) ** 2)
    return mcd, mse


def utterance_features(mels):
    return np.array([np.r_[m.mean(0), m.std(0)] for m in mels])


class Judges:
    """Speaker judges trained on real utterances."""

    def __init__(self, mels, speakers, seed=0):
        self.utt = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
        self.utt.fit(utterance_features(mels), speakers)
        rng = np.random.RandomState(seed)
        frames = np.concatenate(mels)
        labels = np.concatenate([[s] * len(m) for m, s in zip(mels, speakers)])
        keep = rng.choice(len(frames), min(len(frames), 40000), replace=False)
        self.frame = make_pipeline(
            StandardScaler(),
            MLPClassifier((256,), early_stopping=True, max_iter=100, random_state=seed),
        )
        self.frame.fit(frames[keep], labels[keep])

    def predict(self, mels):
        utt = self.utt.predict(utterance_features(mels))
        classes = self.frame.classes_
        frame = np.array([classes[np.argmax(self.frame.predict_log_proba(m).sum(0))] for m in mels])
        return utt, frame


def score_system(name, converted, sources, targets, real_targets, judges):
    utt, frame = judges.predict(converted)
    dist = np.array([aligned_distortion(c, r) for c, r in zip(converted, real_targets)])
    return dict(
        system=name,
        target_lr=np.mean(utt == targets),
        target_mlp=np.mean(frame == targets),
        source_lr=np.mean(utt == sources),
        source_mlp=np.mean(frame == sources),
        mcd=dist[:, 0].mean(),
        mse=dist[:, 1].mean(),
    )


# -- data --------------------------------------------------------------------
class Corpus:
    """The parallel corpus, split by sentence: the first 80% train everything.

    Parameters
    ----------
    data : dict
        ``mels``, ``speaker`` and ``sentence`` per utterance, as
        :func:`load_corpus` returns them.
    n_sentences : int
        Sentences read by each voice.
    """

    def __init__(self, data, n_sentences):
        self.mels = list(data["mels"])
        self.speaker, self.sentence = data["speaker"], data["sentence"]
        self.n_sentences = n_sentences
        self.n_train = int(round(0.8 * n_sentences))
        self.is_train = self.sentence < self.n_train
        self.is_seen = np.isin(self.speaker, SEEN)
        self._index = {(s, k): i for i, (s, k) in enumerate(zip(self.speaker, self.sentence))}

    @property
    def test_sentences(self):
        """The held-out sentence numbers."""
        return range(self.n_train, self.n_sentences)

    @property
    def seen_train(self):
        """Indices of the seen voices' training utterances."""
        return np.flatnonzero(self.is_train & self.is_seen)

    def mel(self, speaker, sentence):
        """The log-mel of ``speaker`` reading sentence number ``sentence``."""
        return self.mels[self._index[speaker, sentence]]


class Normalizer:
    """Per-bin standardization of log-mel frames, fitted on ``frames``."""

    def __init__(self, frames):
        self.mu, self.sd = frames.mean(0), frames.std(0)

    def __call__(self, m):
        """The standardized frames ``m``, float32."""
        return ((m - self.mu) / self.sd).astype(np.float32)

    def inverse(self, m):
        """Frames ``m`` back on the log-mel scale."""
        return m * self.sd + self.mu


def prepare_corpus(n_sentences):
    """Load (or synthesise) the corpus and split it."""
    watch = Stopwatch()
    corpus = Corpus(load_corpus(n_sentences), n_sentences)
    print(f"corpus: {len(corpus.mels)} utterances ({watch.seconds:.0f} s)", flush=True)
    return corpus


def speaker_stats(corpus):
    """``{speaker: (mean, std)}`` of each voice's training frames, for the baselines."""
    stats = {}
    for s in SEEN + [UNSEEN]:
        f = np.concatenate([corpus.mel(s, k) for k in range(corpus.n_train)])
        stats[s] = (f.mean(0), f.std(0))
    return stats


# -- training ----------------------------------------------------------------
def train_judges(corpus):
    """Judges of all 9 voices, from the training sentences only; print their accuracy."""
    judges = Judges(
        [corpus.mels[i] for i in np.flatnonzero(corpus.is_train)], corpus.speaker[corpus.is_train]
    )
    test_real = np.flatnonzero(~corpus.is_train)
    utt, frame = judges.predict([corpus.mels[i] for i in test_real])
    truth = corpus.speaker[test_real]
    print(
        f"judges on real held-out speech: utt {np.mean(utt == truth):.3f}, "
        f"frame {np.mean(frame == truth):.3f}",
        flush=True,
    )
    return judges


def fit_model(args, corpus, norm):
    """Fit the model on the seen voices' training sentences; return it and the seconds."""
    if args.defaults:
        model = DisentangledAutoEncoder(method=args.method, device="cpu", random_state=0)
    else:
        model = hand_set_model(args)
    train_idx = corpus.seen_train
    watch = Stopwatch()
    model.fit([norm(corpus.mels[i]) for i in train_idx], corpus.speaker[train_idx])
    fit_s = watch.seconds
    loss = model.history_[-1, "train_loss"]
    print(f"fit: {fit_s:.0f} s, {model.n_iter_} epochs, loss {loss:.4f}", flush=True)
    return model, fit_s


def model_line(args):
    if args.variance_compensation != "auto":
        return (
            model_line(argparse.Namespace(**{**vars(args), "variance_compensation": "auto"}))
            + ",\nseen voices converted with "
            f"`convert(..., variance_compensation={args.variance_compensation})`"
        )
    if args.defaults:
        return f"`DisentangledAutoEncoder(method={args.method!r})`, every other parameter at its default"
    return (
        f"`DisentangledAutoEncoder(method={args.method!r}, n_components={args.n_components},\n"
        f"adversary_weight={args.adversary_weight} (adversarial only),\n"
        f"group_dim={args.group_dim}, hidden_layer_sizes={tuple(args.hidden)}, segment_length=64)`"
    )


def reproduce_args(args):
    extra = (
        f" --variance-compensation {args.variance_compensation}"
        if args.variance_compensation != "auto"
        else ""
    )
    if args.defaults:
        return f"--defaults --method {args.method}{extra}"
    return f"--method {args.method} --n-components {args.n_components}{extra}"


def hand_set_model(args):
    """The model with the sizes and training set on the command line."""
    return DisentangledAutoEncoder(
        n_components=args.n_components,
        group_dim=args.group_dim,
        method=args.method,
        adversary_weight=args.adversary_weight,
        segment_length=64,
        hidden_layer_sizes=tuple(args.hidden),
        batch_size=32,
        lr=1e-3,
        max_epochs=args.max_epochs,
        n_iter_no_change=5,
        device="cpu",
        random_state=0,
    )


def save_model(path, model, norm):
    """Pickle the fitted model with the normalisation it expects."""
    with open(path, "wb") as f:
        pickle.dump(dict(model=model, mu=norm.mu, sd=norm.sd), f)


# -- evaluation --------------------------------------------------------------
def code_frames(model, corpus, norm, idx):
    """Content-code frames of the utterances ``idx``, and their speakers."""
    Z = model.transform([norm(corpus.mels[i]) for i in idx])
    labels = [[corpus.speaker[i]] * len(z) for i, z in zip(idx, Z)]
    return np.concatenate(Z), np.concatenate(labels)


def code_accuracy(model, corpus, norm):
    """Speaker accuracy of a frame MLP on the content code, held-out sentences;
    and the held-out share of the most frequent speaker's frames (what a probe
    that learned nothing scores: the voices speak at different speeds)."""
    Ztr, ytr = code_frames(model, corpus, norm, corpus.seen_train)
    Zte, yte = code_frames(model, corpus, norm, np.flatnonzero(~corpus.is_train & corpus.is_seen))
    rng = np.random.RandomState(0)
    keep = rng.choice(len(Ztr), min(len(Ztr), 30000), replace=False)
    probe = MLPClassifier((256,), early_stopping=True, max_iter=100, random_state=0)
    code_acc = probe.fit(Ztr[keep], ytr[keep]).score(Zte, yte)
    majority = np.unique(yte, return_counts=True)[1].max() / len(yte)
    print(
        f"content code -> speaker: {code_acc:.3f} (most frequent voice {majority:.3f})", flush=True
    )
    return code_acc, majority


@dataclass
class Converter:
    """What converting uses: the corpus, its normalisation, the model and the
    per-speaker statistics of the baselines; ``label`` names the model's row and
    ``variance_compensation`` is passed to ``convert`` for the seen voices."""

    corpus: Corpus
    norm: Normalizer
    model: DisentangledAutoEncoder
    stats: dict
    label: str
    variance_compensation: object = "auto"

    def convert(self, pairs, target_code=None, shift_stats=None):
        """Each system's conversions of ``(source, target, sentence)`` pairs, by name."""
        src_m = [self.corpus.mel(s, k) for s, _, k in pairs]
        sources = np.array([s for s, _, _ in pairs])
        targets = np.array([t for _, t, _ in pairs])
        stats, shift_stats = self.stats, shift_stats or self.stats
        if target_code is None:
            converted = self.model.convert(
                [self.norm(m) for m in src_m],
                targets,
                variance_compensation=self.variance_compensation,
            )
        else:
            converted = self.model.convert([self.norm(m) for m in src_m], group_code=target_code)
        return {
            self.label: [self.norm.inverse(c) for c in converted],
            "baseline: unchanged source": src_m,
            "baseline: target mean frame": [
                np.repeat(shift_stats[t][0][None], len(m), 0) for m, t in zip(src_m, targets)
            ],
            "baseline: mean/std shift": [
                (m - stats[s][0]) / stats[s][1] * shift_stats[t][1] + shift_stats[t][0]
                for m, s, t in zip(src_m, sources, targets)
            ],
        }


def score(systems, pairs, corpus, judges):
    """One :func:`score_system` row per system, against the real targets."""
    real = [corpus.mel(t, k) for _, t, k in pairs]
    sources = np.array([s for s, _, _ in pairs])
    targets = np.array([t for _, t, _ in pairs])
    return [score_system(n, c, sources, targets, real, judges) for n, c in systems.items()]


def evaluate_seen(converter, judges):
    """Rows for conversions between every ordered pair of seen voices, on every
    held-out sentence; also the systems' conversions and the pairs."""
    corpus = converter.corpus
    pairs = [(s, t, k) for k in corpus.test_sentences for s, t in itertools.permutations(SEEN, 2)]
    watch = Stopwatch()
    systems = converter.convert(pairs)
    rows = score(systems, pairs, corpus, judges)
    print(f"seen pairs evaluated in {watch.seconds:.0f} s", flush=True)
    return rows, systems, pairs


def unseen_examples(corpus, norm, min_frames=500):
    """The unseen voice's first training utterances, normalised, up to ``min_frames``
    frames (~5 s); and their number of frames."""
    examples, n_frames = [], 0
    for k in range(corpus.n_train):
        examples.append(norm(corpus.mel(UNSEEN, k)))
        n_frames += len(examples[-1])
        if n_frames >= min_frames:
            break
    return examples, n_frames


def evaluate_unseen(converter, judges):
    """Rows for conversions to the unseen voice from ``embed_group`` of ~5 s of it;
    also the number of conversions and of example frames."""
    corpus, norm = converter.corpus, converter.norm
    examples, n_frames = unseen_examples(corpus, norm)
    code = converter.model.embed_group(examples)
    ex_frames = norm.inverse(np.concatenate(examples))
    unseen_stats = dict(converter.stats)
    unseen_stats[UNSEEN] = (ex_frames.mean(0), ex_frames.std(0))
    pairs = [(s, UNSEEN, k) for k in corpus.test_sentences for s in SEEN]
    systems = converter.convert(pairs, target_code=code, shift_stats=unseen_stats)
    return score(systems, pairs, corpus, judges), len(pairs), n_frames


# -- benchmark -----------------------------------------------------------------
def compensation(text):
    """``--variance-compensation``: "auto" or a number."""
    return text if text == "auto" else float(text)


def parse_args(argv=None):
    """The command line: corpus size, model settings and output paths."""
    parser = command_line(__doc__, "vc.md")
    parser.add_argument("--n-sentences", type=int, default=40)
    parser.add_argument("--method", default="instance_norm")
    parser.add_argument("--n-components", type=int, default=3)
    parser.add_argument("--group-dim", type=int, default=32)
    parser.add_argument("--adversary-weight", type=float, default=0.3)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256])
    parser.add_argument("--max-epochs", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--defaults",
        action="store_true",
        help="every model parameter but --method at its default (sizes/epochs ignored)",
    )
    parser.add_argument(
        "--variance-compensation",
        type=compensation,
        default="auto",
        help="convert(..., variance_compensation=) for the seen voices: 'auto' or a number",
    )
    parser.add_argument("--examples", default=str(RESULTS_DIR / "vc"), help="audio/figure folder")
    parser.add_argument("--save-model", default=None, help="pickle the fitted model here")
    return parser.parse_args(argv)


def main(argv=None):
    """Prepare the corpus, train the judges and the model, evaluate, write."""
    args = parse_args(argv)
    torch_threads(args.threads)
    # A judge's log-probability of -inf for a far-off frame is a valid vote.
    warnings.filterwarnings("ignore", message="divide by zero", category=RuntimeWarning)

    run = Stopwatch()
    corpus = prepare_corpus(args.n_sentences)
    judges = train_judges(corpus)
    norm = Normalizer(np.concatenate([corpus.mels[i] for i in corpus.seen_train]))
    model, fit_s = fit_model(args, corpus, norm)
    if args.save_model:
        save_model(args.save_model, model, norm)
    code_acc = code_accuracy(model, corpus, norm)
    converter = Converter(
        corpus,
        norm,
        model,
        speaker_stats(corpus),
        f"DisentangledAutoEncoder ({args.method})",
        args.variance_compensation,
    )
    rows, systems, pairs = evaluate_seen(converter, judges)
    unseen_rows, n_unseen, n_frames = evaluate_unseen(converter, judges)

    write_table(
        args,
        rows,
        unseen_rows,
        code_acc,
        fit_s,
        model,
        len(pairs),
        n_unseen,
        n_frames,
        run.seconds,
    )
    if not args.no_write:
        write_examples(systems, pairs, corpus, Path(args.examples))


# -- writing -------------------------------------------------------------------
def table(rows):
    """A Markdown table of :func:`score_system` rows."""
    header = ["system", "judged target (LR)", "judged target (MLP)", "judged source (LR)"]
    header += ["judged source (MLP)", "MCD (dB)", "log-mel MSE"]
    cells = [
        [r["system"]]
        + [f"{r[key]:.3f}" for key in ("target_lr", "target_mlp", "source_lr", "source_mlp")]
        + [f"{r['mcd']:.2f}", f"{r['mse']:.3f}"]
        for r in rows
    ]
    return markdown_table(header, cells)


def write_table(args, rows, unseen_rows, code_acc, fit_s, model, n_pairs, n_unseen, n_ex, total_s):
    title = "at the defaults" if args.defaults else "(benchmarks/bench_vc.py)"
    text = f"""# Voice conversion {title}

espeak-ng parallel corpus: {len(VOICES)} voices + 1 unseen, {args.n_sentences} sentences each,
16 kHz, 80-bin log-mel (fmin 55 Hz, 10 ms hop); trained on the first 80% of the sentences,
scored on the last 20% ({n_pairs} seen-voice conversions, all ordered pairs).
Model: {model_line(args)},
{model.n_iter_} epochs, fit {fit_s:.0f} s.
{produced_by(f"python benchmarks/bench_vc.py {reproduce_args(args)}", total_s)}

## Seen voices

{table(rows)}

Content code -> speaker (frame MLP, held-out sentences; chance 0.125, always answering the
most frequent voice {code_acc[1]:.3f}): **{code_acc[0]:.3f}**

## Unseen voice (`embed_group` from {n_ex} frames = {n_ex / 100:.1f} s)

{n_unseen} conversions of held-out sentences from the 8 seen voices to `{UNSEEN_VOICE[0]}`
(the judges know the unseen voice from its training sentences; the shift baseline uses the
same {n_ex / 100:.1f} s for the target statistics).

{table(unseen_rows)}

Targets from issue 6: judged target >= 0.90, judged source <= 0.05, MCD <= 3.2 dB and clearly
below the shift baseline, content code -> speaker <= 0.25.
"""
    print(text)
    if args.no_write:
        return
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    kept = ""
    if (
        out.exists()
    ):  # what follows the tables stays: notes added by hand, bench_oneshot.py's section
        old = out.read_text()
        starts = [
            i for i in (old.find("\n## Notes"), old.find("<!-- bench_oneshot: begin -->")) if i >= 0
        ]
        if starts:
            kept = "\n" + old[min(starts) :].lstrip("\n")
    out.write_text(text + kept)


def write_example(out, stem, panels):
    """``<stem>.png`` of the log-mels of ``panels`` side by side, and
    ``<stem>_source/converted/target.wav`` (Griffin-Lim) of the three."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import soundfile

    out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(12, 3), sharey=True)
    for ax, (title, m) in zip(axes, panels):
        ax.imshow(m.T, origin="lower", aspect="auto", vmin=-11.5, vmax=3)
        ax.set_title(title)
        ax.set_xlabel("frame (10 ms)")
    axes[0].set_ylabel("mel bin")
    fig.tight_layout()
    fig.savefig(out / f"{stem}.png", dpi=80)
    plt.close(fig)
    for name, (_, m) in zip(("source", "converted", "target"), panels):
        soundfile.write(out / f"{stem}_{name}.wav", mel_to_audio(m), 16000, subtype="PCM_16")


def write_examples(systems, pairs, corpus, out, n_examples=2):
    converted = next(iter(systems.values()))
    # One male->female and one female->male example when available.
    picks = [i for i, (s, t, _) in enumerate(pairs) if s.startswith("m") and t.startswith("f")][:1]
    picks += [i for i, (s, t, _) in enumerate(pairs) if s.startswith("f") and t.startswith("m")][:1]
    for n, i in enumerate(picks[:n_examples]):
        s, t, k = pairs[i]
        panels = [
            ("source " + s, corpus.mel(s, k)),
            ("converted to " + t, converted[i]),
            ("real " + t, corpus.mel(t, k)),
        ]
        write_example(out, f"example{n}_{s}_to_{t}", panels)


if __name__ == "__main__":
    main()
