"""Data sets for examples, tests and benchmarks.

:class:`GroupRenderer` makes rows whose content and group are known, so a
disentangling model's content code and conversions can be checked against the
truth. :func:`make_speech_corpus` synthesises a small *parallel* speech corpus with
the espeak-ng speech synthesiser: every voice reads every sentence, so for any
utterance converted to another voice the real target utterance exists.
"""

import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from sklearn.utils import Bunch, check_random_state

#: Default voices: (name, espeak-ng voice+variant, pitch 0-99, words/minute).
VOICES = (
    ("m1_low", "en+m1", 25, 150),
    ("m3", "en+m3", 45, 165),
    ("m7", "en-us+m7", 40, 140),
    ("m2_fast", "en+m2", 55, 185),
    ("f1", "en+f1", 60, 155),
    ("f2_high", "en+f2", 80, 170),
    ("f4", "en-us+f4", 65, 145),
    ("f5_slow", "en+f5", 70, 130),
)

#: A voice outside :data:`VOICES`, for one-shot conversion to an unseen speaker.
UNSEEN_VOICE = ("m5_unseen", "en-us+m5", 50, 160)

_SUBJECTS = ["the red fox", "a tall woman", "my old neighbour", "the small boy", "our teacher",
             "the brown dog", "a quiet farmer", "the young pilot", "her brother", "the happy cook"]
_VERBS = ["carried", "painted", "found", "opened", "watched", "cleaned", "sold", "moved",
          "followed", "borrowed"]
_OBJECTS = ["a heavy basket", "the wooden door", "seven yellow apples", "the broken window",
            "a long letter", "the silver bicycle", "two green bottles", "the morning paper",
            "a warm blanket", "the kitchen table"]
_ENDINGS = ["before the rain began", "near the river", "on a cold morning", "after lunch",
            "in the garden", "while singing softly", "under the bridge", "at the market",
            "without a word", "late at night"]


def speech_sentences(n_sentences: int, random_state: int = 0) -> list[str]:
    """Return ``n_sentences`` distinct programmatic English sentences."""
    rng = np.random.RandomState(random_state)
    seen, sentences = set(), []
    while len(sentences) < n_sentences:
        parts = tuple(rng.randint(10, size=4))
        if parts in seen:
            continue
        seen.add(parts)
        a, b, c, d = parts
        sentences.append(f"{_SUBJECTS[a]} {_VERBS[b]} {_OBJECTS[c]} {_ENDINGS[d]}.")
    return sentences


def _espeak():
    path = shutil.which("espeak-ng")
    if path is None:
        raise OSError(
            "make_speech_corpus needs the espeak-ng speech synthesiser, which was "
            "not found on PATH. Install it, e.g. `apt-get install espeak-ng` "
            "(Debian/Ubuntu) or `brew install espeak-ng` (macOS)."
        )
    return path


def synthesize(text: str, voice: str, pitch: int, speed: int, sr: int = 16000) -> np.ndarray:
    """Speak ``text`` with espeak-ng; return float32 audio at ``sr`` Hz."""
    import librosa
    import soundfile

    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "utt.wav")
        subprocess.run(
            [_espeak(), "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", wav, text],
            check=True,
            capture_output=True,
        )
        audio, native_sr = soundfile.read(wav, dtype="float32")
    audio = librosa.resample(audio, orig_sr=native_sr, target_sr=sr)
    audio, _ = librosa.effects.trim(audio, top_db=40)
    return audio.astype(np.float32)


