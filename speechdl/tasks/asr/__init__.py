"""End-to-end speech recognition: Deep Speech 2 (conv + recurrent + CTC) and listen-attend-spell with
joint CTC + attention, character or BPE units, n-gram LM decoding.

Importing this package imports nothing: the architectures, training tasks, datasets, the pipeline and
the CLI group are found by name through :mod:`speechdl.catalog`.

Rooms (see DESIGN.md), by role:
    net.py       what the bundle holds: ``deepspeech2`` and ``las`` (no Lightning)
    train.py     training tasks ``asr_ctc`` and ``asr_joint`` (Lightning)
    data.py      ``asr_utts``: lhotse manifests -> log-Mel + token ids, speed / noise / reverb / phone augmentation
    toy.py       ``asr_tones``: text rendered as tones, a problem that trains in seconds
    tokens.py    text normalisation, character and BPE tokenizers
    decode.py    CTC greedy / prefix beam search with an LM, attention beam search, joint rescoring
    lm.py        word n-gram ARPA builder (modified Kneser-Ney) and scorer
    infer.py     the engine: ``ASR`` (model + front-end + tokenizer + decoding) on waveforms
    pipeline.py  the contract: ``speechdl.load("asr").run(audio) -> ASRResult``; long inputs cut by the
                 bundle's ``segmenter`` component (the VAD)
    export.py    bundle a training run (averaged checkpoints, LM, decoding defaults, components)
    evaluate.py  WER / CER on manifests; baselines.py: PocketSphinx for the benchmark
    cli.py       ``speechdl asr transcribe|eval|train|export|lm build``, thin over the pipeline
"""
