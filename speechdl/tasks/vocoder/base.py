"""The vocoder interface every system fills: ``mel(wave)``, ``synthesize(mel, length)``, ``copy_synthesis(wave)``.

Example:
    >>> import numpy as np
    >>> Vocoder.fit(np.ones(3), 5).tolist()
    [1.0, 1.0, 1.0, 0.0, 0.0]
"""

from __future__ import annotations

import numpy as np

from speechdl.errors import ConfigError
from speechdl.features import FrontendConfig
from speechdl.tasks.vocoder.frontend import VOCODER_FRONTEND, wave_to_mel


class Vocoder:
    """Base: the front-end ``cfg`` (None when the system analyses waveforms itself), ``name``, ``sample_rate``."""

    name: str = "vocoder"
    kind: str = ""
    parallel: bool = True
    cfg: FrontendConfig | None = VOCODER_FRONTEND

    @property
    def sample_rate(self) -> int:
        """Rate (Hz) of the waveforms it takes and returns."""
        return (self.cfg or VOCODER_FRONTEND).sample_rate

    def mel(self, wave: np.ndarray) -> np.ndarray:
        """Log-Mel frames ``(1 + N // hop, n_mels)`` of a mono waveform ``(N,)`` at :attr:`sample_rate`."""
        if self.cfg is None:
            raise ConfigError(self.name, "analyses waveforms itself and takes no mel frames", "pass audio")
        return wave_to_mel(wave, self.cfg)

    def synthesize(self, mel: np.ndarray, length: int | None = None) -> np.ndarray:
        """Waveform ``(T * hop,)`` float32 (or ``length`` samples) of log-Mel frames ``(T, n_mels)``."""
        raise NotImplementedError

    def copy_synthesis(self, wave: np.ndarray) -> np.ndarray:
        """wave -> mel -> wave, the same length as ``wave`` ``(N,)``."""
        wave = np.asarray(wave, np.float32)
        return self.synthesize(self.mel(wave), len(wave))

    @staticmethod
    def fit(y: np.ndarray, length: int | None) -> np.ndarray:
        """``y`` cut or zero-padded to ``length`` samples (unchanged when None), float32."""
        y = np.asarray(y, np.float32)
        if length is None or len(y) == length:
            return y
        return y[:length] if len(y) > length else np.pad(y, (0, length - len(y)))
