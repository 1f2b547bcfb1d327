"""Tests of skae.datasets; the speech corpus needs espeak-ng, librosa and soundfile."""

import importlib.util

import numpy as np
import pytest

from skae import datasets
from skae.datasets import _espeak


def _has_espeak():
    try:
        _espeak.engine()
    except OSError:
        return False
    return True


needs_speech = pytest.mark.skipif(
    not _has_espeak()
    or importlib.util.find_spec("librosa") is None
    or importlib.util.find_spec("soundfile") is None,
    reason="the speech corpus needs the espeak-ng program (apt-get install espeak-ng) "
    "and the librosa and soundfile packages (pip install 'skae[speech]')",
)


def _no_library(name):
    raise OSError(f"{name}: cannot open shared object file")


def test_sentences_are_distinct_and_reproducible():
    sentences = datasets.speech_sentences(30, random_state=0)
    assert len(set(sentences)) == 30
    assert sentences == datasets.speech_sentences(30, random_state=0)


def test_missing_espeak_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(_espeak, "_engine", None)
    monkeypatch.setattr(_espeak.ctypes, "CDLL", _no_library)
    with pytest.raises(OSError, match="apt-get install espeak-ng"):
        datasets.make_speech_corpus(1)


@needs_speech
def test_tiny_parallel_corpus():
    voices = datasets.VOICES[:2]
    corpus = datasets.make_speech_corpus(2, voices, return_audio=True)
    assert len(corpus.mels) == 4
    assert all(m.ndim == 2 and m.shape[1] == 80 and len(m) > 50 for m in corpus.mels)
    assert all(m.dtype == np.float32 and np.isfinite(m).all() for m in corpus.mels)
    np.testing.assert_array_equal(corpus.sentence, [0, 1, 0, 1])
    assert list(corpus.speaker) == [voices[0][0]] * 2 + [voices[1][0]] * 2
    # Parallel: the same sentence in two voices differs, but not in length by much.
    a, b = corpus.mels[0], corpus.mels[2]
    assert 0.5 < len(a) / len(b) < 2
    assert len(corpus.audio[0]) > 16000 * 0.5
    # The same corpus on every call, whatever the library spoke before.
    _espeak.speak("something else first", "en+f2", 50, 150)
    again = datasets.make_speech_corpus(2, voices, n_jobs=2)
    assert all(np.array_equal(a, b) for a, b in zip(corpus.mels, again.mels))


def test_many_distinct_voices():
    voices = datasets.speech_voices(100, random_state=0)
    assert len({name for name, *_ in voices}) == 100
    assert len({(voice, pitch, speed) for _, voice, pitch, speed in voices}) == 100
    assert voices == datasets.speech_voices(100, random_state=0)
    with pytest.raises(ValueError, match="n_voices"):
        datasets.speech_voices(0)


@needs_speech
def test_frame_phones_follow_espeak_positions():
    import librosa

    voice = datasets.VOICES[0]
    corpus = datasets.make_speech_corpus(1, [voice], return_phones=True)
    phones, mel = corpus.phones[0], corpus.mels[0]
    assert phones.shape == (len(mel),)
    assert set(corpus.phone_names) == set(phones)
    # espeak-ng's own account of the utterance: each phoneme's first sample.
    native, native_sr, events = _espeak.speak(corpus.sentences[0], *voice[1:])
    audio = librosa.resample(native / 32768.0, orig_sr=native_sr, target_sr=corpus.sr)
    _, (start, _) = librosa.effects.trim(audio, top_db=40)
    expected = [(at * corpus.sr / native_sr - start) / corpus.hop_length for _, at in events]
    changes = np.flatnonzero(phones[1:] != phones[:-1]) + 1
    # Every phone boundary in the labels is within 2 frames of a phoneme start...
    assert all(np.min(np.abs(np.array(expected) - c)) <= 2 for c in changes)
    # ...and every phoneme inside the kept audio starts within 2 frames of one.
    inside = [e for e in expected if 2 < e < len(mel) - 2]
    assert len(inside) > 15
    assert all(np.min(np.abs(changes - e)) <= 2 for e in inside)
    # Labels and sound agree: fricatives carry their energy high, vowels low.
    tilt = mel[:, 60:].mean(axis=1) - mel[:, :20].mean(axis=1)
    fricatives = np.isin(phones, ["s", "z", "S", "f", "v", "T", "tS"])
    vowels = np.isin(phones, ["a", "E", "I", "i", "@", "aI", "eI", "oU", "0", "V", "aU"])
    assert fricatives.sum() >= 5 and vowels.sum() >= 20
    assert tilt[fricatives].mean() > tilt[vowels].mean() + 4


@needs_speech
def test_corpus_cache_round_trip(tmp_path):
    voices = datasets.VOICES[:1]
    first = datasets.make_speech_corpus(1, voices, return_phones=True, cache_dir=tmp_path)
    (cached,) = tmp_path.iterdir()
    again = datasets.make_speech_corpus(1, voices, return_phones=True, cache_dir=tmp_path)
    np.testing.assert_array_equal(first.mels[0], again.mels[0])
    np.testing.assert_array_equal(first.phones[0], again.phones[0])
    assert again.phone_names == first.phone_names
    # Other arguments, another file.
    datasets.make_speech_corpus(1, voices, n_mels=40, cache_dir=tmp_path)
    assert len(list(tmp_path.iterdir())) == 2


needs_espeak = pytest.mark.skipif(
    not _has_espeak(), reason="needs the espeak-ng program (apt-get install espeak-ng)"
)

#: A user's first script: top-level code, no ``if __name__ == "__main__":``.
PLAIN_SCRIPT = """
from skae.datasets import _espeak
spoken = _espeak.speak_fresh([("hello there", "en", 50, 150), ("good day", "en+f2", 60, 160)], 2)
print([(len(audio) > 1000, rate, len(phones) > 2) for audio, rate, phones in spoken])
"""


@needs_espeak
def test_fresh_speakers_work_from_a_here_document():
    """The forkserver children re-ran the caller's __main__: BrokenProcessPool."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run(
        [sys.executable, "-"], input=PLAIN_SCRIPT, capture_output=True, text=True, env=env,
        timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-1500:]
    assert done.stdout.strip() == "[(True, 22050, True), (True, 22050, True)]"


@needs_espeak
def test_fresh_speakers_repeat_themselves_and_name_a_missing_voice():
    job = ("the same words", "en", 50, 150)
    first = _espeak.speak_fresh([job, ("other words", "en", 40, 140)])[0]
    _espeak.speak("something else first", "en+f2", 50, 150)
    again = _espeak.speak_fresh([job])[0]
    np.testing.assert_array_equal(first[0], again[0])
    assert first[2] == again[2]
    with pytest.raises(ValueError, match="no voice 'zz-nonexistent'"):
        _espeak.speak_fresh([("words", "zz-nonexistent", 50, 150)])
