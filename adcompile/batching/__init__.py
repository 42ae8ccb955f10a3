"""Batches: one program over many instances (all CPU cores, or one CUDA thread each)."""
from .api import Batched, batch
from .sources import pullback, pushforward

__all__ = ["Batched", "batch", "pullback", "pushforward"]
