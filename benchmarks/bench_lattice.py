"""One lattice-model benchmark measurement (run by benchmarks/run_all.py, alone or under mpiexec).

    python benchmarks/bench_lattice.py CASE.toml [--set key=value ...] [--backend scipy|petsc]

Runs the whole slab case once (``Simulation(case).run()``, as ``slabqkt run`` does, without
writing the result) inside a :func:`slabqkt.provenance.timing` scope and prints one line
``BENCH {json}`` (rank 0) with the wall seconds of each stage, the slowest rank:

- ``fermi_surface``: the lattice Fermi surface (zone-grid eigen-solves, isosurface, Newton
  projection, mirror pairs); under MPI the grid eigen-solves are split over the ranks
  (``backend.partition`` / ``allgather``)
- ``collision``: the rest of the setup before the observables (collision operator, tau, l)
- ``weights``: the per-state observable weights and the Fermi-sea (intrinsic) grid sums,
  the grid split over the ranks (``partition`` / ``allreduce``)
- ``operator``, ``solve``, ``observables``: the slab operator, the Krylov solve and the
  profiles; ``total``: the whole run

and ``maxrss_MB``, the peak resident memory of the largest rank (getrusage), with the problem
size (Fermi points, N_x, unknowns, iterations).
"""
import argparse
import json
import os
import resource
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from slabqkt import load_case  # noqa: E402
from slabqkt import simulation as simulation_mod  # noqa: E402
from slabqkt.provenance import stage, timing  # noqa: E402
from slabqkt.simulation import Simulation  # noqa: E402

sys.path.insert(0, HERE)
from bench_case import _max  # noqa: E402  (the reduction over ranks of the B benchmarks)


def _timed_build_model(build):
    def wrapped(case):
        with stage("model"):
            return build(case)
    return wrapped


def measure(argv=None, default_case=None, time_model=False, extra=None):
    """Run the case of the command line once and print its ``BENCH`` row (rank 0).

    Parameters
    ----------
    default_case : str, optional
        The case file when the command line names none (else it is required).
    time_model : bool
        Time the model stage too (wraps :func:`slabqkt.simulation.build_model`; no change to
        the pipeline).
    extra : callable, optional
        ``extra(result) -> dict`` of further row entries (e.g. edge excesses).
    """
    ap = argparse.ArgumentParser()
    ap.add_argument("case", nargs="?" if default_case else None, default=default_case)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--backend", default="scipy")
    args = ap.parse_args(argv)
    case = load_case(args.case, args.set + [f"solver.backend={args.backend}"])
    if time_model:
        simulation_mod.build_model = _timed_build_model(simulation_mod.build_model)
    t0 = time.perf_counter()
    with timing() as sec:
        sim = Simulation(case)
        t_init = time.perf_counter() - t0
        res = sim.run()
    total = time.perf_counter() - t0
    be = sim.backend
    model = sec.get("model", 0.0)
    stages = {
        "fermi_surface": sec.get("fermi_surface", 0.0),
        "collision": t_init - model - sec.get("fermi_surface", 0.0)
        - sec.get("observable_weights", 0.0),
        "weights": sec.get("observable_weights", 0.0),
        "operator": sec.get("operator", 0.0),
        "solve": sec.get("solve", 0.0),
        "observables": sec.get("observables", 0.0) + sec.get("bulk", 0.0),
        "total": total,
    }
    if time_model:
        stages = {"model": model, **stages}
    row = {k: _max(be, v) for k, v in stages.items()}
    row.update(ranks=int(be.size), backend=be.name, n_states=int(sim.fs.n_states),
               N=int(sim.model.N), n_x=int(sim.grid.n_cells), n_unknowns=int(res.attrs["n_unknowns"]),
               iterations=int(res.attrs["krylov_iterations"]),
               conductivity_ratio=float(res.conductivity_ratio),
               **(extra(res) if extra else {}),
               maxrss_MB=_max(be, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    if be.is_root:
        print("BENCH " + json.dumps(row), flush=True)


def main(argv=None):
    measure(argv)


if __name__ == "__main__":
    main()
