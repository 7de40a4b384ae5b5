"""Convergence of the Kubo-Bastin cross-check (docs/kubo.md, "Convergence").

    python benchmarks/kubo_convergence.py [--only rashba,fm,orbital,orbital3d] [--quick]

For each continuum case it prints, per k-rule resolution (n_angles, n_gauss, tail_eV) and
per set of disorder strengths, the Gamma -> 0 extrapolated parts of the Kubo response
beside the closed forms (Rashba 2DEG) or the kinetic theory's bulk parts (the ready cases),
as relative deviations, with wall times. One BLAS thread.
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

import numpy as np  # noqa: E402

from slabqkt import load_case  # noqa: E402
from slabqkt.analytic import rashba_density  # noqa: E402
from slabqkt.kubo import continuum_sample, kubo_response  # noqa: E402
from slabqkt.kubo.driver import SampleOptions, run_kubo  # noqa: E402
from slabqkt.kubo.extrapolate import extrapolate  # noqa: E402
from slabqkt.models import Rashba  # noqa: E402
from slabqkt.units import HBAR, HBAR2_OVER_2ME  # noqa: E402

G = os.path.join(ROOT, "geometries")
SCALE_SETS = {"1..1/8": (1, .5, .25, .125), "1..1/4": (1, .5, .25), "1/2..1/16": (.5, .25, .125, .0625)}


def rashba(resolutions, scale_sets):
    """Rashba 2DEG (m* = 0.5, alpha_R = 0.05 eV nm, tau = 20 fs): Drude, Edelstein and
    spin Hall against their closed forms."""
    mass, alpha, tau = 0.5, 0.05, 20.0
    c = HBAR2_OVER_2ME / mass
    mstar = HBAR ** 2 / (2 * c)
    gamma = HBAR / (2 * tau)
    nv = gamma / (np.pi / (4 * np.pi * c))
    model = Rashba(2, mass, alpha)
    print("Rashba 2DEG: relative deviation of the extrapolated Kubo ladder from the closed form")
    print(f"{'mu':>5} {'angles':>6} {'gauss':>5} {'tail':>5} {'strengths':>10} {'sigma (a)':>11} "
          f"{'Edelstein (a)':>13} {'bare Ed./Ed.':>12} {'SHE bare (b)':>12} {'SHE ladder':>11}"
          f" {'s':>6}")
    for mu in (0.1, 0.3):
        sig = rashba_density(mu, mass, alpha) * tau / mstar
        ed = tau * mstar * alpha / (np.pi * HBAR ** 3)
        for na, ng, tail in resolutions:
            for label, scales in scale_sets.items():
                t0 = time.perf_counter()
                ry, rx = [], []
                for s in scales:
                    smp = continuum_sample(model, mu, s * gamma, n_angles=na, n_gauss=ng, tail_eV=tail)
                    ry.append(kubo_response(model, smp, mu, s * nv, [0, 1, 0], ["current_y", "spin_x"]))
                    rx.append(kubo_response(model, smp, mu, s * nv, [1, 0, 0], ["spin_current_zy"]))

                def fit(runs, n, p):
                    return extrapolate(scales, [r.parts[n][p] for r in runs])
                u = 1 / (8 * np.pi * HBAR)
                print(f"{mu:>5g} {na:>6d} {ng:>5d} {tail:>5g} {label:>10} "
                      f"{fit(ry, 'current_y', 'total')['a'] / sig - 1:>11.2e} "
                      f"{fit(ry, 'spin_x', 'total')['a'] / ed - 1:>13.2e} "
                      f"{fit(ry, 'spin_x', 'total_bare')['a'] / ed:>12.6f} "
                      f"{fit(rx, 'spin_current_zy', 'total_bare')['b'] / u - 1:>12.2e} "
                      f"{fit(rx, 'spin_current_zy', 'total')['b'] / u:>11.2e} "
                      f"{time.perf_counter() - t0:>6.2f}")


def versus_qkt(title, path, overrides, rows, resolutions, scale_sets):
    """A ready case (a path, or a resolved case dict): rows (observable, Kubo part, fit
    coefficient, QKT parts summed)."""
    case = path if isinstance(path, dict) else load_case(path, overrides)
    print(title)
    head = "".join(f" {o + ':' + p + '.' + c:>30}" for o, p, c, _ in rows)
    print(f"{'angles':>6} {'gauss':>5} {'tail':>5} {'strengths':>10}{head} {'s':>6}")
    ref = None
    for na, ng, tail in resolutions:
        for label, scales in scale_sets.items():
            t0 = time.perf_counter()
            res = run_kubo(case, scales, SampleOptions(n_angles=na, n_gauss=ng, tail_eV=tail),
                           qkt=ref is None)
            if ref is None:
                ref = res.qkt
            cols = ""
            for o, p, c, qparts in rows:
                q = sum(ref[o][qp] for qp in qparts)
                cols += f" {res.fits[o][p][c] / q - 1:>30.2e}"
            print(f"{na:>6d} {ng:>5d} {tail:>5g} {label:>10}{cols} {time.perf_counter() - t0:>6.2f}")
    print("QKT reference: " + ", ".join(f"{o} {'+'.join(qp)} = {sum(ref[o][x] for x in qp):.7g}"
                                        for o, _, _, qp in rows))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", default="rashba,fm,orbital,orbital3d,fm3d")
    ap.add_argument("--quick", action="store_true", help="two resolutions, one strength set")
    a = ap.parse_args(argv)
    only = a.only.split(",")
    res2 = [(8, 10, 30.0), (16, 10, 30.0), (32, 10, 30.0), (16, 6, 30.0), (16, 14, 30.0),
            (16, 10, 10.0), (16, 10, 100.0)]
    sets = SCALE_SETS
    if a.quick:
        res2, sets = [(8, 10, 30.0), (16, 10, 30.0)], {"1..1/8": SCALE_SETS["1..1/8"]}
    if "rashba" in only:
        rashba(res2, sets)
    if "fm" in only:
        versus_qkt("Rashba ferromagnet (geometries/rashba_fm_bulk.toml): Kubo fit / QKT - 1",
                   os.path.join(G, "rashba_fm_bulk.toml"), [],
                   [("spin_x", "total_bare", "b", ("intrinsic",)),
                    ("spin_x", "vertex", "b", ("disorder",)),
                    ("current_y", "total_bare", "b", ("intrinsic",)),
                    ("spin_y", "total", "a", ("intra",)),
                    ("current_x", "total", "a", ("intra",))], res2, sets)
    if "orbital" in only:
        versus_qkt("p-orbital strip (2D, geometries/orbital_p_strip.toml): Kubo fit / QKT - 1",
                   os.path.join(G, "orbital_p_strip.toml"),
                   ["observables.names=['orbital_current_zx']"],
                   [("orbital_current_zx", "total", "b", ("intrinsic", "disorder")),
                    ("current_y", "total", "a", ("intra",))], res2, sets)
    if "orbital3d" in only:
        res3 = [(8, 8, 30.0), (12, 10, 30.0)] if not a.quick else [(8, 8, 30.0)]
        versus_qkt("p-orbital film (3D, geometries/orbital_p_film.toml): Kubo fit / QKT - 1",
                   os.path.join(G, "orbital_p_film.toml"),
                   ["observables.names=['orbital_current_zx']"],
                   [("orbital_current_zx", "total", "b", ("intrinsic", "disorder")),
                    ("current_y", "total", "a", ("intra",))], res3,
                   {"1..1/8": SCALE_SETS["1..1/8"]})
    if "fm3d" in only:
        from slabqkt.case import resolve
        case = resolve({"name": "rashba_fm_3d",
                        "model": {"kind": "rashba", "dimension": 3, "effective_mass": 0.5,
                                  "alpha_R": 0.05, "exchange_eV": 0.05},
                        "fermi_surface": {"fermi_level_eV": 0.2, "n_angles": 32, "n_polar": 16},
                        "disorder": {"tau_fs": 20.0}, "field": {"direction": [1.0, 0.0, 0.0]},
                        "observables": {"names": ["spin_x", "spin_current_zy"]}})
        res3 = [(12, 10, 30.0), (20, 10, 30.0)] if not a.quick else [(12, 10, 30.0)]
        versus_qkt("3D Rashba ferromagnet (J_e = 0.05 eV, eps_F = 0.2 eV): interband Kubo / QKT - 1",
                   case, [],
                   [("spin_x", "total_inter", "b", ("intrinsic", "disorder")),
                    ("current_y", "total_inter", "b", ("intrinsic", "disorder")),
                    ("spin_current_zy", "total_inter", "b", ("intrinsic", "disorder")),
                    ("spin_x", "total_intra", "b", ("intrinsic", "disorder"))], res3,
                   {"1..1/8": SCALE_SETS["1..1/8"], "1/2..1/16": SCALE_SETS["1/2..1/16"]})


if __name__ == "__main__":
    main()
