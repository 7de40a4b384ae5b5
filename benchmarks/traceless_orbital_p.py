"""The traceless part of the intraband distribution on the orbital_p strip (2D) and film (3D).

Prints the table of docs/theory.md section 7: golden-rule rates, bulk conductivity,
conductivity ratio and the L_z edge excess for the paper's equal occupation
(disorder.intraband_form = 'equal_occupation'), the matrix distribution ('matrix') and, in 2D,
the symmetry-resolved limit (model.z_splitting_eV = delta, the bands solved separately), plus
what the 2D L_z gradient part would be with the trace part of F alone in the interband terms.

    PYTHONPATH=$PWD python benchmarks/traceless_orbital_p.py [--quick]
"""
import argparse
import logging
import os
import time

import numpy as np

from slabqkt import Simulation, load_case
from slabqkt.observables import StateWeights, make_observable

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def run(path, overrides):
    case = load_case(path, overrides)
    t0 = time.perf_counter()
    sim = Simulation(case)
    res = sim.run()
    return sim, res, time.perf_counter() - t0


def trace_only_gradient(sim):
    """L_z gradient profile with the trace part Tr[F]/r of the matrix solution in place of F."""
    prob = sim.problem()
    u, _ = sim.backend.solve(prob, sim.case["solver"])
    f, df, _ = prob.solution(u)
    comp = sim.coll.comp
    st = prob.states
    dphi = np.zeros((len(df), len(sim.fs.k)))
    np.add.at(dphi.T, comp.state[st], (df * comp.t[st]).T)
    dphi /= sim.fs.rank
    wt = StateWeights(make_observable("orbital_z", sim.model), sim.fs, sim.coll, 10 * sim.fs.tol)
    return -(dphi * (wt.grad * sim.fs.w)).sum(axis=1)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="coarser grids (a smoke run)")
    args = ap.parse_args(argv)
    logging.disable(logging.WARNING)
    quick = ["slab.n_x=40", "fermi_surface.n_angles=32"] if args.quick else []
    rows = []
    for dim, name in ((2, "orbital_p_strip.toml"), (3, "orbital_p_film.toml")):
        path = os.path.join(ROOT, "geometries", name)
        forms = [("paper", ["disorder.intraband_form='equal_occupation'"]),
                 ("matrix", ["disorder.intraband_form='matrix'"])]
        if dim == 2:
            forms.append(("resolved", ["model.z_splitting_eV=1e-6"]))
        q = quick if dim == 2 else (["slab.n_x=30"] if args.quick else [])
        out = {}
        for form, ov in forms:
            sim, res, sec = run(path, ov + q)
            diag = sim.coll.inv_tau if form != "matrix" else sim.coll.inv_tau[sim.coll.trace == 1]
            rates = np.unique(np.round(diag, 4))
            ex = res.edges["orbital_z"]["total"]["left"]["excess"]
            out[form] = (sim, res)
            rows.append((f"{dim}D", form, ", ".join(f"{r:.4f}" for r in rates),
                         res.attrs["sigma_bulk_SI"], res.attrs["sigma_bulk_SI_unit"],
                         res.conductivity_ratio, ex, sec))
        if dim == 2:
            sim, res = out["matrix"]
            g = trace_only_gradient(sim)
            full = np.asarray(res.profile("orbital_z", "gradient"))
            print(f"2D: L_z gradient part with the trace part of F only: max deviation "
                  f"{np.abs(g - full).max() / np.abs(full).max():.2%} of the full matrix form")
    print(f"{'case':4} {'form':9} {'rates (1/fs)':22} {'sigma_bulk':>12} {'unit':6} "
          f"{'ratio':>10} {'L_z excess':>12} {'s':>5}")
    for r in rows:
        print(f"{r[0]:4} {r[1]:9} {r[2]:22} {r[3]:12.6g} {r[4]:6} {r[5]:10.6f} {r[6]:12.6g} "
              f"{r[7]:5.1f}")
    for dim in ("2D", "3D"):
        p = next(r for r in rows if r[0] == dim and r[1] == "paper")
        m = next(r for r in rows if r[0] == dim and r[1] == "matrix")
        print(f"{dim}: matrix vs paper: sigma_bulk {m[3] / p[3] - 1:+.2%}, ratio "
              f"{m[5] / p[5] - 1:+.2e}, L_z excess {m[6] / p[6] - 1:+.2%}")
    kramers()


def kramers():
    """Spin accumulation at diffuse walls of the N = 6 lambda L.S lattice model (Kramers
    doublets), part by part: the left-wall excess of spin_z for both forms."""
    from slabqkt import resolve
    raw = {"model": {"kind": "orbital_p_lattice", "dimension": 2, "soc_p_eV": 0.3},
           "fermi_surface": {"fermi_level_eV": 0.8, "lattice_grid": 16, "n_points": 256,
                             "sea_grid": 8},
           "disorder": {"tau_fs": 10.0}, "slab": {"thickness_mfp": 2.0, "n_x": 40},
           "field": {"direction": [0.0, 1.0, 0.0]},
           "boundaries": {"left": {"specularity": 0.0}, "right": {"specularity": 0.0}},
           "observables": {"names": ["spin_z", "orbital_z"]}}
    print("Kramers doublets (orbital_p_lattice 2D, soc_p_eV = 0.3, diffuse walls, d = 2 l): "
          "left-wall excess of spin_z (hbar/2 nm^-1), by part")
    for form in ("equal_occupation", "matrix"):
        raw["disorder"]["intraband_form"] = form
        res = Simulation(resolve(raw)).run()
        ex = {p: res.edges["spin_z"][p]["left"]["excess"]
              for p in ("intra", "gradient", "disorder", "total")}
        print(f"  {form:17} " + "  ".join(f"{p} {v:+.6e}" for p, v in ex.items()))


if __name__ == "__main__":
    main()
