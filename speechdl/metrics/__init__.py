"""Metrics of the field: detection (F1, ROC-AUC, DET), WER/CER, EER/minDCF, audio quality."""
