"""Office-Caltech10 (SURF) benchmarks: run from the repository root, ``python -m benchmarks.oc10.tca``."""
