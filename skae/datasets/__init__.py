"""Data sets for examples, tests and benchmarks.

:class:`GroupRenderer` makes rows whose content and group are known, so a
disentangling model's content code and conversions can be checked against the
truth. :func:`make_speech_corpus` synthesises a *parallel* speech corpus with
the espeak-ng speech synthesiser: every voice reads every sentence, so for any
utterance converted to another voice the real target utterance exists, and
every 10 ms frame can carry the phone being spoken.
"""

from ._group_renderer import GroupRenderer
from ._speech import (
    UNSEEN_VOICE,
    VOICES,
    log_mel,
    make_speech_corpus,
    mel_to_audio,
    speech_sentences,
    speech_voices,
    synthesize,
)

__all__ = [
    "UNSEEN_VOICE",
    "VOICES",
    "GroupRenderer",
    "log_mel",
    "make_speech_corpus",
    "mel_to_audio",
    "speech_sentences",
    "speech_voices",
    "synthesize",
]
