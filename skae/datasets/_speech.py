"""The synthetic parallel speech corpus (espeak-ng), its voices and spectrograms.

Every voice reads every sentence, so for any utterance converted to another
voice the real target utterance exists, and every 10 ms frame can carry the
phone being spoken.
"""

import os
from collections.abc import Sequence
from importlib.metadata import version

import numpy as np
from sklearn.utils import Bunch

from . import _cache, _espeak

#: The spectrograms' FFT size, top frequency (Hz) and the silence trim's
#: threshold (dB below the peak).
N_FFT, FMAX, TOP_DB = 1024, 7600.0, 40

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

# espeak-ng's voice variants that sound like a person (its robots, whispers
# and effects left out), and English accents it speaks.
_VARIANTS = (
    "adam",
    "Alex",
    "Alicia",
    "Andrea",
    "Andy",
    "Annie",
    "antonio",
    "aunty",
    "belinda",
    "benjamin",
    "boris",
    "caleb",
    "david",
    "Denis",
    "Diogo",
    "ed",
    "edward",
    "edward2",
    "f1",
    "f2",
    "f3",
    "f4",
    "f5",
    "Gene",
    "Gene2",
    "grandma",
    "grandpa",
    "gustave",
    "Henrique",
    "Hugo",
    "iven",
    "iven2",
    "iven3",
    "iven4",
    "Jacky",
    "john",
    "kaukovalta",
    "klatt",
    "klatt2",
    "klatt3",
    "klatt4",
    "Lee",
    "linda",
    "m1",
    "m2",
    "m3",
    "m4",
    "m5",
    "m6",
    "m7",
    "m8",
    "marcelo",
    "Marco",
    "Mario",
    "max",
    "Michael",
    "michel",
    "miguel",
    "Mike",
    "Mr",
    "Nguyen",
    "norbert",
    "pablo",
    "paul",
    "pedro",
    "quincy",
    "rob",
    "robert",
    "sandro",
    "shelby",
    "steph",
    "steph2",
    "steph3",
    "Storm",
    "travis",
    "victor",
    "zac",
)
_ACCENTS = (
    "en",
    "en-us",
    "en-gb-scotland",
    "en-gb-x-rp",
    "en-029",
    "en-gb-x-gbclan",
    "en-gb-x-gbcwmd",
    "en-us-nyc",
)


def speech_voices(n_voices: int = 64, random_state: int = 0) -> list[tuple[str, str, int, int]]:
    """Return ``n_voices`` distinct voices for :func:`make_speech_corpus`.

    Each is one of espeak-ng's voice variants (77 of them) with an English
    accent, a pitch and a speed drawn at random. The first 77 voices each
    have a variant of their own (so voices 0-59 and 60-76 share no variant:
    a split for voices never heard in training); beyond 77 the variants come
    again, with other settings. The list is the same for the same
    ``random_state``.

    Parameters
    ----------
    n_voices : int, default=64
        Number of voices, at most 154 (each variant at most twice).
    random_state : int, default=0
        Seeds the choice.

    Returns
    -------
    voices : list of (name, espeak_voice, pitch, speed)
        Names such as ``"Alex_en-029_p43_s151"``.

    Examples
    --------
    >>> from skae.datasets import speech_voices
    >>> speech_voices(2)  # doctest: +SKIP
    [('steph_en-gb-x-rp_p55_s163', 'en-gb-x-rp+steph', 55, 163), ...]
    """
    if not 1 <= n_voices <= 2 * len(_VARIANTS):
        raise ValueError(f"n_voices must be in [1, {2 * len(_VARIANTS)}], got {n_voices}.")
    rng = np.random.RandomState(random_state)
    variants = np.concatenate([rng.permutation(_VARIANTS), rng.permutation(_VARIANTS)])
    voices, names = [], set()
    for variant in variants[:n_voices]:
        name = None
        while name is None or name in names:  # a variant used twice gets other settings
            accent = _ACCENTS[rng.randint(len(_ACCENTS))]
            pitch, speed = int(rng.randint(15, 86)), int(rng.randint(125, 196))
            name = f"{variant}_{accent}_p{pitch}_s{speed}"
        names.add(name)
        voices.append((name, f"{accent}+{variant}", pitch, speed))
    return voices


