"""The embedded default backend: SciPy GMRES on one process."""
import time

import numpy as np
from scipy.sparse.linalg import LinearOperator, gmres

from ..errors import ConvergenceError
from .base import Backend, SolveInfo


class ScipyBackend(Backend):
    """Restarted GMRES (scipy.sparse.linalg.gmres), right-preconditioned by DSA."""

    name = "scipy"

    def solve(self, problem, settings):
        t0 = time.perf_counter()
        n = problem.n_unknowns
        b = problem.rhs()
        if settings.get("preconditioner", "dsa") == "dsa":
            Minv = problem.diffusion_preconditioner()
        else:
            def Minv(v):
                return v
        op = LinearOperator((n, n), matvec=lambda y: problem.matvec(Minv(y)), dtype=float)
        count = [0]

        def cb(_):
            count[0] += 1

        rtol = settings.get("rtol", 1e-11)
        scale = max(np.linalg.norm(b), problem.rhs_scale())
        if scale == 0:
            return np.zeros(n), SolveInfo(0, 0.0, time.perf_counter() - t0, self.name)
        y, info = gmres(op, b, rtol=0.0, atol=rtol * scale, restart=settings.get("restart", 60),
                        maxiter=max(1, settings.get("max_iterations", 500) // settings.get("restart", 60) + 1),
                        callback=cb, callback_type="pr_norm")
        u = Minv(y)
        res = np.linalg.norm(problem.matvec(u) - b) / scale
        if info != 0 or count[0] > settings.get("max_iterations", 500) or res > 10 * rtol:
            raise ConvergenceError(
                f"GMRES did not converge: relative residual {res:.3g} after {count[0]} "
                f"iterations (solver.rtol = {rtol:g}, solver.max_iterations = "
                f"{settings.get('max_iterations', 500)})")
        return u, SolveInfo(count[0], float(res), time.perf_counter() - t0, self.name)
