"""Parameter scans (issue 5): spec parsing, MPI ensembles, restart after SIGKILL, physics.

What is asserted:
- The ready Fuchs scan (specularity x d/l, 3D film) reproduces the Fuchs-Sondheimer closed
  form at every point within 0.5 %, the labelled dimensions are the varied keys then
  ``node``, x is stored per point and ends at d = kappa l; the summary PNGs are written.
- Zipped nested boundary keys: swapping the two surfaces' specularities mirrors every
  profile x -> d - x (j_y even, so equal conductivities) and matches Lucas's asymmetric form.
- A 2 x 3 scan run serially and under ``mpiexec -n 2 --group-size 1`` gives the same
  numbers (1e-10); with PETSc and ``--group-size 2`` (one group on a sub-communicator) too.
- SIGKILL in the middle, rerun: the combined result equals an uninterrupted run, and the
  rerun solved exactly the points that had no file (stale claims/temp files do not block).
- A changed case in the same folder is refused, naming the differing key.
- Bad specs (unknown key, empty range, non-numeric, conflicting keys, zip lengths, group
  size not dividing the ranks) are one-line CaseErrors naming the key.
"""
import importlib.util
import os
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import mpich_launcher, subprocess_env

from slabqkt import scans as scan_mod
from slabqkt.cli import scan_main
from slabqkt.analytic import fuchs_sondheimer
from slabqkt.errors import CaseError, SlabQKTError
from slabqkt.result import load_result

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
FUCHS = os.path.join(ROOT, "geometries", "fuchs_specularity_thickness_scan.toml")
ROUGH = os.path.join(ROOT, "geometries", "rashba_roughness_scan.toml")
REQUIRE = os.environ.get("SLABQKT_REQUIRE_MPI", "") not in ("", "0")
HAVE_MPI4PY = importlib.util.find_spec("mpi4py") is not None
HAVE_PETSC = HAVE_MPI4PY and importlib.util.find_spec("petsc4py") is not None
TIMEOUT = 120

SMALL = """name = "small"
[model]
kind = "parabolic"
dimension = 2
[fermi_surface]
n_angles = 32
[disorder]
tau_fs = 20.0
[slab]
thickness_mfp = 1.0
n_x = 40
[boundaries.left]
roughness_nm = 0.2
"""

# slow enough points (~0.2 s) for the kill test
RASHBA = """name = "rashba_small"
[model]
kind = "rashba"
dimension = 2
effective_mass = 0.5
alpha_R = 0.05
[fermi_surface]
fermi_level_eV = 0.1
n_angles = 64
[disorder]
tau_fs = 20.0
[slab]
thickness_mfp = 3.0
n_x = 100
[observables]
names = ["spin_x", "spin_z"]
[scan.vary]
"boundaries.both.roughness_nm" = "log:0.05:1:4"
"slab.thickness_mfp" = [1.0, 3.0, 9.0]
"""


_env = subprocess_env


def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def _scan(args, capsys=None):
    """Run ``slabqkt scan`` in this process; returns its stdout if capsys is given."""
    assert scan_main(list(args)) == 0
    return capsys.readouterr().out if capsys is not None else None


def _solved(stdout):
    m = re.search(r"solved (\d+) point\(s\) in this run", stdout)
    assert m, stdout
    return int(m.group(1))


def _assert_same(a, b, rtol=1e-10, skip=("solve_seconds",)):
    """Every data variable of two ScanData equal to rtol (relative to its largest value)."""
    assert set(a.data) == set(b.data)
    for name, (dims, va, _) in a.data.items():
        if name in skip:
            continue
        vb = b.data[name][1]
        assert dims == b.data[name][0], name
        assert va.shape == vb.shape, name
        fin = np.isfinite(va)
        assert np.array_equal(fin, np.isfinite(vb)), name
        if fin.any():
            scale = np.max(np.abs(va[fin]))
            assert np.max(np.abs(va[fin] - vb[fin])) <= rtol * scale + 1e-300, name
    np.testing.assert_allclose(a.coords["x"][1], b.coords["x"][1], rtol=rtol)


