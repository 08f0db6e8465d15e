"""speechdl: the toolkit of "Deep Learning in Speech Technology".

Front-ends (FFT, Mel filterbank, MFCC, frame stacking), architectures and applications
(VAD, ASR, speaker verification, ...) in one tested PyTorch package.
"""

__version__ = "0.1.0"
