"""Issue 13, items 10, 22, 25 (PETSc part): mpiexec without --backend petsc, PETSc's messages
(negative values, interrupts, non-finite residuals) and Krylov progress lines."""
import copy
import importlib.util
import logging
import os
import subprocess
import sys

import pytest

from conftest import mpich_launcher, subprocess_env, rashba_toml

from slabqkt import resolve
from slabqkt.cli import _split_petsc
from slabqkt.errors import ConvergenceError
from slabqkt.simulation import Simulation
from slabqkt.tools import KrylovProgress

HAVE_PETSC = all(importlib.util.find_spec(m) is not None for m in ("petsc4py", "mpi4py"))
REQUIRE = os.environ.get("SLABQKT_REQUIRE_MPI", "") not in ("", "0")
need_petsc = pytest.mark.skipif(not HAVE_PETSC and not REQUIRE, reason="no petsc4py/mpi4py")

RASHBA = {
    "name": "msg",
    "model": {"kind": "rashba", "dimension": 2, "effective_mass": 0.5, "alpha_R": 0.05},
    "fermi_surface": {"fermi_level_eV": 0.1, "n_angles": 32},
    "disorder": {"tau_fs": 20.0},
    "slab": {"thickness_mfp": 3.0, "n_x": 40},
    "boundaries": {"left": {"specularity": 0.3}},
    "output": {"plots": False},
}
CASE_TOML = rashba_toml("launch", 3.0, 40, extra='[output]\nplots = false\n')


def test_split_petsc_takes_a_negative_number_as_the_value():
    ours, petsc = _split_petsc(["run", "c.toml", "-ksp_rtol", "-0.5", "--out", "r.h5",
                                "-ksp_divtol", "-inf", "-ksp_monitor", "--no-plots"])
    assert ours == ["run", "c.toml", "--out", "r.h5", "--no-plots"]
    assert petsc == ["-ksp_rtol", "-0.5", "-ksp_divtol", "-inf", "-ksp_monitor"]


def test_krylov_progress_estimate():
    """Residual 1e-4 after 4 iterations (a decade each), target 1e-8: 4 iterations left."""
    p = KrylovProgress(1e-8, 500)
    rate, left = p.estimate(4, 1e-4)
    assert left * rate == pytest.approx(4.0)
    rate, left = p.estimate(4, 1e-4 * (1 - 1e-12))
    assert left * rate <= 4.0
    p = KrylovProgress(1e-8, 6)  # the iteration limit caps it
    rate, left = p.estimate(4, 1e-4)
    assert left * rate == pytest.approx(2.0)


@pytest.fixture(scope="module")
def petsc_mod():
    if not HAVE_PETSC:
        pytest.fail("SLABQKT_REQUIRE_MPI is set but petsc4py/mpi4py cannot be imported")
    from slabqkt.solvers import petsc_backend
    return petsc_backend


@pytest.fixture(scope="module")
def problem():
    case = resolve(copy.deepcopy(RASHBA))
    sim = Simulation(case, "scipy")
    return case, sim.problem()


@need_petsc
def test_parse_options_negative_value(petsc_mod):
    assert petsc_mod.parse_cli_options(["-ksp_rtol", "-0.5", "-ksp_monitor"]) == {
        "ksp_rtol": "-0.5", "ksp_monitor": None}


@need_petsc
def test_negative_option_value_reaches_petsc(petsc_mod, problem):
    case, prob = problem
    be = petsc_mod.PetscBackend()
    be.set_options(["-ksp_rtol", "-0.5"])
    with pytest.raises(Exception, match=r"options \[-ksp_rtol -0.5\].*Relative tolerance -0.5 "
                                        "must be non-negative"):
        be.solve(prob, case["solver"])


@need_petsc
def test_huge_field_says_non_finite_in_words(petsc_mod):
    """The case schema now refuses |E| > 1e12 V/m; the backend must still word an overflow
    that reaches it (a field set on the Simulation directly, past the schema)."""
    case = resolve(copy.deepcopy(RASHBA))
    sim = Simulation(case, petsc_mod.PetscBackend())
    sim.field = sim.field * 1e200
    with pytest.raises(ConvergenceError) as err:
        sim.run()
    msg = str(err.value)
    assert "diverged: non-finite residual" in msg and "Current value inf" not in msg
    assert "likely cause: a non-finite or huge input" in msg


@need_petsc
@pytest.mark.parametrize("where", ["matvec", "preconditioner"])
def test_interrupt_inside_a_petsc_callback_stays_an_interrupt(petsc_mod, problem, where):
    """PETSc turns an exception in a Python callback into its error 101; an interrupt must
    come out as itself (the CLI then says "interrupted", not "PETSc rejected ...")."""
    from slabqkt.tools import Terminated
    case, prob = problem
    calls = [0]

    class Prob:
        def __getattr__(self, name):
            return getattr(prob, name)

        def matvec(self, u):
            calls[0] += 1
            if where == "matvec" and calls[0] == 3:
                raise Terminated()
            return prob.matvec(u)

        def diffusion_preconditioner(self):
            M = prob.diffusion_preconditioner()

            def apply(v):
                if where == "preconditioner" and calls[0] >= 2:
                    raise KeyboardInterrupt()
                return M(v)
            return apply
    be = petsc_mod.PetscBackend()
    with pytest.raises(KeyboardInterrupt) as err:
        be.solve(Prob(), case["solver"])
    assert isinstance(err.value, Terminated) == (where == "matvec")


