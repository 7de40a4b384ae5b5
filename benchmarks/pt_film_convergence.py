"""Convergence of the edge accumulation of the Pt (001) film (issue 10): N_x and Fermi-surface ladders.

    python benchmarks/pt_film_convergence.py [--case geometries/pt_001_film.toml]
        [--nx 25,50,100,200,400] [--grids 24,30,36,44] [--nx-grid 36] [--grid-nx 200]

Prints two markdown tables of the edge excess A = int (o - o_mid) dx over the left half of
the film (docs/observables.md, "Edge quantities") of spin_z and orbital_z (total, and the
share of the gradient part), with the relative change from the previous row:

1. the N_x ladder at one Fermi surface (``--nx-grid``: fermi_surface.lattice_grid), every
   N_x solved on the same Fermi points (the slab grid is the only change);
2. the Fermi-surface ladder (lattice_grid) at N_x = ``--grid-nx``.

The excess subtracts the mid-film value, so the uniform intrinsic (Fermi-sea) part drops out
of it: the sea grid is kept small here (``fermi_surface.sea_grid=8``) and does not enter.
The right-hand excess is the opposite of the left one (odd profiles); the table lists the
largest |A_left + A_right| / |A_left| of each ladder as the parity check.
"""
import argparse
import copy
import pathlib
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from slabqkt import load_case  # noqa: E402
from slabqkt.errors import CaseError  # noqa: E402
from slabqkt.simulation import Simulation  # noqa: E402

OBS = ("spin_z", "orbital_z")


def rerun(sim, n_x):
    """The same Fermi surface and weights solved on another slab grid (N_x cells)."""
    case = copy.deepcopy(sim.case)
    case["slab"]["n_x"] = int(n_x)
    sim.case, sim.grid = case, None
    return sim.run()


def excess(res, name, part="total", side="left"):
    return res.edges[name][part][side]["excess"]


def row(res):
    out = {}
    for name in OBS:
        a = excess(res, name)
        out[name] = a
        out[name + "_grad"] = excess(res, name, "gradient") / a if a else float("nan")
        out[name + "_parity"] = abs(a + excess(res, name, side="right")) / abs(a)
    return out


def table(title, key, rows):
    print(f"\n{title}\n")
    print(f"| {key} | Fermi points | A(s_z) (hbar/2 nm^-2) | change | gradient share | "
          "A(L_z) (hbar nm^-2) | change | gradient share | seconds |")
    print("|---|---|---|---|---|---|---|---|---|")
    prev = None
    for k, n_states, r, sec in rows:
        ch = {n: (f"{abs(r[n] / prev[n] - 1):.2e}" if prev else "-") for n in OBS}
        print(f"| {k} | {n_states} | {r['spin_z']:.5e} | {ch['spin_z']} | "
              f"{r['spin_z_grad']:.4f} | {r['orbital_z']:.5e} | {ch['orbital_z']} | "
              f"{r['orbital_z_grad']:.4f} | {sec:.1f} |", flush=True)
        prev = r
    worst = max(max(r[n + "_parity"] for n in OBS) for _, _, r, _ in rows)
    print(f"\nparity: largest |A_left + A_right| / |A_left| = {worst:.2e}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", default=str(HERE.parent / "geometries" / "pt_001_film.toml"))
    ap.add_argument("--nx", default="25,50,100,200,400")
    ap.add_argument("--grids", default="24,30,36,44")
    ap.add_argument("--nx-grid", type=int, default=36)
    ap.add_argument("--grid-nx", type=int, default=200)
    ap.add_argument("--set", action="append", default=[], help="extra case overrides")
    a = ap.parse_args(argv)
    base = ["fermi_surface.sea_grid=8", "fermi_surface.sea_refine=1"] + a.set
    print(f"# {a.case}; edge excess over the left half film, overrides {base}")

    rows = []
    t0 = time.perf_counter()
    sim = Simulation(load_case(a.case, base + [f"fermi_surface.lattice_grid={a.nx_grid}"]))
    setup = time.perf_counter() - t0
    for n_x in (int(v) for v in a.nx.split(",")):
        t0 = time.perf_counter()
        res = rerun(sim, n_x)
        rows.append((n_x, sim.fs.n_states, row(res), time.perf_counter() - t0))
    table(f"N_x ladder at lattice_grid = {a.nx_grid} ({sim.fs.n_states} Fermi points, setup "
          f"{setup:.0f} s)", "N_x", rows)

    rows, refused = [], []
    for g in (int(v) for v in a.grids.split(",")):
        t0 = time.perf_counter()
        try:
            sim = Simulation(load_case(a.case, base + [f"fermi_surface.lattice_grid={g}",
                                                       f"slab.n_x={a.grid_nx}"]))
        except CaseError as exc:  # e.g. a folded mesh at this grid: reported, the ladder goes on
            refused.append(f"lattice_grid = {g}: {exc}")
            continue
        res = sim.run()
        rows.append((g, sim.fs.n_states, row(res), time.perf_counter() - t0))
    table(f"Fermi-surface ladder at N_x = {a.grid_nx}", "lattice_grid", rows)
    for line in refused:
        print(f"refused: {line}")


if __name__ == "__main__":
    main()
