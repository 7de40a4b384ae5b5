"""Convergence of the Si Delta-pocket DOS and conductivity with fermi_surface.refine
(tests/test_silicon.py, docs/wannier90.md).

Usage: python benchmarks/si_pockets.py [--meshes 16x1 16x2 16x4 24x4 16x8] [--levels 32x1 32x2]
       [--rays 12x24 16x32 24x48]

The Si Wannier90 model without the _wsvec.dat replicas at E_F = conduction-band minimum +
40 meV (the six Delta pockets), n_i v0^2 = 1e-3 eV^2 nm^3: for lattice_grid n and refine q
("n x q"), the DOS of the lattice Fermi surface and sigma_xx, sigma_yy, sigma_zz of the bulk
Boltzmann solver (|e|^2/(eV fs nm)), the Fermi points, the exactly evaluated fine points and
the seconds; "--levels n x L" does the same with L midpoint subdivisions of the lattice_grid n
mesh instead (the n_points route); the reference is the ray quadrature of
tests/test_silicon.py::pocket_rays with points_boltzmann at n_theta x n_phi rays per pocket.
"""
import argparse
import pathlib
import sys
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE.parent / "tests"))
from slabqkt.band_geometry import Eigensystem  # noqa: E402
from slabqkt.boltzmann import BulkBoltzmann  # noqa: E402
from slabqkt.collision import Collision  # noqa: E402
from slabqkt.lattice.builders import build_lattice_model  # noqa: E402
from slabqkt.lattice.fermi_surface import LatticeFermiSurface  # noqa: E402
from slabqkt.units import E_CHARGE  # noqa: E402
from test_silicon import POCKET_NV, X, cb_along_delta, pocket_rays, points_boltzmann, si_table  # noqa: E402,E501


def solver_sigma(fs, nv):
    """sigma_aa (a = x, y, z) of the bulk solver on a lattice Fermi surface."""
    coll = Collision(fs, nv)
    v = Eigensystem(fs.model, fs.k, fs.tol).velocity(fs.group)  # the current of each point
    out = []
    for a in range(3):
        E = np.zeros(3)
        E[a] = 1e-4
        phi, _ = BulkBoltzmann(fs, coll, E).solve()
        out.append(E_CHARGE * np.sum(fs.w * v[:, a] * phi) / E[a])
    return np.array(out)


def _pairs(items):
    return [tuple(int(x) for x in s.split("x")) for s in items]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--meshes", nargs="*", default=["16x1", "16x2", "16x4", "24x4", "16x8"])
    ap.add_argument("--levels", nargs="*", default=["32x1", "32x2"])
    ap.add_argument("--rays", nargs="*", default=["12x24", "16x32", "24x48"])
    a = ap.parse_args(argv)
    s = np.linspace(0.85, 0.95, 41)
    mu = float(cb_along_delta(s, False).min() + 0.04)
    model = build_lattice_model(si_table("none", symmetry_tol_eV=0.2),
                                {"normal_cartesian": [1, 0, 0]}, mu)
    print(f"E_F = {mu:.6f} eV, n_i v0^2 = {POCKET_NV} eV^2 nm^3\n")
    centres = np.vstack([np.eye(3), -np.eye(3)]) * 0.90 * X
    print("| rays per pocket | points | DOS | sigma_xx | sigma_yy | sigma_zz | seconds |\n"
          "|---|---|---|---|---|---|---|")
    ref = None
    for nt, nph in _pairs(a.rays):
        t0 = time.perf_counter()
        kh, wh = pocket_rays(model, mu, centres, 4, nt, nph, 0.03 * X)
        sig, dos = points_boltzmann(model, mu, POCKET_NV, kh, wh, 4)
        ref = (dos, sig)
        print(f"| {nt} x {nph} | {2 * len(kh)} | {dos:.6f} | " + " | ".join(f"{x:.5f}" for x in sig)
              + f" | {time.perf_counter() - t0:.1f} |", flush=True)
    print("\n| mesh | Fermi points | fine points | DOS (error) | sigma_xx (error) | sigma_yy (error) "
          "| sigma_zz (error) | seconds |\n|---|---|---|---|---|---|---|---|")
    rows = [("refine", n, q) for n, q in _pairs(a.meshes)] + \
        [("levels", n, L) for n, L in _pairs(a.levels)]
    for kind, n, q in rows:
        t0 = time.perf_counter()
        try:
            if kind == "refine":
                fs = LatticeFermiSurface(model, mu, n, refine=q)
                name, fine = f"{n} x refine {q}", fs.geometry.get("fine_points", 0)
            else:
                from slabqkt.lattice import isosurface
                orig = isosurface.build_isosurface
                isosurface.build_isosurface = lambda r, z, nn, npts, levels=None, refine=1: \
                    orig(r, z, nn, None, levels=q)
                try:
                    fs = LatticeFermiSurface(model, mu, n)
                finally:
                    isosurface.build_isosurface = orig
                name, fine = f"{n}, {q} subdivisions", 0
            sig = solver_sigma(fs, POCKET_NV)
        except Exception as exc:  # a folded mesh is refused: report it
            print(f"| {kind} {n} x {q} | refused: {str(exc)[:80]} |")
            continue
        dos = fs.w.sum()
        err = lambda x, r: f"{x:.5f} ({(x - r) / r:+.2%})"  # noqa: E731
        print(f"| {name} | {fs.n_states} | {fine} | {err(dos, ref[0])} | "
              + " | ".join(err(x, r) for x, r in zip(sig, ref[1]))
              + f" | {time.perf_counter() - t0:.1f} |", flush=True)


if __name__ == "__main__":
    main()
