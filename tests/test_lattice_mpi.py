"""Issue 9 acceptance: a multiband lattice film with spin-orbit coupling, MPI = serial to 1e-10.

The CLI ``slabqkt run CASE --backend petsc`` under ``mpiexec -n 2`` (the Fermi surface's
eigen-solves and Newton steps, the Fermi-sea grid, the mirror pairs and the solve split over
the ranks) writes a result file whose conductivity ratio, every part of every profile, bulk
value and edge excess agree with the serial SciPy run of the same case to 1e-10 relative.
Cases: the N = 6 lambda L.S p-orbital lattice model (Kramers doublets) in 2D and 3D, with
different walls (specularity left, Soffer roughness right), and the 3D one with the local
refinement of the Fermi surface (``fermi_surface.refine``).

Needs petsc4py/mpi4py and an MPICH launcher (``SLABQKT_MPIEXEC`` or tools/find_mpiexec.sh);
skipped without them unless ``SLABQKT_REQUIRE_MPI`` is set.
"""
import importlib.util
import os
import sys

import numpy as np
import pytest

from conftest import REQUIRE_MPI, mpich_launcher, run_mpi

from slabqkt import Simulation
from slabqkt.case import load_case, resolve, to_toml
from slabqkt.result import load_result

pytestmark = pytest.mark.mpi

HAVE_PETSC = all(importlib.util.find_spec(m) is not None for m in ("petsc4py", "mpi4py"))
if not HAVE_PETSC and not REQUIRE_MPI:
    pytest.skip("petsc4py/mpi4py not importable (run `make mpi`; set SLABQKT_REQUIRE_MPI=1 to "
                "make this a failure)", allow_module_level=True)

TIMEOUT = 300  # s: a hang is a failure
NAMES = ["density", "current_x", "current_y", "spin_x", "spin_z", "orbital_z",
         "spin_current_zx", "orbital_current_zx"]
COMMON = {
    "disorder": {"tau_fs": 10.0},
    "slab": {"thickness_mfp": 2.0, "n_x": 30},
    "field": {"direction": [0.0, 1.0, 0.0]},
    "boundaries": {"left": {"specularity": 0.3}, "right": {"roughness_nm": 0.2}},
    "observables": {"names": NAMES},
    "output": {"plots": False},
}
CASES = {
    "soc2d": {"name": "soc2d", **COMMON,
              "model": {"kind": "orbital_p_lattice", "dimension": 2, "soc_p_eV": 0.3},
              "fermi_surface": {"fermi_level_eV": 0.8, "lattice_grid": 16, "n_points": 256,
                                "sea_grid": 8}},
    "soc3d": {"name": "soc3d", **COMMON,
              "model": {"kind": "orbital_p_lattice", "dimension": 3, "soc_p_eV": 0.3},
              "fermi_surface": {"fermi_level_eV": 1.0, "lattice_grid": 12, "sea_grid": 8}},
    # the local refinement of the crossed cells (fermi_surface.refine) split over the ranks
    "soc3d_refined": {"name": "soc3d_refined", **COMMON,
                      "model": {"kind": "orbital_p_lattice", "dimension": 3, "soc_p_eV": 0.3},
                      "fermi_surface": {"fermi_level_eV": 1.0, "lattice_grid": 8, "refine": 2,
                                        "sea_grid": 8}},
}


def _close(a, b, scale, rtol=1e-10):
    return np.abs(np.asarray(a) - np.asarray(b)).max() <= rtol * scale


@pytest.mark.parametrize("name", sorted(CASES))
def test_two_ranks_petsc_equal_serial_scipy(name, tmp_path):
    exe = mpich_launcher()
    path = tmp_path / f"{name}.toml"
    path.write_text(to_toml(resolve(CASES[name])))
    out = tmp_path / f"{name}.h5"
    cmd = [exe, "-n", "2", sys.executable, "-m", "slabqkt", "run", str(path), "--backend",
           "petsc", "--out", str(out), "--no-plots"]
    proc = run_mpi(cmd, tmp_path, TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    mpi = load_result(str(out))
    assert mpi.attrs["ranks"] == 2 and mpi.attrs["backend"].startswith("petsc")

    case = load_case(str(path))
    case["solver"]["backend"] = "scipy"
    sim = Simulation(case)
    ref = sim.run()
    assert ref.attrs["ranks"] == 1
    assert mpi.attrs["n_fermi_points"] == ref.attrs["n_fermi_points"] == sim.fs.n_states
    assert np.all(sim.fs.rank == 2)
    assert mpi.conductivity_ratio == pytest.approx(ref.conductivity_ratio, rel=1e-10)
    assert np.allclose(mpi.x, ref.x, rtol=1e-14, atol=0)
    base = sim.fs.density_of_states * np.linalg.norm(sim.field) * sim.mean_free_path
    for obs in NAMES:
        # the size of this observable's response: its largest part anywhere (bulk included),
        # with a floor of 1e-6 DOS |e E| l (<|v|> for currents) for one that symmetry forbids
        scale = max(np.abs(np.asarray(ref.observables[obs][p])).max() for p in ref.observables[obs])
        scale = max(scale, *(abs(v) for v in ref.bulk[obs].values()), 1e-6 * base
                    * (sim.fs.mean_speed() if "current" in obs else 1.0))
        for part, prof in ref.observables[obs].items():
            assert _close(mpi.observables[obs][part], prof, scale), (obs, part)
            assert _close(mpi.bulk[obs][part], ref.bulk[obs][part], scale), (obs, part)
        for part, sides in ref.edges[obs].items():
            for side, q in sides.items():
                got = mpi.edges[obs][part][side]
                tol = 1e-10 * scale * ref.x[-1]
                assert got["excess"] == pytest.approx(q["excess"], rel=1e-10, abs=tol), \
                    (obs, part, side)
    # the profiles compared are real: the spin and orbital Hall accumulations are there
    assert np.abs(ref.profile("spin_z")).max() > 0 and np.abs(ref.profile("orbital_z")).max() > 0
    assert os.path.getsize(out) > 0
