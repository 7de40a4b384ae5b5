"""Scan folders are safe to use (issue 13: items 2, 12, 14, 15, 19, 23, 24, 30).

What is asserted:
- ``--dir`` naming a folder with the user's files and no scan.toml is refused with one line,
  and nothing in it is touched; in a scan folder only what slabqkt made (its claims, its
  temporary files) is cleaned; a scan.toml that slabqkt did not write is refused.
- Two ``slabqkt scan`` jobs on one folder at once both succeed, solve every point exactly
  once between them, and the combined file is complete; a claim held by a live job survives
  another job's start and is waited for, a killed job's claim is taken over.
- A truncated point file, or a valid HDF5 file without the result in it, is solved again.
- ``slabqkt scan --help`` lists every option, options may precede the case, no arguments
  give a usage line, PETSc options still pass through.
- List-valued keys (``observables.names``) explain that each scanned value is a list;
  repeated values are refused; scan.toml follows the umask (not 0600).
- ``slabqkt.scans`` does not import the command line; ``plot_scan_path`` draws a scan from
  its folder or scan.h5 and gives one line for anything else.
"""
import fcntl
import os
import re
import stat
import subprocess
import sys
import threading
import time

import h5py
import numpy as np
import pytest

from conftest import subprocess_env

import test_scan

from slabqkt import cli
from slabqkt.errors import CaseError, SlabQKTError

TIMEOUT = 120

SMALL, RASHBA = test_scan.SMALL, test_scan.RASHBA  # the same small scan cases

VARY3 = ["--vary", "slab.thickness_mfp=[0.5, 1.0, 2.0]", "--no-plots"]


