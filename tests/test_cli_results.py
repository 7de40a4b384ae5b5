"""The CLI and the result file: what `make run` does, on a small grid."""
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from slabqkt import load_result

ROOT = os.path.join(os.path.dirname(__file__), "..")
STRIP = os.path.join(ROOT, "geometries", "rashba_strip.toml")


def _run(args, cwd):
    return subprocess.run([sys.executable, "-m", "slabqkt"] + args, capture_output=True, text=True,
                          cwd=cwd)


@pytest.fixture(scope="module")
def strip_result(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("run")
    out = tmp / "strip.h5"
    proc = _run(["run", STRIP, "--set", "slab.n_x=80", "--set", "fermi_surface.n_angles=64",
                 "--out", str(out)], tmp)
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_run_writes_result_and_plots(strip_result):
    out, proc = strip_result
    assert out.exists()
    assert f"result: {out}" in proc.stdout
    pngs = [ln.split(": ", 1)[1] for ln in proc.stdout.splitlines() if ln.startswith("plot: ")]
    assert any(p.endswith("_current.png") for p in pngs)
    assert any(p.endswith("_spin_z.png") for p in pngs)
    for p in pngs:
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def test_result_layout_and_units(strip_result):
    out, _ = strip_result
    with h5py.File(out) as f:
        for key in ("case", "conductivity_ratio", "mean_free_path_nm", "tau_fs", "n_i_v0_sq"):
            assert key in f.attrs
        assert f["x"].attrs["units"] == "nm"
        for name in ("current_y", "current_x", "density", "spin_z"):
            g = f["observables"][name]
            for part in ("intra", "intrinsic", "gradient", "disorder", "total"):
                assert g[part].shape == f["x"].shape
                assert "nm^-2" in g[part].attrs["units"]
        assert "alpha_R = 0.05" in f.attrs["case"]
    res = load_result(out)
    assert 0.5 < res.conductivity_ratio < 1.0
    tot = sum(res.profile("spin_z", p) for p in ("intra", "intrinsic", "gradient", "disorder"))
    assert np.allclose(tot, res.profile("spin_z"))


def test_result_opens_in_xarray(strip_result):
    xr = pytest.importorskip("xarray")
    out, _ = strip_result
    pytest.importorskip("h5netcdf")
    ds = xr.open_dataset(out, group="observables/spin_z", engine="h5netcdf")
    assert "total" in ds and ds["total"].dims == ("x",)
    assert ds["x"].attrs["units"] == "nm"


def test_plot_command_redraws(strip_result, tmp_path):
    out, _ = strip_result
    proc = _run(["plot", str(out)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "_current.png" in proc.stdout


def test_bulk_command(tmp_path):
    proc = _run(["bulk", STRIP, "--set", "fermi_surface.n_angles=64", "--out", "b.h5"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "sigma_bulk" in proc.stdout and "S" in proc.stdout and "spin_x" in proc.stdout
    res = load_result(tmp_path / "b.h5")  # scalars, the four parts and the total
    assert res.x is None
    parts = res.observables["spin_x"]
    assert np.ndim(parts["total"]) == 0
    assert parts["total"] == pytest.approx(parts["intra"] + parts["intrinsic"] + parts["disorder"])
    assert res.attrs["tau_fs"] == pytest.approx(20.0)


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    from slabqkt.result import Result
    r = Result(case={"name": "x", "model": {}}, x=np.linspace(0, 1, 3),
               observables={"density": {p: np.zeros(3) for p in
                                        ("intra", "intrinsic", "gradient", "disorder", "total")}},
               bulk={"density": {p: 0.0 for p in
                                 ("intra", "intrinsic", "gradient", "disorder", "total")}},
               attrs={"dimension": 2, "bad": object()}, units={"density": "1"}, edges={})
    target = tmp_path / "r.h5"
    with pytest.raises(Exception):
        r.save(target)
    assert not target.exists()
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".tmp-")]
