"""Data: lhotse manifests, corpus importers, the synthetic corpus builder, noise and augmentation."""
