"""Errors genlens raises on bad input.

Every check of user input raises one of these with a message that names the offending thing (a file,
an array, an option) and what would fix it, so the CLI can print it without a traceback.
"""

from __future__ import annotations


class GenlensError(Exception):
    """Base class: a problem the user can fix, reported without a traceback by the CLI."""


class InputError(GenlensError, ValueError):
    """Input data is missing, malformed, or inconsistent (paths, arrays, shapes, NaN)."""


class TooFewSamplesError(InputError):
    """A statistic needs more samples than it was given."""

    def __init__(self, what: str, got: int, minimum: int) -> None:
        super().__init__(f"{what} needs at least {minimum} samples, got {got}.")
        self.got = got
        self.minimum = minimum


class WeightsError(GenlensError):
    """Weights are missing (offline), corrupt, or fail their SHA-256 check."""


class ConfigError(GenlensError, ValueError):
    """An option or name is unknown or inconsistent."""


class MemoryNeedError(GenlensError, MemoryError):
    """A step would need more memory than the machine (or GPU) has free: said before it is asked for."""
