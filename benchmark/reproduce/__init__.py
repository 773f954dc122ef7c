"""Reproducibility: run manifests, `reproduce` and `verify`."""
