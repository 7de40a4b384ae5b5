"""One benchmark measurement (run by benchmarks/run_all.py, alone or under mpiexec).

    python benchmarks/bench_case.py CASE.toml [--set key=value ...] [--backend scipy|petsc]
                                    [--repeat R] [--random-rhs] [--naive]

Builds the slab problem of the case, solves it R times and prints one line
``BENCH {json}`` (rank 0) with:

- ``n_unknowns``: Krylov unknowns N_nodes * r + 2; ``n_phi``: kinetic unknowns N_nodes * N_s
- ``seconds``: wall time of ``backend.solve`` (right-hand side, preconditioner setup,
  Krylov iterations, final true-residual check), the slowest rank, best of R (spread
  over time: on a shared machine the best is the reproducible number)
- ``iterations``: Krylov iterations; ``apply_ms``: one application of K (a sweep and
  its Allreduce), best of 20
- ``maxrss_MB``: peak resident memory of the process (getrusage, the largest rank;
  mostly the interpreter, NumPy/SciPy/PETSc and the Fermi-surface setup) and
  ``bytes_per_phi``: memory of the solve per kinetic unknown: the arrays the problem
  holds plus the peak that one solve allocates on top (tracemalloc), summed over ranks

``--random-rhs`` solves (I - K) u = b for b = (I - K) u_0 with a random u_0
instead of the physical field drive: it excites every slow mode (including the
conserved density, which an in-plane field does not drive), a stress test of
the preconditioner. ``--naive`` (scipy only) assembles the first-order upwind
system on all (x, s) unknowns instead and solves it with SuperLU (DESIGN section 6).
"""
import argparse
import json
import os
import resource
import sys
import time
import tracemalloc

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from slabqkt import load_case  # noqa: E402
from slabqkt.errors import SlabQKTError  # noqa: E402
from slabqkt.simulation import Simulation  # noqa: E402


def maxrss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


class RandomRHS:
    """The problem with b = (I - K) u_0, u_0 random (seed 0): every mode excited."""

    def __init__(self, problem):
        self.p = problem
        self.n_unknowns = problem.n_unknowns
        u0 = np.random.default_rng(0).standard_normal(problem.n_unknowns)
        self.b = problem.matvec(u0)

    def rhs(self):
        return self.b

    def rhs_scale(self):
        return float(np.linalg.norm(self.b))

    def matvec(self, u):
        return self.p.matvec(u)

    def diffusion_preconditioner(self):
        return self.p.diffusion_preconditioner()


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--backend", default="scipy")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--random-rhs", action="store_true")
    ap.add_argument("--naive", action="store_true")
    args = ap.parse_args(argv)

    case = load_case(args.case, args.set + [f"solver.backend={args.backend}"])
    sim = Simulation(case)
    be = sim.backend
    rss0 = maxrss_bytes()
    prob = sim.problem()
    n_phi = sim.grid.n_nodes * sim.fs.n_states
    row = {"n_unknowns": int(prob.n_unknowns), "n_phi": int(n_phi), "backend": be.name,
           "ranks": int(be.size), "n_x": int(sim.grid.n_cells), "n_states": int(sim.fs.n_states),
           "d_over_l": float(sim.thickness / sim.mean_free_path),
           "preconditioner": case["solver"]["preconditioner"]}
    if args.naive:
        from naive import solve_naive
        secs, info = [], None
        for _ in range(max(1, args.repeat)):
            info = solve_naive(sim)
            secs.append(info["assemble_s"] + info["superlu_s"])
        row.update(seconds=min(secs), iterations=0, apply_ms=float("nan"), **info)
        row.update(bytes_per_phi=(maxrss_bytes() - rss0) / n_phi)  # SuperLU's peak growth
    else:
        target = RandomRHS(prob) if args.random_rhs else prob
        secs, info, error = [], None, None
        for _ in range(max(1, args.repeat)):
            be.barrier()
            try:
                _, info = be.solve(target, case["solver"])
            except SlabQKTError as exc:  # not converged: reported, not fatal
                error = str(exc)
                break
            secs.append(_max(be, info.seconds))
            time.sleep(0.02)  # spread the repeats: a burst of other load spoils fewer of them
        u = np.zeros(prob.n_unknowns)
        be.barrier()
        ta = []
        for _ in range(20):
            t0 = time.perf_counter()
            prob.apply(u)
            ta.append(time.perf_counter() - t0)
        row.update(seconds=min(secs) if secs else float("nan"),
                   iterations=int(info.iterations) if info and not error else -1,
                   apply_ms=1e3 * _max(be, min(ta)), error=error)
        # memory of the solve itself: the problem's arrays + the peak of what one solve
        # allocates on top (tracemalloc sees NumPy's buffers), summed over the ranks
        held = sum(v.nbytes for v in vars(prob).values() if isinstance(v, np.ndarray))
        tracemalloc.start()
        try:
            be.solve(target, case["solver"])
        except SlabQKTError:
            pass
        _, transient = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        row.update(bytes_per_phi=_sum(be, held + transient) / n_phi)
    peak = _max(be, maxrss_bytes())
    row.update(maxrss_MB=peak / 2**20, rss_before_problem_MB=_max(be, rss0) / 2**20)
    if be.is_root:
        print("BENCH " + json.dumps(row), flush=True)


def _sum(be, value):
    if be.size == 1:
        return float(value)
    from mpi4py import MPI
    return float(be.comm.allreduce(float(value), op=MPI.SUM))


def _max(be, value):
    if be.size == 1:
        return float(value)
    from mpi4py import MPI
    return float(be.comm.allreduce(float(value), op=MPI.MAX))


if __name__ == "__main__":
    main()
