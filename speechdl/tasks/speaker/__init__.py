"""Speaker recognition with DNN embeddings (x-vectors): train, enroll, verify, identify.

Rooms (see DESIGN.md); importing this package registers the model, the task and the datasets:
    model.py     ``speaker_net``: x-vector TDNN or thin ResNet-34 encoder with a softmax or AAM head
    task.py      training task ``speaker`` (cross-entropy, val EER / minDCF of the embeddings)
    data.py      ``speaker_utts``: speaker-labelled manifests -> features of random crops
    toy.py       ``speaker_toy``: source-filter toy voices, a problem that trains in seconds
    backends.py  cosine, LDA, PLDA, s-norm / AS-norm, calibration
    trials.py    VoxCeleb-format trial lists
    store.py     the SQLite enrollment store
    infer.py     public API: ``SpeakerModel`` (load a bundle, embed, verify), bundle export
    evaluate.py  EER / minDCF / DET of a bundle on a trial list
    cli.py       ``speechdl speaker embed|verify|enroll|identify|list|remove|eval|train|export``
"""

from speechdl.tasks.speaker import data, model, task, toy  # noqa: F401  (registration)
