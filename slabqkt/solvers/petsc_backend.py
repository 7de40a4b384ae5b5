"""MPI-parallel backend: PETSc's Krylov solvers (petsc4py) over mpi4py ranks.

Run it as ``mpiexec -n N slabqkt run CASE --backend petsc [-ksp_... ...]``
(see ``docs/parallel.md``).

Data distribution: over Fermi-surface points
--------------------------------------------
The slab problem has two very different sizes. The kinetic unknowns
phi(x_j, s) number N_nodes * N_s (2 x 10^5 for the B1 strip, far more in
3D), but :class:`~slabqkt.boltzmann.SlabBoltzmann` eliminates them exactly:
for given local moments m(x_j) and re-emission values (Phi_L, Phi_R) every
state is one recurrence in x, and the specular loop s -> Rs -> s closes in
closed form per *mirror pair*. What is left for the Krylov method is
u = (m(x_j), Phi_L, Phi_R), N_nodes * r + 2 numbers (10^3 for B1).

So the work (the sweep, O(N_nodes * N_s) per iteration) lives on the
Fermi surface, and the coupling between states is only through the
moments. Each rank therefore owns a contiguous block of mirror pairs
(:meth:`Backend.partition`) for *all* x; a sweep needs no halo exchange
and no communication at all, and the partial moments sum_s w c phi of
the local states are added up by one ``MPI_Allreduce`` of N_nodes * r + 2
doubles inside ``problem.apply``. Distributing over x instead would make
every sweep a pipeline across ranks (each state's recurrence runs through
the whole slab, both ways, and the specular loops couple x = 0 and x = d),
serialising it, with one message per cell boundary per sweep direction.

The Krylov vectors are small, so the PETSc ``Vec`` is split in contiguous
blocks over the ranks only to let PETSc do its (cheap) parallel inner
products; the shell matrix (``MATPYTHON``) gathers the full vector on every
rank (``MPI_Allgatherv``), calls ``problem.matvec`` (whose sweep covers the
local pairs and whose Allreduce makes the result replicated) and keeps its
own block. The DSA preconditioner (a tridiagonal solve of N_nodes
unknowns, ``problem.diffusion_preconditioner()``) is applied redundantly
on every rank in the same way, as a ``PCPYTHON`` *right* preconditioner so
that the residual PETSc monitors and tests is the true residual of
(I - K) u = b.

Options
-------
The case's ``[solver]`` table sets the defaults: GMRES, ``restart``,
``rtol``, ``max_iterations``, ``preconditioner`` (``'dsa'`` or
``'none'``). The absolute tolerance mirrors the SciPy backend,
``atol = rtol * max(||b||, problem.rhs_scale())`` (b itself may vanish by
symmetry). PETSc options then override them, in this order (later wins):
the case's ``[solver.petsc]`` table (keys without the dash; ``true`` is a
bare flag) and the command line options given to :meth:`set_options`.
They are put in PETSc's options database under the prefix ``slabqkt_``
(so ``-ksp_type`` becomes ``-slabqkt_ksp_type`` and cannot collide with
other PETSc users in the process) for the duration of one solve, and read
by ``KSPSetFromOptions``.

Errors: an option PETSc rejects (``-ksp_type foo``) raises
:class:`~slabqkt.errors.SlabQKTError` with PETSc's one-line reason; an
option that nothing read during the solve (a misspelling, or an option of
another KSP/PC type) is an *error* too, because a silently ignored option
means the run was not the one asked for; a KSP that stops with a negative
converged reason raises :class:`~slabqkt.errors.ConvergenceError` naming
PETSc's reason (``DIVERGED_ITS`` ...). A non-finite right-hand side or
residual (a huge or non-finite input) is a ConvergenceError that says so in
words. An interrupt (SIGINT, or SIGTERM through
:func:`slabqkt.tools.handle_sigterm`) that arrives inside the shell matrix or
the preconditioner is re-raised as itself, not as PETSc's error 101.
Options, tolerances and the reductions are the same on every rank, so every
rank raises the same error.

Progress: a KSP monitor logs the iteration, the relative residual, the rate
and an estimate of the time left every few seconds on rank 0
(:class:`~slabqkt.tools.KrylovProgress`); ``-ksp_monitor`` still prints
PETSc's own lines.
"""
import math
import time

