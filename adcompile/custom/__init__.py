"""Custom derivative rules: the user-facing decorators (`functions`, a leaf) and the lowering
of rules to IR (`lowering`, on top of the frontend)."""
from .functions import REGISTRY, CustomFunction, custom_jvp, custom_vjp

__all__ = ["REGISTRY", "CustomFunction", "custom_jvp", "custom_vjp"]
