"""The package version, in a leaf module so that backends can stamp caches without importing
the package root."""
__version__ = "0.1.0"
