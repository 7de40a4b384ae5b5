"""Issue 13, items 1, 13, 25 (SIGTERM): what --out may replace, output checks before the solve,
full disks, and a terminated run that cleans up."""
import errno
import os
import signal
import stat
import subprocess
import sys

import h5py
import pytest

from conftest import subprocess_env, rashba_toml

from slabqkt import cli
from slabqkt.result import load_result

CASE = rashba_toml("safety", 3.0, 40, extra='[observables]\nnames = ["spin_z"]\n')


@pytest.fixture
def case(tmp_path):
    p = tmp_path / "case.toml"
    p.write_text(CASE)
    return p


@pytest.fixture
def no_solve(monkeypatch):
    """Make a solve a test failure: the output checks must come first."""
    from slabqkt.simulation import Simulation

    def boom(self):
        raise AssertionError("the solve ran before the output was checked")
    monkeypatch.setattr(Simulation, "run", boom)
    monkeypatch.setattr(Simulation, "run_bulk", boom)


def _main(args, capsys):
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def _one_error(err):
    lines = [ln for ln in err.splitlines() if ln.startswith("slabqkt: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# -- item 1: what --out may replace -------------------------------------------------------------
@pytest.mark.parametrize("force", [[], ["--force"]])
def test_out_never_replaces_the_case_file(case, capsys, no_solve, force):
    before = case.read_bytes()
    code, _, err = _main(["run", str(case), "--out", str(case)] + force, capsys)
    assert code == 2
    assert f"{case} is the case file" in _one_error(err)
    assert case.read_bytes() == before


def test_out_refuses_a_file_that_is_not_a_result_unless_forced(case, tmp_path, capsys):
    other = tmp_path / "notes.h5"
    other.write_text("my notes\n")
    code, _, err = _main(["run", str(case), "--out", str(other), "--no-plots"], capsys)
    assert code == 2
    assert "exists and is not a slabqkt result file: not replaced" in _one_error(err)
    assert "--force" in err
    assert other.read_text() == "my notes\n"
    code, out, err = _main(["run", str(case), "--out", str(other), "--no-plots", "--force"], capsys)
    assert code == 0, err
    assert load_result(other).case["name"] == "safety"


def test_out_replaces_a_previous_result_and_refuses_another_hdf5(case, tmp_path, capsys):
    out = tmp_path / "r.h5"
    for _ in range(2):  # the second run replaces the first's result without --force
        code, _, err = _main(["run", str(case), "--out", str(out), "--no-plots"], capsys)
        assert code == 0, err
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f.attrs["format"] = "someone-else-1"
    code, _, err = _main(["bulk", str(case), "--out", str(foreign)], capsys)
    assert code == 2 and "is not a slabqkt result file" in _one_error(err)
    with h5py.File(foreign) as f:
        assert f.attrs["format"] == "someone-else-1"


def _fifo(p):
    os.mkfifo(p)


def _symlink(p):
    target = p.parent / "target.h5"
    target.write_text("the link's target\n")
    os.symlink(target, p)


def _directory(p):
    p.mkdir()


def _chardev(p):
    try:
        os.mknod(p, stat.S_IFCHR | 0o600, os.makedev(1, 3))  # a copy of /dev/null's node
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here ({exc})")


@pytest.mark.parametrize("make, kind", [(_fifo, "a FIFO"), (_symlink, "a symbolic link"),
                                        (_directory, "a directory"),
                                        (_chardev, "a character device")])
@pytest.mark.parametrize("force", [[], ["--force"]])
def test_out_never_replaces_links_devices_fifos_folders(case, tmp_path, capsys, no_solve, make,
                                                        kind, force):
    target = tmp_path / "special.h5"
    make(target)
    mode = os.lstat(target).st_mode
    code, _, err = _main(["run", str(case), "--out", str(target)] + force, capsys)
    assert code == 2
    assert f"{target} is {kind}: slabqkt never replaces one" in _one_error(err)
    assert os.lstat(target).st_mode == mode
    if kind == "a symbolic link":
        assert (tmp_path / "target.h5").read_text() == "the link's target\n"


def test_the_writer_itself_never_replaces_a_link(tmp_path):
    """Result.save/atomic_h5 (the rename) check again, whatever the caller checked."""
    from slabqkt.errors import SlabQKTError
    from slabqkt.result import atomic_h5
    _symlink(tmp_path / "l.h5")
    with pytest.raises(SlabQKTError, match="is a symbolic link"):
        with atomic_h5(tmp_path / "l.h5"):
            pass
    assert os.path.islink(tmp_path / "l.h5")


# -- item 13: the output location is checked before the solve ------------------------------------
def test_out_below_a_file(case, tmp_path, capsys, no_solve):
    (tmp_path / "afile").write_text("x")
    code, _, err = _main(["run", str(case), "--out", str(tmp_path / "afile" / "r.h5")], capsys)
    assert code == 2
    assert f"{tmp_path / 'afile'} is not a directory" in _one_error(err)


def test_out_name_too_long(case, tmp_path, capsys, no_solve):
    name = "r" * 300 + ".h5"
    code, _, err = _main(["run", str(case), "--out", str(tmp_path / name)], capsys)
    assert code == 2
    line = _one_error(err)
    assert "is 303 bytes long, the file system allows 255" in line


def test_plot_names_too_long_are_caught_before_the_solve(case, tmp_path, capsys, no_solve):
    name = "r" * 245 + ".h5"  # fits, but r..r_spin_z.png (255 + 2) does not
    code, _, err = _main(["run", str(case), "--out", str(tmp_path / name)], capsys)
    assert code == 2
    assert "rrrrrrr_current.png is 257 bytes long, the file system allows 255" in _one_error(err)


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="no /proc")
def test_out_on_a_pseudo_file_system(case, capsys, no_solve):
    code, _, err = _main(["run", str(case), "--out", "/proc/self/slabqkt/r.h5"], capsys)
    assert code == 2
    assert "cannot create the folder /proc/self/slabqkt" in _one_error(err)


def test_out_in_a_read_only_folder(case, tmp_path, capsys, no_solve, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    if os.geteuid() == 0:  # root writes anyway: simulate the file system's refusal
        import slabqkt.result as result_mod

        def mkstemp(*a, **k):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS))
        monkeypatch.setattr(result_mod.tempfile, "mkstemp", mkstemp)
    else:
        ro.chmod(0o500)
    try:
        code, _, err = _main(["run", str(case), "--out", str(ro / "r.h5")], capsys)
    finally:
        ro.chmod(0o700)
    assert code == 2
    line = _one_error(err)
    assert f"cannot write in {ro}" in line
    assert ("Read-only file system" in line) or ("Permission denied" in line)
    assert os.listdir(ro) == []


