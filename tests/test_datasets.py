"""Tests of skae.datasets; the speech corpus needs espeak-ng, librosa and soundfile."""

import importlib.util
import shutil

import numpy as np
import pytest

from skae import datasets

needs_speech = pytest.mark.skipif(
    shutil.which("espeak-ng") is None
    or importlib.util.find_spec("librosa") is None
    or importlib.util.find_spec("soundfile") is None,
    reason="the speech corpus needs the espeak-ng program (apt-get install espeak-ng) "
    "and the librosa and soundfile packages (pip install 'skae[speech]')",
)


def test_sentences_are_distinct_and_reproducible():
    sentences = datasets.speech_sentences(30, random_state=0)
    assert len(set(sentences)) == 30
    assert sentences == datasets.speech_sentences(30, random_state=0)


def test_missing_espeak_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(datasets.shutil, "which", lambda name: None)
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