import numpy as np
from mpi4py import MPI
from petsc4py import PETSc

from ..errors import CaseError, ConvergenceError, SlabQKTError
from ..tools import KrylovProgress
from ..tools.options import is_number
from .base import Backend, SolveInfo

#: options prefix of the moment-space KSP
PREFIX = "slabqkt_"

_REASONS = {getattr(PETSc.KSP.ConvergedReason, k): k
            for k in dir(PETSc.KSP.ConvergedReason) if k.isupper()}


def reason_name(reason):
    """PETSc's name of a KSP converged reason (``DIVERGED_ITS`` ...)."""
    return _REASONS.get(int(reason), f"reason {int(reason)}")


def _petsc_message(exc):
    """One line out of a ``PETSc.Error``: PETSc's own explanation lines."""
    lines = [ln.split("]", 1)[-1].strip() for ln in str(exc).splitlines()[1:]]
    lines = [ln for ln in lines if ln and "() at " not in ln]
    text = "; ".join(lines) if lines else str(exc).splitlines()[0]
    return f"{text} (PETSc error code {getattr(exc, 'ierr', '?')})"


#: what a non-finite residual usually means
NONFINITE_HINT = ("likely cause: a non-finite or huge input (field.magnitude_V_per_m, "
                  "disorder, model parameters) that overflows the right-hand side or the operator")


def parse_cli_options(tokens):
    """PETSc command-line tokens -> ordered dict name (no dash) -> value or None.

    Parameters
    ----------
    tokens : list of str
        E.g. ``['-ksp_type', 'gmres', '-ksp_monitor']``: a token starting with
        a dash and a letter is an option name, a following token that is not
        one is its value; a number is always a value (``-ksp_rtol -0.5``).
    """
    out = {}
    name = None
    for tok in tokens:
        tok = str(tok)
        if len(tok) > 1 and tok[0] == "-" and tok[1].isalpha() and not is_number(tok):
            name = tok.lstrip("-")
            out[name] = None
        elif name is not None and out[name] is None:
            out[name] = tok
        else:
            raise SlabQKTError(f"PETSc options {' '.join(map(str, tokens))}: {tok!r} is neither an "
                               "option (-name) nor the value of the option before it")
    return out


def table_options(table):
    """The case's ``[solver.petsc]`` table -> dict name -> value string or None.

    ``true`` is a bare flag (``ksp_monitor = true`` -> ``-ksp_monitor``),
    ``false`` is passed as the value ``false`` (PETSc's boolean), numbers
    and strings as their text, lists comma-separated (PETSc arrays).
    """
    out = {}
    for key, value in (table or {}).items():
        name = str(key).lstrip("-")
        if not name or not name[0].isalpha():
            raise CaseError(f"solver.petsc.{key}", value, "allowed: a PETSc option name without "
                            "the dash, e.g. ksp_type")
        if value is True:
            out[name] = None
        elif value is False:
            out[name] = "false"
        elif isinstance(value, (int, float, str)):
            out[name] = str(value)
        elif isinstance(value, (list, tuple)) and all(
                isinstance(v, (int, float, str)) and not isinstance(v, bool) for v in value):
            out[name] = ",".join(str(v) for v in value)
        else:
            raise CaseError(f"solver.petsc.{key}", value, "allowed: true (a flag), false, a "
                            "number, a string or a list of them")
    return out


class _Gathered:
    """Python context of the shell matrix / preconditioner.

    ``fn`` maps a full (replicated) vector to a full (replicated) vector;
    PETSc hands us only our block, so gather first and keep our block after.
    """

    def __init__(self, backend, fn):
        self.backend, self.fn = backend, fn
        self.exc = None  # an exception raised inside PETSc's call (PETSc turns it into error 101)

    def _call(self, x, y):
        try:
            full = self.backend.gather(x.getArray(readonly=True))
            lo, hi = self.backend.block
            y.getArray()[:] = self.fn(full)[lo:hi]
        except BaseException as exc:
            self.exc = exc
            raise

    def mult(self, mat, x, y):  # MATPYTHON
        self._call(x, y)

    def apply(self, pc, x, y):  # PCPYTHON
        self._call(x, y)


