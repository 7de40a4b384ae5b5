"""The solver interface shared by all backends."""
import abc
import dataclasses

from ..errors import CaseError


@dataclasses.dataclass
class SolveInfo:
    """What a linear solve did."""
    iterations: int
    residual: float
    seconds: float
    backend: str
    ranks: int = 1
    reason: str = ""


class Backend(abc.ABC):
    """A linear-solver backend for the moment-space problem (I - K) u = b.

    A backend also owns the data distribution: which mirror pairs of
    Fermi-surface states this process sweeps (:meth:`partition`) and how
    partial sums over states are added up (:meth:`allreduce`).
    """

    name = "abstract"
    rank = 0
    size = 1

    @property
    def is_root(self):
        return self.rank == 0

    def partition(self, n):
        """Indices (of n items) that this process owns: contiguous blocks."""
        import numpy as np
        lo = (n * self.rank) // self.size
        hi = (n * (self.rank + 1)) // self.size
        return np.arange(lo, hi)

    def allreduce(self, a):
        return a

    def bcast(self, obj):
        return obj

    def allgather(self, a):
        """Concatenation (along axis 0) of every rank's array, in rank order."""
        return a

    def barrier(self):
        pass

    @abc.abstractmethod
    def solve(self, problem, settings):
        """Solve (I - K) u = b of a :class:`~slabqkt.boltzmann.SlabBoltzmann`.

        Parameters
        ----------
        problem : SlabBoltzmann
        settings : dict
            The case's ``[solver]`` table.

        Returns
        -------
        u : ndarray (problem.n_unknowns,), replicated on every rank
        info : SolveInfo
        """


def get_backend(name, comm=None):
    """Backend by name: 'scipy' or 'petsc'."""
    if name == "scipy":
        from .scipy_backend import ScipyBackend
        return ScipyBackend()
    if name == "petsc":
        try:
            from .petsc_backend import PetscBackend
        except ImportError as exc:
            raise CaseError("solver.backend", name,
                            f"petsc4py/mpi4py cannot be imported ({exc}); run `make mpi` or use "
                            "'scipy'") from None
        return PetscBackend(comm)
    raise CaseError("solver.backend", name, "allowed: 'scipy', 'petsc'")
