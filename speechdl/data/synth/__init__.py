"""Synthetic speech corpus builder (espeak-ng / Piper voices, noise bank, rooms, telephone band)."""
