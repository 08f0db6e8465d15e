"""The catalogue: every named thing in speechdl, as ``name -> "module:attr"`` strings.

This module imports nothing. The registries (:mod:`speechdl.registry`) read it, so an architecture,
training task, dataset, pipeline or CLI group is found by name without importing the modules of
all the others (``speechdl --help`` starts without torch). A new application adds its lines here:
one pipeline (``PIPELINES``), its CLI group, its training task and datasets, its architectures.

Example:
    >>> PIPELINES["vad"]
    'speechdl.tasks.vad.pipeline:VADPipeline'
    >>> sorted(CLI_GROUPS)[:2]
    ['asr', 'data']
"""

from __future__ import annotations

# task name (bundle.json "task") -> the Pipeline subclass that serves its bundles
PIPELINES: dict[str, str] = {
    "vad": "speechdl.tasks.vad.pipeline:VADPipeline",
    "asr": "speechdl.tasks.asr.pipeline:ASRPipeline",
    "speaker": "speechdl.tasks.speaker.pipeline:SpeakerPipeline",
    "enhance": "speechdl.tasks.enhance.pipeline:EnhancePipeline",
    "vocoder": "speechdl.tasks.vocoder.pipeline:VocoderPipeline",
    "kws": "speechdl.tasks.kws.pipeline:KwsPipeline",
    "word2vec": "speechdl.tasks.text.pipeline:Word2VecPipeline",
    "translate": "speechdl.tasks.text.translate_pipeline:TranslatePipeline",
}

# `speechdl <group>` -> (module with register(subparsers), one-line help)
CLI_GROUPS: dict[str, tuple[str, str]] = {
    "features": ("speechdl.features.cli", "speech front-ends: extract log-Mel / MFCC features, compare"),
    "data": ("speechdl.data.cli", "corpora: synthesise, import, mix, inspect manifests"),
    "train": ("speechdl.train.cli", "train any recipe (YAML) with key=value overrides; resumable"),
    "tune": ("speechdl.train.tune_cli", "hyperparameter search over a recipe (optuna)"),
    "vad": ("speechdl.tasks.vad.cli", "voice activity detection: detect, train, export, eval"),
    "asr": ("speechdl.tasks.asr.cli", "speech recognition: transcribe, train, export, eval"),
    "speaker": ("speechdl.tasks.speaker.cli", "speaker verification: embed, verify, enroll, identify, eval"),
    "enhance": ("speechdl.tasks.enhance.cli", "speech enhancement: denoise files, train, export, eval"),
    "kws": ("speechdl.tasks.kws.cli", "keyword spotting: detect commands and keywords, synth, train, export, eval"),
    "vocode": ("speechdl.tasks.vocoder.cli", "vocoders: mel -> waveform, copy-synthesis, train, export, data"),
    "text": ("speechdl.tasks.text.cli", "text: corpora, word2vec, translation (prepare, export, eval)"),
    "run": ("speechdl.api_cli", "run any model by name (the application contract) on inputs"),
    "models": ("speechdl.pretrained.cli", "list the shipped and registered models"),
    "serve": ("speechdl.serve.cli", "HTTP API and web page for every model (FastAPI + uvicorn)"),
}