@need_petsc
def test_krylov_progress_lines_and_ksp_monitor(petsc_mod, problem, monkeypatch, slab_log, capfd):
    case, prob = problem
    made = []

    def quick(*a, **k):
        k.update(every=0.0, delay=0.0)
        made.append(KrylovProgress(*a, **k))
        return made[-1]
    monkeypatch.setattr(petsc_mod, "KrylovProgress", quick)
    be = petsc_mod.PetscBackend()
    be.set_options(["-ksp_monitor"])
    logger = logging.getLogger("slabqkt")
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        u, info = be.solve(prob, case["solver"])
    finally:
        logger.setLevel(level)
    lines = [m for m in slab_log.messages() if m.startswith("PETSc KSP (1 rank(s)) iteration")]
    assert len(lines) == info.iterations == made[0].reports
    assert all("it/s" in m and "s left" in m and "target 1e-11" in m for m in lines)
    assert f"iteration {info.iterations}: relative residual" in lines[-1]
    assert "KSP Residual norm" in capfd.readouterr().out  # PETSc's own monitor still prints
    assert be.options_used == "-ksp_monitor"


# -- item 10: mpiexec without --backend petsc ----------------------------------------------------
def _mpirun(args, cwd, n=2):
    exe = mpich_launcher()
    cmd = [exe, "-n", str(n), sys.executable, "-m", "slabqkt"] + args
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=subprocess_env(),
                              timeout=120)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(cmd)} hung: {exc.stderr}")


@pytest.mark.mpi
@need_petsc
def test_mpiexec_without_backend_petsc_switches_to_petsc(tmp_path):
    case = tmp_path / "case.toml"
    case.write_text(CASE_TOML)
    out = tmp_path / "r.h5"
    proc = _mpirun(["run", str(case), "--out", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("result: ") == 1, proc.stdout  # one solve, one writer
    assert "started by an MPI launcher with 2 ranks: solving with the petsc backend" in proc.stderr
    from slabqkt import load_result
    res = load_result(out)
    assert res.attrs["backend"] == "petsc" and res.attrs["ranks"] == 2
    assert res.provenance["petsc_version"] and res.provenance["mpi_library"]
    assert res.case["solver"]["backend"] == "petsc"


@pytest.mark.mpi
@need_petsc
def test_mpiexec_with_explicit_backend_scipy_is_refused(tmp_path):
    case = tmp_path / "case.toml"
    case.write_text(CASE_TOML)
    proc = _mpirun(["run", str(case), "--out", str(tmp_path / "r.h5"), "--backend", "scipy"],
                   tmp_path)
    assert proc.returncode == 2
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("slabqkt: error:")]
    assert lines and all("--backend scipy runs on one process, but this run was started by an "
                         "MPI launcher with 2 ranks" in ln for ln in lines), proc.stderr
    assert not (tmp_path / "r.h5").exists()


SIGINT_WRAPPER = r"""
import os, signal, sys
from mpi4py import MPI
from slabqkt.boltzmann import SlabBoltzmann
orig = SlabBoltzmann.matvec
calls = [0]
def matvec(self, u):
    calls[0] += 1
    if MPI.COMM_WORLD.rank == 1 and calls[0] == 3:
        os.kill(os.getpid(), signal.SIGINT)  # as a Ctrl-C reaching this rank only
    return orig(self, u)
SlabBoltzmann.matvec = matvec
from slabqkt.cli import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.mpi
@need_petsc
def test_sigint_on_one_rank_is_interrupted_not_a_petsc_error(tmp_path):
    case = tmp_path / "case.toml"
    case.write_text(CASE_TOML)
    wrapper = tmp_path / "w.py"
    wrapper.write_text(SIGINT_WRAPPER)
    cmd = [mpich_launcher(), "-n", "2", sys.executable, str(wrapper), "run", str(case), "--out",
           str(tmp_path / "r.h5"), "--backend", "petsc"]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, env=subprocess_env(),
                          timeout=120)
    assert proc.returncode != 0
    assert "slabqkt: interrupted [rank 1/2]" in proc.stderr, proc.stderr
    assert "error code 101" not in proc.stderr and "PETSc rejected" not in proc.stderr
    assert not (tmp_path / "r.h5").exists()


def test_setup_progress_after_a_delay(monkeypatch, slab_log):
    """Setup stages that take long report done/total, rate and time left; quick ones are silent."""
    from slabqkt.tools import progress as progress_mod
    clock = [0.0]
    monkeypatch.setattr(progress_mod.time, "perf_counter", lambda: clock[0])
    logger = logging.getLogger("slabqkt")
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        p = progress_mod.Progress(100, "Fermi-sea points", delay=2.0)
        clock[0] = 1.0
        p.update(10)  # within the delay: nothing
        assert slab_log.messages() == []
        clock[0] = 4.0
        p.update(30)  # 40 done in 4 s: 10/s, 6 s left
        assert slab_log.messages() == ["40/100 Fermi-sea points, 10/s, 4.0 s elapsed, 6.0 s left"]
    finally:
        logger.setLevel(level)
