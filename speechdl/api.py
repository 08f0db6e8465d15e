"""The application contract: ``speechdl.load(name)`` returns a :class:`Pipeline`; ``run`` returns a :class:`Result`.

Every application (VAD, ASR, speaker verification, and those to come) fills the same seam:

- a :class:`Pipeline` subclass, named in :data:`speechdl.catalog.PIPELINES` under its bundle task, with
  ``task``, ``sample_rate``, ``inputs`` (``"audio"``, ``"audio_pair"`` or ``"text"``), declared
  :class:`Option` s, ``run(inputs, **options) -> Result`` and, for frame-level tasks, ``stream()``;
- a :class:`Result` dataclass whose ``to_dict()`` is what the CLI prints with ``--format json``, what the
  HTTP API returns and what the web page draws: the three can never disagree;
- composition in the bundle (``bundle.json`` ``"components": {"segmenter": "vad"}``), resolved through
  :meth:`Pipeline.component`, i.e. through the registry, never by an import string.

The CLI verb (``speechdl run``), the HTTP endpoint, the web page and the contract test are driven by
the catalogue, so a new task writes no server or page code. See ``docs/contract.md``.

Example:
    >>> import speechdl
    >>> vad = speechdl.load("vad")
    >>> vad.task, vad.sample_rate, vad.inputs
    ('vad', 16000, 'audio')
    >>> result = vad.run("speechdl/assets/sample.flac")
    >>> sorted(result.to_dict())[:3]
    ['duration', 'file', 'frame_hop']
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from speechdl.errors import ConfigError

INPUT_KINDS = ("audio", "audio_pair", "text")


# ---------------------------------------------------------------- options
@dataclass(frozen=True)
class Option:
    """One run-time option of a pipeline, declared once and checked in one place (CLI, HTTP, Python).

    Args:
        name: keyword of ``run`` (``threshold``); the CLI spells it ``--threshold``.
        kind: ``"float"``, ``"int"``, ``"str"`` or ``"bool"``.
        default: value when not given (None: the bundle's own default).
        help: one line for ``--help``, the OpenAPI docs and the web page.
        minimum, maximum: inclusive bounds for numbers. choices: allowed values for strings.

    Example:
        >>> Option("threshold", "float", None, "onset", minimum=0, maximum=1).parse("0.4")
        0.4
        >>> Option("threshold", "float", None, "onset", minimum=0, maximum=1).parse("x")
        Traceback (most recent call last):
        ...
        speechdl.errors.ConfigError: option threshold: expected a number in [0, 1], got 'x' (pass e.g. --threshold 0.5)
    """

    name: str
    kind: str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None

    def _fail(self, value: Any, expected: str) -> ConfigError:
        example, lo, hi = self.default, self.minimum, self.maximum   # suggest the default, never a bare bound
        if example is None:   # no default: a middle value of a probability-like range, else a round one in range
            if self.kind == "bool" or self.choices:
                example = "true" if self.kind == "bool" else self.choices[0]
            elif lo is not None and hi is not None and 0 <= lo <= hi <= 1:
                example = 0.5
            elif (lo is None or lo <= 1) and (hi is None or hi >= 1):
                example = 1
            else:
                example = lo if lo is not None and lo > 1 else hi
        if isinstance(example, bool):
            example = str(example).lower()
        if isinstance(example, float) and example.is_integer():
            example = int(example)
        return ConfigError(f"option {self.name}", f"expected {expected}, got {value!r}",
                           f"pass e.g. --{self.name.replace('_', '-')} {example}")

    def _range(self) -> str:
        lo = "-inf" if self.minimum is None else f"{self.minimum:g}"
        hi = "inf" if self.maximum is None else f"{self.maximum:g}"
        return f"[{lo}, {hi}]"

    def parse(self, value: Any) -> Any:
        """``value`` (a string from the CLI or a form, or a Python value) checked and converted."""
        if value is None:
            return None
        if self.kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise self._fail(value, "true or false")
        if self.kind in ("float", "int"):
            what = "an integer" if self.kind == "int" else "a number"
            if isinstance(value, bool):
                raise self._fail(value, f"{what} in {self._range()}")
            try:
                number = float(value)
            except (TypeError, ValueError):
                raise self._fail(value, f"{what} in {self._range()}") from None
            if not math.isfinite(number) or (self.kind == "int" and not number.is_integer()):
                raise self._fail(value, f"{what} in {self._range()}")
            if (self.minimum is not None and number < self.minimum) or (
                    self.maximum is not None and number > self.maximum):
                raise self._fail(value, f"{what} in {self._range()}")
            return int(number) if self.kind == "int" else number
        text = str(value)
        if self.choices is not None and text not in self.choices:
            raise self._fail(value, f"one of {', '.join(self.choices)}")
        if len(text) > 4096 or "\x00" in text:
            raise self._fail(value[:20] + "...", "a short string")
        return text

    def describe(self) -> dict[str, Any]:
        """JSON description (for ``GET /v1/tasks`` and the web page)."""
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}


# ---------------------------------------------------------------- results
def jsonable(value: Any) -> Any:
    """``value`` with numpy scalars / arrays, tuples and paths turned into JSON types; floats rounded
    to 6 digits; NaN/Inf become None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, os.PathLike):
        return str(value)
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        return jsonable(value.tolist())
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    return value