def _case(tmp_path, text=SMALL, name="small.toml"):
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def _run(args, capsys):
    """``slabqkt scan ARGS`` through the real entry point: (exit code, stdout, stderr)."""
    code = cli.main(["scan"] + list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _solved(stdout):
    m = re.search(r"solved (\d+) point\(s\) in this run", stdout)
    assert m, stdout
    return int(m.group(1))


def _ratio(folder):
    with h5py.File(os.path.join(folder, "scan.h5"), "r") as f:
        return f["conductivity_ratio"][()]


# -- item 2: --dir on a folder of the user's --------------------------------------------------
def test_folder_without_scan_toml_is_refused_untouched(tmp_path, capsys):
    case = _case(tmp_path)
    d = tmp_path / "mine"
    (d / "claims").mkdir(parents=True)
    (d / "points").mkdir()
    files = {d / "notes.txt": "keep", d / ".tmp-abcd1234": "keep", d / "claims" / "3": "keep",
             d / "points" / ".tmp-wxyz9876.h5": "keep"}
    for p, text in files.items():
        p.write_text(text)
    code, _, err = _run([case, "--dir", str(d)] + VARY3, capsys)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(
        f"slabqkt: error: scan.directory = '{d}': exists and holds files (.tmp-abcd1234, claims, "
        "notes.txt, ...) but no scan.toml: not a slabqkt scan folder"), err
    for p, text in files.items():
        assert p.read_text() == text, p
    assert not (d / "scan.toml").exists()


def test_only_slabqkt_debris_is_cleaned(tmp_path, capsys):
    case = _case(tmp_path)
    d = tmp_path / "s"
    code, out, _ = _run([case, "--dir", str(d)] + VARY3, capsys)
    assert code == 0 and _solved(out) == 3
    os.unlink(d / "points" / "000001.h5")
    # what killed slabqkt jobs leave: temporary files with slabqkt's names, a dead claim
    debris = [d / ".tmp-q1w2e3r4", d / ".tmp-a1b2c3d4.h5", d / "points" / ".tmp-z9y8x7w6.h5",
              d / "claims" / "1", d / "claims" / ".tmp-m5n6b7v8"]
    # the user's own files, some with similar names
    mine = [d / "notes.txt", d / ".tmp-my-notes.txt", d / "points" / "mine.h5",
            d / "points" / ".tmp-keep.h5", d / "claims" / "README", d / "claims" / "1.bak"]
    for p in debris + mine:
        p.write_bytes(b"\x89HDF\r\n" if p.suffix == ".h5" else b"x")
    code, out, _ = _run([case, "--dir", str(d)] + VARY3, capsys)
    assert code == 0 and _solved(out) == 1
    for p in debris:
        assert not p.exists(), p
    for p in mine:
        assert p.exists(), p


def test_foreign_scan_toml_is_refused(tmp_path, capsys):
    case = _case(tmp_path)
    d = tmp_path / "other"
    d.mkdir()
    (d / "scan.toml").write_text('[scan]\nmode = "zip"\n')
    (d / ".tmp-abcd1234").write_text("keep")
    code, _, err = _run([case, "--dir", str(d)] + VARY3, capsys)
    assert code == 2 and err.count("\n") == 1
    assert "holds a scan.toml that slabqkt did not write" in err, err
    assert (d / ".tmp-abcd1234").read_text() == "keep"


def test_dir_that_is_a_file_is_one_line(tmp_path, capsys):
    case = _case(tmp_path)
    f = tmp_path / "afile"
    f.write_text("keep")
    code, _, err = _run([case, "--dir", str(f)] + VARY3, capsys)
    assert code == 2 and err == (f"slabqkt: error: scan.directory = '{f}': is a file, not a "
                                 "folder; allowed: a new folder or a slabqkt scan folder\n")
    assert f.read_text() == "keep"


# -- item 14: concurrent jobs -----------------------------------------------------------------
def test_two_jobs_on_one_folder(tmp_path):
    case = _case(tmp_path, RASHBA, "rashba.toml")
    d = tmp_path / "shared"
    cmd = [sys.executable, "-m", "slabqkt", "scan", case, "--dir", str(d), "--no-plots"]
    procs = [subprocess.Popen(cmd, cwd=tmp_path, env=subprocess_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=TIMEOUT) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    solved = [_solved(out) for out, _ in outs]
    assert sum(solved) == 12, solved  # every point exactly once between the two jobs
    with h5py.File(d / "scan.h5", "r") as f:
        ratio = f["conductivity_ratio"][()]
        assert f.attrs["n_points"] == 12
    assert ratio.shape == (4, 3) and np.all(np.isfinite(ratio))
    assert sorted(os.listdir(d / "points")) == [f"{i:06d}.h5" for i in range(12)]
    assert not any(os.scandir(d / "claims"))
    assert len((d / "runs.log").read_text().splitlines()) == 2


def test_live_claim_survives_and_dead_claim_is_taken_over(tmp_path, capsys):
    from slabqkt.scans import build_scan, prepare_directory
    case = _case(tmp_path)
    d = tmp_path / "c"
    prepare_directory(build_scan(case, [VARY3[1]], directory=str(d)))
    # point 1: claimed by a live job (this test holds the lock); point 2: by a killed job
    live = d / "claims" / "1"
    fd = os.open(live, os.O_CREAT | os.O_RDWR, 0o644)
    os.write(fd, b"other-run otherhost 4242 0\n")
    fcntl.flock(fd, fcntl.LOCK_EX)
    (d / "claims" / "2").write_text("dead-run somehost 4243 0\n")
    ino = os.stat(live).st_ino
    seen = {}

    def release():
        # once the scan has solved points 0 and 2 it waits for point 1: give it up then
        t0 = time.time()
        while time.time() - t0 < TIMEOUT and not all(
                (d / "points" / f"00000{i}.h5").exists() for i in (0, 2)):
            time.sleep(0.05)
        time.sleep(0.5)
        seen["kept"] = live.exists() and os.stat(live).st_ino == ino
        seen["points"] = sorted(os.listdir(d / "points"))
        os.unlink(live)
        os.close(fd)

    thread = threading.Thread(target=release)
    thread.start()
    try:
        code, out, err = _run([case, "--dir", str(d)] + VARY3, capsys)
    finally:
        thread.join()
    assert code == 0, err
    assert seen["kept"], "the live job's claim was removed"
    assert seen["points"] == ["000000.h5", "000002.h5"]
    assert _solved(out) == 3
    assert not any(os.scandir(d / "claims"))
    assert np.all(np.isfinite(_ratio(d)))


# -- item 15: incomplete point files ----------------------------------------------------------
def test_truncated_point_file_is_solved_again(tmp_path, capsys):
    case = _case(tmp_path)
    d = tmp_path / "t"
    code, out, _ = _run([case, "--dir", str(d)] + VARY3, capsys)
    assert code == 0
    ref = _ratio(d)
    p1 = d / "points" / "000001.h5"
    size = p1.stat().st_size
    with open(p1, "r+b") as f:
        f.truncate(size // 2)
    assert h5py.is_hdf5(p1)  # the signature alone says "fine"
    with h5py.File(d / "points" / "000002.h5", "w") as f:  # valid HDF5, no result inside
        f.attrs["format"] = "slabqkt-result-1"
    code, out, err = _run([case, "--dir", str(d)] + VARY3, capsys)
    assert code == 0, err
    assert _solved(out) == 2 and "1 were done before" in out
    np.testing.assert_array_equal(_ratio(d), ref)


# -- item 19: the scan command line -----------------------------------------------------------
def test_scan_help_lists_every_option():
    proc = subprocess.run([sys.executable, "-m", "slabqkt", "scan", "--help"], capture_output=True,
                          text=True, env=subprocess_env(), timeout=TIMEOUT)
    assert proc.returncode == 0, proc.stderr
    for opt in ("--vary KEY=VALUES", "--mode {product,zip}", "--set KEY=VALUE", "--dir DIR",
                "--out FILE", "--group-size G", "--backend {scipy,petsc}", "--no-plots",
                "log:10:1000:13"):
        assert opt in proc.stdout, opt


def test_no_arguments_give_usage():
    proc = subprocess.run([sys.executable, "-m", "slabqkt", "scan"], capture_output=True,
                          text=True, env=subprocess_env(), timeout=TIMEOUT)
    assert proc.returncode == 2
    assert proc.stderr.startswith("usage: slabqkt scan [-h] [--vary KEY=VALUES]"), proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        "slabqkt scan: error: a case file is required: slabqkt scan CASE.toml "
        "[--vary KEY=VALUES ...] (slabqkt scan --help lists the options)")


def test_options_before_the_case_and_petsc_options(tmp_path, capsys):
    case = _case(tmp_path)
    d = str(tmp_path / "o")
    code, out, err = _run(["--dir", d, "--no-plots", "--vary", "slab.thickness_mfp=[0.5, 1]",
                           "--set", "slab.n_x=30", case], capsys)
    assert code == 0, err
    assert _solved(out) == 2
    code, _, err = _run(["--dir", d, "-ksp_type", "gmres", case, "--vary",
                         "slab.thickness_mfp=[0.5, 1]"], capsys)
    assert code == 2 and err == ("slabqkt: error: PETSc options -ksp_type gmres given but "
                                 "solver.backend = 'scipy' (use --backend petsc)\n")


# -- items 23, 24: what --vary accepts -----------------------------------------------------------
def test_list_valued_keys_take_lists_of_lists(tmp_path):
    from slabqkt.scans import build_scan
    case = _case(tmp_path)
    with pytest.raises(CaseError) as err:
        build_scan(case, ['observables.names=["spin_z"]'])
    assert str(err.value) == (
        "observables.names = ['spin_z']: allowed: a list of the scanned values, each itself a "
        "list (observables.names is a list), e.g. observables.names=[[\"spin_z\"], "
        "[\"spin_x\", \"spin_z\"]]; for one value at every point use --set instead")
    with pytest.raises(CaseError, match=r"^field\.direction = \[0, 1, 0\]: allowed: a list of "
                                        r"the scanned values, each itself a list of 3 real numbers"):
        build_scan(case, ["field.direction=[0, 1, 0]"])
    s = build_scan(case, ['observables.names=[["density"], ["density", "current_y"]]'])
    assert [c["observables"]["names"] for c in s.cases] == [["density"], ["density", "current_y"]]


@pytest.mark.parametrize("vary, mode, msg", [
    (["slab.n_x=[10, 20, 10]"], None,
     "slab.n_x = [10, 20, 10]: allowed: distinct values (10 is given twice: values 0 and 2)"),
    (["slab.thickness_mfp=1:1:3"], None,
     "slab.thickness_mfp = [1.0, 1.0, 1.0]: allowed: distinct values (1.0 is given twice: "
     "values 0 and 1)"),
    (["boundaries.left.specularity=[0, 0.0]"], None,
     "boundaries.left.specularity = [0, 0.0]: allowed: distinct values (0 is given twice: "
     "values 0 and 1)"),
    (["boundaries.left.specularity=[0, 0, 0.5]", "boundaries.right.specularity=[0.5, 0.5, 0]"],
     "zip", "scan.vary = {'boundaries.left.specularity': [0, 0, 0.5], "
     "'boundaries.right.specularity': [0.5, 0.5, 0]}: allowed: distinct zipped points (points 0 "
     "and 1 are both boundaries.left.specularity = 0, boundaries.right.specularity = 0.5)"),
])
def test_repeated_values_are_refused(tmp_path, vary, mode, msg):
    from slabqkt.scans import build_scan
    with pytest.raises(CaseError) as err:
        build_scan(_case(tmp_path), vary, mode=mode)
    assert str(err.value) == msg


def test_zip_may_repeat_a_value_of_one_key(tmp_path):
    from slabqkt.scans import build_scan
    s = build_scan(_case(tmp_path), ["boundaries.left.specularity=[0, 0]",
                                     "boundaries.right.specularity=[0, 0.5]"], mode="zip")
    assert s.size == 2


def test_scan_toml_follows_the_umask(tmp_path, capsys):
    case = _case(tmp_path)
    old = os.umask(0o022)
    try:
        code, _, err = _run([case, "--dir", str(tmp_path / "u")] + VARY3[:2] + ["--no-plots"],
                            capsys)
    finally:
        os.umask(old)
    assert code == 0, err
    for name in ("scan.toml", "scan.h5", "runs.log", "points/000000.h5"):
        assert stat.S_IMODE(os.stat(tmp_path / "u" / name).st_mode) == 0o644, name


# -- item 30: layout --------------------------------------------------------------------------
def test_scans_package_does_not_import_the_cli():
    code = ("import sys, slabqkt.scans, slabqkt.scan; "
            "assert 'slabqkt.cli' not in sys.modules, 'cli imported'; "
            "assert slabqkt.scan.load_scan is slabqkt.scans.load_scan; print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=subprocess_env(), timeout=TIMEOUT)
    assert proc.stdout.strip() == "ok", proc.stderr
    folder = os.path.join(os.path.dirname(cli.__file__), "scans")
    for name in os.listdir(folder):
        if name.endswith(".py"):
            with open(os.path.join(folder, name)) as f:
                assert not re.search(r"(from|import)\s+[.\w]*\bcli\b|import\s+cli\b", f.read()), name


# -- provenance and plots (item 12, scan half) ----------------------------------------------------
@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished 2 x 2 scan folder (no plots yet), recorded with a stand-in provenance."""
    import types
    tmp = tmp_path_factory.mktemp("plots")
    case = _case(tmp)
    fake = types.ModuleType("slabqkt.provenance")
    fake.collect = lambda argv=None, backend=None: {"version": "9.9", "argv": ["slabqkt", "scan"],
                                                   "wall_seconds": {"solve": 1.5}}
    sys.modules["slabqkt.provenance"] = fake
    try:
        assert cli.scan_main([case, "--dir", str(tmp / "f"), "--no-plots",
                              "--vary", "boundaries.both.specularity=[0, 0.5]",
                              "--vary", "slab.thickness_mfp=[0.5, 2]"]) == 0
    finally:
        del sys.modules["slabqkt.provenance"]
    return tmp / "f"


def test_provenance_group(finished):
    from slabqkt.scans import read_scan
    with h5py.File(finished / "scan.h5", "r") as f:
        assert dict(f["provenance"].attrs) == {"version": "9.9", "argv": '["slabqkt", "scan"]',
                                               "wall_seconds": '{"solve": 1.5}'}
    assert read_scan(finished).provenance["version"] == "9.9"


def test_plot_scan_path_folder_and_file(finished):
    from slabqkt.scans import plot_scan_path
    for where in (finished, finished / "scan.h5"):
        paths = plot_scan_path(where)
        assert any(p.endswith("scan_conductivity_map.png") for p in paths)
        for p in paths:
            assert os.path.dirname(p) == str(finished)
            with open(p, "rb") as f:
                assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_plot_scan_path_bad_inputs_are_one_line(finished, tmp_path):
    from slabqkt.scans import plot_scan_path
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    empty = tmp_path / "empty.h5"
    with h5py.File(empty, "w"):
        pass
    trunc = tmp_path / "trunc.h5"
    data = (finished / "scan.h5").read_bytes()
    trunc.write_bytes(data[: len(data) // 3])
    nores = tmp_path / "unfinished"
    nores.mkdir()
    (nores / "scan.toml").write_text("# slabqkt scan: base case and scan specification.\n")
    point = finished / "points" / "000000.h5"
    cases = [
        (tmp_path / "missing.h5", "missing.h5: no such file"),
        (text, "notes.txt is not a readable HDF5 file"),
        ("/dev/null", "/dev/null is not a regular file"),
        (empty, "empty.h5 is not a slabqkt scan result (format None"),
        (trunc, "trunc.h5 is not a readable HDF5 file"),
        (tmp_path, "is a folder but not a slabqkt scan folder (no scan.toml)"),
        (nores, "unfinished is a scan folder without a combined result yet"),
        (point, "000000.h5 is not a slabqkt scan result (format 'slabqkt-result-1'"),
    ]
    for path, msg in cases:
        with pytest.raises(SlabQKTError) as err:
            plot_scan_path(path)
        assert "\n" not in str(err.value) and msg in str(err.value), (path, str(err.value))


# -- item 1: scan --out -----------------------------------------------------------------------
def test_scan_out_never_replaces_the_case_or_a_foreign_file(tmp_path, capsys):
    case = _case(tmp_path)
    d = str(tmp_path / "s.scan")
    text_file = tmp_path / "notes.txt"
    text_file.write_text("keep")
    before = open(case).read()
    for target, what in ((case, "is the case file"), (str(text_file), "is not a slabqkt scan file")):
        code, out, err = _run([case, "--dir", d, "--out", target, "--no-plots"] + VARY3, capsys)
        assert code == 2 and err.count("\n") == 1 and what in err, err
        assert "solved" not in out  # refused before any point was solved
    assert open(case).read() == before and text_file.read_text() == "keep"
    # a scan file of its own is replaced on a rerun
    out_h5 = str(tmp_path / "combined.h5")
    for _ in range(2):
        code, out, err = _run([case, "--dir", d, "--out", out_h5, "--no-plots"] + VARY3, capsys)
        assert code == 0, err
    with h5py.File(out_h5, "r") as f:
        assert f.attrs["format"].startswith("slabqkt-scan")


# -- item 17: a scan that could never finish is refused at once --------------------------------
def test_huge_ranges_are_refused_at_once(tmp_path, capsys):
    case = _case(tmp_path)
    t0 = time.perf_counter()
    code, _, err = _run([case, "--dir", str(tmp_path / "h.scan"), "--vary",
                         "slab.thickness_mfp=1:2:1e9"], capsys)
    assert code == 2 and err.count("\n") == 1 and "at most 10000 values per key" in err, err
    code, _, err = _run([case, "--dir", str(tmp_path / "h.scan"), "--vary",
                         "slab.thickness_mfp=1:2:1000", "--vary", "slab.n_x=10:1009:1000"], capsys)
    assert code == 2 and "100000 points in all (1000000 asked" in err, err
    assert time.perf_counter() - t0 < 10
