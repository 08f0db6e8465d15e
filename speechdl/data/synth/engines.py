"""Flite and Festival voices (Debian main) as synthetic talkers, with rate, pitch and vocal-tract variation.

Each *base* voice below is one recorded speaker of one engine; :func:`engine_pool` turns it into several
seeded pseudo-talkers (:class:`~speechdl.data.synth.voices.Voice`) that differ in speaking rate (words
per minute), mean F0 (Hz, where the engine lets it be set; ``p0`` = the voice's own) and vocal-tract
length (:func:`~speechdl.data.synth.warp.vtl_warp`, ``w<factor>``). Ids read
``flite:awb:s172:p118:w0.94`` and round-trip through :func:`parse_voice_id`.

Engines:
    ``flite`` (apt ``flite``): a subprocess per utterance writing a WAV to stdout; rate via
    ``duration_stretch``, pitch via ``int_f0_target_mean`` (kal16, awb, slt; rms ignores it).
    ``festival`` (apt ``festival`` + the ``festvox-*`` voice packages): one ``festival --pipe`` process
    per worker process, fed Scheme; rate via ``Duration_Stretch`` (diphone voices) or the HTS engine's
    ``-r``; pitch via ``int_lr_params`` (diphone voices; the HTS voice keeps its own).

Held-out talkers: ``flite:rms`` and ``festival:ked_diphone`` are the ``eval`` split. Their speakers occur
in no other base voice, whereas kal (flite kal16, festival kal_diphone) and slt (flite slt, festival's
HTS slt) each appear in two engines: a held-out slt or kal would leak its speaker into training.

Example:
    >>> v = engine_pool(["flite"], seed=0, split="train", per_voice=2)[0]
    >>> parse_voice_id(v.id) == v, v.engine
    (True, 'flite')
"""

from __future__ import annotations

import atexit
import io
import os
import select
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from speechdl.data.synth import voices as V
from speechdl.data.synth.warp import vtl_warp
from speechdl.errors import ToolError

ENGINES = ("espeak", "piper", "flite", "festival")
EXTRA_ENGINES = ("flite", "festival")
APT_PACKAGE = {"espeak": "espeak-ng", "flite": "flite", "festival": "festival"}


@dataclass(frozen=True)
class BaseVoice:
    """One engine voice: ``sex``, its natural rate ``wpm`` (measured on State of the Union sentences),
    ``f0`` its mean F0 in Hz (``None``: the engine cannot set it), the voice ``split`` and ``apt`` package."""

    engine: str
    name: str
    sex: str
    wpm: float
    f0: float | None
    split: str
    apt: str
    rate: int = 16000       # native sample rate (Hz) of what :func:`render` returns


BASE: dict[str, BaseVoice] = {f"{b.engine}:{b.name}": b for b in [
    BaseVoice("flite", "kal16", "M", 185.0, 96.0, "train", "flite"),
    BaseVoice("flite", "awb", "M", 170.0, 132.0, "train", "flite"),
    BaseVoice("flite", "slt", "F", 169.0, 174.0, "train", "flite"),
    BaseVoice("flite", "rms", "M", 151.0, None, "eval", "flite"),
    BaseVoice("festival", "kal_diphone", "M", 170.0, 105.0, "train", "festvox-kallpc16k"),
    BaseVoice("festival", "cmu_us_slt_arctic_hts", "F", 158.0, None, "train", "festvox-us-slt-hts"),
    BaseVoice("festival", "ked_diphone", "M", 172.0, 105.0, "eval", "festvox-kdlpc16k"),
]}
RATE_RANGE = (135, 215)          # words per minute drawn per pseudo-talker
WARP_RANGE = (0.88, 1.12)        # vocal-tract factor drawn per pseudo-talker
F0_RANGE = {"M": (80, 150), "F": (150, 240)}
FESTIVAL_VOICE_DIRS = ("/usr/share/festival/voices", "/usr/local/share/festival/voices")


def base_voices(engines: Sequence[str], split: str | None = None) -> list[BaseVoice]:
    """The base voices of ``engines`` (among :data:`EXTRA_ENGINES`) in ``split`` (``None``: both).

    >>> [b.name for b in base_voices(["festival"], "eval")]
    ['ked_diphone']
    """
    if split not in (None, *V.VOICE_SPLITS):
        raise ToolError("--voice-split", f"unknown split {split!r}", "use train or eval")
    return [b for b in BASE.values() if b.engine in engines and (split is None or b.split == split)]


