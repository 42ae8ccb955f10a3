"""Reverse mode: IR function -> IR function computing primal results and input adjoints.

`vjp_function(fn, active)` returns `f_vjp(*args, *out_bars) -> (*outs, *arg_bars)`. It is built
in named steps, each callable on its own:

1. `driver.prepare`: the pipeline `REVERSE_PREP_PIPELINE` (transforms/pipeline.py) on a copy
   of the primal: custom functions without rules inlined, array chains made linear
   (`inplace`: no old array version is read after a newer one is written), `checkpoint`
   (strip-mining, binomial marks), custom_vjp calls running their fwd rule;
2. `activity.varied`: which values carry derivatives (others get no adjoint, no tape), in the
   `context.ReverseContext` that holds the transform's state;
3. the *forward sweep* is the primal itself, augmented on demand: a `while` gets an iteration
   counter; a value defined inside a loop body or branch that the adjoint needs is pushed onto
   its own tape at the end of that region (`tapes.py`: only what the adjoint asks for);
4. the *reverse sweep* (`ReverseContext.backward_block`) walks the ops backwards, accumulating
   adjoints: elementwise and structural rules from `ad.rules`; loops run backwards over their
   trip count (`loops.py`, `revolve.py` for the binomial schedule), branches replay the
   recorded decision (`branches.py`), custom rules in `custom.py`; each region pops its tapes
   first;
5. cleanup (DCE, copy insertion) is the normal pipeline after the transform.

Adjoints are symbolic zeros until something is accumulated; array adjoints are updated with
element writes, so a scatter from `x[i]` costs O(1).
"""
from __future__ import annotations

from .context import ReverseContext, Scope
from .driver import prepare, transform, vjp_function
from .loops import ReversedLoop

__all__ = ["ReverseContext", "ReversedLoop", "Scope", "prepare", "transform", "vjp_function"]