_SUBJECTS = [
    "the red fox",
    "a tall woman",
    "my old neighbour",
    "the small boy",
    "our teacher",
    "the brown dog",
    "a quiet farmer",
    "the young pilot",
    "her brother",
    "the happy cook",
]
_VERBS = [
    "carried",
    "painted",
    "found",
    "opened",
    "watched",
    "cleaned",
    "sold",
    "moved",
    "followed",
    "borrowed",
]
_OBJECTS = [
    "a heavy basket",
    "the wooden door",
    "seven yellow apples",
    "the broken window",
    "a long letter",
    "the silver bicycle",
    "two green bottles",
    "the morning paper",
    "a warm blanket",
    "the kitchen table",
]
_ENDINGS = [
    "before the rain began",
    "near the river",
    "on a cold morning",
    "after lunch",
    "in the garden",
    "while singing softly",
    "under the bridge",
    "at the market",
    "without a word",
    "late at night",
]


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


def _trimmed(spoken, sr):
    """Audio at ``sr`` trimmed of silence, the trim's first sample, and the phones.

    ``spoken`` is what :func:`skae.datasets._espeak.speak` returns.
    """
    import librosa

    native, native_sr, phones = spoken
    audio = librosa.resample(native.astype(np.float32) / 32768.0, orig_sr=native_sr, target_sr=sr)
    audio, (start, _) = librosa.effects.trim(audio, top_db=TOP_DB)
    phones = [(name, at * sr / native_sr) for name, at in phones]
    return audio.astype(np.float32), int(start), phones


def synthesize(text: str, voice: str, pitch: int, speed: int, sr: int = 16000) -> np.ndarray:
    """Speak ``text`` with espeak-ng; return float32 audio at ``sr`` Hz, trimmed of silence.

    Spoken in a fresh process, so the same call gives the same audio.
    """
    return _trimmed(_espeak.speak_fresh([(text, voice, pitch, speed)])[0], sr)[0]


def log_mel(
    audio: np.ndarray,
    sr: int = 16000,
    n_mels: int = 80,
    fmin: float = 55.0,
    fmax: float = FMAX,
    n_fft: int = N_FFT,
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
    fmax: float = FMAX,
    n_fft: int = N_FFT,
    hop_length: int = 160,
) -> np.ndarray:
    """Invert a log-mel spectrogram to audio with Griffin-Lim (librosa)."""
    import librosa

    mel = np.exp(np.asarray(log_mel_frames, dtype=np.float64)).T
    return librosa.feature.inverse.mel_to_audio(
        mel, sr=sr, n_fft=n_fft, hop_length=hop_length, fmin=fmin, fmax=fmax, n_iter=32
    ).astype(np.float32)


def _utterance(spoken, *, sr, n_mels, fmin, hop_length):
    """Audio, log-mel frames and the phone of each frame of one spoken utterance."""
    audio, start, phones = _trimmed(spoken, sr)
    mel = log_mel(audio, sr=sr, n_mels=n_mels, fmin=fmin, hop_length=hop_length)
    return audio, mel, _espeak.frame_phones(phones, len(mel), start, hop_length)