# -- spec parsing -------------------------------------------------------------------------------
def test_value_expansion():
    assert scan_mod.expand_values("k", "0:1:5") == [0.0, 0.25, 0.5, 0.75, 1.0]
    lg = scan_mod.expand_values("k", "log:10:1000:3")
    np.testing.assert_allclose(lg, [10.0, 100.0, 1000.0], rtol=1e-14)
    assert lg[0] == 10.0 and lg[-1] == 1000.0
    assert scan_mod.expand_values("k", [0.1, 1, 10]) == [0.1, 1, 10]
    assert scan_mod.expand_values("k", "100,200") == [100, 200]
    assert scan_mod.expand_values("k", 3.0) == [3.0]
    assert scan_mod.expand_values("k", "2:2:1") == [2.0]


def test_product_zip_and_aliases(tmp_path):
    case = _write(tmp_path, "small.toml", SMALL)
    s = scan_mod.build_scan(case, ["boundaries.both.specularity=[0, 0.5]",
                                   "slab.thickness_mfp=log:0.1:10:3"], directory=str(tmp_path / "d"))
    assert s.spec.dims == ["boundaries.both.specularity", "slab.thickness_mfp"]
    assert s.spec.shape == (2, 3) and len(s.cases) == 6
    # C order: the last key varies fastest
    assert [c["slab"]["thickness_mfp"] for c in s.cases[:3]] == pytest.approx([0.1, 1.0, 10.0])
    c = s.cases[4]
    assert c["boundaries"]["left"] == {"specularity": 0.5}  # base roughness_nm dropped
    assert c["boundaries"]["right"] == {"specularity": 0.5}
    assert "scan" not in c
    z = scan_mod.build_scan(case, ["boundaries.left.specularity=[0, 1]",
                                   "slab.thickness_nm=[5, 50]"], mode="zip")
    assert z.spec.dims == ["point"] and z.spec.shape == (2,)
    assert z.cases[1]["boundaries"]["left"] == {"specularity": 1.0}
    assert z.cases[1]["slab"]["thickness_nm"] == 50.0 and "thickness_mfp" not in z.cases[1]["slab"]
    assert z.directory == os.path.join("results", "small.scan")
    # [scan.vary] with unquoted dotted keys (nested TOML tables) means the same
    from slabqkt.case import tomllib
    raw = tomllib.loads(SMALL + "[scan.vary]\nboundaries.both.specularity = [0, 1]\n"
                        "slab.n_x = '20:40:3'\n")
    s2 = scan_mod.Scan(raw)
    assert s2.spec.keys == ["boundaries.both.specularity", "slab.n_x"]
    assert [c["slab"]["n_x"] for c in s2.cases[:3]] == [20, 30, 40]


@pytest.mark.parametrize("vary, key", [
    (["slab.thickness=[1, 2]"], "slab.thickness"),                        # unknown key
    (["boundaries.top.specularity=[0]"], "boundaries.top.specularity"),   # unknown surface
    (["slab.thickness_mfp=1:2:0"], "slab.thickness_mfp"),                 # empty range
    (["slab.thickness_mfp=[]"], "slab.thickness_mfp"),                    # empty list
    (["slab.thickness_mfp=a:b:3"], "slab.thickness_mfp"),                 # non-numeric range
    (["slab.thickness_mfp=log:0:1:3"], "slab.thickness_mfp"),             # log through 0
    (["slab.thickness_mfp=[thin, thick]"], "slab.thickness_mfp"),         # not a number
    (["slab.n_x=10:20:4"], "slab.n_x"),                                   # 13.3 not an integer
    (["boundaries.left.specularity=[0, 2]"], "boundaries.left.specularity"),  # out of range
    (["slab.thickness_mfp=[1]", "slab.thickness_nm=[3]"], "slab.thickness_nm"),  # conflict
    (["scan.mode=[zip]"], "scan.mode"),                                   # not variable
    (["solver.backend=[petsc]"], "solver.backend"),
])
def test_bad_specs_are_one_line_case_errors(tmp_path, vary, key):
    case = _write(tmp_path, "small.toml", SMALL)
    args = [case, "--dir", str(tmp_path / "d")]
    for v in vary:
        args += ["--vary", v]
    with pytest.raises(CaseError) as err:
        scan_main(args)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(key + " = "), msg
    assert not (tmp_path / "d").exists()


