"""One-shot voice conversion to voices never seen in training (held-out voices).

espeak-ng reads the same 40 sentences in 80 voices (``speech_voices(80)``:
espeak-ng voice variants x English accents x pitch x speed). A
``DisentangledAutoEncoder(method="instance_norm", group_encoder=True)`` is
trained on the first 80% of the sentences of the first 64 voices only; the
other voices whose espeak-ng variant no training voice uses (13 of 16) are
never heard in training. Each held-out voice is then
reached from a few seconds of its speech (its first training sentences:
``convert(..., target_examples=)``, the group encoder's code with the output
calibrated to those seconds; also the code alone and a refined code) and
every held-out sentence of a seen voice is converted to it. The corpus is parallel, so the
real target utterance exists:

- judged target / judged source: two speaker judges (utterance-level
  logistic regression on per-bin log-mel mean/std; frame MLP) trained on
  real speech of all 80 voices, training sentences only: the fraction of
  conversions judged as the target voice and as the source voice;
- MCD (dB) and log-mel MSE against the real target utterance after DTW;
- the same for the mean/std shift baseline using the same few seconds for the
  target statistics, and for the unchanged source;
- seen-voice conversions (between training voices, by label) with the same
  model, and the content code's speaker and phone information (frame MLP
  probes, held-out sentences).

Run: ``python benchmarks/bench_oneshot.py`` (needs espeak-ng and librosa;
the corpus is cached with ``make_speech_corpus(cache_dir=True)``); writes
its section of ``benchmarks/results/vc.md`` (the rest of that report is
``bench_vc.py``'s).
"""

import os
import pickle
import re
import warnings
from pathlib import Path

import numpy as np
from _common import RESULTS_DIR, Stopwatch, command_line, produced_by, torch_threads
from bench_vc import Judges, Normalizer, score_system, table, write_example
from sklearn.neural_network import MLPClassifier

from skae import DisentangledAutoEncoder
from skae.datasets import make_speech_corpus, speech_voices

N_VOICES, N_SEEN, N_SENTENCES, N_TRAIN_SENTENCES = 80, 64, 40, 32
CALIBRATED = "group encoder + calibration on the few seconds"


def variant(voice_name):
    """The espeak-ng variant of a :func:`speech_voices` name (``"Alex_en-029_p43_s151"``)."""
    return voice_name.split("_en")[0]


class Split:
    """The corpus split by voice (seen/held-out) and by sentence (train/test)."""

    def __init__(self, corpus):
        self.corpus = corpus
        self.mels, self.phones = corpus.mels, corpus.phones
        self.speaker, self.sentence = corpus.speaker, corpus.sentence
        self.seen_voices = corpus.speakers[:N_SEEN]
        # Voices that share no espeak-ng variant (timbre) with a seen voice:
        # the later voices of speech_voices(80) reuse variants of earlier ones.
        seen_variants = {variant(v) for v in self.seen_voices}
        self.new_voices = [v for v in corpus.speakers[N_SEEN:] if variant(v) not in seen_variants]
        self.is_train = self.sentence < N_TRAIN_SENTENCES
        self.is_seen = np.isin(self.speaker, self.seen_voices)
        self._index = {(s, k): i for i, (s, k) in enumerate(zip(self.speaker, self.sentence))}

    def index(self, speaker, sentence):
        return self._index[speaker, sentence]

    def mel(self, speaker, sentence):
        return self.mels[self.index(speaker, sentence)]

    def stats(self, speaker, sentences):
        frames = np.concatenate([self.mel(speaker, k) for k in sentences])
        return frames.mean(0), frames.std(0)


def few_seconds(split, voice, seconds):
    """The first training sentences of ``voice`` that add up to ``seconds`` of speech."""
    sentences, n = [], 0
    for k in range(N_TRAIN_SENTENCES):
        sentences.append(k)
        n += len(split.mel(voice, k))
        if n >= 100 * seconds:
            break
    return sentences, n


def make_model(args):
    return DisentangledAutoEncoder(
        n_components=args.n_components,
        group_dim=args.group_dim,
        method="instance_norm",
        group_encoder=True,
        segment_length=64,
        hidden_layer_sizes=tuple(args.hidden),
        batch_size=args.batch_size,
        lr=args.lr,
        max_epochs=args.max_epochs,
        device="cpu",
        random_state=0,
    )


