"""Synthetic speech corpus builder (espeak-ng / Piper / Flite / Festival voices, noise bank, rooms, telephone band).

Modules: ``text`` (sentences from real corpora), ``voices`` (talkers, espeak-ng/Piper synthesis),
``engines`` (Flite / Festival talkers), ``warp`` (vocal-tract-length warp of any voice),
``noise`` (noise bank, SNR mixing), ``noise_families`` (noise families, ``draw_noise``; generators in
``sfx_nature``, ``sfx_machines``, ``sfx_music``, helpers in ``sfx_common``), ``room`` (reverb, telephone band),
``channel`` (random channel effects: codecs, low rates, EQ, clipping), ``mixer`` (speech intervals,
conditions), ``builder`` (``SynthConfig``, ``build``), ``cli`` (``speechdl data synth``).

Example:
    >>> from speechdl.data.synth.builder import SynthConfig, build
    >>> build(SynthConfig(hours=0.01, seed=0), "/tmp/synth-demo")["files"]  # doctest: +SKIP
    2
"""
