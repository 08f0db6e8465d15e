"""``FrontendConfig``: one dataclass that describes the whole front-end.

A config travels with every model (it is saved in the bundle), so inference never guesses the
front-end. The defaults follow librosa's conventions (periodic Hann, ``center=True``,
``pad_mode='constant'``, Slaney mel with Slaney area normalisation, power 2).

Example:
    >>> cfg = FrontendConfig.mfcc39()
    >>> cfg.feature_dim
    39
    >>> FrontendConfig.from_dict(cfg.to_dict()) == cfg
    True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from speechdl.errors import ConfigError
from speechdl.validate import SAMPLE_RATES, check_sample_rate, number

_CHOICES = {
    "kind": ("logmel", "mfcc", "power"),
    "window": ("hann", "hamming", "povey", "rect"),
    "pad_mode": ("constant", "reflect"),
    "mel_scale": ("slaney", "htk"),
    "mel_norm": ("slaney", "none"),
    "log": ("ln", "db"),
    "cmvn": ("none", "utterance", "global"),
}
# field: (kind, minimum, maximum, minimum excluded): NaN, infinities and other types are refused
_NUMBERS = {
    "n_fft": ("int", 2, 65536, False), "win_length": ("int", 1, 65536, False), "hop_length": ("int", 1, 65536, False),
    "preemphasis": ("float", 0.0, 1.0, False), "n_mels": ("int", 1, 1024, False), "f_min": ("float", 0.0, None, False),
    "f_max": ("float", 0.0, None, True), "power": ("float", 0.0, 4.0, True), "log_floor": ("float", 0.0, 1.0, True),
    "n_mfcc": ("int", 1, 1024, False), "deltas": ("int", 0, 2, False), "delta_window": ("int", 1, 50, False),
    "stack": ("int", 0, 50, False), "chunk_seconds": ("float", 0.01, 3600.0, False),
}


@dataclass(frozen=True)
class FrontendConfig:
    """Every setting of the feature front-end.

    Framing: ``win_length`` samples every ``hop_length`` samples, zero-padded to ``n_fft`` for the
    FFT. With ``center=True`` frame ``t`` is centred on sample ``t * hop_length`` and a signal of
    ``N`` samples gives ``1 + N // hop_length`` frames.
    """

    sample_rate: int = 16000
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 160
    window: str = "hann"  # periodic window of win_length, centred in n_fft
    center: bool = True
    pad_mode: str = "constant"
    preemphasis: float = 0.0  # y[n] = x[n] - a x[n-1]; 0 disables
    kind: str = "logmel"  # logmel | mfcc | power (linear power spectrum)
    n_mels: int = 40
    f_min: float = 0.0
    f_max: float | None = None  # None -> sample_rate / 2
    mel_scale: str = "slaney"
    mel_norm: str = "slaney"
    power: float = 2.0  # 1 = magnitude, 2 = power
    log: str = "ln"  # ln: natural log; db: 10 log10 (librosa.power_to_db, top_db=None)
    log_floor: float = 1e-10
    n_mfcc: int = 13
    deltas: int = 0  # 0: statics only; 1: + delta; 2: + delta + delta-delta
    delta_window: int = 2  # N of the regression formula (width 2N+1)
    cmvn: str = "none"
    stack: int = 0  # +-k context frames spliced at the input
    chunk_seconds: float = 10.0  # long audio is processed in blocks of this length

    def __post_init__(self) -> None:
        """Every field checked (types, finite numbers, ranges, consistency): one :class:`ConfigError` line."""
        for name, allowed in _CHOICES.items():
            value = getattr(self, name)
            if not isinstance(value, str) or value not in allowed:
                raise ConfigError("frontend", f"{name}={value!r} is not valid", f"use one of {', '.join(allowed)}")
        if not isinstance(self.center, bool):
            raise ConfigError("frontend", f"center={self.center!r} is not a boolean", "use true or false")
        try:
            rate = check_sample_rate(self.sample_rate, "frontend sample_rate")
        except ConfigError:
            lo, hi = SAMPLE_RATES
            raise ConfigError("frontend", f"sample_rate={self.sample_rate!r} is outside {lo}-{hi} Hz",
                              "use e.g. sample_rate=16000") from None
        object.__setattr__(self, "sample_rate", rate)
        for name, (kind, lo, hi, low_open) in _NUMBERS.items():
            value = getattr(self, name)
            if name == "f_max" and value is None:
                continue
            try:
                parsed = number(value, name, kind, lo, hi, low_open)
            except ConfigError:
                interval = f"{'(' if low_open else '['}{lo:g}, {'inf' if hi is None else f'{hi:g}'}]"
                raise ConfigError("frontend", f"{name}={value!r} is not {'an integer' if kind == 'int' else 'a number'}"
                                  f" in {interval}", f"e.g. {name}={getattr(FrontendConfig, name)}") from None
            object.__setattr__(self, name, parsed)
        if self.win_length > self.n_fft:
            raise ConfigError("frontend", f"win_length={self.win_length} exceeds n_fft={self.n_fft}",
                              "raise n_fft or shorten the window")
        if self.kind == "mfcc" and self.n_mfcc > self.n_mels:
            raise ConfigError("frontend", f"n_mfcc={self.n_mfcc} exceeds n_mels={self.n_mels}",
                              "use fewer cepstra or more mel bands")
        if self.kind in ("logmel", "mfcc") and self.n_mels > self.n_freqs:
            raise ConfigError("frontend", f"n_mels={self.n_mels} exceeds the {self.n_freqs} FFT bins (bands would be "
                              "empty)", "use fewer mel bands or a larger n_fft")
        nyquist = self.sample_rate / 2
        f_max = nyquist if self.f_max is None else self.f_max
        if f_max > nyquist or not self.f_min < f_max:
            raise ConfigError("frontend", f"mel range {self.f_min:g}-{f_max:g} Hz is empty or beyond Nyquist",
                              f"use 0 <= f_min < f_max <= {nyquist:g}")
        if self.chunk_seconds * self.sample_rate < self.hop_length:
            raise ConfigError("frontend", f"chunk_seconds={self.chunk_seconds:g} is shorter than one hop",
                              "use e.g. chunk_seconds=10")

    @property
    def n_freqs(self) -> int:
        """FFT bins kept: ``n_fft // 2 + 1``."""
        return self.n_fft // 2 + 1

    @property
    def static_dim(self) -> int:
        """Features per frame before deltas and stacking."""
        return {"logmel": self.n_mels, "mfcc": self.n_mfcc, "power": self.n_freqs}[self.kind]

    @property
    def feature_dim(self) -> int:
        """Features per frame of the final output."""
        return self.static_dim * (1 + self.deltas) * (2 * self.stack + 1)

    @property
    def frame_shift(self) -> float:
        """Seconds between frames."""
        return self.hop_length / self.sample_rate

    def num_frames(self, num_samples: int) -> int:
        """Frames produced for a signal of ``num_samples`` samples."""
        if self.center:
            return 1 + num_samples // self.hop_length
        return max(0, 1 + (num_samples - self.n_fft) // self.hop_length)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (YAML / JSON friendly)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FrontendConfig:
        """Build from a dict, rejecting unknown keys (and anything but a mapping) with a clear message."""
        if not isinstance(d, dict):
            raise ConfigError("frontend", f"expected a mapping of settings, got {type(d).__name__}",
                              'write a JSON object, e.g. {"kind": "mfcc", "n_mels": 40}')
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError("frontend", f"unknown key(s) {', '.join(unknown)}",
                              f"valid keys: {', '.join(sorted(known))}")
        return cls(**d)

    def replace(self, **changes: Any) -> FrontendConfig:
        """A copy with ``changes`` applied (validated)."""
        return replace(self, **changes)

    @classmethod
    def logmel(cls, **kw: Any) -> FrontendConfig:
        """40-band log-Mel (natural log) at 16 kHz, 25 ms windows every 10 ms."""
        return cls(**{"kind": "logmel", **kw})

    @classmethod
    def mfcc39(cls, **kw: Any) -> FrontendConfig:
        """The lecture's 39 features: 13 MFCC (dB log-Mel, orthonormal DCT-II) + delta + delta-delta."""
        return cls(**{"kind": "mfcc", "n_mfcc": 13, "log": "db", "deltas": 2, **kw})
