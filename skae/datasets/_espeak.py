"""The espeak-ng speech synthesiser through its C library, with phoneme events.

``libespeak-ng`` (installed with the espeak-ng program) synthesises in the
calling process and reports each phoneme with its position in the audio
(``espeakINITIALIZE_PHONEME_EVENTS``): the alignment that frame-level phone
labels are made of. The library is bound with :mod:`ctypes`, so nothing is
compiled. It does not repeat itself: an utterance comes out a little
different after others in the same process (its wave generator keeps state
between utterances), as only the first one after loading matches the
espeak-ng program's; :func:`speak_fresh` speaks each utterance in a fresh
process, so a corpus is the same whatever was spoken before. The library
 it keeps global state (one synthesis callback per process), so
every call goes through one lock, and another user of libespeak-ng in the same
process (e.g. a phonemizer) must not synthesise at the same time.
"""

import ctypes
import ctypes.util
import re
import threading

import numpy as np

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS = 0x0001
_INITIALIZE_DONT_EXIT = 0x8000
_EVENT_LIST_TERMINATED = 0
_EVENT_PHONEME = 7
_RATE, _PITCH = 1, 3
_POS_CHARACTER = 1

#: The label of frames outside any phone: pauses and the silence around speech.
SILENCE = "_"

_INSTALL = (
    "the espeak-ng speech synthesiser was not found. Install it, e.g. "
    "`apt-get install espeak-ng` (Debian/Ubuntu) or `brew install espeak-ng` (macOS)."
)


class _Event(ctypes.Structure):
    # espeak_EVENT of speak_lib.h; ``id`` is a union whose phoneme member is char[8].
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", ctypes.c_char * 8),
    ]


_Callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


class _Engine:
    """One initialised libespeak-ng, collecting audio and phonemes of a call."""

    def __init__(self, lib):
        self.lib = lib
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_Synth.argtypes = [
            ctypes.c_void_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        self.sample_rate = lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, None, _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT
        )
        if self.sample_rate <= 0:
            raise OSError(f"libespeak-ng failed to initialise (code {self.sample_rate}).")
        self.chunks, self.phones, self.error = [], [], None
        self._callback = _Callback(self._collect)  # kept alive as long as the engine
        lib.espeak_SetSynthCallback(self._callback)
        self.lock = threading.Lock()

    def _collect(self, wav, n_samples, events):
        # ctypes prints and swallows an exception raised here: keep it for speak().
        try:
            if wav and n_samples > 0:
                self.chunks.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).copy())
            i = 0
            while events[i].type != _EVENT_LIST_TERMINATED:
                if events[i].type == _EVENT_PHONEME:
                    name = events[i].id.decode("utf-8", "replace")
                    self.phones.append((name, events[i].sample))
                i += 1
        except Exception as error:  # noqa: BLE001 (re-raised by speak)
            self.error = error
            return 1  # stop synthesis
        return 0

    def speak(self, text, voice, pitch, speed):
        with self.lock:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"espeak-ng has no voice {voice!r}.")
            self.lib.espeak_SetParameter(_PITCH, int(pitch), 0)
            self.lib.espeak_SetParameter(_RATE, int(speed), 0)
            self.chunks, self.phones, self.error = [], [], None
            data = text.encode("utf-8")
            status = self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, 0, None, None)
            status = status or self.lib.espeak_Synchronize()
            if self.error is not None:
                raise RuntimeError("collecting espeak-ng's audio failed") from self.error
            if status != 0 or not self.chunks:
                raise RuntimeError(f"espeak-ng failed to synthesise {text!r} (status {status}).")
            return np.concatenate(self.chunks), list(self.phones)


_engine = None
_engine_lock = threading.Lock()


def _find_library():
    for name in ("espeak-ng", "libespeak-ng.so.1"):
        path = ctypes.util.find_library(name) if "." not in name else name
        if path is None:
            continue
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    raise OSError("make_speech_corpus needs libespeak-ng: " + _INSTALL)


def version():
    """The libespeak-ng version, e.g. ``"1.51"``; the library is loaded, not initialised."""
    lib = _find_library()
    lib.espeak_Info.restype = ctypes.c_char_p
    lib.espeak_Info.argtypes = [ctypes.c_void_p]
    return lib.espeak_Info(None).decode()


