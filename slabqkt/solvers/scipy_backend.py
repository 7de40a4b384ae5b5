"""The embedded default backend: SciPy GMRES on one process."""
import math
import time

import numpy as np
from scipy.sparse.linalg import LinearOperator, gmres

from ..errors import ConvergenceError
from ..tools import get_logger
from .base import Backend, SolveInfo

log = get_logger("solver")


class KrylovProgress:
    """Throttled log of a Krylov solve: iteration, relative residual, rate, time left.

    The time left extrapolates the mean convergence rate so far (decades of residual per
    iteration) to the target residual, bounded by the iteration limit.

    Parameters
    ----------
    target : float
        Relative residual to reach.
    max_iterations : int
    every : float
        Minimum seconds between two log lines.
    """

    def __init__(self, target, max_iterations, every=5.0):
        self.target, self.max_iterations, self.every = target, max_iterations, every
        self.t0 = time.perf_counter()
        self._last = self.t0
        self.first = None

    def update(self, iteration, residual):
        now = time.perf_counter()
        if self.first is None and np.isfinite(residual) and residual > 0:
            self.first = (iteration, residual)
        if now - self._last < self.every:
            return
        self._last = now
        elapsed = now - self.t0
        rate = iteration / elapsed if elapsed > 0 else float("inf")
        left = self.max_iterations - iteration
        if self.first and residual > 0 and iteration > self.first[0] and residual < self.first[1]:
            per_it = math.log(self.first[1] / residual) / (iteration - self.first[0])
            left = min(left, max(0.0, math.log(residual / self.target) / per_it))
        log.info("GMRES iteration %d/%d: relative residual %.3g (target %.3g), %.3g it/s, "
                 "%.1f s elapsed, ~%.1f s left", iteration, self.max_iterations, residual,
                 self.target, rate, elapsed, left / rate if rate > 0 else float("inf"))


class ScipyBackend(Backend):
    """Restarted GMRES (scipy.sparse.linalg.gmres), right-preconditioned by DSA.

    The restart cycles are driven here, one ``gmres`` call each, so that the number of inner
    iterations never exceeds ``solver.max_iterations`` (the last cycle is shortened). The solve
    stops when the relative residual reaches ``solver.rtol``, at the iteration limit, when a
    whole cycle makes no progress (stagnation), or when a residual is not finite; every stop
    but the first is a :class:`ConvergenceError` saying which.
    """

    name = "scipy"

    def solve(self, problem, settings):
        t0 = time.perf_counter()
        n = problem.n_unknowns
        b = problem.rhs()
        rtol = settings.get("rtol", 1e-11)
        max_it = int(settings.get("max_iterations", 500))
        restart = int(settings.get("restart", 60))
        limits = f"solver.rtol = {rtol:g}, solver.max_iterations = {max_it}"
        if not np.all(np.isfinite(b)):
            raise ConvergenceError("the right-hand side of the slab problem is not finite (the "
                                   "case's magnitudes overflow double precision)")
        if settings.get("preconditioner", "dsa") == "dsa":
            Minv = problem.diffusion_preconditioner()
        else:
            def Minv(v):
                return v
        op = LinearOperator((n, n), matvec=lambda y: problem.matvec(Minv(y)), dtype=float)
        scale = max(np.linalg.norm(b), problem.rhs_scale())
        if not (scale > 0):
            return np.zeros(n), SolveInfo(0, 0.0, time.perf_counter() - t0, self.name)
        if not np.isfinite(scale):
            raise ConvergenceError("the right-hand side of the slab problem is not finite")
        bnorm = np.linalg.norm(b)
        count = [0]
        last = [np.inf]
        progress = KrylovProgress(rtol, max_it)

        def cb(pr_norm):  # pr_norm = |r| / |b| of the current inner iteration
            count[0] += 1
            last[0] = pr_norm * bnorm / scale
            progress.update(count[0], last[0])

        def true_residual(y):
            u = Minv(y)
            return u, float(np.linalg.norm(problem.matvec(u) - b) / scale)

        y = np.zeros(n)
        res = 1.0 if bnorm > 0 else 0.0
        reason = ""
        while True:
            if res <= rtol:
                break
            if count[0] >= max_it:
                reason = "limit"
                break
            m = min(restart, max_it - count[0])
            before = count[0]
            y, info = gmres(op, b, x0=y, rtol=0.0, atol=rtol * scale, restart=m, maxiter=1,
                            callback=cb, callback_type="pr_norm")
            u, new = true_residual(y)
            if not (np.isfinite(new) and np.all(np.isfinite(y))):
                reason = "nonfinite"
                res = new
                break
            if info < 0:
                reason = "breakdown"
                res = new
                break
            if info > 0 and (count[0] == before or not (new < res)):
                res = new
                reason = "stagnation"
                break
            res = new
            if info == 0 and not (res <= rtol):
                break  # GMRES's own residual met the target: judged on the true one below
        u = Minv(y)
        if not reason and not (res <= 10 * rtol):
            reason = "true residual"
        if reason == "limit" and res <= 10 * rtol:
            reason = ""  # the last cycle's estimate missed rtol but the true residual is fine
        if reason == "limit":
            raise ConvergenceError(
                f"GMRES reached the iteration limit solver.max_iterations = {max_it} with "
                f"relative residual {res:.3g} > solver.rtol = {rtol:g}: raise "
                "solver.max_iterations (or solver.restart)")
        if reason == "nonfinite":
            raise ConvergenceError(
                f"GMRES produced a non-finite residual or solution ({res}) after {count[0]} "
                f"iterations ({limits}): the case's magnitudes overflow double precision")
        if reason == "breakdown":
            raise ConvergenceError(
                f"GMRES broke down after {count[0]} iterations at relative residual {res:.3g} "
                f"({limits})")
        if reason == "stagnation":
            raise ConvergenceError(
                f"GMRES stagnated: relative residual {res:.3g} after {count[0]} iterations, no "
                f"progress over a restart cycle ({limits}, solver.restart = {restart}): the "
                "problem is (nearly) singular or the preconditioner fails; try a larger "
                "solver.restart")
        if reason == "true residual":
            raise ConvergenceError(
                f"GMRES reached solver.rtol = {rtol:g} by its own estimate after {count[0]} "
                f"iterations but the true relative residual is {res:.3g} (> 10 rtol): loss of "
                "accuracy; try solver.preconditioner = 'dsa' or a larger solver.rtol")
        if not np.all(np.isfinite(u)):
            raise ConvergenceError(f"GMRES returned a non-finite solution ({limits})")
        return u, SolveInfo(count[0], float(res), time.perf_counter() - t0, self.name,
                            reason="converged")
