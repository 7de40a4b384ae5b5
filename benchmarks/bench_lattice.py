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
from slabqkt.provenance import timing  # noqa: E402
from slabqkt.simulation import Simulation  # noqa: E402

sys.path.insert(0, HERE)
from bench_case import _max  # noqa: E402  (the reduction over ranks of the B benchmarks)


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("case")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--backend", default="scipy")
    args = ap.parse_args(argv)
    case = load_case(args.case, args.set + [f"solver.backend={args.backend}"])
    t0 = time.perf_counter()
    with timing() as sec:
        sim = Simulation(case)
        t_init = time.perf_counter() - t0
        res = sim.run()
    total = time.perf_counter() - t0
    be = sim.backend
    stages = {
        "fermi_surface": sec.get("fermi_surface", 0.0),
        "collision": t_init - sec.get("fermi_surface", 0.0) - sec.get("observable_weights", 0.0),
        "weights": sec.get("observable_weights", 0.0),
        "operator": sec.get("operator", 0.0),
        "solve": sec.get("solve", 0.0),
        "observables": sec.get("observables", 0.0) + sec.get("bulk", 0.0),
        "total": total,
    }
    row = {k: _max(be, v) for k, v in stages.items()}
    row.update(ranks=int(be.size), backend=be.name, n_states=int(sim.fs.n_states),
               N=int(sim.model.N), n_x=int(sim.grid.n_cells), n_unknowns=int(res.attrs["n_unknowns"]),
               iterations=int(res.attrs["krylov_iterations"]),
               conductivity_ratio=float(res.conductivity_ratio),
               maxrss_MB=_max(be, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    if be.is_root:
        print("BENCH " + json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
