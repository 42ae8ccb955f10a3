"""The compile driver: options, pass pipelines and the one compile cache that jit, the
derivative API and ahead-of-time builds share."""
