"""Sampling convergence of the ready lattice cases (docs/models.md, "Choosing the sampling").

    python benchmarks/lattice_convergence.py [--only open,cubic,rashba,fcc] [--markdown]

For each case of geometries/ it solves the slab at a sequence of Fermi-surface resolutions
(fermi_surface.lattice_grid, and n_points in 2D) and of Fermi-sea grids (sea_grid) and prints
the conductivity ratio sigma_film/sigma_bulk, the left-edge excess of one edge observable
(integral of o - o_mid over the left half, density unit x nm), the bulk intrinsic part of one
Fermi-sea observable and its two-grid error estimate. Every row is one fresh Simulation with
one BLAS thread; the last row of each scan is the reference of the relative changes.
"""
import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("SLABQKT_LOG_LEVEL", "ERROR")

from slabqkt import load_case  # noqa: E402
from slabqkt.simulation import Simulation  # noqa: E402

G = os.path.join(ROOT, "geometries")
#: key -> (case file, edge observable, intrinsic observable, fixed overrides,
#:         Fermi-surface scan [overrides...], sea scan [overrides...])
CASES = {
    "open": ("lattice_open_strip.toml", "current_y", None, [],
             [[f"fermi_surface.lattice_grid={g}", f"fermi_surface.n_points={n}"]
              for g, n in ((16, 32), (32, 64), (64, 128), (64, 256), (128, 512))], []),
    "cubic": ("lattice_cubic_film.toml", "current_y", None, [],
              [[f"fermi_surface.lattice_grid={g}", "fermi_surface.n_points=8"]
               for g in (12, 16, 24, 32, 48, 64)], []),
    "rashba": ("lattice_rashba_strip.toml", "spin_z", "spin_current_zx", [],
               [[f"fermi_surface.lattice_grid={g}", f"fermi_surface.n_points={n}"]
                for g, n in ((32, 64), (64, 128), (64, 256), (128, 512))],
               [[f"fermi_surface.sea_grid={s}"] for s in (24, 48, 96, 192)]),
    "fcc": ("fcc_spd_soc_film.toml", "spin_z", "spin_current_zx", [],
            [[f"fermi_surface.lattice_grid={g}", "fermi_surface.sea_grid=8"]
             for g in (12, 16, 24, 32, 40)],
            [[f"fermi_surface.sea_grid={s}", "fermi_surface.lattice_grid=16"]
             for s in (8, 12, 16, 24, 32)]),
}


def one(path, overrides, edge_obs, sea_obs):
    t0 = time.perf_counter()
    sim = Simulation(load_case(path, overrides))
    res = sim.run()
    edge = res.edges[edge_obs]["total"]["left"]["excess"]
    intr = ierr = float("nan")
    if sea_obs:
        intr = float(res.bulk[sea_obs]["intrinsic"])
        ierr = float(res.intrinsic_error.get(sea_obs, float("nan")))
    return dict(n=sim.fs.n_states, ratio=res.conductivity_ratio, edge=edge, intr=intr,
                ierr=ierr, sec=time.perf_counter() - t0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="open,cubic,rashba,fcc")
    ap.add_argument("--markdown", action="store_true")
    args = ap.parse_args(argv)
    for key in args.only.split(","):
        fname, eobs, sobs, fixed, fs_scan, sea_scan = CASES[key]
        path = os.path.join(G, fname)
        for title, scan in (("Fermi surface", fs_scan), ("Fermi sea", sea_scan)):
            if not scan:
                continue
            rows = [(ov, one(path, fixed + ov, eobs, sobs)) for ov in scan]
            ref = rows[-1][1]
            print(f"\n{fname}: {title} (edge excess of {eobs}"
                  + (f", intrinsic {sobs}" if sobs else "") + ")\n")
            print("| settings | Fermi points | ratio | rel. change | edge excess | rel. change |"
                  + (" intrinsic | two-grid error | rel. change |" if sobs else "") + " s |")
            print("|---|---|---|---|---|---|" + ("---|---|---|" if sobs else "") + "---|")
            for ov, r in rows:
                s = ", ".join(o.split(".", 1)[1] for o in ov)
                line = (f"| {s} | {r['n']} | {r['ratio']:.6f} | {abs(r['ratio'] / ref['ratio'] - 1):.1e} "
                        f"| {r['edge']:.5e} | {abs(r['edge'] / ref['edge'] - 1):.1e} |")
                if sobs:
                    line += (f" {r['intr']:.5e} | {r['ierr']:.1e} | "
                             f"{abs(r['intr'] / ref['intr'] - 1):.1e} |")
                print(line + f" {r['sec']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
