"""Current-induced spin accumulation at the edges of a Rashba strip, part by part.

Solves ``geometries/rashba_strip.toml`` (E along the strip, y; normal x) for
three Fuchs specularities p = 0, 0.5, 1 of both edges and plots, for the spin
densities s_x(x) and s_z(x) (units hbar/2 per nm^2 at the case's field), the
four parts of Eq. (1): intraband (Boltzmann), intrinsic (Fermi sea, uniform),
gradient (-hbar d_x f . A, the edge term) and disorder (vertex), and their
total, near the left edge (the right edge is the mirror image: s_x even,
s_z odd about the centre; s_y vanishes by symmetry).

- s_x: the bulk Edelstein density (intraband) is depleted over ~ l at a
  diffuse edge; specular edges (p = 1) leave the bulk untouched.
- s_z: an out-of-plane edge accumulation carried by the gradient part; it
  vanishes for p = 1 (no gradients) and decays into the bulk, where the
  intrinsic spin Hall current is cancelled by the disorder part.

Usage::

    python examples/rashba_edge_accumulation.py [--quick] [--outdir DIR] [--case FILE]

Writes DIR/rashba_edge_accumulation.png and prints the edge excess
A = int (s - s_mid) dx over each half strip (hbar/2 per nm).
"""
import argparse
import os
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from slabqkt import Simulation, load_case  # noqa: E402
from slabqkt.tools import get_logger  # noqa: E402

STYLE = {"total": ("-", 4.0, "0.75"), "intra": ("-", 1.4, "C0"), "intrinsic": (":", 1.6, "C1"),
         "gradient": ("--", 1.6, "C2"), "disorder": ("-.", 1.4, "C3")}
SPECULARITIES = (0.0, 0.5, 1.0)


def solve(case_path, p, quick):
    overrides = [f"boundaries.left.specularity={p}", f"boundaries.right.specularity={p}"]
    if quick:
        overrides += ["slab.thickness_mfp=8", "slab.n_x=80", "fermi_surface.n_angles=64"]
    return Simulation(load_case(case_path, overrides)).run()


def plot(results, path, x_max_l=5.0):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    names = ("spin_x", "spin_z")
    # one y scale per column: a part that vanishes (p = 1) shows as zero, not as round-off
    fig, axes = plt.subplots(len(results), len(names), figsize=(10, 3.2 * len(results)),
                             sharex=True, sharey="col", squeeze=False)
    for row, (p, res) in enumerate(results):
        l = res.attrs["mean_free_path_nm"]
        x = res.x / l
        keep = x <= min(x_max_l, 0.5 * x[-1])
        fld = np.linalg.norm(res.attrs["field_V_per_nm"]) * 1e9
        for col, name in enumerate(names):
            ax = axes[row, col]
            for part, (ls, lw, color) in STYLE.items():  # total first, the parts on top
                y = np.broadcast_to(res.profile(name, part), x.shape)
                ax.plot(x[keep], y[keep], ls, lw=lw, color=color, label=part)
            ax.axhline(res.bulk[name]["total"], color="k", lw=0.8, label="bulk total")
            ax.set_title(f"{name}, p = {p:g}  (d = {res.attrs['thickness_nm'] / l:.3g} l)")
            ax.set_ylabel(f"{name} ({res.density_unit(name)})\nat |E| = {fld:.3g} V/m")
            ax.grid(alpha=0.3)
            if row == len(results) - 1:
                ax.set_xlabel(f"distance from the left edge x / l  (l = {l:.3g} nm)")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Rashba strip, E along the strip: spin accumulation by parts of Eq. (1)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small grids (seconds; for the tests)")
    ap.add_argument("--outdir", default="results/examples", help="where the figure goes")
    ap.add_argument("--case", default=str(ROOT / "geometries" / "rashba_strip.toml"))
    args = ap.parse_args(argv)
    get_logger("slabqkt").setLevel("WARNING")
    os.makedirs(args.outdir, exist_ok=True)
    results = [(p, solve(args.case, p, args.quick)) for p in SPECULARITIES]
    print("edge excess A = int (s - s_mid) dx over each half strip (hbar/2 per nm) and decay "
          "length (centroid of |s - s_mid|) / l")
    print(f"{'p':>4} {'observable':<20} {'A left':>13} {'A right':>13} {'decay/l':>8}")
    rows = (("spin_x", "total"), ("spin_x", "intra"), ("spin_z", "total"), ("spin_z", "gradient"))
    for p, res in results:
        l = res.attrs["mean_free_path_nm"]
        scale = abs(res.bulk["spin_x"]["total"]) * l
        for name, part in rows:
            e = res.edges[name][part]
            small = abs(e["left"]["excess"]) < 1e-10 * scale  # nothing there: no decay length
            dec = "-" if small else f"{e['left']['decay_length'] / l:.3f}"
            print(f"{p:>4g} {name + ' ' + part:<20} {e['left']['excess']:>13.5e} "
                  f"{e['right']['excess']:>13.5e} {dec:>8}")
        gmax = max(np.abs(res.profile(n, "gradient")).max() for n in ("spin_x", "spin_y", "spin_z"))
        print(f"{p:>4g} max |gradient part| = {gmax:.3e} hbar/2 nm^-2")
    path = plot(results, os.path.join(args.outdir, "rashba_edge_accumulation.png"))
    print(f"figure: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
