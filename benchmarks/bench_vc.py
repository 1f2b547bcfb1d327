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
- speaker accuracy of a frame MLP on the content code (chance 1/8).

Baselines in the same run: the unchanged source, the target's mean frame, and
the per-bin mean/std shift from source to target statistics. An unseen voice
is converted to with ``embed_group`` from ~5 s of its speech.

Run: ``python benchmarks/bench_vc.py`` (needs espeak-ng, librosa, soundfile);
writes ``benchmarks/results/vc.md`` and example audio/spectrograms under
``benchmarks/results/vc/``.
"""

import argparse
import itertools
import warnings
import os
import pickle
import time
from pathlib import Path

import numpy as np
import torch
from scipy.fft import dct
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from skae import DisentangledAutoEncoder
from skae.datasets import UNSEEN_VOICE, VOICES, make_speech_corpus, mel_to_audio

RESULTS = Path(__file__).parent / "results"
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
            StandardScaler(), MLPClassifier((256,), early_stopping=True, max_iter=100, random_state=seed)
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


# -- benchmark -------------------------------------------------------------
def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-sentences", type=int, default=40)
    parser.add_argument("--method", default="instance_norm")
    parser.add_argument("--n-components", type=int, default=3)
    parser.add_argument("--group-dim", type=int, default=32)
    parser.add_argument("--adversary-weight", type=float, default=0.3)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256])
    parser.add_argument("--max-epochs", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(RESULTS / "vc.md"))
    parser.add_argument("--examples", default=str(RESULTS / "vc"), help="audio/figure folder")
    parser.add_argument("--save-model", default=None, help="pickle the fitted model here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    # A judge's log-probability of -inf for a far-off frame is a valid vote.
    warnings.filterwarnings("ignore", message="divide by zero", category=RuntimeWarning)

    t0 = time.time()
    data = load_corpus(args.n_sentences)
    mels, speaker, sentence = list(data["mels"]), data["speaker"], data["sentence"]
    print(f"corpus: {len(mels)} utterances ({time.time() - t0:.0f} s)", flush=True)
    seen = [v[0] for v in VOICES]
    unseen = UNSEEN_VOICE[0]
    n_train = int(round(0.8 * args.n_sentences))
    is_train = sentence < n_train
    is_seen = np.isin(speaker, seen)
    index = {(s, k): i for i, (s, k) in enumerate(zip(speaker, sentence))}

    # Judges know all 9 voices, from the training sentences only.
    judges = Judges([mels[i] for i in np.flatnonzero(is_train)], speaker[is_train])
    test_real = np.flatnonzero(~is_train)
    utt, frame = judges.predict([mels[i] for i in test_real])
    print(f"judges on real held-out speech: utt {np.mean(utt == speaker[test_real]):.3f}, "
          f"frame {np.mean(frame == speaker[test_real]):.3f}", flush=True)

    # Per-bin normalisation from the seen voices' training frames.
    train_idx = np.flatnonzero(is_train & is_seen)
    frames = np.concatenate([mels[i] for i in train_idx])
    mu, sd = frames.mean(0), frames.std(0)
    norm = lambda m: ((m - mu) / sd).astype(np.float32)  # noqa: E731
    denorm = lambda m: m * sd + mu  # noqa: E731

    model = DisentangledAutoEncoder(
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
    t = time.time()
    model.fit([norm(mels[i]) for i in train_idx], speaker[train_idx])
    fit_s = time.time() - t
    loss = model.history_[-1, "train_loss"]
    print(f"fit: {fit_s:.0f} s, {model.n_iter_} epochs, loss {loss:.4f}", flush=True)
    if args.save_model:
        with open(args.save_model, "wb") as f:
            pickle.dump(dict(model=model, mu=mu, sd=sd), f)

    # Speaker accuracy from the content code (frame MLP, held-out sentences).
    def code_frames(idx):
        Z = model.transform([norm(mels[i]) for i in idx])
        return np.concatenate(Z), np.concatenate([[speaker[i]] * len(z) for i, z in zip(idx, Z)])

    Ztr, ytr = code_frames(train_idx)
    Zte, yte = code_frames(np.flatnonzero(~is_train & is_seen))
    rng = np.random.RandomState(0)
    keep = rng.choice(len(Ztr), min(len(Ztr), 30000), replace=False)
    probe = MLPClassifier((256,), early_stopping=True, max_iter=100, random_state=0).fit(Ztr[keep], ytr[keep])
    code_acc = probe.score(Zte, yte)
    print(f"content code -> speaker: {code_acc:.3f}", flush=True)

    # Per-speaker statistics for the baselines (training sentences).
    stats = {}
    for s in seen + [unseen]:
        f = np.concatenate([mels[index[s, k]] for k in range(n_train)])
        stats[s] = (f.mean(0), f.std(0))

    def evaluate(pairs, target_code=None, shift_stats=None):
        src_m = [mels[index[s, k]] for s, _, k in pairs]
        real = [mels[index[t, k]] for _, t, k in pairs]
        sources = np.array([s for s, _, _ in pairs])
        targets = np.array([t for _, t, _ in pairs])
        shift_stats = shift_stats or stats
        if target_code is None:
            converted = model.convert([norm(m) for m in src_m], targets)
        else:
            converted = model.convert([norm(m) for m in src_m], group_code=target_code)
        systems = {
            f"DisentangledAutoEncoder ({args.method})": [denorm(c) for c in converted],
            "baseline: unchanged source": src_m,
            "baseline: target mean frame": [np.repeat(shift_stats[t][0][None], len(m), 0) for m, t in zip(src_m, targets)],
            "baseline: mean/std shift": [
                (m - stats[s][0]) / stats[s][1] * shift_stats[t][1] + shift_stats[t][0]
                for m, s, t in zip(src_m, sources, targets)
            ],
        }
        rows = [score_system(n, c, sources, targets, real, judges) for n, c in systems.items()]
        return rows, systems, src_m, real

    test_sentences = range(n_train, args.n_sentences)
    pairs = [(s, t, k) for k in test_sentences for s, t in itertools.permutations(seen, 2)]
    t = time.time()
    rows, systems, src_m, real = evaluate(pairs)
    print(f"seen pairs evaluated in {time.time() - t:.0f} s", flush=True)

    # Unseen voice: ~5 s (500 frames) of its training sentences.
    examples, n_frames = [], 0
    for k in range(n_train):
        examples.append(norm(mels[index[unseen, k]]))
        n_frames += len(examples[-1])
        if n_frames >= 500:
            break
    code = model.embed_group(examples)
    ex_frames = denorm(np.concatenate(examples))
    unseen_stats = dict(stats)
    unseen_stats[unseen] = (ex_frames.mean(0), ex_frames.std(0))
    unseen_pairs = [(s, unseen, k) for k in test_sentences for s in seen]
    unseen_rows, *_ = evaluate(unseen_pairs, target_code=code, shift_stats=unseen_stats)

    write_table(args, rows, unseen_rows, code_acc, fit_s, model, len(pairs), len(unseen_pairs),
                n_frames, time.time() - t0)
    write_examples(systems, src_m, real, pairs, Path(args.examples))


def write_table(args, rows, unseen_rows, code_acc, fit_s, model, n_pairs, n_unseen, n_ex, total_s):
    def table(rows):
        lines = [
            "| system | judged target (LR) | judged target (MLP) | judged source (LR) | judged source (MLP) | MCD (dB) | log-mel MSE |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in rows:
            lines.append(
                f"| {r['system']} | {r['target_lr']:.3f} | {r['target_mlp']:.3f} | {r['source_lr']:.3f} "
                f"| {r['source_mlp']:.3f} | {r['mcd']:.2f} | {r['mse']:.3f} |"
            )
        return "\n".join(lines)

    text = f"""# Voice conversion (benchmarks/bench_vc.py)

