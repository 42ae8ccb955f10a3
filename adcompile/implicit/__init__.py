"""Implicit differentiation: derivatives of solvers from their optimality conditions."""
from .roots import ImplicitRoot, custom_root, fixed_point

__all__ = ["ImplicitRoot", "custom_root", "fixed_point"]
