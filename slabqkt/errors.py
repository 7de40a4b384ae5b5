"""Exceptions with one-line messages meant for users."""


class SlabQKTError(Exception):
    """Base class: the CLI prints ``slabqkt: error: <message>`` and exits 2."""


class CaseError(SlabQKTError, ValueError):
    """Bad case input: names the key, the value and what is allowed."""

    def __init__(self, key, value, allowed):
        self.key, self.value, self.allowed = key, value, allowed
        super().__init__(f"{key} = {value!r}: {allowed}")


class ModelError(SlabQKTError):
    """The band structure does not fit what the method needs."""


class ConvergenceError(SlabQKTError):
    """An iterative solve did not converge; never returned as a result."""
