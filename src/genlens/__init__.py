"""genlens: diagnostics that say what an image generator gets wrong, and where."""

__version__ = "0.1.0"
