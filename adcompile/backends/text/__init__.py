"""Structured-text backends: shared naming and control-flow emission (`emitter`) for the
backends that write source code (numba's Python now; CUDA C and numba-cuda next)."""