@dataclass
class Result:
    """Base of every pipeline's typed result. Subclasses are dataclasses; their fields are the JSON.

    ``to_dict()`` is the JSON object the CLI prints (``--format json``), the HTTP API returns and the
    web page draws; ``to_text()`` is the human view; ``files()`` lists audio or images a result carries.
    """

    task: ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dict (``{"task": ..., <fields>}``)."""
        fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if not f.name.startswith("_")}
        return {"task": self.task, **jsonable(fields)}

    def to_json(self, indent: int | None = None) -> str:
        """:meth:`to_dict` as a JSON string (one line by default)."""
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=indent)

    def to_text(self) -> str:
        """Human-readable view (default: ``key: value`` lines)."""
        return "\n".join(f"{k}: {v}" for k, v in self.to_dict().items() if k != "task")


# ---------------------------------------------------------------- streaming
class Stream:
    """Streaming contract for frame-level tasks: ``forward_chunk(samples, state) -> (result, state)``.

    Chunks may have any size; concatenating the outputs of all chunks (and of :meth:`flush`) equals
    ``run`` on the whole signal. :meth:`push` keeps the state inside for convenience.
    """

    def init_state(self) -> Any:
        """A fresh state (nothing heard yet)."""
        raise NotImplementedError

    def forward_chunk(self, samples: Any, state: Any) -> tuple[dict[str, Any], Any]:
        """Process ``samples`` (mono float32 at the model rate) -> (JSON-ready partial result, state)."""
        raise NotImplementedError

    def finish(self, state: Any) -> dict[str, Any]:
        """Flush what the state still holds (the end of the signal)."""
        raise NotImplementedError

    def push(self, samples: Any) -> dict[str, Any]:
        """:meth:`forward_chunk` with the state kept in the stream."""
        if not hasattr(self, "_state"):
            self._state = self.init_state()
        out, self._state = self.forward_chunk(samples, self._state)
        return out

    def flush(self) -> dict[str, Any]:
        """:meth:`finish` on the kept state, then reset it."""
        out = self.finish(getattr(self, "_state", None) or self.init_state())
        self.__dict__.pop("_state", None)
        return out


# ---------------------------------------------------------------- pipelines
class Pipeline:
    """Base of every application: a loaded bundle that runs on inputs and returns a :class:`Result`.

    Subclasses set ``task``, ``inputs``, ``options`` and implement :meth:`from_bundle` and :meth:`_run`.
    """

    task: ClassVar[str] = ""
    inputs: ClassVar[str] = "audio"
    options: ClassVar[tuple[Option, ...]] = ()
    streaming: ClassVar[bool] = False
    stream_field: ClassVar[str] = ""   # streaming tasks: result field (and bool run option) that the stream's
    #                                    chunks give frame by frame; concatenated, they equal run()'s
    description: ClassVar[str] = ""

    def __init__(self, path: Path | None, meta: dict[str, Any], sample_rate: int) -> None:
        self.path, self.meta, self.sample_rate = path, meta, int(sample_rate)
        self._components: dict[str, Pipeline] = {}

    # --- construction
    @classmethod
    def from_bundle(cls, path: Path, meta: dict[str, Any]) -> Pipeline:
        """Build the pipeline of the bundle in directory ``path`` (``meta``: its ``bundle.json``)."""
        raise NotImplementedError

    @property
    def name(self) -> str:
        """The bundle's name (its directory name)."""
        return self.path.name if self.path else self.task

    def component(self, role: str) -> Pipeline:
        """The pipeline the bundle declares for ``role`` (``"components": {role: name}``), loaded once."""
        if role not in self._components:
            spec = (self.meta.get("components") or {}).get(role)
            if not spec:
                raise ConfigError(self.path or self.task, f"the bundle declares no {role!r} component",
                                  f"add \"components\": {{\"{role}\": NAME}} to bundle.json")
            self._components[role] = load(spec)
        return self._components[role]

    # --- running
    def check_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Options checked against the declarations (unknown names and bad values: ConfigError)."""
        known = {o.name: o for o in self.options}
        unknown = sorted(set(options) - set(known))
        if unknown:
            raise ConfigError(f"{self.task} options", f"unknown option(s) {', '.join(unknown)}",
                              f"valid: {', '.join(known) or 'none'}")
        return {name: opt.parse(options.get(name, opt.default)) for name, opt in known.items()}

    def run(self, inputs: Any, **options: Any) -> Result:
        """Run on one input (audio: a file path or a mono float32 waveform at :attr:`sample_rate`;
        audio_pair: two of those; text: a string) and return the task's :class:`Result`."""
        return self._run(inputs, **self.check_options(options))

    def _run(self, inputs: Any, **options: Any) -> Result:
        raise NotImplementedError

    def run_many(self, inputs: Iterable[Any], **options: Any) -> list[Result]:
        """:meth:`run` on each input (pipelines may batch)."""
        return [self.run(x, **options) for x in inputs]

    def stream(self, **options: Any) -> Stream:
        """A fresh :class:`Stream` (frame-level tasks only)."""
        raise ConfigError(self.task, "this task does not stream", "use run() on whole inputs")

    def export_onnx(self, out: str | os.PathLike) -> dict[str, Any]:
        """Write the model (front-end included) as ONNX; returns ``{"path", "max_abs_diff", ...}``."""
        raise ConfigError(self.task, "no ONNX export for this task yet", "see docs/contract.md")

    def describe(self) -> dict[str, Any]:
        """What a client needs to call it (``GET /v1/tasks``)."""
        return {"name": self.name, "task": self.task, "inputs": self.inputs, "sample_rate": self.sample_rate,
                "streaming": self.streaming, "description": self.description,
                "options": [o.describe() for o in self.options]}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, task={self.task!r}, sample_rate={self.sample_rate})"