def test_out_folder_is_created(case, tmp_path, capsys):
    out = tmp_path / "new" / "deeper" / "r.h5"
    code, _, err = _main(["run", str(case), "--out", str(out), "--no-plots"], capsys)
    assert code == 0, err
    assert out.exists() and not [p for p in os.listdir(out.parent) if p.startswith(".tmp-")]


def _enospc(*a, **k):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_full_disk_during_the_save(case, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(h5py.Group, "create_dataset", _enospc)
    out = tmp_path / "r.h5"
    code, _, err = _main(["run", str(case), "--out", str(out)], capsys)
    assert code == 2
    assert _one_error(err) == f"slabqkt: error: cannot write {out}: No space left on device"
    assert os.listdir(tmp_path) == ["case.toml"]  # no result, no .tmp-*


def test_full_disk_during_the_plots_keeps_the_result(case, tmp_path, capsys, monkeypatch):
    import matplotlib.figure
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", _enospc)
    out = tmp_path / "r.h5"
    code, stdout, err = _main(["run", str(case), "--out", str(out)], capsys)
    assert code == 2
    line = _one_error(err)
    assert "cannot write the plots" in line and "No space left on device" in line
    assert f"the result file {out} is complete" in line
    assert f"result: {out}" in stdout
    assert load_result(out).profile("spin_z").shape == (41,)


# -- item 25: SIGTERM ---------------------------------------------------------------------------
WRAPPER = r"""
import contextlib, sys, time
import slabqkt.result as result
from slabqkt.solvers.scipy_backend import ScipyBackend
where = sys.argv[1]
if where == "save":
    orig = result.atomic_h5
    @contextlib.contextmanager
    def slow(path):
        with orig(path) as f:
            print("PAUSED", flush=True)
            time.sleep(60)
            yield f
    result.atomic_h5 = slow
else:
    orig_solve = ScipyBackend.solve
    def solve(self, problem, settings):
        print("PAUSED", flush=True)
        time.sleep(60)
        return orig_solve(self, problem, settings)
    ScipyBackend.solve = solve
from slabqkt.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.mark.parametrize("where", ["solve", "save"])
def test_sigterm_cleans_up_and_says_interrupted(case, tmp_path, where):
    wrapper = tmp_path / "wrapper.py"
    wrapper.write_text(WRAPPER)
    out = tmp_path / "res" / "r.h5"
    proc = subprocess.Popen([sys.executable, str(wrapper), where, "run", str(case), "--out",
                             str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=subprocess_env(), cwd=tmp_path)
    try:
        assert proc.stdout.readline().strip() == "PAUSED"
        tmps = [p for p in os.listdir(out.parent) if p.startswith(".tmp-")]
        assert len(tmps) == (1 if where == "save" else 0)  # the save was under way
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, stderr
    assert stderr.strip().splitlines()[-1] == "slabqkt: interrupted (SIGTERM)"
    assert "Traceback" not in stderr
    assert os.listdir(out.parent) == []  # neither a result nor a .tmp-*.h5
