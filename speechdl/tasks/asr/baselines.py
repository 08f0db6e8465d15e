"""Reference recogniser for the ASR benchmark: PocketSphinx with its bundled US English models.

:class:`PocketSphinx` runs PyPI ``pocketsphinx`` (5.x) through its Python API with the default
configuration, that is the models the package ships: the ``en-us`` continuous HMM acoustic model, the
CMU pronouncing dictionary (``cmudict-en-us.dict``) and the general English 3-gram LM
(``en-us.lm.bin``). One decoder is built once and reused for every utterance; each utterance is one
``start_utt`` / ``process_raw(full_utt=True)`` / ``end_utt`` (``full_utt``: the cepstral mean is
estimated on the whole utterance, as in the package's own batch example). The feature stage keeps state
from one utterance to the next (a half utterance before a sentence changed its text), so it is reset
(``reinit_feat``, no measurable cost) before each one: the result of an utterance does not depend on the
ones before it, nor on which worker decodes it. Input: mono float32 at 16 kHz, sent as 16-bit PCM. Output:
the hypothesis with PocketSphinx's fillers (``<sil>``, ``[noise]``, ``++...++``) and alternate
pronunciation marks (``word(2)``) removed, then :func:`~speechdl.tasks.asr.tokens.normalize_text`,
so it is scored on the same strings as speechdl.

Example:
    >>> # ps = PocketSphinx(); ps([wave_16k])   # -> ["hello world"]
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from speechdl.audio import to_int16
from speechdl.errors import ConfigError
from speechdl.tasks.asr.tokens import normalize_text

SR = 16000
_FILLER = re.compile(r"<[^>]*>|\[[^\]]*\]|\+\+?[^+]*\+\+?|\(\d+\)")


def clean_hypothesis(text: str) -> str:
    """PocketSphinx words -> normalised text: fillers and ``(2)`` variant marks dropped.

    Example:
        >>> clean_hypothesis("<s> hello(2) [noise] world <sil> </s>")
        'hello world'
    """
    return normalize_text(_FILLER.sub(" ", text or ""))


class PocketSphinx:
    """PocketSphinx 5 with its bundled en-us acoustic model, dictionary and LM (default configuration).

    Call it with a list of 16 kHz mono float32 waveforms; it returns one normalised text per waveform.
    ``workers``: processes that decode utterances side by side (PocketSphinx itself uses one thread),
    so it can be timed on as many cores as speechdl. ``config``: extra ``pocketsphinx.Decoder`` options
    (e.g. ``beam=1e-60``); none by default.
    """

    def __init__(self, workers: int = 1, **config: object) -> None:
        try:
            import pocketsphinx
        except ImportError:
            raise ConfigError("pocketsphinx", "is not installed", "pip install pocketsphinx, or pass --no-pocketsphinx"
                              ) from None
        self.version = getattr(pocketsphinx, "__version__", None) or _dist_version("pocketsphinx")
        self.decoder = pocketsphinx.Decoder(samprate=SR, loglevel="FATAL", **config)
        cfg = self.decoder.config
        self.models = {k: str(cfg[k]) for k in ("hmm", "dict", "lm")}
        self.workers, self.config, self._pool = max(1, int(workers)), config, None

    def transcribe(self, wave: np.ndarray) -> str:
        """One utterance ``(n,)`` float32 at 16 kHz -> normalised text."""
        d = self.decoder
        d.reinit_feat()   # the feature stage keeps state from the last utterance: start each one afresh
        d.start_utt()
        d.process_raw(to_int16(np.asarray(wave, np.float32).reshape(-1)).tobytes(), False, True)
        d.end_utt()
        hyp = d.hyp()
        return clean_hypothesis(hyp.hypstr if hyp is not None else "")

    def __call__(self, waves: Sequence[np.ndarray]) -> list[str]:
        if self.workers == 1 or len(waves) < 2:
            return [self.transcribe(w) for w in waves]
        if self._pool is None:   # started once, kept: each worker loads the models once
            import concurrent.futures
            import multiprocessing

            self._pool = concurrent.futures.ProcessPoolExecutor(
                self.workers, mp_context=multiprocessing.get_context("fork"), initializer=_start_worker,
                initargs=(self.config,))
        return list(self._pool.map(_worker_transcribe, waves, chunksize=4))

    def close(self) -> None:
        """Stop the worker processes (if any)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


_WORKER: PocketSphinx | None = None


def _start_worker(config: dict) -> None:
    global _WORKER
    _WORKER = PocketSphinx(**config)


def _worker_transcribe(wave: np.ndarray) -> str:
    assert _WORKER is not None
    return _WORKER.transcribe(wave)


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None
