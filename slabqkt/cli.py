"""Command line: ``slabqkt run|bulk|plot|scan``.

PETSc options (``-ksp_type gmres -ksp_monitor`` ...) pass through to the
PETSc backend: arguments starting with a single dash are left to PETSc.
"""
import argparse
import os
import sys

from .errors import SlabQKTError


def _split_petsc(argv):
    """Separate PETSc options (single dash + letter, and their values) from ours."""
    ours, petsc = [], []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("-") and not a.startswith("--") and len(a) > 2 and a[1].isalpha():
            petsc.append(a)
            if i + 1 < len(argv) and not argv[i + 1].startswith("-"):
                petsc.append(argv[i + 1])
                i += 1
        else:
            ours.append(a)
        i += 1
    return ours, petsc


def _parser():
    p = argparse.ArgumentParser(prog="slabqkt", description="Quantum kinetic slab transport "
                                "(Valet & Raimondi) on x times the Fermi surface.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="solve a slab case, write the HDF5 result and plots")
    r.add_argument("case", help="case file (TOML)")
    r.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override a case key (value parsed as TOML)")
    r.add_argument("--out", help="result file (default: output.file or results/<name>.h5)")
    r.add_argument("--backend", choices=("scipy", "petsc"), help="override solver.backend")
    r.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    b = sub.add_parser("bulk", help="homogeneous bulk solution: conductivity and densities")
    b.add_argument("case")
    b.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    b.add_argument("--out", help="bulk result file (default: results/<name>_bulk.h5)")
    pl = sub.add_parser("plot", help="(re)draw the plots of a result file")
    pl.add_argument("file")
    s = sub.add_parser("scan", help="parameter scan (see docs/scans.md)")
    s.add_argument("case")
    s.add_argument("rest", nargs=argparse.REMAINDER)
    return p


def _out_path(case, out):
    if out:
        return out
    if case["output"].get("file"):
        return case["output"]["file"]
    return os.path.join("results", case.get("name", "case") + ".h5")


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    ours, petsc_opts = _split_petsc(argv)
    args = _parser().parse_args(ours)
    try:
        return _dispatch(args, petsc_opts)
    except SlabQKTError as exc:
        sys.stderr.write(f"slabqkt: error: {_rank_tag()}{exc}\n")  # one write: one line
        _abort_mpi(2)
        return 2
    except KeyboardInterrupt:
        print("slabqkt: interrupted", file=sys.stderr)
        _abort_mpi(130)
        return 130
    except Exception:
        # a bug on one rank: show it, then take the other ranks down (no hang)
        if _mpi_size() > 1:
            import traceback
            traceback.print_exc()
            _abort_mpi(1)
        raise


def _mpi_size():
    mpi = sys.modules.get("mpi4py.MPI")
    return mpi.COMM_WORLD.size if mpi is not None else 1


def _rank_tag():
    """'[rank i/N] ' under MPI (every rank reports its own error), '' otherwise."""
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is None or mpi.COMM_WORLD.size == 1:
        return ""
    return f"[rank {mpi.COMM_WORLD.rank}/{mpi.COMM_WORLD.size}] "


def _abort_mpi(code):
    """Under MPI an error on one rank must not leave the others waiting.

    The pause lets the launcher forward what the ranks printed before
    MPI_Abort tears the job down (without it the message is sometimes lost),
    and lets ranks failing together print their own line.
    """
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is not None and mpi.COMM_WORLD.size > 1:
        import time
        sys.stdout.flush()
        sys.stderr.flush()
        time.sleep(0.5)
        mpi.COMM_WORLD.Abort(code)


def _dispatch(args, petsc_opts):
    from . import case as case_mod
    if args.command == "scan":
        from .scan import main as scan_main
        return scan_main([args.case] + args.rest + petsc_opts)
    if args.command == "plot":
        from .plots import plot_result, stem_of
        from .result import load_result
        res = load_result(args.file)
        if res.x is None:
            raise SlabQKTError(f"{args.file} is a bulk result: nothing to plot against x")
        for p in plot_result(res, stem_of(args.file)):
            print(p)
        return 0
    overrides = list(args.set)
    if getattr(args, "backend", None):
        overrides.append(f"solver.backend={args.backend}")
    case = case_mod.load_case(args.case, overrides)
    if petsc_opts and case["solver"]["backend"] != "petsc":
        raise SlabQKTError(f"PETSc options {' '.join(petsc_opts)} given but solver.backend = "
                           f"'{case['solver']['backend']}' (use --backend petsc)")
    from .simulation import Simulation
    from .solvers import get_backend
    backend = get_backend(case["solver"]["backend"])
    if petsc_opts:
        backend.set_options(petsc_opts)
    sim = Simulation(case, backend)
    if args.command == "bulk":
        res = sim.run_bulk()
        if backend.is_root:
            _print_bulk(res)
            out = args.out or os.path.join("results", case.get("name", "case") + "_bulk.h5")
            print(f"result: {res.save(out)}")
        return 0
    res = sim.run()
    if backend.is_root:
        from .plots import plot_result, stem_of
        path = res.save(_out_path(case, args.out))
        print(f"result: {path}")
        print(f"conductivity ratio sigma_film/sigma_bulk = {res.conductivity_ratio:.8f}")
        print(f"mean free path {res.attrs['mean_free_path_nm']:.5g} nm, tau "
              f"{res.attrs['tau_fs']:.5g} fs, {res.attrs['krylov_iterations']} Krylov iterations, "
              f"{res.attrs['solve_seconds']:.3g} s solve")
        if case["output"]["plots"] and not args.no_plots:
            for p in plot_result(res, stem_of(path)):
                print(f"plot: {p}")
    backend.barrier()
    return 0


def _print_bulk(res):
    a = res.attrs
    print(f"sigma_bulk = {a['sigma_bulk_SI']:.6g} {a['sigma_bulk_SI_unit']}   "
          f"tau = {a['tau_fs']:.5g} fs   l = {a['mean_free_path_nm']:.5g} nm   "
          f"n_i v0^2 = {a['n_i_v0_sq']:.5g} eV^2 nm^{a['dimension']}")
    E = sum(v * v for v in a["field_V_per_nm"]) ** 0.5 * 1e9
    print(f"densities at |E| = {E:.4g} V/m, per nm^{a['dimension']}:")
    print(f"{'observable':<20}{'unit':<12}{'intra':>14}{'intrinsic':>14}{'disorder':>14}{'total':>14}")
    for name, parts in res.observables.items():
        print(f"{name:<20}{res.units[name]:<12}" + "".join(
            f"{float(parts[p]):>14.6g}" for p in ("intra", "intrinsic", "disorder", "total")))


if __name__ == "__main__":
    sys.exit(main())
