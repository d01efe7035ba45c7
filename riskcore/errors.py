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


class ParameterError(DataError):
    """An argument outside its allowed values (a name, a number or an option).

    Examples: an unknown method, estimator, trigger or mode, a negative band or cost, a
    lookback below 2, an option a method does not take.

    The same kind of mistake raises this class wherever it is made (the specification, the
    simulator's policy, the cost model, the estimators, the allocation entry points). It
    subclasses :class:`DataError` because earlier versions raised that for some bad
    arguments; catch :class:`RiskcoreError` in pages.
    """


class InfeasibleError(RiskcoreError):
    """Budgets, bounds or group constraints that no portfolio can satisfy."""


class ConvergenceError(RiskcoreError):
    """A solver stopped before reaching its tolerance; the message gives the error reached."""


class FetchError(RiskcoreError):
    """A download (Yahoo Finance) failed: offline, timed out, or returned no usable data."""
