"""Issue 13, items 12 and 29: `slabqkt plot` on bad inputs and on scans; the near-wall view."""
import os
import shutil

import h5py
import numpy as np
import pytest

from slabqkt import cli, load_case
from slabqkt.errors import SlabQKTError
from slabqkt.plots import plot_current, plot_observable, wall_distances
from slabqkt.result import load_result
from slabqkt.simulation import Simulation

from conftest import rashba_toml

CASE = rashba_toml("plotcase", 4.0, 40, extra='[observables]\nnames = ["spin_z"]\n')


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("plot")
    case = tmp / "case.toml"
    case.write_text(CASE)
    sim = Simulation(load_case(case))
    res = sim.run()
    res.save(tmp / "r.h5")
    sim.run_bulk().save(tmp / "bulk.h5")
    return tmp, res


def _make(tmp, kind):
    """A bad input of the given kind; returns its path."""
    p = tmp / kind
    if kind == "missing":
        return tmp / "nothing_here.h5"
    if kind == "text":
        p.write_text("conductivity = 1\n")
    elif kind == "devnull":
        return "/dev/null"
    elif kind == "empty":
        p.write_bytes(b"")
    elif kind == "truncated":
        data = (tmp / "r.h5").read_bytes()
        p.write_bytes(data[: len(data) // 2])
    elif kind == "empty_hdf5":
        h5py.File(p, "w").close()
    elif kind == "no_case":
        shutil.copy(tmp / "r.h5", p)
        with h5py.File(p, "a") as f:
            del f.attrs["case"]
    elif kind == "no_part":
        shutil.copy(tmp / "r.h5", p)
        with h5py.File(p, "a") as f:
            del f["observables/spin_z/gradient"]
    elif kind == "directory":
        p.mkdir(exist_ok=True)
    elif kind == "bulk":
        return tmp / "bulk.h5"
    return p


BAD = [
    ("missing", "nothing_here.h5: no such file"),
    ("text", "is not a slabqkt result file (not HDF5)"),
    ("devnull", "/dev/null is a character device, not a slabqkt result file"),
    ("empty", "is empty, not a slabqkt result file"),
    ("truncated", "is a damaged or truncated HDF5 file"),
    ("empty_hdf5", "is an HDF5 file but not a slabqkt result (format attribute ''"),
    ("no_case", "is not a complete slabqkt result: it holds no case"),
    ("no_part", "/observables/spin_z/gradient is missing"),
    ("directory", "is a directory, neither a result file nor a scan folder"),
    ("bulk", "is a bulk result: nothing to plot against x"),
]


@pytest.mark.parametrize("kind, expect", BAD)
def test_plot_bad_input_is_one_line(files, kind, expect, capsys):
    tmp, _ = files
    path = _make(tmp, kind)
    assert cli.main(["plot", str(path)]) == 2
    out, err = capsys.readouterr()
    assert "Traceback" not in err and out == ""
    assert err.count("\n") == 1 and err.startswith("slabqkt: error: "), err
    assert expect in err, err


@pytest.mark.parametrize("kind, expect", [b for b in BAD if b[0] not in ("directory", "bulk")])
def test_load_result_refuses_what_is_not_a_complete_result(files, kind, expect):
    tmp, _ = files
    with pytest.raises(SlabQKTError, match=expect.replace("(", r"\(").replace(")", r"\)")) as err:
        load_result(_make(tmp, kind))
    assert "\n" not in str(err.value)


def test_load_result_names_a_scan_file(tmp_path):
    p = tmp_path / "scan.h5"
    with h5py.File(p, "w") as f:
        f.attrs["format"] = "slabqkt-scan-1"
    with pytest.raises(SlabQKTError, match="is a slabqkt scan file, not a single result"):
        load_result(p)


def test_plot_draws_a_scan_folder_and_its_file(tmp_path, capsys):
    case = tmp_path / "case.toml"
    case.write_text(CASE.replace("n_x = 40", "n_x = 20"))
    d = tmp_path / "s.scan"
    assert cli.main(["scan", str(case), "--vary", "slab.thickness_mfp=[1.0, 2.0]", "--dir", str(d),
                     "--no-plots"]) == 0
    capsys.readouterr()
    for target in (d, d / "scan.h5"):
        assert cli.main(["plot", str(target)]) == 0
        out, err = capsys.readouterr()
        pngs = out.split()
        assert any("_conductivity_vs_" in p for p in pngs), out
        for p in pngs:
            with open(p, "rb") as f:
                assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    os.unlink(d / "scan.h5")
    assert cli.main(["plot", str(d)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "scan folder without a combined result yet (no scan.h5" in err


# -- item 29: the near-wall view ----------------------------------------------------------------
def test_wall_distances(files):
    _, res = files
    l = res.attrs["mean_free_path_nm"]
    x = res.x
    d = x[-1]
    (ls, lm, ld), (rs, rm, rd) = wall_distances(res)
    assert (ls, rs) == ("left", "right")
    np.testing.assert_allclose(ld, x[(x > 0) & (x <= d / 2)] / l)
    np.testing.assert_allclose(rd, (d - x)[(d - x > 0) & (d - x <= d / 2)] / l)
    # each half slab, the wall node excluded (log axis); the smallest distance is the first cell
    assert ld.min() == pytest.approx(x[1] / l) and rd.min() == pytest.approx((d - x[-2]) / l)
    assert lm.sum() + rm.sum() >= len(x) - 2


@pytest.fixture
def figures(monkeypatch):
    """The matplotlib figures that the plot functions save."""
    import matplotlib.figure
    saved = []
    orig = matplotlib.figure.Figure.savefig

    def keep(self, *a, **k):
        saved.append(self)
        return orig(self, *a, **k)
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", keep)
    return saved


def test_observable_plot_has_a_near_wall_view(files, figures, tmp_path):
    _, res = files
    plot_observable(res, "spin_z", str(tmp_path / "s.png"))
    (fig,) = figures
    full, near = fig.axes
    assert full.get_xscale() == "linear" and near.get_xscale() == "log"
    assert full.get_xlabel().startswith("x / l  (l = ")
    assert near.get_xlabel().startswith("distance from the wall / l  (l = ")
    for ax in (full, near):
        assert "spin_z density (hbar/2 nm^-2)" in ax.get_ylabel()
    lines = {ln.get_label(): ln for ln in near.get_lines()}
    total = res.profile("spin_z")
    for side, mask, dist in wall_distances(res):
        ln = lines[f"spin_z total, {side} wall"]
        np.testing.assert_allclose(ln.get_xdata(), dist)
        np.testing.assert_allclose(ln.get_ydata(), total[mask])
    # the wall layer: within l of each wall the view holds at least 5 nodes
    assert all((dist < 1.0).sum() >= 5 for _, _, dist in wall_distances(res))
    assert near.get_xlim()[0] <= min(dist.min() for _, _, dist in wall_distances(res))


def test_current_plot_has_a_near_wall_view(files, figures, tmp_path):
    _, res = files
    plot_current(res, str(tmp_path / "c.png"))
    (fig,) = figures
    near = fig.axes[1]
    assert near.get_xscale() == "log"
    left = {ln.get_label(): ln for ln in near.get_lines()}["j_E / j_bulk, left wall"]
    # j_E / j_bulk rises from the diffuse wall towards 1
    y = np.asarray(left.get_ydata())
    assert y[0] < y[-1] <= 1.0 + 1e-9 and y[-1] > 0.9
