"""Helper of tests/test_petsc.py, run under ``mpiexec -n N``.

Modes
-----
``solve SPEC OUT [petsc options...]``
    SPEC is a JSON file ``{"cases": {name: raw case dict}, "split": bool}``.
    Every case is solved with :class:`PetscBackend` on COMM_WORLD; with
    ``split`` also on sub-communicators (ranks 0,1 | 2,...) side by side.
    The root of each communicator writes ``OUT_<name>_<tag>.npz`` with the
    conductivity ratio, the moment solution u, whether u is bitwise the
    same on every rank of the communicator, and every observable part.
``fail RANK KIND CLI-ARGS...``
    Runs ``slabqkt.cli.main(CLI-ARGS)`` with the PETSc solve made to raise
    on rank RANK only (KIND ``case``: a SlabQKTError; ``bug``: a RuntimeError),
    while the other ranks wait in a collective: the CLI must take every
    rank down (MPI Abort), not hang.
"""
import json
import sys

import numpy as np
from mpi4py import MPI

from slabqkt.case import resolve
from slabqkt.errors import SlabQKTError
from slabqkt.simulation import Simulation
from slabqkt.solvers.petsc_backend import PetscBackend


class CapturingBackend(PetscBackend):
    """PetscBackend that keeps the last solution u."""

    def solve(self, problem, settings):
        u, info = super().solve(problem, settings)
        self.last_u = u
        return u, info


def solve_mode(spec_path, out, options):
    with open(spec_path) as f:
        spec = json.load(f)
    world = MPI.COMM_WORLD
    comms = [("world", world)]
    if spec.get("split") and world.size > 2:
        color = 0 if world.rank < 2 else 1
        comms.append((f"split{color}", world.Split(color, world.rank)))
    for tag, comm in comms:
        for name, raw in spec["cases"].items():
            be = CapturingBackend(comm)
            be.set_options(options)
            res = Simulation(resolve(raw), be).run()
            u = be.last_u
            u0 = comm.bcast(u if comm.rank == 0 else None, root=0)
            same = comm.allreduce(int(np.array_equal(u, u0)), op=MPI.MIN)
            if comm.rank == 0:
                data = {"ratio": res.conductivity_ratio, "u": u, "replicated": same,
                        "size": comm.size, "iterations": res.attrs["krylov_iterations"],
                        "x": res.x}
                for obs, parts in res.observables.items():
                    for part, arr in parts.items():
                        data[f"obs:{obs}:{part}"] = np.asarray(arr)
                np.savez(f"{out}_{name}_{tag}.npz", **data)
            comm.Barrier()


def fail_mode(rank, kind, cli_args):
    from slabqkt import cli

    orig = PetscBackend.solve

    def solve(self, problem, settings):
        if self.rank == rank:
            if kind == "case":
                raise SlabQKTError(f"injected failure on rank {rank}")
            raise RuntimeError(f"injected bug on rank {rank}")
        return orig(self, problem, settings)  # the others wait in its Allreduce

    PetscBackend.solve = solve
    return cli.main(cli_args)


if __name__ == "__main__":
    if sys.argv[1] == "solve":
        solve_mode(sys.argv[2], sys.argv[3], sys.argv[4:])
    elif sys.argv[1] == "fail":
        sys.exit(fail_mode(int(sys.argv[2]), sys.argv[3], sys.argv[4:]))
    else:
        raise SystemExit(f"mpi_driver: unknown mode {sys.argv[1]!r}")
