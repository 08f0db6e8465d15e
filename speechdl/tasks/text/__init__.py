"""Text tasks (issue 21): word2vec (:mod:`.word2vec`, :mod:`.w2v_kernels`, :mod:`.vocab`), word vectors and their
files (:mod:`.vectors`), intrinsic evaluation (:mod:`.evaluate`), the application pipeline (:mod:`.pipeline`), its
ONNX graph (:mod:`.onnx`), bundles (:mod:`.export`) and the ``speechdl text`` verbs (:mod:`.cli`)."""
