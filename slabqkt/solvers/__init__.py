"""Solver backends: one interface (:class:`Backend`), an embedded default
(:class:`ScipyBackend`) and an MPI-parallel one (``PetscBackend``)."""
from .base import Backend, SolveInfo, get_backend  # noqa: F401
from .scipy_backend import ScipyBackend  # noqa: F401