def engine():
    """The process's libespeak-ng engine, loaded and initialised on first use."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = _Engine(_find_library())
    return _engine


#: Exit status of a speaker process asked for a voice espeak-ng lacks.
_NO_VOICE = 3


def _speak_in_process(job):
    """:func:`speak` ``job`` in a new interpreter running this file.

    This file imports only ctypes, numpy and the standard library, and runs
    as a script (``python .../_espeak.py``): the child never imports the
    caller's ``__main__`` (a script without ``if __name__ == "__main__":``,
    ``python -``, a notebook) nor skae itself. The job goes in as JSON on
    standard input; the sample rate and phones come back as a JSON line on
    standard output, followed by the int16 audio as an ``.npy`` array.
    """
    import io
    import json
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-I", __file__],
        input=json.dumps(list(job)).encode(),
        capture_output=True,
        check=False,
    )
    message = done.stderr.decode("utf-8", "replace").strip().splitlines()
    message = message[-1] if message else f"exit status {done.returncode}"
    if done.returncode == _NO_VOICE:
        raise ValueError(message)
    if done.returncode != 0:
        raise RuntimeError(f"the espeak-ng speaker process failed: {message}")
    header, _, data = done.stdout.partition(b"\n")
    info = json.loads(header)
    audio = np.load(io.BytesIO(data), allow_pickle=False)
    return audio, info["sample_rate"], [tuple(phone) for phone in info["phones"]]


def speak_fresh(jobs, n_jobs=1):
    """:func:`speak` each ``(text, voice, pitch, speed)`` of ``jobs`` in a fresh process.

    Each utterance is the first the library speaks in its process, so it is
    the same on every call (and the espeak-ng program's). The processes are
    new interpreters that run this file (:func:`_speak_in_process`), ``n_jobs``
    at a time: nothing of the caller is inherited or re-imported, so this
    works from a plain script, a here-document and a notebook alike.

    Returns
    -------
    list of (audio, sample_rate, phones), in the order of ``jobs``.
    """
    from concurrent.futures import ThreadPoolExecutor

    _find_library()  # a clear OSError here, not in a child
    with ThreadPoolExecutor(max(1, n_jobs)) as pool:
        return list(pool.map(_speak_in_process, jobs))


def _main():
    """The speaker process: one job from standard input, the utterance to standard output."""
    import io
    import json
    import sys

    text, voice, pitch, speed = json.loads(sys.stdin.buffer.read())
    try:
        audio, sample_rate, phones = speak(text, voice, pitch, speed)
    except ValueError as error:
        print(error, file=sys.stderr)
        raise SystemExit(_NO_VOICE) from None
    buffer = io.BytesIO()
    np.save(buffer, audio, allow_pickle=False)
    out = sys.stdout.buffer
    out.write(json.dumps({"sample_rate": sample_rate, "phones": phones}).encode() + b"\n")
    out.write(buffer.getvalue())
    out.flush()


def phone_name(name):
    """An espeak-ng phoneme mnemonic without its allophone marks (``"@2"`` -> ``"@"``).

    Pauses (``"_"``, ``"_:"``, ``"_!"``) all become :data:`SILENCE`.
    """
    if name.startswith("_"):
        return SILENCE
    return re.sub(r"[0-9#]+$", "", name) or name


def speak(text, voice, pitch, speed):
    """Synthesise ``text``: int16 audio, its sample rate and the phonemes.

    Returns
    -------
    audio : ndarray of int16
    sample_rate : int
    phones : list of (str, int)
        Each phoneme (its :func:`phone_name`) with the sample where it starts.
    """
    eng = engine()
    audio, events = eng.speak(text, voice, pitch, speed)
    return audio, eng.sample_rate, [(phone_name(name), start) for name, start in events]


def frame_phones(phones, n_frames, start_sample, hop):
    """The phone of each analysis frame.

    ``phones`` are (name, first sample) pairs. Frame ``t`` is centred on
    sample ``start_sample + t * hop`` (``start_sample`` is where silence
    trimming cut the audio); it gets the last phone that starts at or before
    that sample, and :data:`SILENCE` before the first one.
    """
    names = np.array([SILENCE] + [name for name, _ in phones], dtype=object)
    starts = np.array([start for _, start in phones], dtype=np.float64)
    if np.any(np.diff(starts) < 0):
        raise ValueError("phoneme starts must be in order")
    centres = start_sample + hop * np.arange(n_frames)
    index = np.searchsorted(starts, centres, side="right")
    return names[index].astype(str)


if __name__ == "__main__":
    _main()
