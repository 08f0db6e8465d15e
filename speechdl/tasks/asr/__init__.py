"""End-to-end speech recognition: Deep Speech 2 (conv + recurrent + CTC) and listen-attend-spell with
joint CTC + attention, character or BPE units, n-gram LM decoding.

Rooms (see DESIGN.md); importing this package registers the models, tasks and datasets:
    tokens.py  text normalisation, character and BPE (sentencepiece) tokenizers
    model.py   ``deepspeech2`` and ``las`` architectures (shared conv + BiRNN encoder, CMVN, SpecAugment)
    task.py    training tasks ``asr_ctc`` and ``asr_joint``
    data.py    ``asr_utts``: lhotse manifests -> log-Mel + token ids, speed / noise / reverb / phone augmentation
    toy.py     ``asr_tones``: text rendered as tones, a problem that trains in seconds
    decode.py  CTC greedy / prefix beam search with an LM, attention beam search, joint rescoring
    lm.py      word n-gram ARPA builder (modified Kneser-Ney) and scorer
    infer.py   public API: ``ASR`` (load a bundle, transcribe files of any length), bundle export
    cli.py     ``speechdl asr transcribe|eval|train|export|lm build``
"""

from speechdl.tasks.asr import data, model, task, toy  # noqa: F401  (registration)
