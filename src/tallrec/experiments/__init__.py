"""Experiments built from the package's pieces: quickstart, ablation, cross-domain, the reproduce grid."""
