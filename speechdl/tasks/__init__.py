"""Applications: one package per task (vad, asr, speaker, ...); a task never imports another task."""
