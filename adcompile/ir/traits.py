"""Traits: the facts about a primitive that passes ask, instead of keeping their own name lists.

A pass that needs to know "may I hoist / remove / recompute / fold this op?" asks
`primitives.has(op, Trait.X)`; the answer lives once, on the primitive's declaration.
"""
from __future__ import annotations

import enum


class Trait(enum.Enum):
    PURE = "pure"
    """No effect: the results depend only on the operands (removable when unused)."""
    EFFECT = "effect"
    """An effect on a tape or a run-time stop: never removed, duplicated or reordered."""
    ALLOCATES = "allocates"
    """Always yields fresh array storage (never hoisted out of loops: each trip owns its own)."""
    ELEMENTWISE = "elementwise"
    """A scalar function applied per element, operands broadcast as NumPy does."""
    REDUCTION = "reduction"
    """Folds an array (all of it, or one axis) with an associative scalar operator."""
    READS_ARRAY = "reads_array"
    """Reads its array operands' elements and keeps no reference to their storage."""
    SHARES_STORAGE = "shares_storage"
    """Its array result may be its first operand's storage (a backend returns the operand
    itself or a view of it when no work is needed): copy insertion treats them as one."""
    WRITES_ARRAY = "writes_array"
    """Yields its first operand with some elements replaced (in place after copy insertion)."""
    REMAT = "remat"
    """Cheap pure scalar arithmetic: recomputed rather than stored on a tape, free to move."""
    FLOAT_REMAT = "float_remat"
    """Among REMAT ops, those reverse mode also recomputes on floats (one rounding, exact)."""
    EXPENSIVE = "expensive"
    """Costly float math (transcendentals, division): worth computing once out of loops."""
    FOLDABLE = "foldable"
    """Constant-folded by simplify through the interpreter's scalar semantics."""
    HOIST_INT_UNSAFE = "hoist_int_unsafe"
    """On integers may stop the program (division by zero): hoisting would move the stop."""
    TERMINATOR = "terminator"
    """Ends a region (yield, condition, return)."""
    CONTROL = "control"
    """Owns regions (for, while, if, custom)."""