def test_bad_mode_group_size_and_empty_scan(tmp_path):
    case = _write(tmp_path, "small.toml", SMALL)
    d = str(tmp_path / "d")
    with pytest.raises(CaseError, match=r"^scan\.mode = 'zip': .*equal numbers"):
        scan_main([case, "--vary", "slab.n_x=[10,20]", "--vary", "slab.thickness_mfp=[1]",
                       "--mode", "zip", "--dir", d])
    with pytest.raises(CaseError, match=r"^--group-size = '2': allowed: a positive divisor of "
                                         r"the number of MPI ranks \(1\)$"):
        scan_main([case, "--vary", "slab.n_x=[10,20]", "--group-size", "2", "--dir", d])
    with pytest.raises(CaseError, match=r"^--group-size = 'two'"):
        scan_main([case, "--vary", "slab.n_x=[10,20]", "--group-size", "two", "--dir", d])
    with pytest.raises(CaseError, match=r"^scan\.vary = "):
        scan_main([case, "--dir", d])


def test_cli_error_is_one_line(tmp_path):
    case = _write(tmp_path, "small.toml", SMALL)
    proc = subprocess.run([sys.executable, "-m", "slabqkt", "scan", case, "--vary",
                           "slab.thickness_mfp=1:2:0", "--dir", str(tmp_path / "d")],
                          capture_output=True, text=True, env=_env(), cwd=tmp_path, timeout=TIMEOUT)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("slabqkt: error: slab.thickness_mfp = "), proc.stderr


# -- physics ------------------------------------------------------------------------------------
def test_fuchs_scan_matches_closed_form(tmp_path, capsys):
    d = tmp_path / "fuchs"
    out = _scan([FUCHS, "--dir", str(d)], capsys)
    assert _solved(out) == 9
    ds = scan_mod.load_scan(str(d))
    ratio = ds.conductivity_ratio
    assert ratio.dims == ("boundaries.both.specularity", "slab.thickness_mfp")
    assert ds.current_y.dims == ("boundaries.both.specularity", "slab.thickness_mfp", "part", "node")
    assert ds.x.attrs["units"] == "nm" and ds.current_y.attrs["units"].endswith("nm^-3")
    for p in ds["boundaries.both.specularity"].values:
        for kappa in ds["slab.thickness_mfp"].values:
            sel = {"boundaries.both.specularity": p, "slab.thickness_mfp": kappa}
            exact = fuchs_sondheimer(kappa, p, 3)
            assert float(ratio.sel(sel)) == pytest.approx(exact, rel=5e-3), (p, kappa)
            # x per point: 0 .. d with d = kappa l
            x = ds.x.sel(sel).values
            l_mfp = float(ds.mean_free_path_nm.sel(sel))
            assert x[0] == 0.0 and x[-1] == pytest.approx(kappa * l_mfp, rel=1e-12)
            # the parts add up to the total
            prof = ds.current_y.sel(sel)
            parts = sum(prof.sel(part=q) for q in ("intra", "intrinsic", "gradient", "disorder"))
            np.testing.assert_allclose(parts, prof.sel(part="total"), rtol=1e-12, atol=0)
    # thinner films and more diffuse walls conduct less
    assert np.all(np.diff(ratio.values, axis=1) > 0) and np.all(np.diff(ratio.values, axis=0) > 0)
    pngs = [ln.split(": ", 1)[1] for ln in out.splitlines() if ln.startswith("plot: ")]
    assert any("conductivity_vs_slab_thickness_mfp" in p for p in pngs)
    assert any("conductivity_map" in p for p in pngs)
    for p in pngs:
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_zipped_surfaces_mirror(tmp_path, capsys):
    """(p_L, p_R) = (0, 0.6) and (0.6, 0): the second slab is the mirror image of the first."""
    case = _write(tmp_path, "small.toml", SMALL)
    _scan([case, "--mode", "zip", "--vary", "boundaries.left.specularity=[0.0, 0.6]",
           "--vary", "boundaries.right.specularity=[0.6, 0.0]", "--set", "slab.grading=0.0",
           "--dir", str(tmp_path / "z"), "--no-plots"], capsys)
    ds = scan_mod.load_scan(str(tmp_path / "z" / "scan.h5"))
    assert ds.conductivity_ratio.dims == ("point",)
    np.testing.assert_array_equal(ds["boundaries.left.specularity"].values, [0.0, 0.6])
    r = ds.conductivity_ratio.values
    assert r[0] == pytest.approx(r[1], rel=1e-10)
    assert r[0] == pytest.approx(fuchs_sondheimer(1.0, 0.0, 2, 0.6), rel=5e-3)
    jy = ds.current_y.sel(part="total").values
    np.testing.assert_allclose(jy[1], jy[0][::-1], rtol=1e-9, atol=1e-12 * np.abs(jy).max())
    ex = ds.current_y_edge_excess.sel(edge_part="total").values
    assert ex[0, 0] == pytest.approx(ex[1, 1], rel=1e-9)  # left of one = right of the other
    # the point files hold the per-point case, without the [scan] table
    res = load_result(str(tmp_path / "z" / "points" / "000001.h5"))
    assert "scan" not in res.case
    assert res.case["boundaries"]["left"]["specularity"] == 0.6