def log_mel(
    audio: np.ndarray,
    sr: int = 16000,
    n_mels: int = 80,
    fmin: float = 55.0,
    fmax: float = 7600.0,
    n_fft: int = 1024,
    hop_length: int = 160,
) -> np.ndarray:
    """Natural-log mel power spectrogram, frames first: (n_frames, n_mels)."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=audio, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, fmin=fmin, fmax=fmax
    )
    return np.log(np.maximum(mel, 1e-5)).T.astype(np.float32)


def mel_to_audio(
    log_mel_frames: np.ndarray,
    sr: int = 16000,
    fmin: float = 55.0,
    fmax: float = 7600.0,
    n_fft: int = 1024,
    hop_length: int = 160,
) -> np.ndarray:
    """Invert a log-mel spectrogram to audio with Griffin-Lim (librosa)."""
    import librosa

    mel = np.exp(np.asarray(log_mel_frames, dtype=np.float64)).T
    return librosa.feature.inverse.mel_to_audio(
        mel, sr=sr, n_fft=n_fft, hop_length=hop_length, fmin=fmin, fmax=fmax, n_iter=32
    ).astype(np.float32)


class GroupRenderer:
    """Rows that render a known content vector in a known group.

    A row is ``tanh(c @ W1) @ W2 * scale[g] + shift[g]``: a nonlinear render
    of a content vector ``c``, scaled and shifted feature by feature in group
    ``g``. The content is distributed alike in every group and asymmetrically
    (a symmetric one would let a converter align groups up to a reflection);
    groups differ along two random directions, so the last group lies among
    the others and can stand for a group not seen in training. Because the
    content of every row is known, ``render(c, g_target)`` is the true
    conversion of a row to another group.

    Parameters
    ----------
    n_groups : int, default=8
        Number of groups.
    n_content : int, default=2
        Width of the content vector.
    n_features : int, default=10
        Width of the rows.
    random_state : int, RandomState instance or None, default=0
        Seeds the render's weights and the groups' scales and shifts.

    Examples
    --------
    >>> from skae.datasets import GroupRenderer
    >>> task = GroupRenderer(n_groups=4, n_content=3)
    >>> X, y, content = task.sample(100, random_state=0)
    >>> X.shape, y.shape, content.shape
    ((100, 10), (100,), (100, 3))
    >>> task.render(content, (y + 1) % 4).shape  # the true conversions
    (100, 10)
    """

    def __init__(
        self,
        n_groups: int = 8,
        n_content: int = 2,
        n_features: int = 10,
        random_state: int | np.random.RandomState | None = 0,
    ) -> None:
        rng = check_random_state(random_state)
        self.n_groups = n_groups
        self.n_content = n_content
        self.w1 = rng.normal(size=(n_content, 16))
        self.w2 = rng.normal(size=(16, n_features)) / 4
        u = rng.normal(size=(n_groups, 2))
        self.scale = np.exp(0.4 * u @ rng.normal(size=(2, n_features)))
        self.shift = 0.5 * u @ rng.normal(size=(2, n_features))

    def content(
        self, shape: tuple[int, ...], random_state: int | np.random.RandomState | None = None
    ) -> np.ndarray:
        """Draw content vectors: an array of shape ``(*shape, n_content)`` in [-1, 1]."""
        rng = check_random_state(random_state)
        return 2 * rng.beta(2, 4, size=(*shape, self.n_content)) - 1

    def render(self, content: np.ndarray, groups: ArrayLike) -> np.ndarray:
        """Rows (float32) of ``content`` in ``groups``.

        ``content`` is ``(n, n_content)`` with ``groups`` ``(n,)``, or
        sequences ``(n, n_frames, n_content)`` with one group per sequence.
        """
        groups = np.asarray(groups)
        if content.ndim == 3:
            groups = groups[:, None]
        rows = np.tanh(content @ self.w1) @ self.w2 * self.scale[groups] + self.shift[groups]
        return rows.astype(np.float32)

    def sample(
        self,
        n_samples: int,
        groups: int | None = None,
        random_state: int | np.random.RandomState | None = None,
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Draw ``n_samples`` rows in random groups (of ``range(groups)``).

        Parameters
        ----------
        n_samples : int
            Number of rows.
        groups : int or None, default=None
            Draw groups from ``range(groups)``; all ``n_groups`` when None.
        random_state : int, RandomState instance or None, default=None
            Seeds the content and the groups.

        Returns
        -------
        X : ndarray of shape (n_samples, n_features), dtype float32
        y : ndarray of shape (n_samples,)
            The group of each row.
        content : ndarray of shape (n_samples, n_content)
            The content of each row.
        """
        rng = check_random_state(random_state)
        content = self.content((n_samples,), rng)
        y = rng.randint(self.n_groups if groups is None else groups, size=n_samples)
        return self.render(content, y), y, content


def make_speech_corpus(
    n_sentences: int = 40,
    voices: Sequence[tuple[str, str, int, int]] = VOICES,
    *,
    n_mels: int = 80,
    fmin: float = 55.0,
    sr: int = 16000,
    return_audio: bool = False,
    random_state: int = 0,
) -> Bunch:
    """Synthesise a parallel speech corpus as log-mel spectrograms.

    Every voice in ``voices`` reads every one of ``n_sentences`` programmatic
    sentences with espeak-ng; audio is resampled to ``sr`` Hz, trimmed of
    silence and turned into an ``n_mels``-bin log-mel spectrogram (10 ms
    hop; the lowest mel band starts at ``fmin`` so low male pitch is kept).

    Parameters
    ----------
    n_sentences : int, default=40
        Number of distinct sentences read by each voice.
    voices : sequence of (name, espeak_voice, pitch, speed), default=VOICES
        The speakers: a name, an espeak-ng voice with variant (``"en+f2"``),
        pitch in 0-99 and speed in words per minute.
    n_mels : int, default=80
        Mel bands.
    fmin : float, default=55.0
        Lower edge of the lowest mel band, in Hz.
    sr : int, default=16000
        Sample rate of the audio.
    return_audio : bool, default=False
        Also return the waveforms.
    random_state : int, default=0
        Seeds the choice of sentences.

    Returns
    -------
    corpus : sklearn.utils.Bunch
        ``mels`` (list of ``(n_frames, n_mels)`` float32 arrays, one per
        utterance), ``speaker`` (name per utterance), ``sentence`` (sentence
        index per utterance), ``sentences`` (the texts), ``speakers`` (the
        voice names), ``sr``, ``hop_length``, ``fmin`` and, with
        ``return_audio``, ``audio``.

    Raises
    ------
    OSError
        If espeak-ng is not installed.
    """
    _espeak()
    sentences = speech_sentences(n_sentences, random_state)
    mels, speaker, sentence, audio = [], [], [], []
    for name, voice, pitch, speed in voices:
        for i, text in enumerate(sentences):
            wave = synthesize(text, voice, pitch, speed, sr=sr)
            mels.append(log_mel(wave, sr=sr, n_mels=n_mels, fmin=fmin))
            speaker.append(name)
            sentence.append(i)
            if return_audio:
                audio.append(wave)
    corpus = Bunch(
        mels=mels,
        speaker=np.array(speaker),
        sentence=np.array(sentence),
        sentences=sentences,
        speakers=[v[0] for v in voices],
        sr=sr,
        hop_length=160,
        fmin=fmin,
    )
    if return_audio:
        corpus.audio = audio
    return corpus