def engine_pool(engines: Sequence[str], seed: int, split: str | None = None, per_voice: int = 16) -> list[V.Voice]:
    """``per_voice`` distinct seeded pseudo-talkers of every base voice of ``engines`` in ``split`` (English).

    The first talker of each base voice is the voice itself (its own rate, pitch, no warp).
    """
    out: list[V.Voice] = []
    for b in base_voices(engines, split):
        rng = np.random.default_rng([seed, 11, list(BASE).index(f"{b.engine}:{b.name}")])
        seen: set[str] = set()
        first = True
        while len(seen) < per_voice:
            if first:
                rate, pitch, warp = int(round(b.wpm)), int(round(b.f0 or 0)), 1.0
            else:
                rate = int(rng.integers(RATE_RANGE[0], RATE_RANGE[1] + 1))
                pitch = int(rng.integers(*F0_RANGE[b.sex])) if b.f0 else 0
                warp = round(float(rng.uniform(*WARP_RANGE)), 2)
            first = False
            v = V.Voice(b.engine, "en", b.name, "", b.sex, pitch, rate, warp)
            if v.id not in seen:
                seen.add(v.id)
                out.append(v)
    return out


def parse_voice_id(voice_id: str) -> V.Voice:
    """The :class:`Voice` behind an id of any engine (``espeak:en-gb+f3:p62:s165``, ``flite:awb:s172:p0:w1.05``...).

    >>> parse_voice_id("espeak:en-us+m3:p40:s150:w0.95").warp
    0.95
    """
    head, *fields = voice_id.split(":")
    try:
        if head == "espeak":
            base, _, variant = fields[0].partition("+")
            kv = {f[0]: f[1:] for f in fields[1:]}
            sex = dict(V.VARIANTS)[variant]
            lang = next(lang for lang, bases in V.BASE_VOICES.items() if base in bases)
            return V.Voice("espeak", lang, base, variant, sex, int(kv["p"]), int(kv["s"]), float(kv.get("w", 1.0)))
        if head == "piper":
            kv = {f[0]: f[1:] for f in fields[1:]}
            return V.Voice("piper", "en", fields[0], "", "M", 50, int(kv["s"]), float(kv.get("w", 1.0)))
        b = BASE[f"{head}:{fields[0]}"]
        kv = {f[0]: f[1:] for f in fields[1:]}
        return V.Voice(b.engine, "en", b.name, "", b.sex, int(kv["p"]), int(kv["s"]), float(kv["w"]))
    except (KeyError, IndexError, ValueError, StopIteration):
        raise ToolError(voice_id, "not a synthetic voice id",
                        "expected e.g. espeak:en-us+m3:p40:s150 or flite:awb:s172:p118:w0.94") from None


def check_engine(engine: str, names: Sequence[str] = ()) -> None:
    """Raise a one-line :class:`ToolError` naming the apt package if ``engine`` (or a voice in ``names``) is missing."""
    if engine == "espeak":
        V.check_espeak()
        return
    if engine == "piper":
        V.check_piper()
        return
    if engine not in EXTRA_ENGINES:
        raise ToolError("--engines", f"unknown engine {engine!r}", f"choose among {','.join(ENGINES)}")
    if shutil.which(engine) is None:
        raise ToolError(engine, "not found on PATH", f"install it: sudo apt-get install {APT_PACKAGE[engine]}")
    if engine == "festival":
        for name in names:
            if not any(os.path.isdir(os.path.join(d, lang, name)) for d in FESTIVAL_VOICE_DIRS
                       for lang in ("english", "us")):
                raise ToolError(f"festival voice {name}", "not installed",
                                f"install it: sudo apt-get install {BASE['festival:' + name].apt}")


def _read_wav(data: bytes, engine: str) -> tuple[np.ndarray, int]:
    import soundfile as sf

    try:
        x, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (RuntimeError, sf.LibsndfileError) as err:
        raise ToolError(engine, f"wrote no readable WAV ({err})", f"reinstall {APT_PACKAGE[engine]}") from None
    return x.mean(axis=1), int(sr)


def flite(text: str, voice: V.Voice, rate: int | None = None) -> tuple[np.ndarray, int]:
    """Synthesize ``text`` with Flite voice ``voice.base``; float32 ``(samples,)`` at 16 kHz (no warp)."""
    check_engine("flite")
    b = BASE[f"flite:{voice.base}"]
    cmd = ["flite", "-voice", b.name, "--setf", f"duration_stretch={b.wpm / (rate or voice.rate):.4f}"]
    if b.f0 and voice.pitch:
        cmd += ["--setf", f"int_f0_target_mean={voice.pitch}",
                "--setf", f"int_f0_target_stddev={0.15 * voice.pitch:.1f}"]
    out = V.run_engine("flite", [*cmd, "-t", text, "-o", "/dev/stdout"], 120,
                     f"check that voice {b.name} is listed by flite -lv")
    return _read_wav(out, "flite")