def test_changed_case_is_refused(tmp_path, capsys):
    case = _write(tmp_path, "small.toml", SMALL)
    d = str(tmp_path / "d")
    _scan([case, "--vary", "slab.thickness_mfp=[0.5, 2]", "--dir", d, "--no-plots"], capsys)
    with pytest.raises(CaseError, match=r"^scan\.directory = .*holds a different scan "
                                        r"\(slab\.n_x = 40 there, 50 now\)"):
        scan_main([case, "--vary", "slab.thickness_mfp=[0.5, 2]", "--set", "slab.n_x=50",
                       "--dir", d])
    with pytest.raises(CaseError, match=r"holds a different scan \(scan\.vary\.slab\.thickness_mfp"):
        scan_main([case, "--vary", "slab.thickness_mfp=[0.5, 3]", "--dir", d])
    # the same scan again: nothing to solve
    out = _scan([case, "--vary", "slab.thickness_mfp=[0.5,2.0]", "--dir", d, "--no-plots"], capsys)
    assert _solved(out) == 0


def test_failed_point_keeps_the_others(tmp_path, capsys):
    case = _write(tmp_path, "small.toml", SMALL)
    d = tmp_path / "f"
    args = [case, "--vary", "fermi_surface.fermi_level_eV=[-0.1, 0.1]", "--dir", str(d), "--no-plots"]
    for _ in range(2):  # the rerun retries only the failed point, and it fails again
        with pytest.raises(SlabQKTError) as err:
            scan_main(args)
        msg = str(err.value)
        assert "\n" not in msg and msg.startswith("1 of 2 scan points failed"), msg
        assert "point 0 (fermi_surface.fermi_level_eV = -0.1)" in msg
        assert sorted(os.listdir(d / "points")) == ["000001.h5"]
    log = (d / "runs.log").read_text().splitlines()
    assert "solved 1 of 2 points (0 done before, 1 failed)" in log[0]
    assert "solved 0 of 2 points (1 done before, 1 failed)" in log[1]


# -- restart after SIGKILL -------------------------------------------------------------------------
def test_kill_and_restart(tmp_path, capsys):
    case = _write(tmp_path, "rashba.toml", RASHBA)
    d = tmp_path / "killed"
    points = d / "points"
    cmd = [sys.executable, "-m", "slabqkt", "scan", case, "--dir", str(d), "--no-plots"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    t0 = time.time()
    try:
        while time.time() - t0 < TIMEOUT:
            if points.is_dir() and len([f for f in os.listdir(points) if f.endswith(".h5")
                                        and not f.startswith(".")]) >= 3:
                break
            if proc.poll() is not None:
                break
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the scan finished before it could be killed"
    done = sorted(f for f in os.listdir(points) if f.endswith(".h5") and not f.startswith("."))
    assert 3 <= len(done) < 12
    assert os.path.isdir(d / "claims")  # the killed run's claims are still there
    # debris of a killed writer: a temporary file, and a truncated point file of a missing point
    (points / ".tmp-k1lled_0.h5").write_bytes(b"\x89HDF\r\n")
    missing = sorted(set(range(12)) - {int(f[:-3]) for f in done})
    (points / f"{missing[0]:06d}.h5").write_bytes(b"\x00" * 100)
    out = _scan([case, "--dir", str(d), "--no-plots"], capsys)
    assert _solved(out) == 12 - len(done)
    assert f"{len(done)} were done before" in out
    assert not (d / "claims").exists() or not any(os.scandir(d / "claims"))
    assert not (points / ".tmp-k1lled_0.h5").exists()
    ref_dir = tmp_path / "uninterrupted"
    out = _scan([case, "--dir", str(ref_dir), "--no-plots"], capsys)
    assert _solved(out) == 12
    _assert_same(scan_mod.read_scan(str(d)), scan_mod.read_scan(str(ref_dir)), rtol=0.0,
                 skip=("solve_seconds", "krylov_iterations"))
    log = (d / "runs.log").read_text().splitlines()
    assert len(log) == 1 and f"solved {12 - len(done)} of 12 points" in log[0]


# -- MPI ensembles -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mpiexec():
    if not HAVE_MPI4PY:
        if REQUIRE:
            pytest.fail("SLABQKT_REQUIRE_MPI is set but mpi4py cannot be imported")
        pytest.skip("mpi4py not importable (run `make mpi`)")
    return mpich_launcher()


def _mpirun(mpiexec, n, args, cwd):
    cmd = [mpiexec, "-n", str(n), sys.executable, "-m", "slabqkt", "scan"] + args
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, env=_env(),
                              timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(cmd)} hung: {exc.stderr}")


