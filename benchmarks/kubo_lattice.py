"""Kubo-Bastin on lattice models: convergence of the zone rule, Gamma -> 0, timing on 1 and 2 ranks.

    python benchmarks/kubo_lattice.py [--only soc,nk,controls,mpi,kramers] [--quick]

Sections (docs/kubo.md, "Lattice models"):

- ``soc``: the lattice spin-orbit acceptance case of tests/test_kubo_lattice.py (square-lattice
  Rashba with t' = -0.3 eV, alpha_R = 0.2 eV nm, mu = 2.5 eV, tau = 10 fs, E along y): the
  Kubo spin Hall density with ladder at s = 1, 1/2, 1/4, 1/8 of the disorder strength, its
  Gamma -> 0 limits (line through s = 1, 1/2; parabola through s = 1, 1/2, 1/4; the driver's
  a/s + b + c s + d s^2 fit) beside the kinetic theory's bulk parts at sea_grid 128, 256, 512;
- ``nk``: the same at s = 1/2 against the base grid n_k;
- ``controls``: against the refinement controls (margin, resolution, window, far rule);
- ``mpi``: wall time of ``slabqkt kubo`` on the case under mpiexec -n 1 and -n 2 (MPICH:
  SLABQKT_MPIEXEC or /usr/bin/mpiexec.mpich);
- ``kramers``: a Kramers-degenerate lattice model (orbital_p_lattice 2D, lambda_p = 0.3 eV):
  the Kubo ladder against the QKT (equal-occupation form for degenerate bands), spin and
  orbital Hall, with the intraband (sum over the doublets P_n O P_n) and interband parts:
  a measured side result, not a test.

One BLAS thread per process.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("SLABQKT_LOG_LEVEL", "ERROR")

import numpy as np  # noqa: E402

from slabqkt.case import resolve, to_toml  # noqa: E402
from slabqkt.kubo import kubo_response  # noqa: E402
from slabqkt.kubo.driver import SampleOptions, run_kubo  # noqa: E402
from slabqkt.kubo.lattice import lattice_sample  # noqa: E402
from slabqkt.simulation import Simulation  # noqa: E402
from slabqkt.units import HBAR  # noqa: E402
from test_kubo_lattice import rashba_tprime, spin_hall_case  # noqa: E402

NAME = "spin_current_zx"


def _poly_b(s, y):
    s = np.asarray(s, float)
    return float(np.linalg.solve(np.stack([s ** j for j in range(len(s))], -1), y)[0])


def soc(quick):
    """Gamma -> 0 of the SOC lattice spin Hall density, Kubo against QKT."""
    print("== soc: square-lattice Rashba + t' (mu 2.5 eV, tau 10 fs), spin_current_zx (hbar nm/fs "
          "nm^-2 at the case's field)")
    for sea in ((256,) if quick else (128, 256, 512)):
        t0 = time.perf_counter()
        res = Simulation(spin_hall_case(rashba_tprime(), 2.5, 10.0, sea), "scipy").run_bulk()
        q = res.observables[NAME]
        print(f"QKT sea_grid {sea:4d}: intrinsic {float(q['intrinsic']):.6e} (two-grid error "
              f"{res.intrinsic_error[NAME]:.1e}), disorder {float(q['disorder']):.6e}, total "
              f"{float(q['total']):.6e}   [{time.perf_counter() - t0:.1f} s]")
    qt = float(q["total"])
    scales = (1.0, 0.5, 0.25) if quick else (1.0, 0.5, 0.25, 0.125)
    for label, lat in (("resolution 1, window 4 (the test)", {"resolution": 1.0, "window": 4.0}),
                       ("defaults", {})):
        t0 = time.perf_counter()
        r = run_kubo(spin_hall_case(rashba_tprime(), 2.5, 10.0, 128), scales,
                     SampleOptions(lattice=lat), qkt=False)
        dt = time.perf_counter() - t0
        v = r.values[NAME]
        pts = [x["k_points"] for x in json.loads(r.attrs["runs"])]
        print(f"Kubo, zone rule {label}: {dt:.1f} s, k points {pts}")
        print(f"{'s':>7} {'Gamma (eV)':>11} {'total':>13} {'bare I+II':>13} {'vertex':>13} "
              f"{'II':>13}")
        for i, s in enumerate(r.scales):
            print(f"{s:7.4g} {r.gamma_eV[i]:11.4g} {v['total'][i]:13.6e} "
                  f"{v['total_bare'][i]:13.6e} {v['vertex'][i]:13.6e} {v['II'][i]:13.6e}")
        s = r.scales
        for how, b in (("line s = 1, 1/2", _poly_b(s[:2], v["total"][:2])),
                       ("parabola s = 1..1/4", _poly_b(s[:3], v["total"][:3])),
                       ("driver a/s + b + ...", r.fits[NAME]["total"]["b"])):
            print(f"   Gamma -> 0 by {how:22s}: {b:.6e}  (Kubo/QKT - 1 = {b / qt - 1:+.2e})")


def nk(quick):
    print("== nk: base grid n_k at s = 1/2 (defaults otherwise)")
    sim = Simulation(spin_hall_case(rashba_tprime(), 2.5, 10.0, 64), "scipy")
    g = HBAR / (2 * sim.tau)
    for n in ((32, 64) if quick else (16, 32, 64, 128, 256)):
        t0 = time.perf_counter()
        smp = lattice_sample(sim.model, n, 2.5, 0.5 * g)
        r = kubo_response(sim.model, smp, 2.5, 0.5 * sim.n_i_v0_sq, sim.field, [NAME],
                          real_part="full").parts[NAME]
        E = np.linalg.norm(sim.field)
        print(f"n_k {n:4d}: {smp.size:8d} points, total {r['total'] * E:.7e}, II "
              f"{r['II'] * E:.7e}  [{time.perf_counter() - t0:.1f} s]")


def controls(quick):
    print("== controls: refinement controls at s = 1/2 (n_k 64)")
    sim = Simulation(spin_hall_case(rashba_tprime(), 2.5, 10.0, 64), "scipy")
    g = HBAR / (2 * sim.tau)
    E = np.linalg.norm(sim.field)
    sets = [{}, {"resolution": 1.0, "window": 4.0}, {"slope": "band"}, {"resolution": 1.0}, {"margin": 3.0},
            {"window": 10.0}, {"resolution": 3.0}, {"far_rule": "midpoint", "margin": 4.0,
                                                     "window": 3.0},
            {"margin": 4.0, "resolution": 3.0, "window": 10.0}]
    for c in (sets[:3] if quick else sets):
        t0 = time.perf_counter()
        smp = lattice_sample(sim.model, 64, 2.5, 0.5 * g, **c)
        t1 = time.perf_counter() - t0
        r = kubo_response(sim.model, smp, 2.5, 0.5 * sim.n_i_v0_sq, sim.field, [NAME],
                          real_part="full").parts[NAME]
        print(f"{json.dumps(c):58s} {smp.size:8d} points: total {r['total'] * E:.7e}, bare "
              f"{r['total_bare'] * E:.7e}, vertex {r['vertex'] * E:.7e}  [rule {t1:.1f} s, "
              f"sums {time.perf_counter() - t0 - t1:.1f} s]")


def mpi(quick):
    exe = os.environ.get("SLABQKT_MPIEXEC", "/usr/bin/mpiexec.mpich")
    print(f"== mpi: slabqkt kubo on the soc case (scales 1,0.5,0.25, defaults, --no-qkt), {exe}")
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", SLABQKT_LOG_LEVEL="WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "soc.toml")
        with open(path, "w") as f:
            f.write(to_toml(spin_hall_case(rashba_tprime(), 2.5, 10.0, 64)))
        times = {}
        for n in (1, 2):
            out = os.path.join(tmp, f"soc_{n}.h5")
            cmd = [exe, "-n", str(n), sys.executable, "-m", "slabqkt", "kubo", path,
                   "--broadening", "1,0.5" if quick else "1,0.5,0.25", "--no-qkt", "--out", out]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp)
            times[n] = time.perf_counter() - t0
            if proc.returncode:
                print(proc.stderr[-2000:])
                return
        from slabqkt.kubo.driver import load_kubo
        a, b = (load_kubo(os.path.join(tmp, f"soc_{n}.h5")) for n in (1, 2))
        dev = max(float(np.abs(a.values[o][p] - b.values[o][p]).max()
                        / max(np.abs(a.values[o][p]).max(), 1e-300))
                  for o in a.values for p in a.values[o] if np.abs(a.values[o][p]).max() > 1e-12)
        print(f"wall time: 1 rank {times[1]:.1f} s, 2 ranks {times[2]:.1f} s (speed-up "
              f"{times[1] / times[2]:.2f}); largest relative difference of a part "
              f"{dev:.1e}")


def kramers(quick):
    print("== kramers: orbital_p_lattice 2D, lambda_p = 0.3 eV (Kramers doublets), E along y")
    case = resolve({"name": "p_soc", "model": {"kind": "orbital_p_lattice", "dimension": 2,
                                               "soc_p_eV": 0.3},
                    "fermi_surface": {"fermi_level_eV": 0.8, "lattice_grid": 64,
                                      "n_points": 256, "sea_grid": 128},
                    "disorder": {"tau_fs": 10.0}, "field": {"direction": [0.0, 1.0, 0.0]},
                    "observables": {"names": ["spin_current_zx", "orbital_current_zx"]}})
    scales = (1.0, 0.5) if quick else (1.0, 0.5, 0.25)
    t0 = time.perf_counter()
    r = run_kubo(case, scales, SampleOptions(lattice={"resolution": 1.0, "window": 4.0}))
    print(f"[{time.perf_counter() - t0:.1f} s]")
    for name in ("spin_current_zx", "orbital_current_zx"):
        q = r.qkt[name]
        v = r.values[name]
        for part, qp in (("total", q["total"]), ("total_inter", q["intrinsic"] + q["disorder"]),
                         ("total_intra", q["intra"]), ("total_bare", q["intrinsic"]),
                         ("vertex", q["disorder"])):
            b2 = _poly_b(r.scales[:2], v[part][:2])
            b3 = _poly_b(r.scales, v[part]) if len(r.scales) > 2 else float("nan")
            rel = b2 / qp - 1 if qp else float("nan")
            print(f"{name:20s} {part:11s}: Kubo line {b2:.5e}, parabola {b3:.5e}; QKT "
                  f"{qp:.5e}  (line/QKT - 1 = {rel:+.2e})")


SECTIONS = {"soc": soc, "nk": nk, "controls": controls, "mpi": mpi, "kramers": kramers}

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default=",".join(SECTIONS))
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    for name in args.only.split(","):
        SECTIONS[name.strip()](args.quick)