def frame_probes(model, split, norm, train_idx, test_idx, n_keep=30000):
    """Accuracy of frame MLPs predicting the speaker and the phone from content codes."""

    def frames(idx):
        Z = np.concatenate(model.transform([norm(split.mels[i]) for i in idx]))
        speakers = np.concatenate([[split.speaker[i]] * len(split.mels[i]) for i in idx])
        return Z, {"speaker": speakers, "phone": np.concatenate([split.phones[i] for i in idx])}

    (Ztr, ytr), (Zte, yte) = frames(train_idx), frames(test_idx)
    keep = np.random.RandomState(0).choice(len(Ztr), min(len(Ztr), n_keep), replace=False)
    accuracy = {}
    for name in ytr:
        probe = MLPClassifier((256,), early_stopping=True, max_iter=100, random_state=0)
        accuracy[name] = probe.fit(Ztr[keep], ytr[name][keep]).score(Zte, yte[name])
    return accuracy["speaker"], accuracy["phone"]


def convert_pairs(model, sources, targets, codes, examples=None):
    """Convert each source to its target's code; with ``examples``, calibrated to them."""
    converted = [None] * len(sources)
    for target in dict.fromkeys(targets):
        idx = [i for i, t in enumerate(targets) if t == target]
        out = model.convert(
            [sources[i] for i in idx],
            group_code=codes[target],
            target_examples=None if examples is None else examples[target],
        )
        for i, c in zip(idx, out):
            converted[i] = c
    return converted


def evaluate(model, model_systems, split, norm, judges, pairs, target_stats):
    """Rows (each model system, shift baseline, unchanged) for ``(source, target,
    sentence)`` pairs, and each system's conversions. ``model_systems``: name ->
    ``(codes, examples or None)`` (see :func:`convert_pairs`)."""
    sources = np.array([s for s, _, _ in pairs])
    targets = np.array([t for _, t, _ in pairs])
    src = [split.mel(s, k) for s, _, k in pairs]
    real = [split.mel(t, k) for _, t, k in pairs]
    src_norm = [norm(m) for m in src]
    source_stats = {s: split.stats(s, range(N_TRAIN_SENTENCES)) for s in set(sources)}
    systems = {
        name: [norm.inverse(c) for c in convert_pairs(model, src_norm, targets, *how)]
        for name, how in model_systems.items()
    }
    systems |= {
        "baseline: mean/std shift": [
            (m - source_stats[s][0]) / source_stats[s][1] * target_stats[t][1] + target_stats[t][0]
            for m, s, t in zip(src, sources, targets)
        ],
        "baseline: unchanged source": src,
    }
    rows = [score_system(n, c, sources, targets, real, judges) for n, c in systems.items()]
    return rows, systems


