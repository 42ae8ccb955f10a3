"""Dense Jacobians from compiled JVPs and VJPs: the seeds that go in (`seeds`: identity
lanes, per-argument row blocks, unit cotangents and tangents; `row_seed`: the row-wise identity
seed computed inside the IR) and the assembly of what comes
out (`assemble`: lane axes to Jacobian shape, stacked reverse passes, column blocks). The
derivative API composes these; sparse Jacobians will add colourings here."""