def make_speech_corpus(
    n_sentences: int = 40,
    voices: Sequence[tuple[str, str, int, int]] = VOICES,
    *,
    n_mels: int = 80,
    fmin: float = 55.0,
    sr: int = 16000,
    return_audio: bool = False,
    return_phones: bool = False,
    cache_dir: str | os.PathLike | bool | None = None,
    n_jobs: int = 1,
    random_state: int = 0,
) -> Bunch:
    """Synthesise a parallel speech corpus as log-mel spectrograms.

    Every voice in ``voices`` reads every one of ``n_sentences`` programmatic
    sentences with espeak-ng; audio is resampled to ``sr`` Hz, trimmed of
    silence and turned into an ``n_mels``-bin log-mel spectrogram (10 ms
    hop; the lowest mel band starts at ``fmin`` so low male pitch is kept).
    espeak-ng reports where each phoneme starts in its audio, so each frame
    can also carry its phone (``return_phones``).

    Parameters
    ----------
    n_sentences : int, default=40
        Number of distinct sentences read by each voice.
    voices : sequence of (name, espeak_voice, pitch, speed), default=VOICES
        The speakers: a name, an espeak-ng voice with variant (``"en+f2"``),
        pitch in 0-99 and speed in words per minute. :func:`speech_voices`
        makes many.
    n_mels : int, default=80
        Mel bands.
    fmin : float, default=55.0
        Lower edge of the lowest mel band, in Hz.
    sr : int, default=16000
        Sample rate of the audio.
    return_audio : bool, default=False
        Also return the waveforms (these are never cached).
    return_phones : bool, default=False
        Also return the phone of every frame.
    cache_dir : str, path, bool or None, default=None
        Keep the spectrograms and phones in a compressed ``.npz`` file in
        this directory (``True``: ``skae_speech`` in scikit-learn's data home,
        ``~/scikit_learn_data`` unless ``SCIKIT_LEARN_DATA`` says otherwise),
        named after a hash of the arguments, and read it on later calls
        instead of synthesising again. Loading never unpickles. ``None``: no
        cache. Ignored with ``return_audio``.
    n_jobs : int, default=1
        Utterances synthesised at a time, each in a fresh process (espeak-ng's
        library speaks an utterance a little differently after others, so
        every one gets a process of its own: the corpus is the same on every
        call). 3,200 utterances took 4.7 min with ``n_jobs=2`` on 2 cores.
    random_state : int, default=0
        Seeds the choice of sentences.

    Returns
    -------
    corpus : sklearn.utils.Bunch
        ``mels`` (list of ``(n_frames, n_mels)`` float32 arrays, one per
        utterance), ``speaker`` (name per utterance), ``sentence`` (sentence
        index per utterance), ``sentences`` (the texts), ``speakers`` (the
        voice names), ``sr``, ``hop_length``, ``fmin``; with ``return_audio``,
        ``audio``; with ``return_phones``, ``phones`` (one array of phone
        names per utterance, aligned with its frames: espeak-ng's phoneme
        mnemonics without allophone marks, ``"_"`` for pauses and silence)
        and ``phone_names`` (the sorted set).

    Raises
    ------
    OSError
        If espeak-ng's library is not installed.

    Examples
    --------
    >>> from skae.datasets import make_speech_corpus
    >>> corpus = make_speech_corpus(2, return_phones=True)  # doctest: +SKIP
    >>> corpus.mels[0].shape, corpus.phones[0][:12]  # doctest: +SKIP
    ((187, 80), array(['D', 'D', '@', '@', '@', '@', 'r', 'r', ... ], dtype='<U2'))
    """
    sentences = speech_sentences(n_sentences, random_state)
    hop_length = sr // 100  # 10 ms
    cache, cached = None, None
    if cache_dir not in (None, False) and not return_audio:
        # Everything the spectrograms and phones depend on.
        key = dict(
            format=3,
            sentences=sentences,
            voices=[list(v) for v in voices],
            n_mels=n_mels,
            fmin=fmin,
            sr=sr,
            hop_length=hop_length,
            n_fft=N_FFT,
            fmax=FMAX,
            top_db=TOP_DB,
            espeak=_espeak.version(),
            librosa=version("librosa"),
        )
        cache = _cache.cache_path(cache_dir, key)
        cached = _cache.load(cache, key)
    if cached is not None:
        mels, phones = cached
        audio = []
    else:
        jobs = [
            (text, voice, pitch, speed) for _, voice, pitch, speed in voices for text in sentences
        ]
        mels, phones, audio = [], [], []
        for spoken in _espeak.speak_fresh(jobs, n_jobs):
            wave, mel, frames = _utterance(
                spoken, sr=sr, n_mels=n_mels, fmin=fmin, hop_length=hop_length
            )
            mels.append(mel)
            phones.append(frames)
            if return_audio:
                audio.append(wave)
        if cache is not None:
            _cache.save(cache, key, mels, phones)
    corpus = Bunch(
        mels=mels,
        speaker=np.repeat([v[0] for v in voices], n_sentences),
        sentence=np.tile(np.arange(n_sentences), len(voices)),
        sentences=sentences,
        speakers=[v[0] for v in voices],
        sr=sr,
        hop_length=hop_length,
        fmin=fmin,
    )
    if return_audio:
        corpus.audio = audio
    if return_phones:
        corpus.phones = phones
        corpus.phone_names = sorted({str(p) for frames in phones for p in frames})
    return corpus
