"""Automatic differentiation transforms on the IR: activity analysis, forward mode (JVP, also
with tangent lanes), reverse mode (VJP with tapes). Rules live in `rules` (elementwise) and are
shared by both modes."""
