"""One error hierarchy for riskcore.

Every error a caller can cause with its input subclasses :class:`RiskcoreError`, itself a
``ValueError``. Pages catch ``RiskcoreError``, show its message and stop; anything else is a bug.
Messages name the offending asset, file, row or value and say what is allowed.
"""

from __future__ import annotations


class RiskcoreError(ValueError):
    """Base class of every error raised by riskcore for bad input or an impossible request."""


class DataError(RiskcoreError):
    """Price or return data that cannot be read or used (bad file, bad column, bad values)."""


class InfeasibleError(RiskcoreError):
    """Budgets, bounds or group constraints that no portfolio can satisfy."""


class ConvergenceError(RiskcoreError):
    """A solver stopped before reaching its tolerance; the message gives the error reached."""


class FetchError(RiskcoreError):
    """A download (Yahoo Finance) failed: offline, timed out, or returned no usable data."""
