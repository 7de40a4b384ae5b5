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
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_lattice import measure  # noqa: E402  (the same whole-run measurement as row L)

CASE = os.path.join(os.path.dirname(HERE), "geometries", "pt_001_film.toml")


def _left_excesses(res):
    ex = res.edges
    return {"excess_spin_z": float(ex["spin_z"]["total"]["left"]["excess"]),
            "excess_orbital_z": float(ex["orbital_z"]["total"]["left"]["excess"])}


def main(argv=None):
    measure(argv, default_case=CASE, time_model=True, extra=_left_excesses)


if __name__ == "__main__":
    main()
