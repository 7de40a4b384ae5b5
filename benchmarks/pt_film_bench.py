"""One Pt (001) film benchmark measurement (row W-pt of benchmarks/run_all.py; alone or under mpiexec).

    python benchmarks/pt_film_bench.py [CASE.toml] [--set key=value ...] [--backend scipy|petsc]

The ready case geometries/pt_001_film.toml (the real Wannier90 model of Pt, N = 18, read from
the .tar.gz beside the repository) solved once as ``slabqkt run`` does (without writing the
result), inside a :func:`slabqkt.provenance.timing` scope. Prints one line ``BENCH {json}``
(rank 0) with the wall seconds of each stage, the slowest rank:

- ``model``: reading the Wannier90 files (the archive is gunzipped in memory), the
  symmetrisation, the film rotation and its k_x -> -k_x check
- ``fermi_surface``: the lattice Fermi surface (zone-grid eigen-solves split over the ranks,
  isosurface, Newton projection, mirror pairs)
- ``collision``: the rest of the setup (collision operator, tau, l)
- ``weights``: the per-state observable weights and the Fermi-sea (intrinsic) grid, split
  over the ranks
- ``operator``, ``solve``, ``observables``: slab operator, Krylov solve, profiles (and the
  bulk solve); ``total``: the whole run

and ``maxrss_MB``, the peak resident memory of the largest rank (getrusage), with the problem
size. The model stage is timed by wrapping :func:`slabqkt.simulation.build_model` (no change
to the pipeline).
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

CASE = os.path.join(os.path.dirname(HERE), "geometries", "pt_001_film.toml")
STAGES = ("model", "fermi_surface", "collision", "weights", "operator", "solve", "observables",
          "total")


def _timed_build_model(build):
    def wrapped(case):
        with stage("model"):
            return build(case)
    return wrapped


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("case", nargs="?", default=CASE)
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--backend", default="scipy")
    args = ap.parse_args(argv)
    case = load_case(args.case, args.set + [f"solver.backend={args.backend}"])
    simulation_mod.build_model = _timed_build_model(simulation_mod.build_model)
    t0 = time.perf_counter()
    with timing() as sec:
        sim = Simulation(case)
        t_init = time.perf_counter() - t0
        res = sim.run()
    total = time.perf_counter() - t0
    be = sim.backend
    stages = {
        "model": sec.get("model", 0.0),
        "fermi_surface": sec.get("fermi_surface", 0.0),
        "collision": t_init - sec.get("model", 0.0) - sec.get("fermi_surface", 0.0)
        - sec.get("observable_weights", 0.0),
        "weights": sec.get("observable_weights", 0.0),
        "operator": sec.get("operator", 0.0),
        "solve": sec.get("solve", 0.0),
        "observables": sec.get("observables", 0.0) + sec.get("bulk", 0.0),
        "total": total,
    }
    row = {k: _max(be, v) for k, v in stages.items()}
    ex = res.edges
    row.update(ranks=int(be.size), backend=be.name, n_states=int(sim.fs.n_states),
               N=int(sim.model.N), n_x=int(sim.grid.n_cells), n_unknowns=int(res.attrs["n_unknowns"]),
               iterations=int(res.attrs["krylov_iterations"]),
               conductivity_ratio=float(res.conductivity_ratio),
               excess_spin_z=float(ex["spin_z"]["total"]["left"]["excess"]),
               excess_orbital_z=float(ex["orbital_z"]["total"]["left"]["excess"]),
               maxrss_MB=_max(be, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
    if be.is_root:
        print("BENCH " + json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
