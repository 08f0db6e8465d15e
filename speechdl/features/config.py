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

_CHOICES = {
    "kind": ("logmel", "mfcc", "power"),
    "window": ("hann", "hamming", "povey", "rect"),
    "pad_mode": ("constant", "reflect"),
    "mel_scale": ("slaney", "htk"),
    "mel_norm": ("slaney", "none"),
    "log": ("ln", "db"),
    "cmvn": ("none", "utterance", "global"),
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
        for name, allowed in _CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ConfigError("frontend", f"{name}={getattr(self, name)!r} is not valid",
                                  f"use one of {', '.join(allowed)}")
        positive = ("sample_rate", "n_fft", "win_length", "hop_length", "n_mels", "n_mfcc")
        for name in positive:
            if int(getattr(self, name)) <= 0:
                raise ConfigError("frontend", f"{name} must be positive", f"got {getattr(self, name)}")
        if self.win_length > self.n_fft:
            raise ConfigError("frontend", f"win_length={self.win_length} exceeds n_fft={self.n_fft}",
                              "raise n_fft or shorten the window")
        if self.kind == "mfcc" and self.n_mfcc > self.n_mels:
            raise ConfigError("frontend", f"n_mfcc={self.n_mfcc} exceeds n_mels={self.n_mels}",
                              "use fewer cepstra or more mel bands")
        if not 0 <= self.deltas <= 2 or self.delta_window < 1 or self.stack < 0:
            raise ConfigError("frontend", "deltas must be 0-2, delta_window >= 1, stack >= 0",
                              f"got deltas={self.deltas}, delta_window={self.delta_window}, stack={self.stack}")
        if (self.f_max or self.sample_rate / 2) > self.sample_rate / 2 or self.f_min < 0:
            raise ConfigError("frontend", f"mel range {self.f_min}-{self.f_max} Hz is outside 0-Nyquist",
                              f"use f_max <= {self.sample_rate / 2:g}")

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
        """Build from a dict, rejecting unknown keys with a clear message."""
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
