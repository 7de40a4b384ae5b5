"""Run the tutorial's ready cases and the examples; write their figures for the docs site.

Usage::

    python docs/tutorial/make_figures.py [--quick] [--outdir docs/figures]

Writes into OUTDIR (default ``docs/figures``, ignored by git):

- the PNG plots of the slab cases ``geometries/{fuchs_strip_2d,rashba_strip,orbital_p_strip}.toml``
  (:func:`slabqkt.plots.plot_result`, as ``slabqkt run`` draws them),
- ``rashba_fm_bulk_parts.png``, the four parts of the bulk spin density of
  ``geometries/rashba_fm_bulk.toml`` against the closed form of the intrinsic part,
- ``<case>_summary.txt``: a Markdown table of the numbers the tutorial discusses
  (included in ``docs/tutorial.md`` with ``--8<--``),
- the figures of ``examples/*.py``,
- ``.complete`` (the mode, ``full`` or ``quick``) once everything is written.

The folder is written as a whole: everything goes to a temporary sibling folder that
replaces OUTDIR only when complete, and an OUTDIR that is not such a figures folder
(non-empty, without ``.complete``) is refused rather than replaced.
``--quick`` uses coarse grids (the docs test builds the site with it in a few seconds);
the pages are the same, only the numbers are less converged.
"""
import argparse
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from slabqkt import Simulation, load_case  # noqa: E402
from slabqkt.analytic import fuchs_sondheimer  # noqa: E402
from slabqkt.errors import SlabQKTError  # noqa: E402
from slabqkt.plots import plot_result  # noqa: E402
from slabqkt.units import E_CHARGE, HBAR, HBAR2_OVER_2ME  # noqa: E402

MARKER = ".complete"

#: slab cases: overrides of the quick mode, and the observables whose edges the summary lists
SLAB_CASES = {
    "fuchs_strip_2d": (["fermi_surface.n_angles=32", "slab.n_x=60"], []),
    "rashba_strip": (["fermi_surface.n_angles=64", "slab.n_x=120"], ["spin_x", "spin_z"]),
    "orbital_p_strip": (["fermi_surface.n_angles=32", "slab.n_x=80"], ["orbital_z"]),
}
BULK_CASE = ("rashba_fm_bulk", ["fermi_surface.n_angles=32"])

#: example scripts: the option naming their output folder, the figures they write
EXAMPLES = {
    "rashba_edge_accumulation.py": ("--outdir", ["rashba_edge_accumulation.png"]),
    "sot_cancellation.py": ("--outdir", ["sot_cancellation.png"]),
    "orbital_edge_accumulation.py": ("--out", ["orbital_Lz_parts.png", "orbital_excess_vs_thickness.png",
                                               "orbital_excess_vs_specularity.png"]),
}


def _case(name, quick_overrides, quick):
    return load_case(str(ROOT / "geometries" / f"{name}.toml"), quick_overrides if quick else [])


