"""Speech front-ends as torch modules mapping ``(B, samples)`` to ``(B, frames, features)``.

Example:
    >>> import torch
    >>> from speechdl.features import LogMel, MFCC39
    >>> tuple(MFCC39()(torch.zeros(1, 16000)).shape)
    (1, 101, 39)
"""

from speechdl.features.cmvn import CMVN
from speechdl.features.config import FrontendConfig
from speechdl.features.deltas import Deltas, add_deltas, deltas
from speechdl.features.frontend import MFCC39, FeatureStream, Frontend, LogMel, extract_blocks, extract_file
from speechdl.features.inverse import ISTFTStream, istft  # its stft() stays there: features.stft is a module
from speechdl.features.mel import hz_to_mel, log_compress, mel_filterbank, mel_to_hz
from speechdl.features.mfcc import dct_matrix
from speechdl.features.resynth import griffin_lim, logmel_to_wave, mel_to_linear
from speechdl.features.specaugment import SpecAugment
from speechdl.features.stacking import FrameStack, stack_frames
from speechdl.features.stft import PowerSpectrum, make_window

__all__ = [
    "CMVN", "Deltas", "FeatureStream", "FrameStack", "Frontend", "FrontendConfig", "ISTFTStream", "LogMel", "MFCC39",
    "PowerSpectrum", "SpecAugment", "add_deltas", "dct_matrix", "deltas", "extract_blocks", "extract_file",
    "griffin_lim", "hz_to_mel", "istft", "log_compress", "logmel_to_wave", "make_window", "mel_filterbank",
    "mel_to_hz", "mel_to_linear", "stack_frames",
]
