"""PETSc backend (issue 4): the same discrete system as SciPy, on 1, 2 and 3 MPI ranks.

What is asserted:
- PETSc on 1, 2, 3 ranks (and on two sub-communicators side by side) gives the
  conductivity ratio and every observable part of SciPy's solve to 1e-8 relative,
  on a 2D Rashba strip, a 3D parabolic film and a 3D p-orbital film, all with
  asymmetric surfaces (specularity 0.3 left, Soffer roughness right); the moment
  solution u is bitwise replicated on every rank.
- Options pass through (case table, command line wins), bad or unused options
  are one-line errors, non-convergence names PETSc's reason.
- Under ``mpiexec`` errors on all ranks or on a single rank end every rank with a
  non-zero exit and no hang (subprocess timeout), and only rank 0 writes.

The MPI part needs petsc4py/mpi4py and an MPICH launcher (``SLABQKT_MPIEXEC`` or
``tools/find_mpiexec.sh``). Without them the module is skipped, unless
``SLABQKT_REQUIRE_MPI`` is set (``make test``), where a missing piece fails.
"""
import copy
import importlib.util
import json
import os
import sys

import numpy as np
import pytest

from conftest import mpich_launcher, run_mpi

from slabqkt import resolve
from slabqkt.errors import ConvergenceError, SlabQKTError
from slabqkt.simulation import Simulation
from slabqkt.solvers import ScipyBackend

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
DRIVER = os.path.join(ROOT, "tests", "mpi_driver.py")
REQUIRE = os.environ.get("SLABQKT_REQUIRE_MPI", "") not in ("", "0")
HAVE_PETSC = all(importlib.util.find_spec(m) is not None for m in ("petsc4py", "mpi4py"))

if not HAVE_PETSC and not REQUIRE:
    pytest.skip("petsc4py/mpi4py not importable (run `make mpi`; set SLABQKT_REQUIRE_MPI=1 to "
                "make this a failure)", allow_module_level=True)

TIMEOUT = 120  # s: a hang is a failure, not a stuck test run

RASHBA = {
    "name": "rashba_asym",
    "model": {"kind": "rashba", "dimension": 2, "effective_mass": 0.5, "alpha_R": 0.05},
    "fermi_surface": {"fermi_level_eV": 0.1, "n_angles": 64},
    "disorder": {"tau_fs": 20.0},
    "slab": {"thickness_mfp": 3.0, "n_x": 80},
    "boundaries": {"left": {"specularity": 0.3}, "right": {"roughness_nm": 0.3}},
    "field": {"direction": [0.0, 1.0, 0.0]},
    "observables": {"names": ["density", "current_x", "current_y", "spin_x", "spin_y", "spin_z",
                              "spin_current_zx"]},
    "output": {"plots": False},
}
FILM = {
    "name": "film_asym",
    "model": {"kind": "parabolic", "dimension": 3, "effective_mass": 1.0},
    "fermi_surface": {"fermi_level_eV": 1.0, "n_angles": 16, "n_polar": 6},
    "disorder": {"tau_fs": 10.0},
    "slab": {"thickness_mfp": 1.0, "n_x": 60},
    "boundaries": {"left": {"specularity": 0.3}, "right": {"roughness_nm": 0.2}},
    "field": {"direction": [0.0, 1.0, 0.5]},
    "observables": {"names": ["density", "current_x", "current_y", "current_z"]},
    "output": {"plots": False},
}
# one band has no moment response (b = 0: u = 0); the p-orbital film has a real 3D solve
ORBITAL = {
    "name": "orbital_asym",
    "model": {"kind": "orbital_p", "dimension": 3, "beta_eV_nm2": 0.05},
    "fermi_surface": {"fermi_level_eV": 1.0, "n_angles": 16, "n_polar": 6, "n_radial": 16},
    "disorder": {"tau_fs": 10.0},
    "slab": {"thickness_mfp": 1.0, "n_x": 60},
    "boundaries": {"left": {"specularity": 0.3}, "right": {"roughness_nm": 0.2}},
    "field": {"direction": [0.0, 1.0, 0.5]},
    "observables": {"names": ["density", "current_x", "current_y", "orbital_x", "orbital_y",
                              "orbital_z", "orbital_current_zx"]},
    "output": {"plots": False},
}
CASES = {"rashba": RASHBA, "film": FILM, "orbital": ORBITAL}

