"""Metrics of the field: detection (F1, ROC-AUC, DET), WER/CER, EER/minDCF, audio quality, keyword spotting.

Rooms: ``detection`` (frame decisions), ``wer`` (WER/CER), ``verification`` (EER, minDCF), ``quality``
(PESQ, STOI/ESTOI, SI-SDR), ``vocoding`` (MCD, log-F0 RMSE, voicing error), ``kws`` (miss rate at false
alarms per hour), ``plots``. The quality, vocoding and keyword-spotting functions are re-exported here (light:
``pesq``, ``pystoi`` and ``parselmouth`` load on first use).

Example:
    >>> from speechdl.metrics import kws_curve, si_sdr
    >>> round(si_sdr([1.0, -1.0, 2.0, 0.5], [1.1, -0.9, 2.0, 0.4]), 1)
    22.6
"""

from speechdl.metrics.kws import Detection, Event, kws_curve, miss_rate_at
from speechdl.metrics.quality import estoi, pesq, si_sdr, si_sdr_improvement, stoi
from speechdl.metrics.vocoding import f0_errors, mcd

__all__ = ["Detection", "Event", "estoi", "f0_errors", "kws_curve", "mcd", "miss_rate_at", "pesq", "si_sdr",
           "si_sdr_improvement", "stoi"]