def _table(rows, note):
    lines = ["| quantity | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    if note:
        lines += ["", note]
    return "\n".join(lines) + "\n"


def _quick_note(quick):
    return ("*Built with `--quick` (coarse grids): these numbers are not converged.*" if quick else "")


def slab_case(name, outdir, quick):
    """Solve one slab case, draw its plots, write its summary table; returns the PNG names."""
    overrides, edge_names = SLAB_CASES[name]
    case = _case(name, overrides, quick)
    res = Simulation(case).run()
    pngs = plot_result(res, str(outdir / name))
    a = res.attrs
    rows = [("d / l", f"{a['thickness_nm'] / a['mean_free_path_nm']:.4g}"),
            ("mean free path l", f"{a['mean_free_path_nm']:.4g} nm"),
            ("grid", f"{case['slab']['n_x']} cells, {a['n_fermi_points']} Fermi-surface states"),
            ("σ_film / σ_bulk", f"{res.conductivity_ratio:.6f}")]
    if case["model"]["kind"] == "parabolic":
        b = case["boundaries"]
        ref = fuchs_sondheimer(case["slab"]["thickness_mfp"], b["left"]["specularity"],
                               case["model"]["dimension"], b["right"]["specularity"])
        rows.append(("Fuchs–Sondheimer closed form", f"{ref:.6f}"))
    rows.append(("Krylov iterations", f"{a['krylov_iterations']}"))
    for obs in edge_names:
        unit = res.density_unit(obs)
        for side in ("left", "right"):
            e = res.edges[obs]["total"][side]
            rows.append((f"`{obs}` {side} edge: excess ∫(o − o_mid) dx",
                         f"{e['excess']:.4g} {unit} nm"))
        rows.append((f"`{obs}` decay length", f"{res.edges[obs]['total']['left']['decay_length']:.3g} nm"))
    (outdir / f"{name}_summary.txt").write_text(_table(rows, _quick_note(quick)), encoding="utf-8")
    return [os.path.basename(p) for p in pngs]


def intrinsic_spin_x(case):
    """Closed form of the intrinsic <sigma_x> of the Rashba ferromagnet (paper Eqs. 13-15), per nm^2.

    q E alpha Delta m* / (2 pi hbar (2 m* alpha^2 eps_F + Delta^2)), E along x (V/nm),
    alpha = alpha_R/hbar, Delta = J_e m_z, both bands occupied.
    """
    m = case["model"]
    mstar = HBAR ** 2 * m["effective_mass"] / (2 * HBAR2_OVER_2ME)
    a = m["alpha_R"] / HBAR
    delta = m["exchange_eV"] * m["magnetization"][2]
    eF = case["fermi_surface"]["fermi_level_eV"]
    E = case["field"]["magnitude_V_per_m"] * 1e-9 * case["field"]["direction"][0]
    return E_CHARGE * E * a * delta * mstar / (2 * np.pi * HBAR * (2 * mstar * a ** 2 * eF + delta ** 2))


def bulk_case(outdir, quick):
    """The Rashba ferromagnet in bulk: a bar chart of the parts and the summary table."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    name, overrides = BULK_CASE
    case = _case(name, overrides, quick)
    res = Simulation(case).run_bulk()
    parts = ("intra", "intrinsic", "disorder", "total")
    ref = intrinsic_spin_x(case)
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    width = 0.38
    xs = np.arange(len(parts))
    for i, obs in enumerate(("spin_x", "spin_y")):
        vals = [float(res.observables[obs][p]) for p in parts]
        ax.bar(xs + (i - 0.5) * width, vals, width, label=f"{obs}", color=f"C{i}")
    ax.hlines(ref, xs[1] - width * 1.1, xs[1] + width * 0.1, color="k", lw=1.5, ls="--",
              label="closed form of intrinsic spin_x")
    ax.axhline(0, color="0.5", lw=0.5)
    ax.set_xticks(xs, parts)
    ax.set_ylabel(f"density ({res.density_unit('spin_x')})")
    ax.set_title(f"Rashba ferromagnet, bulk, m along z, |E| = {case['field']['magnitude_V_per_m']:.3g} V/m "
                 "along x", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    png = f"{name}_parts.png"
    fig.savefig(outdir / png, dpi=110)
    plt.close(fig)
    sx = res.observables["spin_x"]
    unit = res.density_unit("spin_x")
    rows = [("mean free path l", f"{res.attrs['mean_free_path_nm']:.4g} nm"),
            ("σ_bulk", f"{res.attrs['sigma_bulk_SI']:.5g} {res.attrs['sigma_bulk_SI_unit']}"),
            ("`spin_x` intrinsic", f"{float(sx['intrinsic']):.6g} {unit}"),
            ("closed form (Eqs. 13–15)", f"{ref:.6g} {unit}"),
            ("`spin_x` disorder", f"{float(sx['disorder']):.6g} {unit}"),
            ("`spin_x` total / intrinsic", f"{float(sx['total']) / float(sx['intrinsic']):.2g}"),
            ("`spin_y` total (Edelstein)", f"{float(res.observables['spin_y']['total']):.6g} {unit}")]
    (outdir / f"{name}_summary.txt").write_text(_table(rows, _quick_note(quick)), encoding="utf-8")
    return [png]


def examples(outdir, quick):
    """Run the example scripts (their own --quick in quick mode); returns the PNG names."""
    env = dict(os.environ, MPLBACKEND="Agg")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    written = []
    for script, (flag, pngs) in EXAMPLES.items():
        with tempfile.TemporaryDirectory() as work:
            cmd = [sys.executable, str(ROOT / "examples" / script), flag, str(outdir)] + (["--quick"] if quick else [])
            proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SlabQKTError(f"examples/{script} failed (exit {proc.returncode}): "
                               + (proc.stderr.strip().splitlines() or ["no output"])[-1])
        missing = [p for p in pngs if not (outdir / p).is_file()]
        if missing:
            raise SlabQKTError(f"examples/{script} did not write {', '.join(missing)} in {outdir}")
        written += pngs
    return written


def build(outdir, quick=False, log=print):
    """Write every figure and summary into ``outdir`` (replaced as a whole); returns the file names."""
    outdir = pathlib.Path(outdir).resolve()
    if outdir.exists() and (not outdir.is_dir() or (any(outdir.iterdir()) and not (outdir / MARKER).is_file())):
        raise SlabQKTError(f"{outdir} exists and is not a figures folder made by this script "
                           f"(no {MARKER}): refusing to replace it")
    outdir.parent.mkdir(parents=True, exist_ok=True)
    work = pathlib.Path(tempfile.mkdtemp(prefix=f".{outdir.name}-partial-", dir=outdir.parent))
    try:
        t0 = time.perf_counter()
        names = []
        for name in SLAB_CASES:
            names += slab_case(name, work, quick)
            log(f"[figures] {name}: {time.perf_counter() - t0:.1f} s")
        names += bulk_case(work, quick)
        log(f"[figures] {BULK_CASE[0]}: {time.perf_counter() - t0:.1f} s")
        names += examples(work, quick)
        log(f"[figures] examples: {time.perf_counter() - t0:.1f} s")
        (work / MARKER).write_text(("quick" if quick else "full") + "\n", encoding="utf-8")
        if outdir.exists():
            shutil.rmtree(outdir)
        os.replace(work, outdir)
    finally:
        if work.exists():
            shutil.rmtree(work)
    log(f"[figures] {len(names)} figures in {outdir} ({'quick' if quick else 'full'} mode)")
    return names


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="coarse grids (seconds; numbers not converged)")
    p.add_argument("--outdir", default=str(ROOT / "docs" / "figures"), help="default: docs/figures")
    args = p.parse_args(argv)
    try:
        build(args.outdir, args.quick)
    except SlabQKTError as exc:
        sys.stderr.write(f"make_figures: error: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
