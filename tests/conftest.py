import copy
import logging
import os
import pathlib
import subprocess
import tarfile

import pytest

from slabqkt import resolve

logging.getLogger("slabqkt").setLevel(logging.WARNING)

#: the real Wannier90 models beside the repository (../shared/data/wannier90; CI has them)
WANNIER90_DATA = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "wannier90"


def data_dir(sub, root=None):
    """The folder of one material, or fail (CI) / skip (elsewhere) when it is absent."""
    path = pathlib.Path(root or WANNIER90_DATA) / sub
    if not path.is_dir():
        msg = f"Wannier90 test data not found at {path} (see docs/wannier90.md)"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path


def unpack(tmp_path_factory, sub, archive, member):
    """One member of a material's archive, extracted below a temporary folder."""
    folder = data_dir(sub)
    out = tmp_path_factory.mktemp(sub)
    with tarfile.open(folder / archive) as tar:
        tar.extract(member, out, filter="data")
    return out / member


def merge(base, extra):
    out = copy.deepcopy(base)
    for k, v in extra.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


PARABOLIC = {
    "model": {"kind": "parabolic", "dimension": 3},
    "fermi_surface": {"fermi_level_eV": 1.0, "n_angles": 16, "n_polar": 24},
    "disorder": {"mean_free_path_nm": 10.0},
    "slab": {"thickness_mfp": 1.0, "n_x": 200},
}

RASHBA = {
    "model": {"kind": "rashba", "dimension": 2, "effective_mass": 0.5, "alpha_R": 0.05},
    "fermi_surface": {"fermi_level_eV": 0.1, "n_angles": 128},
    "disorder": {"tau_fs": 20.0},
    "slab": {"thickness_mfp": 5.0, "n_x": 120},
    "field": {"direction": [0.0, 1.0, 0.0], "magnitude_V_per_m": 1.0e9},
    "observables": {"names": ["spin_x", "spin_y", "spin_z"]},
}


def rashba_toml(name, thickness_mfp=3.0, n_x=40, n_angles=32, extra=""):
    """A small 2D Rashba strip case as TOML text (CLI and file tests), plus ``extra`` lines."""
    return (f'name = "{name}"\n[model]\nkind = "rashba"\ndimension = 2\neffective_mass = 0.5\n'
            f'alpha_R = 0.05\n[fermi_surface]\nfermi_level_eV = 0.1\nn_angles = {n_angles}\n'
            f'[disorder]\ntau_fs = 20.0\n[slab]\nthickness_mfp = {thickness_mfp}\n'
            f'n_x = {n_x}\n' + extra)


ROOT = os.path.join(os.path.dirname(__file__), "..")
#: make test sets it: a missing MPI piece then fails instead of skipping
REQUIRE_MPI = os.environ.get("SLABQKT_REQUIRE_MPI", "") not in ("", "0")


def mpich_launcher():
    """MPICH's launcher: SLABQKT_MPIEXEC, else tools/find_mpiexec.sh; skip or fail without."""
    exe = os.environ.get("SLABQKT_MPIEXEC")
    if not exe:
        proc = subprocess.run(["bash", os.path.join(ROOT, "tools", "find_mpiexec.sh")],
                              capture_output=True, text=True)
        exe = proc.stdout.strip() if proc.returncode == 0 else None
    if not exe:
        if REQUIRE_MPI:
            pytest.fail("SLABQKT_REQUIRE_MPI is set but no MPICH launcher was found")
        pytest.skip("no MPICH launcher (SLABQKT_MPIEXEC / tools/find_mpiexec.sh)")
    return exe


def run_mpi(cmd, cwd, timeout):
    """Run a launcher command line (text output captured): a hang is a failure, not a stuck run."""
    try:
        return subprocess.run(cmd, capture_output=True, text=True, env=subprocess_env(), cwd=cwd,
                              timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(map(str, cmd))} hung (> {timeout} s): {exc.stderr}")


def subprocess_env():
    """Environment of a child process: this repo importable, one BLAS thread per process
    (MPI ranks already use the cores), quiet logging."""
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               SLABQKT_LOG_LEVEL="WARNING")
    return env


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.records = []

    def emit(self, record):
        self.records.append(record)

    def clear(self):
        self.records.clear()

    def messages(self):
        return [r.getMessage() for r in self.records]


@pytest.fixture
def slab_log():
    """Records of the 'slabqkt' logger (it does not propagate to the root, so caplog misses it)."""
    h = _Records()
    logger = logging.getLogger("slabqkt")
    logger.addHandler(h)
    try:
        yield h
    finally:
        logger.removeHandler(h)


@pytest.fixture
def info_log(slab_log):
    """slab_log with INFO records (the slabqkt logger is at WARNING in the tests)."""
    logger = logging.getLogger("slabqkt")
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield slab_log
    finally:
        logger.setLevel(level)


@pytest.fixture
def parabolic_case():
    def make(**sections):
        return resolve(merge(PARABOLIC, sections))
    return make


@pytest.fixture
def rashba_case():
    def make(**sections):
        return resolve(merge(RASHBA, sections))
    return make