RTOL = 1e-8
# Profiles that vanish by symmetry (density, j_x, ...) are pure round-off (1e-16 of the
# others); they are compared with an absolute floor at 1e-6 of the largest profile of the
# case, times RTOL (i.e. 1e-14 of it).
FLOOR = 1e-6


class _Capture:
    """Mixin: keep the last solution u of a backend."""

    def solve(self, problem, settings):
        u, info = super().solve(problem, settings)
        self.last_u, self.last_info = u, info
        return u, info


class CapturingScipy(_Capture, ScipyBackend):
    pass


def _assert_same(ref, ratio, observables, where):
    """ref: SciPy Result; observables: {(name, part): array}."""
    assert abs(ratio / ref.conductivity_ratio - 1) < RTOL, where
    scale = {o: max(float(np.abs(a).max()) for a in parts.values())
             for o, parts in ref.observables.items()}
    top = max(scale.values())
    assert top > 0
    for obs, parts in ref.observables.items():
        s = max(scale[obs], FLOOR * top)
        for part, a in parts.items():
            b = observables[(obs, part)]
            err = float(np.abs(np.asarray(b) - a).max())
            assert err <= RTOL * s, f"{where}: {obs}/{part} differs by {err:.3g} (scale {s:.3g})"


@pytest.fixture(scope="module")
def scipy_refs():
    out = {}
    for name, raw in CASES.items():
        be = CapturingScipy()
        res = Simulation(resolve(copy.deepcopy(raw)), be).run()
        out[name] = (res, be.last_u)
    return out


def _need_petsc():
    if not HAVE_PETSC:
        pytest.fail("SLABQKT_REQUIRE_MPI is set but petsc4py/mpi4py cannot be imported")


@pytest.fixture(scope="module")
def mpiexec():
    _need_petsc()
    return mpich_launcher()



def _mpirun(mpiexec, n, args, cwd):
    cmd = [mpiexec, "-n", str(n), sys.executable] + args
    return run_mpi(cmd, cwd, TIMEOUT)


