"""Transitional: custom rules moved to the leaf package `adcompile.custom`; removed once the
reverse-mode package imports from there."""
from ..custom.functions import REGISTRY, CustomFunction, custom_jvp, custom_vjp  # noqa: F401
from ..custom.lowering import rule_ir  # noqa: F401
