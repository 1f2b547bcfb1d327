"""Data sets for examples and benchmarks.

:func:`make_speech_corpus` synthesises a small *parallel* speech corpus with
the espeak-ng speech synthesiser: every voice reads every sentence, so for any
utterance converted to another voice the real target utterance exists.
"""

import os
import shutil
import subprocess
import tempfile

import numpy as np
from sklearn.utils import Bunch

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


def speech_sentences(n_sentences, random_state=0):
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


def synthesize(text, voice, pitch, speed, sr=16000):
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


def log_mel(audio, sr=16000, n_mels=80, fmin=55.0, fmax=7600.0, n_fft=1024, hop_length=160):
    """Natural-log mel power spectrogram, frames first: (n_frames, n_mels)."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=audio, sr=sr, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, fmin=fmin, fmax=fmax
    )
    return np.log(np.maximum(mel, 1e-5)).T.astype(np.float32)


def mel_to_audio(log_mel_frames, sr=16000, fmin=55.0, fmax=7600.0, n_fft=1024, hop_length=160):
    """Invert a log-mel spectrogram to audio with Griffin-Lim (librosa)."""
    import librosa

    mel = np.exp(np.asarray(log_mel_frames, dtype=np.float64)).T
    return librosa.feature.inverse.mel_to_audio(
        mel, sr=sr, n_fft=n_fft, hop_length=hop_length, fmin=fmin, fmax=fmax, n_iter=32
    ).astype(np.float32)


def make_speech_corpus(
    n_sentences=40,
    voices=VOICES,
    *,
    n_mels=80,
    fmin=55.0,
    sr=16000,
    return_audio=False,
    random_state=0,
):
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