def parse_args(argv=None):
    parser = command_line(
        __doc__, "vc.md", out_help="the report whose one-shot section this run writes"
    )
    parser.add_argument("--n-components", type=int, default=3)
    parser.add_argument("--group-dim", type=int, default=32)
    parser.add_argument("--hidden", type=int, nargs="+", default=[256, 256])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--max-epochs", type=int, default=15)
    parser.add_argument("--seconds", type=float, default=5.0, help="speech of each new voice")
    parser.add_argument(
        "--refine-steps",
        type=int,
        default=300,
        help="embed_group(refine=True) steps of the refined system",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--examples", default=str(RESULTS_DIR / "vc"), help="audio/figure folder")
    parser.add_argument("--save-model", default=None, help="pickle the fitted model here")
    parser.add_argument(
        "--load-model",
        default=None,
        help="evaluate a model pickled by --save-model instead of fitting one",
    )
    parser.add_argument(
        "--fit-seconds",
        type=float,
        default=float("nan"),
        help="with --load-model, the fit's seconds when the file lacks them",
    )
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    torch_threads(args.threads)
    warnings.filterwarnings("ignore", message="divide by zero", category=RuntimeWarning)
    run = Stopwatch()
    corpus = make_speech_corpus(
        N_SENTENCES,
        speech_voices(N_VOICES),
        return_phones=True,
        cache_dir=True,
        n_jobs=os.cpu_count(),
    )
    split = Split(corpus)
    print(f"corpus: {len(split.mels)} utterances ({run.seconds:.0f} s)", flush=True)

    train_all = np.flatnonzero(split.is_train)
    judges = Judges([split.mels[i] for i in train_all], split.speaker[train_all])
    test_all = np.flatnonzero(~split.is_train)
    utt, frame = judges.predict([split.mels[i] for i in test_all])
    truth = split.speaker[test_all]
    per_voice = [np.mean(utt[truth == v] == v) for v in corpus.speakers]
    judge_line = (
        f"utterance judge {np.mean(utt == truth):.3f}, frame judge {np.mean(frame == truth):.3f} "
        f"on real held-out sentences of all {N_VOICES} voices (chance {1 / N_VOICES:.3f}); "
        f"{sum(a >= 0.75 for a in per_voice)} of {N_VOICES} voices recognised in >= 6 of 8 "
        f"held-out sentences by the utterance judge"
    )
    print("judges:", judge_line, flush=True)

    train_idx = np.flatnonzero(split.is_train & split.is_seen)
    norm = Normalizer(np.concatenate([split.mels[i] for i in train_idx]))
    if args.load_model:
        with open(args.load_model, "rb") as f:
            saved = pickle.load(f)
        model, fit_s = saved["model"], saved.get("fit_s", args.fit_seconds)
        # The model's own standardization (espeak-ng's library does not
        # repeat an utterance to the sample, so a resynthesised corpus's
        # statistics differ from the fit's in the 4th digit).
        norm.mu, norm.sd = saved["mu"], saved["sd"]
    else:
        model = make_model(args)
        watch = Stopwatch()
        model.fit([norm(split.mels[i]) for i in train_idx], split.speaker[train_idx])
        fit_s = watch.seconds
        if args.save_model:
            with open(args.save_model, "wb") as f:
                pickle.dump(dict(model=model, mu=norm.mu, sd=norm.sd, fit_s=fit_s), f)
    print(f"fit: {fit_s:.0f} s, {model.n_iter_} epochs", flush=True)

    rng = np.random.RandomState(0)
    test_sentences = range(N_TRAIN_SENTENCES, N_SENTENCES)
    # Unseen voices: a few seconds each, one forward pass of the group encoder.
    codes, refined, examples, stats, n_frames = {}, {}, {}, {}, []
    refine_s = 0.0
    for voice in split.new_voices:
        sentences, n = few_seconds(split, voice, args.seconds)
        n_frames.append(n)
        examples[voice] = [norm(split.mel(voice, k)) for k in sentences]
        codes[voice] = model.embed_group(examples[voice])
        watch = Stopwatch()
        refined[voice] = model.embed_group(
            examples[voice], refine=True, n_steps=args.refine_steps, lr=0.01
        )
        refine_s += watch.seconds / len(split.new_voices)
        stats[voice] = split.stats(voice, sentences)
    new_pairs = [
        (split.seen_voices[rng.randint(N_SEEN)], t, k)
        for t in split.new_voices
        for k in test_sentences
    ]
    new_systems = {
        CALIBRATED: (codes, examples),
        "group encoder's code alone": (codes, None),
        f"code refined ({args.refine_steps} steps) + calibration": (refined, examples),
        f"code refined ({args.refine_steps} steps) alone": (refined, None),
    }
    new_rows, new_systems = evaluate(model, new_systems, split, norm, judges, new_pairs, stats)
    write_examples(new_systems, new_pairs, split, Path(args.examples))
    # Seen voices, by their learned codes, the same number of random pairs.
    seen_codes = dict(zip(model.classes_, model.group_embeddings_))
    seen_stats = {v: split.stats(v, range(N_TRAIN_SENTENCES)) for v in split.seen_voices}
    seen_pairs = []
    for k in test_sentences:
        for _ in range(len(split.new_voices)):
            s, t = rng.choice(N_SEEN, 2, replace=False)
            seen_pairs.append((split.seen_voices[s], split.seen_voices[t], k))
    seen_rows, _ = evaluate(
        model,
        {"DisentangledAutoEncoder, learned codes": (seen_codes, None)},
        split,
        norm,
        judges,
        seen_pairs,
        seen_stats,
    )

    seen_test = np.flatnonzero(~split.is_train & split.is_seen)
    speaker_acc, phone_acc = frame_probes(model, split, norm, train_idx, seen_test)
    print(f"content code -> speaker {speaker_acc:.3f}, -> phone {phone_acc:.3f}", flush=True)

    text = f"""## Unseen voices: one-shot conversion (`benchmarks/bench_oneshot.py`)

espeak-ng parallel corpus of {N_VOICES} voices (`speech_voices({N_VOICES})`), {N_SENTENCES}
sentences each. Trained on sentences 1-{N_TRAIN_SENTENCES} of the first {N_SEEN} voices only;
{len(split.new_voices)} of the other {N_VOICES - N_SEEN} voices, those whose espeak-ng variant no seen voice
uses, are never heard in training. Each new voice is given
{np.mean(n_frames) / 100:.1f} s of its speech on average (its first training sentences,
{min(n_frames) / 100:.1f}-{max(n_frames) / 100:.1f} s). Systems: "{CALIBRATED}" is
`convert(source, target_examples=few_seconds)`: the code is `embed_group`'s (one forward pass
of the group encoder) and each mel bin of the output is shifted and scaled by the map that takes
the model's own rendering of the few seconds to their real mean and standard deviation; "code
alone" is `convert(source, group_code=embed_group(few_seconds))`; "refined" starts
`embed_group(refine=True, lr=0.01)` from the encoder's code ({refine_s:.1f} s per voice on
{args.threads} threads). {len(new_pairs)} conversions: each held-out sentence of a random seen
voice to each new voice; the shift baseline uses the same seconds for the target statistics.
Judges: {judge_line}.
Model: `DisentangledAutoEncoder(method="instance_norm", group_encoder=True,
n_components={args.n_components}, group_dim={args.group_dim},
hidden_layer_sizes={tuple(args.hidden)}, segment_length=64, batch_size={args.batch_size},
lr={args.lr})`, {model.n_iter_} epochs, fit {fit_s / 60:.1f} min on {args.threads} CPU threads.
{produced_by("python benchmarks/bench_oneshot.py", run.seconds)}

### To voices never seen in training

{table(new_rows)}

### Between seen voices (the same model, {len(seen_pairs)} random pairs of the {N_SEEN})

{table(seen_rows)}

Content code -> speaker (frame MLP, held-out sentences of the seen voices; chance
{1 / N_SEEN:.3f}): **{speaker_acc:.3f}**; content code -> phone (same probe, {len(corpus.phone_names)}
phones): **{phone_acc:.3f}**.
"""
    print(text)
    if not args.no_write:
        insert_section(args.out, text)


def write_examples(systems, pairs, split, out, n_examples=2):
    """Spectrograms and audio of the first conversions to two new voices."""
    converted = next(iter(systems.values()))
    picks, targets = [], set()
    for i, (_, t, _) in enumerate(pairs):
        if t not in targets and len(picks) < n_examples:
            picks.append(i)
            targets.add(t)
    for n, i in enumerate(picks):
        s, t, k = pairs[i]
        panels = [
            ("source (seen voice)", split.mel(s, k)),
            ("converted to the new voice", converted[i]),
            ("the new voice, real", split.mel(t, k)),
        ]
        write_example(out, f"oneshot{n}", panels)
        print(f"example {n}: {s} -> {t}, sentence {k}", flush=True)


def insert_section(path, text):
    """Put ``text`` into ``path`` between markers, replacing an earlier run's."""
    begin, end = "<!-- bench_oneshot: begin -->", "<!-- bench_oneshot: end -->"
    block = f"{begin}\n{text.strip()}\n{end}"
    old = path.read_text() if path.exists() else ""
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.S)
    new = (
        pattern.sub(lambda _: block, old)
        if pattern.search(old)
        else old.rstrip() + "\n\n" + block + "\n"
    )
    path.write_text(new)


if __name__ == "__main__":
    main()