espeak-ng parallel corpus: {len(VOICES)} voices + 1 unseen, {args.n_sentences} sentences each,
16 kHz, 80-bin log-mel (fmin 55 Hz, 10 ms hop); trained on the first 80% of the sentences,
scored on the last 20% ({n_pairs} seen-voice conversions, all ordered pairs).
Model: `DisentangledAutoEncoder(method={args.method!r}, n_components={args.n_components},
adversary_weight={args.adversary_weight} (adversarial only),
group_dim={args.group_dim}, hidden_layer_sizes={tuple(args.hidden)}, segment_length=64)`,
{model.n_iter_} epochs, fit {fit_s:.0f} s on 1 CPU thread; whole run {total_s:.0f} s.
Reproduce: `python benchmarks/bench_vc.py --method {args.method} --n-components {args.n_components}`.

## Seen voices

{table(rows)}

Content code -> speaker (frame MLP, held-out sentences; chance 0.125): **{code_acc:.3f}**

## Unseen voice (`embed_group` from {n_ex} frames = {n_ex / 100:.1f} s)

{n_unseen} conversions of held-out sentences from the 8 seen voices to `{UNSEEN_VOICE[0]}`
(the judges know the unseen voice from its training sentences; the shift baseline uses the
same {n_ex / 100:.1f} s for the target statistics).

{table(unseen_rows)}

Targets from issue 6: judged target >= 0.90, judged source <= 0.05, MCD <= 3.2 dB and clearly
below the shift baseline, content code -> speaker <= 0.25.
"""
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)


def write_examples(systems, src_m, real, pairs, out, n_examples=2):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import soundfile

    out.mkdir(parents=True, exist_ok=True)
    converted = next(iter(systems.values()))
    # One male->female and one female->male example when available.
    picks = [i for i, (s, t, _) in enumerate(pairs) if s.startswith("m") and t.startswith("f")][:1]
    picks += [i for i, (s, t, _) in enumerate(pairs) if s.startswith("f") and t.startswith("m")][:1]
    for n, i in enumerate(picks[:n_examples]):
        s, t, k = pairs[i]
        panels = [("source " + s, src_m[i]), ("converted to " + t, converted[i]), ("real " + t, real[i])]
        fig, axes = plt.subplots(1, 3, figsize=(12, 3), sharey=True)
        for ax, (title, m) in zip(axes, panels):
            ax.imshow(m.T, origin="lower", aspect="auto", vmin=-11.5, vmax=3)
            ax.set_title(title)
            ax.set_xlabel("frame (10 ms)")
        axes[0].set_ylabel("mel bin")
        fig.tight_layout()
        fig.savefig(out / f"example{n}_{s}_to_{t}.png", dpi=80)
        plt.close(fig)
        for title, m in zip(("source", "converted", "target"), (src_m[i], converted[i], real[i])):
            soundfile.write(out / f"example{n}_{title}.wav", mel_to_audio(m), 16000, subtype="PCM_16")


if __name__ == "__main__":
    main()