# -- agreement with SciPy on 1, 2, 3 ranks --------------------------------------------------------
@pytest.fixture(scope="module")
def mpi_results(mpiexec, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("mpi")
    spec = tmp / "spec.json"
    spec.write_text(json.dumps({"cases": CASES, "split": True}))
    files = {}
    for n in (1, 2, 3):
        proc = _mpirun(mpiexec, n, [DRIVER, "solve", str(spec), str(tmp / f"n{n}")], tmp)
        assert proc.returncode == 0, proc.stderr
        files[n] = tmp / f"n{n}"
    return files


def _load(path):
    d = np.load(path)
    obs = {tuple(k.split(":")[1:]): d[k] for k in d.files if k.startswith("obs:")}
    return d, obs


@pytest.mark.mpi
@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("ranks", [1, 2, 3])
def test_petsc_ranks_agree_with_scipy(mpi_results, scipy_refs, case, ranks):
    ref, u_ref = scipy_refs[case]
    d, obs = _load(f"{mpi_results[ranks]}_{case}_world.npz")
    assert int(d["size"]) == ranks
    assert int(d["replicated"]) == 1  # u bitwise the same on every rank
    np.testing.assert_allclose(d["x"], ref.x, rtol=0, atol=0)
    assert np.abs(d["u"] - u_ref).max() <= RTOL * max(np.abs(u_ref).max(), 1e-300)
    _assert_same(ref, float(d["ratio"]), obs, f"{case} on {ranks} rank(s)")


@pytest.mark.mpi
@pytest.mark.parametrize("case", list(CASES))
def test_petsc_on_subcommunicators(mpi_results, scipy_refs, case):
    """3 ranks split into {0, 1} and {2}: two independent solves side by side."""
    ref, _ = scipy_refs[case]
    for tag, size in (("split0", 2), ("split1", 1)):
        d, obs = _load(f"{mpi_results[3]}_{case}_{tag}.npz")
        assert int(d["size"]) == size and int(d["replicated"]) == 1
        _assert_same(ref, float(d["ratio"]), obs, f"{case} on sub-communicator {tag}")


def test_the_moment_solve_is_not_trivial(scipy_refs):
    """The 2D Rashba and 3D p-orbital cases exercise the Krylov solve (u != 0, iterations)."""
    for case in ("rashba", "orbital"):
        res, u = scipy_refs[case]
        assert np.abs(u).max() > 0 and res.attrs["krylov_iterations"] >= 3


# -- the CLI under mpiexec ----------------------------------------------------------------------
CASE_TOML = """
name = "petsc_cli"
[model]
kind = "rashba"
dimension = 2
effective_mass = 0.5
alpha_R = 0.05
[fermi_surface]
fermi_level_eV = 0.1
n_angles = 32
[disorder]
tau_fs = 20.0
[slab]
thickness_mfp = 3.0
n_x = 60
[boundaries.left]
specularity = 0.3
[boundaries.right]
roughness_nm = 0.3
[output]
plots = false
[solver]
backend = "petsc"
"""


@pytest.fixture
def cli_case(tmp_path):
    p = tmp_path / "case.toml"
    p.write_text(CASE_TOML)
    return p


def _cli(mpiexec, n, args, cwd):
    return _mpirun(mpiexec, n, ["-m", "slabqkt"] + args, cwd)


@pytest.mark.mpi
def test_cli_two_ranks_only_root_writes(mpiexec, cli_case, tmp_path):
    out = tmp_path / "r.h5"
    proc = _cli(mpiexec, 2, ["run", str(cli_case), "--out", str(out), "-ksp_type", "fgmres"],
                tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("result: ") == 1 and proc.stdout.count("conductivity ratio") == 1
    from slabqkt import load_result
    res = load_result(str(out))
    assert res.attrs["ranks"] == 2 and res.attrs["backend"] == "petsc"
    raw = _toml(cli_case)
    raw["solver"] = {"backend": "scipy"}
    ref = Simulation(resolve(raw)).run()
    assert abs(res.conductivity_ratio / ref.conductivity_ratio - 1) < RTOL


def _toml(path):
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11
        import tomli as tomllib
    with open(path, "rb") as f:
        return tomllib.load(f)


def _error_lines(proc):
    return [ln for ln in proc.stderr.splitlines() if ln.startswith("slabqkt: error:")]


@pytest.mark.mpi
@pytest.mark.parametrize("opts, expect", [
    (["-ksp_type", "foo"], "Unable to find requested KSP type foo"),
    (["-ksp_max_it", "2"], "DIVERGED_MAX_IT after 2 iterations"),
    (["-ksp_rtoll", "1e-3"], "not used by the solver: -ksp_rtoll"),
])
def test_cli_petsc_errors_end_every_rank(mpiexec, cli_case, tmp_path, opts, expect):
    proc = _cli(mpiexec, 2, ["run", str(cli_case), "--out", str(tmp_path / "r.h5")] + opts,
                tmp_path)
    assert proc.returncode == 2, proc.stderr  # MPI_Abort(COMM_WORLD, 2): every rank ends
    lines = _error_lines(proc)
    assert lines, proc.stderr
    # each rank's message whole, on its own line: "slabqkt: error: [rank i/2] ..."
    assert all(expect in ln and ln.count("slabqkt: error:") == 1 for ln in lines), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "r.h5").exists(), proc.stdout


@pytest.mark.mpi
@pytest.mark.parametrize("kind, expect, code", [
    ("case", "slabqkt: error: [rank 1/2] injected failure", 2),
    ("bug", "RuntimeError: injected bug on rank 1", 1)])
def test_error_on_one_rank_aborts_all(mpiexec, cli_case, tmp_path, kind, expect, code):
    """Rank 1 fails while rank 0 waits in an Allreduce: MPI Abort, not a hang."""
    proc = _mpirun(mpiexec, 2, [DRIVER, "fail", "1", kind, "run", str(cli_case), "--out",
                                str(tmp_path / "r.h5")], tmp_path)
    assert proc.returncode == code, proc.stderr
    assert expect in proc.stderr, proc.stderr


# -- in-process, one rank -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def petsc_mod():
    _need_petsc()
    from slabqkt.solvers import petsc_backend
    return petsc_backend


@pytest.fixture(scope="module")
def small_problem():
    case = resolve(copy.deepcopy(RASHBA))
    sim = Simulation(case, "scipy")
    prob = sim.problem()
    u_ref, _ = sim.backend.solve(prob, case["solver"])
    return case, prob, u_ref


def test_parse_options(petsc_mod):
    assert petsc_mod.parse_cli_options(["-ksp_type", "gmres", "-ksp_monitor", "-ksp_rtol",
                                        "1e-9"]) == {"ksp_type": "gmres", "ksp_monitor": None,
                                                     "ksp_rtol": "1e-9"}
    with pytest.raises(SlabQKTError, match="neither an option"):
        petsc_mod.parse_cli_options(["gmres"])
    assert petsc_mod.table_options({"ksp_monitor": True, "ksp_gmres_restart": 30,
                                    "ksp_initial_guess_nonzero": False}) == {
        "ksp_monitor": None, "ksp_gmres_restart": "30", "ksp_initial_guess_nonzero": "false"}
    from slabqkt.errors import CaseError
    with pytest.raises(CaseError, match="solver.petsc.ksp_type"):
        petsc_mod.table_options({"ksp_type": {"a": 1}})
    be = petsc_mod.PetscBackend()
    be.set_options(["-ksp_max_it", "500"])
    assert be.options({"petsc": {"ksp_max_it": 2, "ksp_type": "fgmres"}}) == {
        "ksp_max_it": "500", "ksp_type": "fgmres"}


def test_in_process_solve_matches_scipy(petsc_mod, small_problem):
    case, prob, u_ref = small_problem
    for pre in ("dsa", "none"):
        be = petsc_mod.PetscBackend()
        u, info = be.solve(prob, {**case["solver"], "preconditioner": pre})
        assert info.reason.startswith("CONVERGED") and info.residual <= 10 * case["solver"]["rtol"]
        assert np.abs(u - u_ref).max() <= RTOL * np.abs(u_ref).max()


def test_options_reach_petsc_and_command_line_wins(petsc_mod, small_problem):
    case, prob, u_ref = small_problem
    settings = {**case["solver"], "petsc": {"ksp_max_it": 2}}
    be = petsc_mod.PetscBackend()
    with pytest.raises(ConvergenceError, match="DIVERGED_MAX_IT after 2 iterations"):
        be.solve(prob, settings)
    be.set_options(["-ksp_max_it", "200", "-ksp_type", "bcgs"])
    u, info = be.solve(prob, settings)
    assert np.abs(u - u_ref).max() <= RTOL * np.abs(u_ref).max()
    from petsc4py import PETSc
    leftover = [k for k in PETSc.Options().getAll() if k.startswith(petsc_mod.PREFIX)]
    assert leftover == []  # options live for one solve only


@pytest.mark.parametrize("opts, match", [
    (["-ksp_type", "foo"], r"Unable to find requested KSP type foo"),
    (["-pc_type", "nosuchpc"], r"nosuchpc"),
    (["-ksp_rtoll", "1e-3"], r"not used by the solver: -ksp_rtoll"),
    (["-ksp_gmres_restart", "5", "-ksp_type", "bcgs"], r"not used by the solver: "
                                                       r"-ksp_gmres_restart"),
])
def test_bad_options_are_one_line_errors(petsc_mod, small_problem, opts, match):
    case, prob, _ = small_problem
    be = petsc_mod.PetscBackend()
    be.set_options(opts)
    with pytest.raises(SlabQKTError, match=match) as err:
        be.solve(prob, case["solver"])
    assert "\n" not in str(err.value)
