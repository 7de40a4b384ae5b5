"""Convergence of the Si bulk-conductivity check of tests/test_silicon.py (docs/wannier90.md).

Usage: python benchmarks/si_conductivity.py [--grids 24 32 48] [--n 40 48] [--widths 0.1 0.15 0.2 0.25]

Band 1 of the Si Wannier90 model at E_F = -4.5 eV, tau = 10 fs: sigma_xx of the slabqkt bulk
solver at several lattice_grid values, and of the independent Gaussian k-grid Boltzmann solve
(tests/test_silicon.py::grid_boltzmann) at several grids n and widths s, with the zero-width
extrapolations c + a s^2 + b s^4 (three widths) and c + a s^2 (the two smallest), in
|e|^2/(eV fs nm).
"""
import argparse
import pathlib
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))
from slabqkt.boltzmann import BulkBoltzmann  # noqa: E402
from slabqkt.collision import Collision, n_i_v0_sq_from_case  # noqa: E402
from slabqkt.lattice.builders import build_lattice_model  # noqa: E402
from slabqkt.lattice.fermi_surface import LatticeFermiSurface  # noqa: E402
from slabqkt.units import E_CHARGE  # noqa: E402
from test_silicon import MU_BAND1, grid_boltzmann, si_table  # noqa: E402


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--grids", nargs="*", type=int, default=[24, 32, 48])
    ap.add_argument("--n", nargs="*", type=int, default=[40, 48])
    ap.add_argument("--widths", nargs="*", type=float, default=[0.1, 0.15, 0.2, 0.25])
    a = ap.parse_args(argv)
    model = build_lattice_model(si_table(symmetry_tol_eV=0.05), {"normal_cartesian": [1, 0, 0]},
                                MU_BAND1)
    E = np.array([1e-4, 0.0, 0.0])
    nv = None
    print("| lattice_grid | Fermi points | sigma_xx | seconds |\n|---|---|---|---|")
    for g in a.grids:
        t0 = time.perf_counter()
        fs = LatticeFermiSurface(model, MU_BAND1, g)
        if nv is None:  # tau = 10 fs fixes n_i v0^2 on the first surface (as a case would)
            nv = n_i_v0_sq_from_case({"tau_fs": 10.0}, fs)
        coll = Collision(fs, nv)
        phi, _ = BulkBoltzmann(fs, coll, E).solve()
        # the current operator at each point, as the observable: v_x of the point's own h(k)
        from slabqkt.band_geometry import Eigensystem
        es = Eigensystem(model, fs.k, fs.tol)
        vx = es.velocity(fs.group)[:, 0]
        sig = E_CHARGE * np.sum(fs.w * vx * phi) / E[0]
        print(f"| {g} | {fs.n_states} | {sig:.6f} | {time.perf_counter() - t0:.1f} |", flush=True)
    print(f"\nn_i v0^2 = {nv:.6g} eV^2 nm^3\n")
    w = np.array(a.widths)
    print("| n | " + " | ".join(f"s = {s:g} eV" for s in w) + " | c+as^2+bs^4 (3 smallest) "
          "| c+as^2 (2 smallest) | seconds |")
    print("|---" * (len(w) + 4) + "|")
    for n in a.n:
        t0 = time.perf_counter()
        sig = grid_boltzmann(model, MU_BAND1, nv, w, n)
        x = w ** 2
        c3 = np.linalg.solve(np.vander(x[:3], 3, increasing=True), sig[:3])[0]
        c2 = np.polyfit(x[:2], sig[:2], 1)[1]
        print(f"| {n} | " + " | ".join(f"{v:.6f}" for v in sig) + f" | {c3:.6f} | {c2:.6f} | "
              f"{time.perf_counter() - t0:.1f} |", flush=True)


if __name__ == "__main__":
    main()