# architecture name (recipes' model.name, bundles' model.name) -> nn.Module class
ARCHITECTURES: dict[str, str] = {
    "additive_attention": "speechdl.nn.attention:AdditiveAttention",
    "location_attention": "speechdl.nn.attention:LocationAwareAttention",
    "autoencoder": "speechdl.nn.autoencoder:AutoEncoder",
    "conv_autoencoder": "speechdl.nn.autoencoder:ConvAutoEncoder",
    "denoising_autoencoder": "speechdl.nn.autoencoder:DenoisingAutoEncoder",
    "cnn1d": "speechdl.nn.conv:CNN1d",
    "cnn_fc": "speechdl.nn.conv:CNNFC",
    "conv2d_subsample": "speechdl.nn.conv:Conv2dSubsampler",
    "dense": "speechdl.nn.dense:DenseNet",
    "conv_discriminator": "speechdl.nn.gan:ConvDiscriminator",
    "conv_generator": "speechdl.nn.gan:ConvGenerator",
    "mlp_discriminator": "speechdl.nn.gan:MLPDiscriminator",
    "mlp_generator": "speechdl.nn.gan:MLPGenerator",
    "rnn": "speechdl.nn.recurrent:RecurrentNet",
    "resnet": "speechdl.nn.resnet:ResNet",
    "ds_cnn": "speechdl.nn.dscnn:DSCNN",
    "seq2seq": "speechdl.nn.seq2seq:Seq2Seq",
    "token_encoder": "speechdl.nn.seq2seq:TokenEncoder",
    "bert": "speechdl.nn.bert:BertEncoder",
    "tdnn": "speechdl.nn.tdnn:TDNN",
    "xvector": "speechdl.nn.tdnn:XVector",
    "conformer": "speechdl.nn.transformer:ConformerEncoder",
    "transformer": "speechdl.nn.transformer:TransformerEncoder",
    "wavenet": "speechdl.nn.wavenet:WaveNet",
    "hifigan": "speechdl.nn.hifigan:HiFiGANGenerator",
    "hifigan_mpd": "speechdl.nn.hifigan:MultiPeriodDiscriminator",
    "hifigan_msd": "speechdl.nn.hifigan:MultiScaleDiscriminator",
    "hifigan_discriminator": "speechdl.nn.hifigan:HiFiGANDiscriminator",
    "iaf_student": "speechdl.nn.iaf_student:IAFStudent",
    "vad_crnn": "speechdl.nn.crnn:CausalCRNN",
    "band_norm_rnn": "speechdl.nn.band_norm:BandNormRNN",
    "deepspeech2": "speechdl.tasks.asr.net:DeepSpeech2",
    "las": "speechdl.tasks.asr.net:AttentionASR",
    "speaker_net": "speechdl.tasks.speaker.net:SpeakerNet",
    "enhance_gru": "speechdl.nn.enhance:BandGRU",
    "enhance_dae": "speechdl.nn.enhance:StackedDAE",
    "metric_discriminator": "speechdl.nn.enhance:MetricDiscriminator",
}

# recipes' task.name -> LightningModule (training only)
TRAIN_TASKS: dict[str, str] = {
    "classify": "speechdl.train.tasks:Classify",
    "regress": "speechdl.train.tasks:Regress",
    "reconstruct": "speechdl.train.tasks:Reconstruct",
    "gan": "speechdl.train.tasks_generative:GANTask",
    "seq2seq": "speechdl.train.tasks_seq2seq:Seq2SeqTask",
    "wavenet": "speechdl.train.tasks_seq2seq:WaveNetTask",
    "vad": "speechdl.tasks.vad.train:VadTask",
    "asr_ctc": "speechdl.tasks.asr.train:CTCTask",
    "asr_joint": "speechdl.tasks.asr.train:JointTask",
    "speaker": "speechdl.tasks.speaker.train:SpeakerTask",
    "enhance": "speechdl.tasks.enhance.train:EnhanceTask",
    "enhance_metricgan": "speechdl.tasks.enhance.metricgan:MetricGANTask",
    "vocoder_gan": "speechdl.tasks.vocoder.train:VocoderGANTask",
    "vocoder_distill": "speechdl.tasks.vocoder.distill:VocoderDistillTask",
    "mlm": "speechdl.tasks.text.mlm:MLMTask",
}

# recipes' data.name -> dataset factory
DATASETS: dict[str, str] = {
    "toy_frames": "speechdl.train.datasets:toy_frames",
    "toy_sequences": "speechdl.train.datasets:toy_sequences",
    "toy_regression": "speechdl.train.datasets:toy_regression",
    "npy_frames": "speechdl.train.datasets:npy_frames",
    "toy_spectra": "speechdl.train.datasets_toy:toy_spectra",
    "toy_copy": "speechdl.train.datasets_toy:toy_copy",
    "toy_reverse": "speechdl.train.datasets_toy:toy_reverse",
    "toy_tones": "speechdl.train.datasets_toy:toy_tones",
    "toy_gaussian": "speechdl.train.datasets_toy:toy_gaussian",
    "toy_noisy_frames": "speechdl.train.datasets_toy:toy_noisy_frames",
    "vad_frames": "speechdl.tasks.vad.data:vad_frames",
    "asr_utts": "speechdl.tasks.asr.data:asr_utts",
    "asr_tones": "speechdl.tasks.asr.toy:asr_tones",
    "speaker_utts": "speechdl.tasks.speaker.data:speaker_utts",
    "speaker_toy": "speechdl.tasks.speaker.toy:speaker_toy",
    "enhance_mixes": "speechdl.tasks.enhance.data:enhance_mixes",
    "vocoder_segments": "speechdl.tasks.vocoder.data:vocoder_segments",
    "kws_words": "speechdl.tasks.kws.data:kws_words",
    "translation_pairs": "speechdl.tasks.text.translation:translation_pairs",
    "mlm_sentences": "speechdl.tasks.text.mlm:mlm_sentences",
}
