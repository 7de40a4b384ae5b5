"""The example scripts run (--quick) and write their figures; `slabqkt bulk` on the FM case."""
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run_example(name, outdir):
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / name), "--quick",
                           "--outdir", str(outdir)], capture_output=True, text=True, timeout=300,
                          cwd=str(pathlib.Path(outdir).parent))  # the scripts create outdir
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _png(path):
    assert path.is_file() and path.stat().st_size > 10_000
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_rashba_edge_accumulation(tmp_path):
    out = run_example("rashba_edge_accumulation.py", tmp_path / "figs")
    _png(tmp_path / "figs" / "rashba_edge_accumulation.png")
    rows = {}
    for line in out.splitlines():
        m = re.match(r"\s*([\d.]+) (spin_[xz] \w+)\s+(\S+)\s+(\S+)\s+(\S+)$", line)
        if m:
            rows[(float(m.group(1)), m.group(2))] = (float(m.group(3)), float(m.group(4)))
    assert {p for p, _ in rows} == {0.0, 0.5, 1.0}
    # diffuse edges deplete s_x at both edges alike (even) and accumulate s_z with opposite
    # signs (odd); specular edges leave nothing; p = 0.5 lies in between
    for p in (0.0, 0.5):
        left, right = rows[(p, "spin_x total")]
        assert left < 0 and right == pytest.approx(left, rel=1e-8)
        left, right = rows[(p, "spin_z total")]
        assert left != 0 and right == pytest.approx(-left, rel=1e-8)
        assert rows[(p, "spin_z gradient")][0] == pytest.approx(left, rel=1e-6)
    assert 0 < rows[(0.5, "spin_x total")][0] / rows[(0.0, "spin_x total")][0] < 1
    scale = abs(rows[(0.0, "spin_x total")][0])
    assert all(abs(v) < 1e-10 * scale for v in rows[(1.0, "spin_x total")] + rows[(1.0, "spin_z total")])


def test_sot_cancellation(tmp_path):
    out = run_example("sot_cancellation.py", tmp_path)
    _png(tmp_path / "sot_cancellation.png")
    m = re.search(r"\|T_I \+ T_III\| / \|T_I\| = (\S+)", out)
    assert m and float(m.group(1)) < 1e-2
    m = re.search(r"intrinsic / closed form - 1 = (\S+)\)", out)
    assert m and abs(float(m.group(1))) < 1e-2
    m = re.search(r"both bands occupied\) of \|T_I \+ T_III\| / \|T_I\| = (\S+)", out)
    assert m and float(m.group(1)) < 1e-2


def test_cli_bulk_on_the_fm_case(capsys, tmp_path, monkeypatch):
    """`slabqkt bulk geometries/rashba_fm_bulk.toml` (E along x is allowed without a slab)."""
    from slabqkt.cli import main
    monkeypatch.chdir(tmp_path)  # the result goes to results/ below the working directory
    from slabqkt.units import E_CHARGE, HBAR, HBAR2_OVER_2ME
    assert main(["bulk", str(ROOT / "geometries" / "rashba_fm_bulk.toml"),
                 "--set", "fermi_surface.n_angles=32"]) == 0
    out = capsys.readouterr().out
    row = next(line.split() for line in out.splitlines() if line.startswith("spin_x"))
    intra, intrinsic, disorder, total = map(float, row[2:6])
    ms, aR, delta, eF, E = 0.5, 0.01, 0.1, 0.3, 1e5 * 1e-9
    mstar = HBAR ** 2 * ms / (2 * HBAR2_OVER_2ME)
    a = aR / HBAR
    ref = E_CHARGE * E * a * delta * mstar / (2 * np.pi * HBAR * (2 * mstar * a ** 2 * eF + delta ** 2))
    assert intrinsic == pytest.approx(ref, rel=1e-4)  # printed with 6 digits
    assert abs(intrinsic + disorder) < 1e-4 * abs(ref)
