"""Benchmark: the 3D orbital_p film (geometries/orbital_p_film.toml), a resolution ladder.

For each resolution (n_x, n_angles azimuths, n_polar Gauss nodes per half) one
child process runs the case and reports the left-edge L_z excess (the integrated
edge accumulation per unit surface), wall times and peak memory (getrusage of
the child). The reference is the finest level; the table marks the coarsest
level within 1 % of it (docs/orbital.md records the numbers).

    python benchmarks/orbital_film.py            # ladder, a few seconds
    python benchmarks/orbital_film.py --one NX NA NP   # one level, prints JSON
"""
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CASE = os.path.join(ROOT, "geometries", "orbital_p_film.toml")
LADDER = [(10, 4, 1), (10, 4, 2), (20, 4, 2), (40, 8, 4), (80, 8, 4), (160, 16, 8), (320, 32, 16),
          (640, 32, 16)]


def one(nx, na, npol):
    sys.path.insert(0, ROOT)
    import logging
    t0 = time.perf_counter()
    from slabqkt import Simulation, load_case
    logging.getLogger("slabqkt").setLevel(logging.WARNING)
    # the paper's form, in which the table of docs/orbital.md section 8 was measured (the
    # default 'auto' runs the matrix form on this film)
    case = load_case(CASE, [f"slab.n_x={nx}", f"fermi_surface.n_angles={na}",
                            f"fermi_surface.n_polar={npol}",
                            "disorder.intraband_form='equal_occupation'"])
    t1 = time.perf_counter()
    sim = Simulation(case)
    res = sim.run()
    t2 = time.perf_counter()
    edge = res.edges["orbital_z"]["total"]
    print(json.dumps({
        "n_x": nx, "n_angles": na, "n_polar": npol, "fermi_points": res.attrs["n_fermi_points"],
        "unknowns": res.attrs["n_unknowns"], "iterations": res.attrs["krylov_iterations"],
        "excess": edge["left"]["excess"], "excess_right": edge["right"]["excess"],
        "decay_nm": edge["left"]["decay_length"], "ratio": res.conductivity_ratio,
        "setup_s": res.attrs["setup_seconds"], "solve_s": res.attrs["solve_seconds"],
        "run_s": t2 - t1, "import_s": t1 - t0,
        "maxrss_MB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))


def main():
    rows = []
    for nx, na, npol in LADDER:
        out = subprocess.run([sys.executable, __file__, "--one", str(nx), str(na), str(npol)],
                             capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    ref = rows[-1]["excess"]
    first_ok = None
    print("3D orbital_p film, d = 10 l, diffuse walls, E along y; reference: the last row")
    print(f"{'n_x':>5} {'az':>4} {'pol':>4} {'points':>7} {'unknowns':>9} {'it':>3} "
          f"{'excess (hbar nm^-2)':>20} {'rel.err':>9} {'setup s':>8} {'solve s':>8} "
          f"{'run s':>7} {'peak MB':>8}")
    for r in rows:
        err = abs(r["excess"] / ref - 1)
        mark = ""
        if first_ok is None and err <= 0.01:
            first_ok, mark = r, "  <- coarsest within 1 %"
        print(f"{r['n_x']:>5} {r['n_angles']:>4} {r['n_polar']:>4} {r['fermi_points']:>7} "
              f"{r['unknowns']:>9} {r['iterations']:>3} {r['excess']:>20.10e} {err:>9.2e} "
              f"{r['setup_s']:>8.3f} {r['solve_s']:>8.4f} {r['run_s']:>7.3f} "
              f"{r['maxrss_MB']:>8.1f}{mark}")
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--one":
        one(*(int(a) for a in sys.argv[2:]))
    else:
        main()
