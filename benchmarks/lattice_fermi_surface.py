"""Benchmark: lattice Fermi surfaces, convergence orders and timings (docs/fermi_surfaces.md).

Tables:
  2D  square lattice (t = 1 eV, a = 0.3 nm, mu = -1 eV): DOS error against the exact
      elliptic integral as the node count doubles, the observed order
      log2(e_n / e_2n), and the wall time of the construction;
  2D  anisotropic square lattice with open sheets (t_x = 1, t_y = 0.5, mu = 0.4): Cauchy
      differences of the Fuchs ratio <v_y^2 F(lam/d)>/<v_y^2> (lam = tau |v_x|);
  3D  simple cubic (mu = -1 eV): DOS error against the exact integral as the grid step
      halves (marching cubes on lattice_grid^3), the observed order, Fermi points, time;
      and the same by midpoint subdivision of a 16^3 mesh;
  3D  timings of a 4-band Kramers model (rank-2 eigenspaces) at >= 2e4 Fermi points.

    python benchmarks/lattice_fermi_surface.py
"""
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

import lattice_toys as toys  # noqa: E402
from test_lattice_fermi_surface import A, dos_cubic, dos_square, fs_averages  # noqa: E402

from slabqkt.lattice.fermi_surface import LatticeFermiSurface  # noqa: E402


def timed(*args, **kw):
    t0 = time.perf_counter()
    fs = LatticeFermiSurface(*args, **kw)
    return fs, time.perf_counter() - t0


def table(title, head, rows):
    print(f"\n{title}")
    print("  ".join(f"{h:>12s}" for h in head))
    for r in rows:
        print("  ".join(f"{x:>12.4g}" if isinstance(x, float) else f"{x:>12}" for x in r))


def main():
    m = toys.square(1.0, 1.0, A)
    exact = dos_square(-1.0)
    rows, prev = [], None
    for n in (16, 32, 64, 128, 256, 512):
        fs, dt = timed(m, -1.0, 48, n)
        e = abs(fs.density_of_states / exact - 1)
        rows.append((n, fs.n_states, e, np.log2(prev / e) if prev else float("nan"), dt))
        prev = e
    table("2D square lattice, mu = -1 eV, lattice_grid = 48: DOS vs elliptic integral",
          ["n_points", "states", "rel. error", "order", "seconds"], rows)

    m = toys.square(1.0, 0.5, A)
    vals = {n: fs_averages(timed(m, 0.4, 48, n)[0])[2] for n in (16, 32, 64, 128, 256, 1024)}
    ref = vals.pop(1024)
    rows, prev = [], None
    for n, v in vals.items():
        e = abs(v / ref - 1)
        rows.append((n, v, e, np.log2(prev / e) if prev and e > 0 else float("nan")))
        prev = e
    table("2D open sheets (t_x = 1, t_y = 0.5, mu = 0.4): Fuchs ratio (tau = 10 fs, d = 10 nm, p = 0.3)",
          ["n_points", "ratio", "vs 1024", "order"], rows)

    m = toys.cubic(1.0, A)
    exact = dos_cubic(-1.0)
    rows, prev = [], None
    for n in (8, 16, 32, 64, 96):
        fs, dt = timed(m, -1.0, n)
        e = abs(fs.density_of_states / exact - 1)
        order = np.log(prev[0] / e) / np.log(n / prev[1]) if prev else float("nan")
        rows.append((n, fs.n_states, fs.geometry["h"], e, order, dt))
        prev = (e, n)
    table("3D simple cubic, mu = -1 eV: DOS vs exact, marching cubes on lattice_grid^3",
          ["grid", "states", "h (1/nm)", "rel. error", "order", "seconds"], rows)
    rows, prev = [], None
    base = LatticeFermiSurface(m, -1.0, 16).n_states
    for L in range(4):
        fs, dt = timed(m, -1.0, 16, n_points=base * 4 ** L)
        e = abs(fs.density_of_states / exact - 1)
        rows.append((L, fs.n_states, e, np.log2(prev / e) if prev else float("nan"), dt))
        prev = e
    table("3D simple cubic, mu = -1 eV: midpoint subdivision of the 16^3 mesh",
          ["levels", "states", "rel. error", "order", "seconds"], rows)

    m = toys.kramers(d=3)
    rows = []
    for n, npts in ((32, None), (48, None), (32, 20000), (64, None)):
        fs, dt = timed(m, 0.9, n, n_points=npts)
        rows.append((n, npts or 0, fs.n_states, int(fs.rank.max()), fs.density_of_states, dt))
    table("3D Kramers 4-band model, mu = 0.9 eV: timings",
          ["grid", "n_points", "states", "rank", "DOS", "seconds"], rows)


if __name__ == "__main__":
    main()
