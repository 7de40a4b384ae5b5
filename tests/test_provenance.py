"""Issue 13, item 27: provenance in every result file, and `slabqkt info`."""
import datetime
import re
import shutil
import subprocess

import h5py
import pytest

from slabqkt import cli, provenance
from slabqkt.result import load_result

from conftest import rashba_toml

CASE = rashba_toml("prov", 3.0, 40, extra='[observables]\nnames = ["spin_z"]\n[output]\nplots = false\n')

HAVE_GIT = shutil.which("git") is not None


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("prov")
    case = tmp / "case.toml"
    case.write_text(CASE)
    out = tmp / "r.h5"
    args = ["run", str(case), "--out", str(out), "--set", "slab.n_x=30"]
    assert cli.main(args) == 0
    return tmp, case, out, args


def test_collect_is_flat_and_complete():
    p = provenance.collect(["run", "my case.toml"], "scipy")
    assert all(isinstance(v, (str, int, float)) for v in p.values())
    for key in ("slabqkt_version", "git_commit", "git_dirty", "command_line", "python_version",
                "numpy_version", "scipy_version", "h5py_version", "host", "date_utc", "backend"):
        assert key in p
    import numpy, scipy, h5py as h5
    from slabqkt import __version__
    assert p["slabqkt_version"] == __version__
    assert (p["numpy_version"], p["scipy_version"], p["h5py_version"]) == (
        numpy.__version__, scipy.__version__, h5.__version__)
    assert p["command_line"] == "slabqkt run 'my case.toml'"  # shell-quoted
    when = datetime.datetime.strptime(p["date_utc"], "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc)
    assert abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) < 120
    assert p["git_dirty"] in (-1, 0, 1)
    assert p["git_commit"] == "unknown" or re.fullmatch(r"[0-9a-f]{40}", p["git_commit"])


@pytest.mark.skipif(not HAVE_GIT, reason="no git")
def test_git_state_commit_and_dirty_flag(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    pkg = repo / "slabqkt"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("x = 1\n")

    def git(*a):
        return subprocess.run(["git", "-C", str(repo)] + list(a), capture_output=True, text=True,
                              check=True).stdout.strip()
    git("init", "-q")
    git("add", "-A")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "c")
    head = git("rev-parse", "HEAD")
    monkeypatch.setattr(provenance, "_PKG", str(pkg))
    provenance.git_state.cache_clear()
    try:
        assert provenance.git_state() == (head, 0)
        (pkg / "__init__.py").write_text("x = 2\n")
        provenance.git_state.cache_clear()
        assert provenance.git_state() == (head, 1)
        # a package folder that is not the top of a checkout: unknown, not someone else's commit
        inner = pkg / "sub"
        inner.mkdir()
        monkeypatch.setattr(provenance, "_PKG", str(inner))
        provenance.git_state.cache_clear()
        assert provenance.git_state() == ("unknown", -1)
        monkeypatch.setattr(provenance, "_PKG", str(tmp_path / "nogit" / "slabqkt"))
        provenance.git_state.cache_clear()
        assert provenance.git_state() == ("unknown", -1)
    finally:
        provenance.git_state.cache_clear()


def test_result_file_holds_provenance_in_its_own_group(run):
    tmp, case, out, args = run
    with h5py.File(out) as f:
        g = f["provenance"].attrs
        assert g["command_line"] == "slabqkt " + " ".join(args)
        assert g["backend"] == "scipy" and g["ranks"] == 1
        # the root layout is unchanged: no provenance key there
        assert not any(k in f.attrs for k in ("command_line", "git_commit", "host"))
        stages = {k[8:]: float(v) for k, v in g.items() if k.startswith("seconds_")}
    for s in ("case", "fermi_surface", "observable_weights", "operator", "solve", "observables",
              "bulk", "total"):
        assert stages[s] >= 0, s
    assert stages["total"] > 0
    # the stages are disjoint parts of the run: together no longer than the total
    assert sum(v for k, v in stages.items() if k != "total") <= stages["total"] * (1 + 1e-9)
    res = load_result(out)
    assert res.provenance["command_line"] == "slabqkt " + " ".join(args)
    assert res.provenance["seconds_solve"] == pytest.approx(stages["solve"])


def test_api_save_records_provenance_too(tmp_path):
    from slabqkt import load_case
    from slabqkt.simulation import Simulation
    case = tmp_path / "c.toml"
    case.write_text(CASE)
    res = Simulation(load_case(case, ["slab.n_x=16"])).run()
    res.save(tmp_path / "r.h5")
    with h5py.File(tmp_path / "r.h5") as f:
        assert f["provenance"].attrs["slabqkt_version"]
        assert f["provenance"].attrs["backend"] == "scipy"


def test_info_on_a_result(run, capsys):
    tmp, case, out, args = run
    assert cli.main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert 4 <= len(lines) <= 7
    res = load_result(out)
    assert lines[0].startswith(f"{out}: slabqkt slab result, case 'prov', model rashba 2D")
    assert f"conductivity ratio sigma_film/sigma_bulk = {res.conductivity_ratio:.8g}" in text
    assert f"d = {res.attrs['thickness_nm']:.5g} nm = 3 l" in text
    assert "observables: " in text and "spin_z [hbar/2 nm^-2]" in text
    assert f"made by slabqkt {res.provenance['slabqkt_version']}" in text
    assert f"command: slabqkt {' '.join(args)}" in text
    assert "wall time: " in text and "solve " in text


def test_info_on_a_bulk_result_and_on_a_scan(tmp_path, capsys):
    case = tmp_path / "c.toml"
    case.write_text(CASE.replace("n_x = 40", "n_x = 16"))
    assert cli.main(["bulk", str(case), "--out", str(tmp_path / "b.h5")]) == 0
    capsys.readouterr()
    assert cli.main(["info", str(tmp_path / "b.h5")]) == 0
    text = capsys.readouterr().out
    assert "slabqkt bulk result, case 'prov'" in text and "sigma_bulk = " in text
    d = tmp_path / "s.scan"
    assert cli.main(["scan", str(case), "--vary", "slab.thickness_mfp=[1.0, 2.0]", "--dir", str(d),
                     "--no-plots"]) == 0
    capsys.readouterr()
    for target in (d, d / "scan.h5"):
        assert cli.main(["info", str(target)]) == 0
        text = capsys.readouterr().out
        assert "slabqkt scan, case 'prov', product mode, points over slab.thickness_mfp (2)" in text
        assert "conductivity ratio: " in text and "over 2 point(s)" in text


@pytest.mark.parametrize("bad, expect", [("missing.h5", "no such file"),
                                         ("notes.txt", "not HDF5"),
                                         (".", "is a directory")])
def test_info_bad_files_are_one_line(tmp_path, monkeypatch, capsys, bad, expect):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("hello\n")
    assert cli.main(["info", bad]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and expect in err and "Traceback" not in err