class _Festival:
    """One ``festival --pipe`` process, fed Scheme on stdin; each request ends with a printed marker.

    It runs in its own session: a Ctrl-C meant for the builder must not reach it (festival traps SIGINT and
    aborts the utterance); it ends when its stdin closes, with the process that started it.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.tmp = tempfile.mkdtemp(prefix="speechdl-festival-")
        self.err = open(os.path.join(self.tmp, "stderr.txt"), "a+b")   # noqa: SIM115 (lives with the process)
        self.proc = subprocess.Popen(["festival", "--pipe"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.err, cwd=self.tmp, start_new_session=True)
        self.n = 0
        atexit.register(self.close)

    def close(self) -> None:
        if self.pid == os.getpid() and self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def _fail(self, what: str) -> ToolError:
        self.err.seek(0)
        lines = [ln for ln in self.err.read().decode(errors="replace").splitlines() if ln.strip()]
        return ToolError("festival", f"{what}: {lines[-1] if lines else 'no message'}",
                         "check the festival install and its festvox voice packages")

    def run(self, scheme: str, timeout: float = 120.0) -> None:
        self.n += 1
        self.err.truncate(0)                    # append mode: festival's next message starts the file
        marker = f"speechdl-done-{self.n}"
        try:
            self.proc.stdin.write(f'{scheme}\n(print "{marker}") (fflush nil)\n'.encode())
            self.proc.stdin.flush()
        except OSError:
            raise self._fail("stopped") from None
        buf = b""
        while marker.encode() not in buf:
            ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
            chunk = os.read(self.proc.stdout.fileno(), 65536) if ready else b""
            if not chunk:
                raise self._fail("timed out" if not ready else "stopped")
            buf += chunk


_FESTIVAL: list[_Festival] = []


def _festival() -> _Festival:
    """This process's festival (a forked worker starts its own; it never shares its parent's pipe)."""
    if not _FESTIVAL or _FESTIVAL[0].pid != os.getpid() or _FESTIVAL[0].proc.poll() is not None:
        _FESTIVAL[:] = [_Festival()]
    return _FESTIVAL[0]


def _scheme_string(text: str) -> str:
    return '"' + " ".join(text.split()).replace("\\", "\\\\").replace('"', '\\"') + '"'


def festival(text: str, voice: V.Voice, rate: int | None = None) -> tuple[np.ndarray, int]:
    """Synthesize ``text`` with Festival voice ``voice.base``; float32 ``(samples,)`` at 16 kHz (no warp)."""
    b = BASE[f"festival:{voice.base}"]
    check_engine("festival", [b.name])
    stretch = b.wpm / (rate or voice.rate)
    setup = [f"(voice_{b.name})", f"(Parameter.set 'Duration_Stretch {stretch:.4f})"]
    if b.name.endswith("_hts"):
        speed = f'(list (list "-r" {1 / stretch:.4f}))'        # the HTS engine's speed: > 1 faster
        setup = [f"(voice_{b.name})", "(Parameter.set 'Duration_Stretch 1.0)",
                 f"(set! hts_engine_params (append {b.name}::hts_engine_params {speed}))"]
    elif b.f0 and voice.pitch:
        setup.append(f"(set! int_lr_params '((target_f0_mean {voice.pitch}) (target_f0_std {0.14 * voice.pitch:.1f}) "
                     "(model_f0_mean 170) (model_f0_std 34)))")
    fest = _festival()
    path = os.path.join(fest.tmp, "utt.wav")
    if os.path.exists(path):
        os.unlink(path)
    fest.run("(begin " + " ".join(setup) + f" (set! speechdl_utt (SynthText {_scheme_string(text)}))"
             f' (utt.save.wave speechdl_utt "{path}" \'riff))')      # one expression: an error stops it all
    if not os.path.isfile(path):
        raise fest._fail("wrote no audio")
    with open(path, "rb") as f:
        x, sr = _read_wav(f.read(), "festival")
    if sr != b.rate:
        from speechdl import audio
        x, sr = audio.resample(x, sr, b.rate), b.rate
    return x, sr


def render(text: str, voice: V.Voice, rate: int | None = None) -> tuple[np.ndarray, int]:
    """Flite or Festival audio for ``text`` with ``voice``'s rate, pitch and warp; float32 ``(samples,)``, 16 kHz."""
    x, sr = (flite if voice.engine == "flite" else festival)(text, voice, rate)
    return (vtl_warp(x, sr, voice.warp) if voice.warp != 1.0 else x), sr


def voice_pool(languages: list[str], seed: int, per_language: int = 24, piper: bool = False,
               split: str | None = None, engines: Sequence[str] = ()) -> dict[str, list[V.Voice]]:
    """:func:`speechdl.data.synth.voices.voice_pool` (espeak-ng, Piper) plus, for English, the ``engines``
    (``"flite"``, ``"festival"``) pseudo-talkers of ``split`` (:func:`engine_pool`)."""
    pool = V.voice_pool(languages, seed, per_language=per_language, piper=piper, split=split)
    if engines and "en" in pool:
        pool["en"] = pool["en"] + engine_pool(engines, seed, split)
    return pool


def synthesize(text: str, voice: V.Voice, word_gap: int = 0, rate: int | None = None) -> tuple[np.ndarray, int]:
    """One utterance with any engine, warp included: Flite and Festival here (16 kHz), espeak-ng and Piper
    through :func:`speechdl.data.synth.voices.synthesize` (``word_gap`` is espeak-ng's only)."""
    if voice.engine in ("flite", "festival"):
        return render(text, voice, rate)
    return V.synthesize(text, voice, word_gap=word_gap, rate=rate)