class PetscBackend(Backend):
    """PETSc KSP on the moment-space unknowns, Fermi-surface points over MPI ranks.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm, optional
        The ranks that solve together (default ``MPI.COMM_WORLD``). A
        sub-communicator lets a scan solve several cases side by side.
    """

    name = "petsc"

    def __init__(self, comm=None):
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self._cli = {}
        self._n = None
        #: the PETSc options of the last solve, as on a command line (provenance)
        self.options_used = ""

    # -- communication -------------------------------------------------------
    def allreduce(self, a):
        """Sum of an array (float64, complex128 ...) over the ranks, on every rank."""
        a = np.ascontiguousarray(a)
        if a.dtype.kind in "iub":
            a = a.astype(np.float64)
        if self.size == 1:
            return a.copy()
        out = np.empty_like(a)
        self.comm.Allreduce(a, out, op=MPI.SUM)
        return out

    def bcast(self, obj):
        return self.comm.bcast(obj, root=0)

    def allgather(self, a):
        """Concatenation (along axis 0) of every rank's array, in rank order."""
        if self.size == 1:
            return a
        return np.concatenate(self.comm.allgather(np.asarray(a)), axis=0)

    def barrier(self):
        self.comm.Barrier()

    def _layout(self, n):
        """Contiguous blocks of the n Krylov unknowns over the ranks."""
        if self._n != n:
            bounds = [(n * r) // self.size for r in range(self.size + 1)]
            self._counts = np.diff(bounds).astype(int)
            self._displs = np.asarray(bounds[:-1], int)
            self.block = (bounds[self.rank], bounds[self.rank + 1])
            self._n = n
        return self.block

    def gather(self, local):
        """Full vector (replicated) from every rank's block."""
        if self.size == 1:
            return np.array(local, dtype=float)
        full = np.empty(self._n)
        self.comm.Allgatherv(np.ascontiguousarray(local, dtype=float),
                             [full, self._counts, self._displs, MPI.DOUBLE])
        return full

    # -- options ---------------------------------------------------------------
    def set_options(self, tokens):
        """PETSc command-line options, e.g. ``['-ksp_type', 'gmres', '-ksp_monitor']``.

        They win over the case's ``[solver.petsc]`` table.
        """
        self._cli = parse_cli_options(tokens)

    def options(self, settings):
        """Merged options (name without dash -> value or None) for one solve."""
        opts = table_options(settings.get("petsc", {}))
        opts.update(self._cli)
        return opts

    # -- the solve ---------------------------------------------------------------
    def solve(self, problem, settings):
        """GMRES (default) on (I - K) u = b, right-preconditioned by DSA.

        Returns
        -------
        u : ndarray (problem.n_unknowns,), replicated on every rank
        info : SolveInfo
        """
        t0 = time.perf_counter()
        n = problem.n_unknowns
        lo, hi = self._layout(n)
        rtol = settings.get("rtol", 1e-11)
        restart = settings.get("restart", 60)
        max_it = settings.get("max_iterations", 500)
        b_full = problem.rhs()
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is reported below
            bnorm = float(np.linalg.norm(b_full))
            scale = max(bnorm, problem.rhs_scale())
        user = self.options(settings)
        self.options_used = " ".join(f"-{k}" + ("" if v is None else f" {v}")
                                     for k, v in user.items())
        if not (math.isfinite(bnorm) and math.isfinite(scale)):
            raise ConvergenceError(f"PETSc KSP diverged: non-finite residual (the right-hand side "
                                   f"has norm {bnorm:.3g}); {NONFINITE_HINT}")
        if scale == 0:
            return np.zeros(n), SolveInfo(0, 0.0, time.perf_counter() - t0, self.name,
                                          self.size, "zero right-hand side")
        if settings.get("preconditioner", "dsa") == "dsa":
            Minv = problem.diffusion_preconditioner()
        else:
            Minv = None

        contexts = [_Gathered(self, problem.matvec)]
        A = PETSc.Mat().createPython(((hi - lo, n), (hi - lo, n)), context=contexts[0],
                                     comm=self.comm)
        A.setUp()
        x, b = A.createVecs()
        b.getArray()[:] = b_full[lo:hi]
        ksp = PETSc.KSP().create(comm=self.comm)
        db = PETSc.Options()
        try:
            ksp.setOperators(A)
            ksp.setType(PETSc.KSP.Type.GMRES)
            ksp.setGMRESRestart(restart)
            ksp.setTolerances(rtol=rtol, atol=rtol * scale, max_it=max_it)
            ksp.setPCSide(PETSc.PC.Side.RIGHT)
            pc = ksp.getPC()
            if Minv is not None:
                pc.setType(PETSc.PC.Type.PYTHON)
                contexts.append(_Gathered(self, Minv))
                pc.setPythonContext(contexts[-1])
            else:
                pc.setType(PETSc.PC.Type.NONE)
            ksp.setOptionsPrefix(PREFIX)
            for key, value in user.items():
                db.setValue("-" + PREFIX + key, value)
            progress = KrylovProgress(rtol, max_it, label=f"PETSc KSP ({self.size} rank(s))")

            def monitor(ksp_, its, rnorm):
                progress.update(its, rnorm / scale)
            try:
                ksp.setFromOptions()
                ksp.setMonitor(monitor)  # beside -ksp_monitor's own, which stays
                ksp.setUp()
                ksp.solve(b, x)
            except PETSc.Error as exc:
                for ctx in contexts:
                    if isinstance(ctx.exc, (KeyboardInterrupt, SlabQKTError)):
                        raise ctx.exc from None  # an interrupt, or our own one-line error
                if "Current value inf" in str(exc) or "Current value nan" in str(exc):
                    raise ConvergenceError(f"PETSc KSP diverged: non-finite residual; "
                                           f"{NONFINITE_HINT}") from None
                raise SlabQKTError(f"PETSc rejected the solve with options [{self.options_used}]: "
                                   f"{_petsc_message(exc)}") from None
            unused = [k for k in user if not db.used(PREFIX + k)]
            if unused:
                raise SlabQKTError("PETSc option(s) not used by the solver: "
                                   + " ".join("-" + k for k in unused)
                                   + " (misspelled, or not applicable to this KSP/PC type)")
            reason = ksp.getConvergedReason()
            its = ksp.getIterationNumber()
            k_rtol, k_atol, _, k_maxit = ksp.getTolerances()
            ksp_type = ksp.getType()
            u = self.gather(x.getArray(readonly=True))
        finally:
            for key in user:
                db.delValue("-" + PREFIX + key)
            ksp.destroy()
            A.destroy()
            x.destroy()
            b.destroy()
        res = float(np.linalg.norm(problem.matvec(u) - b_full)) / scale
        tol = max(k_rtol * bnorm, k_atol) / scale
        if reason_name(reason) == "DIVERGED_NANORINF" or not math.isfinite(res) \
                or not np.all(np.isfinite(u)):
            raise ConvergenceError(
                f"PETSc KSP {ksp_type} diverged: non-finite residual after {its} iterations "
                f"({reason_name(reason)}); {NONFINITE_HINT}")
        if reason < 0:
            raise ConvergenceError(
                f"PETSc KSP {ksp_type} did not converge: {reason_name(reason)} after {its} "
                f"iterations, relative residual {res:.3g} (solver.rtol = {rtol:g}, "
                f"solver.max_iterations = {max_it}, KSP max_it = {k_maxit})")
        if res > 10 * tol:
            raise ConvergenceError(
                f"PETSc KSP {ksp_type} stopped ({reason_name(reason)}, {its} iterations) at a true "
                f"relative residual {res:.3g} > 10 x tolerance {tol:.3g}")
        return u, SolveInfo(int(its), res, time.perf_counter() - t0, self.name, self.size,
                            reason_name(reason))
