"""Orbital edge accumulation in a centrosymmetric p-orbital metal (docs/orbital.md).

Figures (PNG, in --out):

1. ``orbital_Lz_parts.png``: L_z(x) in the 2D strip, part by part (intra, intrinsic,
   gradient, disorder, total of Eq. (1)), for surface specularity p = 0, 0.5, 1.
2. ``orbital_excess_vs_thickness.png``: the integrated edge accumulation per unit
   surface at the left wall, A = int (L_z - L_z(d/2)) dx over the half slab, against
   d/l, for the 2D strip and the 3D film (p = 0 and 0.5).
3. ``orbital_excess_vs_specularity.png``: A against p at d = 10 l, both geometries.

The cases are geometries/orbital_p_strip.toml and geometries/orbital_p_film.toml
with the grid and Fermi-surface resolution overridden here. ``--quick`` uses
small grids (the test suite runs it).

Usage::

    python examples/orbital_edge_accumulation.py [--quick] [--out results/orbital_edge]
"""
import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))

from slabqkt import Simulation, load_case  # noqa: E402
from slabqkt.observables import PARTS  # noqa: E402

STRIP = os.path.join(HERE, "..", "geometries", "orbital_p_strip.toml")
FILM = os.path.join(HERE, "..", "geometries", "orbital_p_film.toml")
STYLE = {"intra": "-", "intrinsic": ":", "gradient": "--", "disorder": "-.", "total": "-"}


def resolution(quick, dim):
    """Overrides: (n_x, Fermi-surface keys). The full setting converges A to < 1e-4."""
    if dim == 2:
        return (["slab.n_x=40", "fermi_surface.n_angles=16"] if quick
                else ["slab.n_x=200", "fermi_surface.n_angles=64"])
    return (["slab.n_x=24", "fermi_surface.n_angles=4", "fermi_surface.n_polar=2"] if quick
            else ["slab.n_x=80", "fermi_surface.n_angles=8", "fermi_surface.n_polar=4"])


def run(path, quick, dim, p, kappa):
    sets = resolution(quick, dim) + [f"slab.thickness_mfp={kappa}",
                                     f"boundaries.left.specularity={p}",
                                     f"boundaries.right.specularity={p}",
                                     "observables.names=['orbital_z']"]
    return Simulation(load_case(path, sets)).run()


def excess(res):
    return res.edges["orbital_z"]["total"]["left"]["excess"]


def field_of(res):
    """|E| in V/m."""
    return float(np.linalg.norm(res.attrs["field_V_per_nm"]) * 1e9)


def unit_of_excess(res):
    """Excess per unit surface: (hbar nm^-d) * nm = hbar nm^(1-d)."""
    d = res.attrs["dimension"]
    return f"{res.units['orbital_z']} nm^-{d - 1}"


def figure_parts(plt, quick, out):
    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    rows = []
    for ax, p in zip(axes, (0.0, 0.5, 1.0)):
        res = run(STRIP, quick, 2, p, 10.0)
        x = res.x / res.attrs["mean_free_path_nm"]
        # total first (thick, light) so that the parts stay visible on top of it
        for part in ("total",) + tuple(q for q in PARTS if q != "total"):
            y = np.broadcast_to(res.profile("orbital_z", part), x.shape)
            ax.plot(x, y, STYLE[part], lw=4.0 if part == "total" else 1.4,
                    alpha=0.45 if part == "total" else 1.0,
                    label=f"{part} (max |.| = {np.abs(y).max():.2g})")
        ax.set_title(f"2D strip, p = {p:g} on both walls, d = 10 l")
        ax.set_xlabel(f"x / l  (l = {res.attrs['mean_free_path_nm']:.3g} nm)")
        ax.grid(alpha=0.3)
        rows.append((p, excess(res), res.edges["orbital_z"]["total"]["left"]["decay_length"]))
        unit = res.density_unit("orbital_z")
    fld = np.linalg.norm(res.attrs["field_V_per_nm"]) * 1e9
    axes[0].set_ylabel(f"L_z density ({unit}) at E_y = {fld:.3g} V/m")
    for ax in axes:
        ax.legend(fontsize=7, loc="upper center")
    fig.tight_layout()
    path = os.path.join(out, "orbital_Lz_parts.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print("L_z part by part (2D strip, d = 10 l): p, left excess, decay length (nm)")
    for row in rows:
        print("  p = %.2f   A = %+.6e %s   decay %.4g nm" % (row[0], row[1], unit_of_excess(res), row[2]))
    return path


def figure_thickness(plt, quick, out):
    kappas = [0.25, 1.0, 4.0, 16.0] if quick else [0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    print("edge accumulation A(d/l) at the left wall")
    for ax, (path, dim, name) in zip(axes, ((STRIP, 2, "2D strip"), (FILM, 3, "3D film"))):
        for p, mk in ((0.0, "o-"), (0.5, "s--")):
            A = []
            for kappa in kappas:
                res = run(path, quick, dim, p, kappa)
                A.append(excess(res))
            ax.plot(kappas, A, mk, label=f"p = {p:g}")
            print(f"  {name} p = {p:g}: " + "  ".join(f"{k:g}: {a:+.4e}" for k, a in zip(kappas, A)))
        ax.set_xscale("log")
        ax.set_xlabel("d / l")
        ax.set_ylabel(f"left-edge L_z excess A ({unit_of_excess(res)})")
        ax.set_title(f"{name}: integrated edge accumulation, E_y = {field_of(res):.3g} V/m")
        ax.axhline(0.0, color="0.5", lw=0.8)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    out_path = os.path.join(out, "orbital_excess_vs_thickness.png")
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return out_path


def figure_specularity(plt, quick, out):
    ps = [0.0, 0.5, 0.9, 1.0] if quick else list(np.round(np.linspace(0.0, 1.0, 11), 3))
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    print("edge accumulation A(p) at the left wall, d = 10 l")
    for ax, (path, dim, name) in zip(axes, ((STRIP, 2, "2D strip"), (FILM, 3, "3D film"))):
        A = [excess(run(path, quick, dim, p, 10.0)) for p in ps]
        res = run(path, quick, dim, 0.0, 10.0)
        ax.plot(ps, A, "o-")
        ax.set_xlabel("specularity p (both walls)")
        ax.set_ylabel(f"left-edge L_z excess A ({unit_of_excess(res)})")
        ax.set_title(f"{name}, d = 10 l, E_y = {field_of(res):.3g} V/m")
        ax.axhline(0.0, color="0.5", lw=0.8)
        ax.grid(alpha=0.3)
        print(f"  {name}: " + "  ".join(f"{p:g}: {a:+.4e}" for p, a in zip(ps, A)))
    fig.tight_layout()
    out_path = os.path.join(out, "orbital_excess_vs_specularity.png")
    fig.savefig(out_path, dpi=110)
    plt.close(fig)
    return out_path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small grids (seconds; used by the tests)")
    ap.add_argument("--out", default=os.path.join("results", "orbital_edge"), help="output folder")
    args = ap.parse_args(argv)
    import logging
    logging.getLogger("slabqkt").setLevel(logging.WARNING)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(args.out, exist_ok=True)
    t0 = time.perf_counter()
    paths = [figure_parts(plt, args.quick, args.out), figure_thickness(plt, args.quick, args.out),
             figure_specularity(plt, args.quick, args.out)]
    for p in paths:
        print("figure:", p)
    print("done in %.1f s" % (time.perf_counter() - t0))
    return paths


if __name__ == "__main__":
    main()
