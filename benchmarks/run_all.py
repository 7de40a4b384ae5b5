"""The benchmark suite of DESIGN section 6 (``make bench``): one row per measurement.

    python benchmarks/run_all.py [--only B1,B3,...] [--repeat R] [--markdown]

Every measurement is a fresh process (``benchmarks/bench_case.py``), under
``mpiexec -n N`` for the PETSc rows (launcher: ``$SLABQKT_MPIEXEC`` or
``tools/find_mpiexec.sh``), with one BLAS/OpenMP thread per process.

Cases
-----
B1   Rashba strip (geometries/rashba_strip.toml: d = 20 l, N_x = 400, 256 points per band):
     scipy, petsc on 1 and 2 ranks; ``B1-naive``: the same discretisation assembled as one
     sparse first-order upwind system on (x, s) and solved by SuperLU (the baseline).
B2   3D Fuchs film, one parabolic band, d = l, diffuse, N_x = 200, 2 x 16 x 64 = 2048
     sphere points. One band has no moment response to an in-plane field (b = 0), so the
     solve is the right-hand side sweep only; ``B2-orb`` is the 3D p-orbital film with
     the same sampling, a real 3D Krylov solve.
B3   B1 at d/l in {0.1, 1, 10, 100, 1000}, N_x = 400: Krylov iterations with the DSA
     preconditioner and without; ``B3-rand``: the same with a random right-hand side
     (all slow modes excited, including the conserved density).
S    cost growth of B1 with N_x (100 ... 800) and with N_s (64 ... 512 per band).
L    lattice case (issue 9): geometries/fcc_spd_soc_film.toml, sp3d5 + SOC Slater-Koster fcc
     (001) film, N = 18, 3D, lattice_grid 42 (2.2e4 Fermi points), sea_grid 24, N_x = 200,
     one whole run (``benchmarks/bench_lattice.py``) with the stages timed separately:
     Fermi surface, the rest of the setup (collision operator), observable weights + the
     Fermi-sea (intrinsic) grid, operator, solve, observables; petsc on 1 and 2 ranks, peak
     memory per rank. Aims: whole run <= 120 s on 2 cores, <= 4 GB per rank, speed-up
     1 -> 2 ranks >= 1.7.
W    Wannier90 film (issue 10): geometries/pt_001_film.toml, the real Pt model (N = 18,
     617 R vectors, read from the .tar.gz beside the repository), lattice_grid 36 (2.0e4
     Fermi points), sea_grid 16, N_x = 200, one whole run (``benchmarks/pt_film_bench.py``)
     timed by stage (model, Fermi surface, collision, weights + Fermi sea, operator, solve,
     observables); petsc on 1 and 2 ranks, peak memory per rank. Aim: whole run <= 120 s
     on 2 cores. Skipped with a one-line reason when the model file is absent.
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
STRIP = os.path.join(ROOT, "geometries", "rashba_strip.toml")
WORKER = os.path.join(HERE, "bench_case.py")
LATTICE_WORKER = os.path.join(HERE, "bench_lattice.py")
LATTICE_CASE = os.path.join(ROOT, "geometries", "fcc_spd_soc_film.toml")
LATTICE = ["fermi_surface.lattice_grid=42", "fermi_surface.sea_grid=24", "slab.n_x=200"]
#: aims of issue 9 for the L rows
LATTICE_AIMS = {"seconds_2_ranks": 120.0, "MB_per_rank": 4096.0, "speedup": 1.7}
LATTICE_STAGES = ("fermi_surface", "collision", "weights", "operator", "solve", "observables",
                  "total")
PT_WORKER = os.path.join(HERE, "pt_film_bench.py")
PT_CASE = os.path.join(ROOT, "geometries", "pt_001_film.toml")
PT_STAGES = ("model",) + LATTICE_STAGES
PT_AIM_SECONDS_2_RANKS = 120.0
FILM = ["model.kind=parabolic", "model.dimension=3", "model.effective_mass=1.0",
        "model.alpha_R=0.0", "fermi_surface.fermi_level_eV=1.0", "fermi_surface.n_polar=16",
        "fermi_surface.n_angles=64", "slab.thickness_mfp=1.0", "slab.n_x=200",
        "field.direction=[0.0, 1.0, 0.0]", 'observables.names=["density","current_y"]']
ORB = [s for s in FILM if not s.startswith(("model.kind", "observables"))] + [
    "model.kind=orbital_p", "model.beta_eV_nm2=0.05", "fermi_surface.n_polar=8",
    'observables.names=["density","current_y"]',
    # the paper's form, as in docs/performance.md (the default 'auto' is the matrix form here)
    "disorder.intraband_form='equal_occupation'"]


def measurements(repeat):
    """(group, label, ranks, backend, extra args) in the order they run."""
    m = []
    m.append(("B1", "B1", 0, "scipy", []))
    m.append(("B1", "B1", 1, "petsc", []))
    m.append(("B1", "B1", 2, "petsc", []))
    m.append(("B1", "B1-naive", 0, "scipy", ["--naive", "--repeat", "1"]))
    m.append(("B2", "B2", 0, "scipy", sum((["--set", s] for s in FILM), [])))
    m.append(("B2", "B2", 2, "petsc", sum((["--set", s] for s in FILM), [])))
    m.append(("B2", "B2-orb", 0, "scipy", sum((["--set", s] for s in ORB), [])))
    m.append(("B2", "B2-orb", 2, "petsc", sum((["--set", s] for s in ORB), [])))
    for rand in (False, True):
        for pre in ("dsa", "none"):
            for k in (0.1, 1, 10, 100, 1000):
                extra = ["--set", f"slab.thickness_mfp={k}", "--set",
                         f'solver.preconditioner="{pre}"', "--set", "solver.max_iterations=400",
                         "--repeat", "5" if pre == "dsa" else "1"]
                if rand:
                    extra.append("--random-rhs")
                m.append(("B3", "B3-rand" if rand else "B3", 0, "scipy", extra))
    for nx in (100, 200, 400, 800):
        m.append(("S", "S-nx", 1, "petsc", ["--set", f"slab.n_x={nx}"]))
    for na in (64, 128, 256, 512):
        m.append(("S", "S-ns", 1, "petsc", ["--set", f"fermi_surface.n_angles={na}"]))
    for ranks in (1, 2):
        m.append(("L", "L-fcc", ranks, "petsc", ["--lattice"] + sum((["--set", s] for s in LATTICE), [])))
    for ranks in (1, 2):
        m.append(("W", "W-pt", ranks, "petsc", ["--pt-film"]))
    return m


def mpiexec():
    exe = os.environ.get("SLABQKT_MPIEXEC")
    if exe:
        return exe
    proc = subprocess.run(["bash", os.path.join(ROOT, "tools", "find_mpiexec.sh")],
                          capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else None


def run_one(ranks, backend, extra, repeat, launcher):
    if extra and extra[0] == "--lattice":  # one whole lattice run, stages timed
        cmd = [sys.executable, LATTICE_WORKER, LATTICE_CASE, "--backend", backend] + extra[1:]
    elif extra and extra[0] == "--pt-film":  # the Pt (001) film, model stage timed too
        cmd = [sys.executable, PT_WORKER, PT_CASE, "--backend", backend] + extra[1:]
    else:
        cmd = [sys.executable, WORKER, STRIP, "--backend", backend]
        if "--repeat" not in extra:
            cmd += ["--repeat", str(repeat)]
        cmd += extra
    if ranks >= 1:
        if not launcher:
            return None, "no MPICH launcher"
        cmd = [launcher, "-n", str(ranks)] + cmd
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               SLABQKT_LOG_LEVEL="WARNING", PYTHONPATH=ROOT + os.pathsep +
               os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    for ln in proc.stdout.splitlines():
        if ln.startswith("BENCH "):
            return json.loads(ln[6:]), None
    return None, (proc.stderr.strip().splitlines() or ["failed"])[-1]


COLS = ["case", "N_x", "N_s", "d/l", "unknowns", "phi unknowns", "backend", "ranks", "prec",
        "solve s", "iterations", "apply ms", "peak MB", "B/phi"]


def fmt_row(label, r):
    it = r["iterations"]
    return [label, r["n_x"], r["n_states"], f"{r['d_over_l']:g}", r["n_unknowns"], r["n_phi"],
            r["backend"] + ("-superlu" if label.endswith("naive") else ""), r["ranks"],
            r["preconditioner"] if not label.endswith("naive") else "-",
            f"{r['seconds']:.4f}" if r["seconds"] == r["seconds"] else "-",
            it if it >= 0 else f"n.c. (>{400})", f"{r['apply_ms']:.2f}"
            if r["apply_ms"] == r["apply_ms"] else "-", f"{r['maxrss_MB']:.0f}",
            f"{r['bytes_per_phi']:.0f}"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", default="", help="comma-separated groups: B1,B2,B3,S,L,W")
    ap.add_argument("--repeat", type=int, default=15, help="solves per measurement (best is kept)")
    ap.add_argument("--markdown", action="store_true", help="print a markdown table")
    args = ap.parse_args(argv)
    groups = set(args.only.split(",")) if args.only else None
    launcher = mpiexec()
    print(f"# machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
          f"{platform.python_implementation()} {platform.python_version()}; launcher {launcher}")
    print("# times: best of --repeat solves, slowest rank; one BLAS thread per process")
    widths = [9, 6, 6, 7, 10, 14, 15, 7, 6, 10, 12, 10, 9, 7]
    if args.markdown:
        print("| " + " | ".join(COLS) + " |")
        print("|" + "|".join("---" for _ in COLS) + "|")
    else:
        print("".join(f"{c:>{w}}" for c, w in zip(COLS, widths)))
    results, lattice_rows, pt_rows = [], [], []
    t_all = time.perf_counter()
    for group, label, ranks, backend, extra in measurements(args.repeat):
        if groups and group not in groups:
            continue
        r, err = run_one(ranks, backend, extra, args.repeat, launcher)
        if r is None:
            print(f"{label}: {backend} on {max(ranks, 1)} rank(s) failed: {err}", flush=True)
            continue
        results.append((label, r))
        if group == "L":
            lattice_rows.append(r)
            continue
        if group == "W":
            pt_rows.append(r)
            continue
        cells = fmt_row(label, r)
        if args.markdown:
            print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)
        else:
            print("".join(f"{str(c):>{w}}" for c, w in zip(cells, widths)), flush=True)
    summary(results)
    lattice_summary(lattice_rows, args.markdown)
    pt_summary(pt_rows, args.markdown)
    print(f"# total {time.perf_counter() - t_all:.0f} s")


def stage_table(rows, stages, title, markdown=False):
    """One row per rank count of a whole-run benchmark: sizes, seconds per stage, peak memory."""
    cols = ["ranks", "Fermi points", "N", "N_x", "unknowns", "iterations"] + \
        [f"{s} s" for s in stages] + ["peak MB/rank"]
    print(title)
    if markdown:
        print("| " + " | ".join(cols) + " |")
        print("|" + "|".join("---" for _ in cols) + "|")
    else:
        print("".join(f"{c:>15}" for c in cols))
    for r in rows:
        cells = [r["ranks"], r["n_states"], r["N"], r["n_x"], r["n_unknowns"], r["iterations"]] + \
            [f"{r[s]:.2f}" for s in stages] + [f"{r['maxrss_MB']:.0f}"]
        if markdown:
            print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)
        else:
            print("".join(f"{str(c):>15}" for c in cells), flush=True)


def lattice_summary(rows, markdown=False):
    """The L table: stage seconds per rank count, peak memory, and the aims of issue 9."""
    if not rows:
        return
    stage_table(rows, LATTICE_STAGES, "# L: sp3d5 + SOC fcc (001) film "
                "(geometries/fcc_spd_soc_film.toml), one whole run, wall seconds per stage "
                "(slowest rank)", markdown)
    by = {r["ranks"]: r for r in rows}
    a = LATTICE_AIMS
    if 2 in by:
        t2, mb = by[2]["total"], max(r["maxrss_MB"] for r in rows)
        print(f"# L: whole run on 2 ranks {t2:.1f} s (aim <= {a['seconds_2_ranks']:g}: "
              f"{'met' if t2 <= a['seconds_2_ranks'] else 'MISSED'}); peak {mb:.0f} MB per rank "
              f"(aim <= {a['MB_per_rank']:g}: {'met' if mb <= a['MB_per_rank'] else 'MISSED'})")
    if 1 in by and 2 in by:
        sp = {s: by[1][s] / by[2][s] for s in LATTICE_STAGES if by[2][s] > 0}
        print(f"# L: speed-up 1 -> 2 ranks {sp['total']:.2f} (aim >= {a['speedup']:g}: "
              f"{'met' if sp['total'] >= a['speedup'] else 'MISSED'}); per stage "
              + ", ".join(f"{s} {v:.2f}" for s, v in sp.items() if s != "total"))


def pt_summary(rows, markdown=False):
    """The W table: the Pt (001) film, stage seconds per rank count, peak memory, the aim."""
    if not rows:
        return
    stage_table(rows, PT_STAGES, "# W: Pt (001) film from the Wannier90 model "
                "(geometries/pt_001_film.toml), one whole run, wall seconds per stage "
                "(slowest rank)", markdown)
    by = {r["ranks"]: r for r in rows}
    if 2 in by:
        t2 = by[2]["total"]
        print(f"# W: whole run on 2 ranks {t2:.1f} s (aim <= {PT_AIM_SECONDS_2_RANKS:g}: "
              f"{'met' if t2 <= PT_AIM_SECONDS_2_RANKS else 'MISSED'}); peak "
              f"{max(r['maxrss_MB'] for r in rows):.0f} MB per rank")
    print("# W: edge excess (left wall) s_z, L_z and sigma_film/sigma_bulk per rank count: "
          + "; ".join(f"{r['ranks']}: {r['excess_spin_z']:.6e}, {r['excess_orbital_z']:.6e}, "
                      f"{r['conductivity_ratio']:.8f}" for r in rows))
    if 1 in by and 2 in by:
        print(f"# W: speed-up 1 -> 2 ranks {by[1]['total'] / by[2]['total']:.2f}")


def summary(results):
    """The acceptance numbers of issue 4, from the rows just measured."""
    def pick(label, **kw):
        for lab, r in results:
            if lab == label and all(r.get(k) == v for k, v in kw.items()):
                return r
        return None
    sc, p1, p2 = pick("B1", backend="scipy"), pick("B1", backend="petsc", ranks=1), \
        pick("B1", backend="petsc", ranks=2)
    if sc and p1 and p2:
        print(f"# B1: petsc 1 rank / 2 ranks speed-up {p1['seconds'] / p2['seconds']:.2f} "
              f"(apply {p1['apply_ms'] / p2['apply_ms']:.2f}); scipy / petsc(1) "
              f"{sc['seconds'] / p1['seconds']:.2f}")
    for lab in ("B3", "B3-rand"):
        for pre in ("dsa", "none"):
            rows = {round(r["d_over_l"], 6): r["iterations"] for label, r in results
                    if label == lab and r["preconditioner"] == pre}
            if rows:
                a, b = rows.get(1.0), rows.get(1000.0)
                ratio = f"{b / a:.2f}" if a and b and b > 0 else "n/a"
                print(f"# {lab} {pre}: iterations " + ", ".join(
                    f"d/l={k:g}: {v if v >= 0 else 'n.c.'}" for k, v in sorted(rows.items()))
                    + f"; (d/l=1000)/(d/l=1) = {ratio}")


if __name__ == "__main__":
    main()
