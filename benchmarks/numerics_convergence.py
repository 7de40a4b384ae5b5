"""Convergence of the three resolutions of docs/theory.md section 3a (issue 13, items 6, 7, 26).

1. x grid: 2D Fuchs strip, diffuse walls, d/l = 1e3, 1e4, 1e5: cosine grid (grading 0.5)
   against the geometric grid, and the geometric grid refined as one mapping
   (n_x doubled, first cell halved).
2. angular rule: thin slabs d/l = 1e-2, 1e-3, 1e-6, 2D and 3D, plain and graded rules.
3. energy quadrature: the Rashba ferromagnet bulk at mu = 0.12 eV, kT = 15 meV, against a
   composite Gauss-Legendre reference split at the band edge.

Run: python benchmarks/numerics_convergence.py [grid|angles|temperature]  (~1 min in all)
"""
import logging
import sys

import numpy as np

from slabqkt import Simulation, resolve
from slabqkt.analytic import fuchs_sondheimer
from slabqkt.units import KB

logging.getLogger("slabqkt").setLevel(logging.ERROR)


def parabolic(dim, kappa, slab=(), fs=()):
    return resolve({"model": {"kind": "parabolic", "dimension": dim},
                    "fermi_surface": {"fermi_level_eV": 1.0, **dict(fs)},
                    "disorder": {"mean_free_path_nm": 10.0},
                    "slab": {"thickness_mfp": kappa, **dict(slab)}})


def grid():
    print("x grid: relative error of sigma/sigma0, 2D strip, diffuse walls")
    print(f"{'d/l':>8} {'cosine':>10} {'geometric':>10}   refined (n_x, first cell): "
          "(50, .2) (100, .1) (200, .05) (400, .025)")
    for kappa in (1e3, 1e4, 1e5):
        ex = fuchs_sondheimer(kappa, 0.0, 2)

        def err(**s):
            return Simulation(parabolic(2, kappa, s)).run().conductivity_ratio / ex - 1
        pairs = ((50, .2), (100, .1), (200, .05), (400, .025))
        ref = [err(n_x=n, first_cell_mfp=h) for n, h in pairs]
        print(f"{kappa:8.0e} {err(grading=0.5):10.2e} {err():10.2e}   "
              + " ".join(f"{e:9.2e}" for e in ref))


def angles():
    print("angular rule: relative error of sigma/sigma0, diffuse walls, n_x = 40")
    for dim, counts in ((2, (64, 256, 1024)), (3, (8, 16, 48))):
        for kappa in (1e-2, 1e-3, 1e-6):
            ex = fuchs_sondheimer(kappa, 0.0, dim)
            row = []
            for mode in ("none", "auto"):
                for n in counts:
                    fs = ({"n_angles": n} if dim == 2 else {"n_angles": 16, "n_polar": n})
                    fs["grazing_refinement"] = mode
                    r = Simulation(parabolic(dim, kappa, {"n_x": 40}, fs)).run()
                    row.append(r.conductivity_ratio / ex - 1)
            print(f"{dim}D d/l = {kappa:6.0e}  plain {counts}: "
                  + " ".join(f"{e:9.2e}" for e in row[:3]) + "   graded: "
                  + " ".join(f"{e:9.2e}" for e in row[3:]))


def temperature():
    mu, kT = 0.12, 0.015
    W = 12 * kT

    def case(n):
        return resolve({"model": {"kind": "rashba", "dimension": 2, "effective_mass": 0.5,
                                  "alpha_R": 0.01, "exchange_eV": 0.1},
                        "fermi_surface": {"fermi_level_eV": mu, "n_angles": 64},
                        "disorder": {"tau_fs": 20.0},
                        "temperature": {"kelvin": kT / KB, "n_energies": n},
                        "observables": {"names": ["spin_x"]}})
    sim = Simulation(case(6))

    def g(e):
        o = sim._slice(e).bulk()[1]
        return np.array([o["current_y"]["total"], o["spin_x"]["total"]])

    def fermi(e):
        return 0.25 / (kT * np.cosh((e - mu) / (2 * kT)) ** 2)

    x, w = np.polynomial.legendre.leggauss(4)
    pts = np.concatenate([np.linspace(mu - W, 0.1, 13), np.linspace(0.1, mu + W, 37)[1:]])
    ref = 0.0
    for a, b in zip(pts[:-1], pts[1:]):
        e = 0.5 * (a + b) + 0.5 * (b - a) * x
        ref = ref + sum(wi * g(ei) for wi, ei in zip(0.5 * (b - a) * w * fermi(e), e))
    ref = ref / np.tanh(6.0)
    xo, wo = np.polynomial.legendre.leggauss(16)
    eo = mu + W * xo
    wo = W * wo * fermi(eo)
    old = sum(wi * g(ei) for wi, ei in zip(wo / wo.sum(), eo))
    print("T > 0, Rashba FM bulk, mu = 0.12 eV, kT = 15 meV: relative error (sigma, <sigma_x>)")
    print(f"  T = 0 value       {g(mu) / ref - 1}")
    print(f"  old 16-node rule  {old / ref - 1}")
    for n in (2, 4, 6, 8):
        r = Simulation(case(n)).run_bulk()
        got = np.array([r.observables["current_y"]["total"], r.observables["spin_x"]["total"]])
        print(f"  n_energies = {n}: {got / ref - 1}, estimate "
              f"{r.attrs['temperature_quadrature_error']:.2e}, {r.attrs['energy_slices']} slices "
              "+ check")


if __name__ == "__main__":
    which = sys.argv[1:] or ["grid", "angles", "temperature"]
    for name in which:
        {"grid": grid, "angles": angles, "temperature": temperature}[name]()