# ---------------------------------------------------------------- loading
def read_meta(name_or_path: str | os.PathLike) -> tuple[Path, dict[str, Any]]:
    """``(directory, bundle.json dict)`` of a shipped bundle name or a bundle directory (no torch import)."""
    from speechdl.pretrained.locate import resolve_bundle

    path = resolve_bundle(name_or_path)
    try:
        meta = json.loads((path / "bundle.json").read_text())
    except (OSError, ValueError) as err:
        raise ConfigError(path / "bundle.json", f"unreadable ({err})", "re-export the bundle") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("task"), str):
        raise ConfigError(path / "bundle.json", "no 'task' in the bundle", "re-export the bundle")
    return path, meta


def pipeline_class(task: str) -> type[Pipeline]:
    """The :class:`Pipeline` subclass registered for bundles of ``task``."""
    from speechdl.catalog import PIPELINES
    from speechdl.registry import Registry

    return Registry("task pipeline", where="bundle task", lazy=PIPELINES).get(task)


def load(name_or_path: str | os.PathLike = "vad") -> Pipeline:
    """Load a shipped bundle by name (``"vad"``, ``"asr"``, ``"speaker"``, ...) or a bundle directory.

    Returns the task's :class:`Pipeline`; inference imports no Lightning.
    """
    path, meta = read_meta(name_or_path)
    return pipeline_class(meta["task"]).from_bundle(path, meta)


def available() -> list[dict[str, str]]:
    """The shipped bundles: ``[{"name", "task"}]`` (bundle.json only; nothing is loaded)."""
    from speechdl.pretrained.locate import shipped_bundles

    out = []
    for name in shipped_bundles():
        _, meta = read_meta(name)
        out.append({"name": name, "task": meta["task"]})
    return out