SPEC_2X3 = ["--vary", "boundaries.left.specularity=[0.0, 0.7]",
            "--vary", "slab.thickness_mfp=log:0.3:3:3", "--no-plots"]


@pytest.fixture(scope="module")
def serial_2x3(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("serial")
    case = _write(tmp, "small.toml", SMALL)
    assert scan_main([case, "--dir", str(tmp / "serial")] + SPEC_2X3) == 0
    return case, scan_mod.read_scan(str(tmp / "serial"))


def test_mpi_ensemble_matches_serial(mpiexec, serial_2x3, tmp_path):
    case, serial = serial_2x3
    d = tmp_path / "mpi"
    proc = _mpirun(mpiexec, 2, [case, "--dir", str(d), "--group-size", "1"] + SPEC_2X3, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert _solved(proc.stdout) == 6
    assert proc.stdout.count("scan: solved") == 1  # only rank 0 reports
    assert "on 2 group(s) of 1 rank(s)" in proc.stdout
    mpi = scan_mod.read_scan(str(d))
    assert mpi.attrs["ranks"] == 2
    _assert_same(mpi, serial, rtol=1e-10)
    # a rerun under MPI finds everything done
    proc = _mpirun(mpiexec, 2, [case, "--dir", str(d)] + SPEC_2X3, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert _solved(proc.stdout) == 0


def test_mpi_group_size_not_dividing_is_one_line(mpiexec, tmp_path):
    case = _write(tmp_path, "small.toml", SMALL)
    proc = _mpirun(mpiexec, 2, [case, "--dir", str(tmp_path / "d"), "--group-size", "3"]
                   + SPEC_2X3, tmp_path)
    assert proc.returncode == 2
    errs = [ln for ln in proc.stderr.splitlines() if "error" in ln.lower()]
    assert errs == ["slabqkt: error: --group-size = '3': allowed: a positive divisor of the "
                    "number of MPI ranks (2)"], proc.stderr
    assert not (tmp_path / "d").exists()


def test_petsc_group_of_two_matches_serial(mpiexec, serial_2x3, tmp_path):
    if not HAVE_PETSC:
        if REQUIRE:
            pytest.fail("SLABQKT_REQUIRE_MPI is set but petsc4py cannot be imported")
        pytest.skip("petsc4py not importable")
    case, serial = serial_2x3
    d = tmp_path / "petsc"
    proc = _mpirun(mpiexec, 2, [case, "--dir", str(d), "--group-size", "2", "--backend", "petsc"]
                   + SPEC_2X3, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "on 1 group(s) of 2 rank(s)" in proc.stdout and _solved(proc.stdout) == 6
    mpi = scan_mod.read_scan(str(d))
    np.testing.assert_allclose(mpi.data["conductivity_ratio"][1],
                               serial.data["conductivity_ratio"][1], rtol=1e-9)
    for name in ("current_y", "current_y_bulk", "current_y_edge_excess"):
        a, b = mpi.data[name][1], serial.data[name][1]
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-9 * np.nanmax(np.abs(b)))
