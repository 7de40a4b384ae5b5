"""``slabqkt kubo`` under MPI: k points split over the ranks, the same numbers as serial.

The CLI under ``mpiexec -n 2`` (every rank builds the same zone rule and takes a contiguous
share of its points; every k-sum, the self-consistent Born iteration's included, is an
Allreduce) writes a result file whose every part at every disorder strength, broadening
and fit agrees with the serial in-process run to 1e-10 relative. Cases: the 2D lattice
spin-orbit model of tests/test_kubo_lattice.py (T = 0, QKT parts beside), a 3D cubic
lattice (T = 0) and a 2D square lattice at T = 100 K (one rule for the energy window).

Needs mpi4py and an MPICH launcher (``SLABQKT_MPIEXEC`` or tools/find_mpiexec.sh); skipped
without them unless ``SLABQKT_REQUIRE_MPI`` is set.
"""
import importlib.util
import sys

import numpy as np
import pytest

from conftest import REQUIRE_MPI, mpich_launcher, run_mpi
from test_kubo_lattice import rashba_tprime

from slabqkt.case import load_case, resolve, to_toml
from slabqkt.kubo.driver import SampleOptions, load_kubo, run_kubo

pytestmark = pytest.mark.mpi

if importlib.util.find_spec("mpi4py") is None and not REQUIRE_MPI:
    pytest.skip("mpi4py not importable (run `make mpi`; set SLABQKT_REQUIRE_MPI=1 to make this "
                "a failure)", allow_module_level=True)

TIMEOUT = 300  # s: a hang is a failure
CASES = {
    "soc2d": ({"name": "soc2d", "model": rashba_tprime(),
               "fermi_surface": {"fermi_level_eV": 2.5, "lattice_grid": 32, "n_points": 128,
                                 "sea_grid": 32},
               "disorder": {"tau_fs": 10.0}, "field": {"direction": [0.0, 1.0, 0.0]},
               "observables": {"names": ["spin_current_zx", "spin_x"]}},
              {"n_k": 32, "resolution": 1.0, "window": 4.0}, True),
    "cubic3d": ({"name": "cubic3d", "model": {"kind": "cubic", "dimension": 3},
                 "fermi_surface": {"fermi_level_eV": 1.0, "lattice_grid": 12, "sea_grid": 8},
                 "disorder": {"tau_fs": 2.0}, "field": {"direction": [0.0, 1.0, 0.0]},
                 "observables": {"names": ["current_y"]}},
                {"n_k": 8, "resolution": 0.5, "window": 2.0}, False),
    "square_T": ({"name": "square_T", "model": {"kind": "square", "dimension": 2},
                  "fermi_surface": {"fermi_level_eV": 1.0, "lattice_grid": 32, "sea_grid": 8},
                  "disorder": {"tau_fs": 10.0}, "field": {"direction": [0.0, 1.0, 0.0]},
                  "temperature": {"kelvin": 100.0, "n_energies": 2},
                  "observables": {"names": ["current_y"]}},
                 {"n_k": 32, "resolution": 1.0, "window": 4.0}, False),
}
FLAGS = {"n_k": "--n-k", "resolution": "--k-resolution", "window": "--k-window",
         "margin": "--k-margin"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_two_ranks_equal_serial(name, tmp_path):
    raw, lattice, qkt = CASES[name]
    exe = mpich_launcher()
    path = tmp_path / f"{name}.toml"
    path.write_text(to_toml(resolve(raw)))
    out = tmp_path / f"{name}_kubo.h5"
    scales = "1,0.5"
    cmd = [exe, "-n", "2", sys.executable, "-m", "slabqkt", "kubo", str(path), "--broadening",
           scales, "--out", str(out)] + (["--no-qkt"] if not qkt else [])
    for key, val in lattice.items():
        cmd += [FLAGS[key], str(val)]
    proc = run_mpi(cmd, tmp_path, TIMEOUT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    mpi = load_kubo(str(out))
    assert mpi.attrs["ranks"] == 2
    ref = run_kubo(load_case(str(path)), [1.0, 0.5], SampleOptions(lattice=lattice), qkt=qkt)
    assert ref.attrs["ranks"] == 1
    assert np.allclose(mpi.scales, ref.scales, rtol=0, atol=0)
    assert np.allclose(mpi.gamma_eV, ref.gamma_eV, rtol=1e-10, atol=0)
    assert mpi.attrs["runs"] == ref.attrs["runs"] or _same_runs(mpi.attrs["runs"], ref.attrs["runs"])
    # the size of an observable's response: its largest part, with a floor of 1e-6 of the
    # largest current part (in |e| nm/fs nm^-d) for those that symmetry forbids (the density)
    floor = 1e-6 * max(np.abs(v).max() for o, parts in ref.values.items() if "current_" in o
                        and "spin" not in o for v in parts.values())
    assert floor > 0
    for obs, parts in ref.values.items():
        scale = max(floor, *(np.abs(v).max() for v in parts.values()))
        for part, vals in parts.items():
            assert np.abs(mpi.values[obs][part] - vals).max() <= 1e-10 * scale, (obs, part)
    if qkt:
        for obs, parts in ref.qkt.items():
            for part, val in parts.items():
                assert mpi.qkt[obs][part] == pytest.approx(val, rel=1e-10, abs=1e-30), (obs, part)


def _same_runs(a, b):
    """The per-run diagnostics agree (k points, SCBA iterations, zero modes)."""
    import json
    ra, rb = json.loads(a), json.loads(b)
    keys = ("scale", "energy_eV", "k_points", "zero_modes")
    return len(ra) == len(rb) and all(x[k] == y[k] for x, y in zip(ra, rb) for k in keys)
