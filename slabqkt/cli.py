"""Command line: ``slabqkt run|bulk|kubo|plot|info|scan``.

PETSc options (``-ksp_type gmres -ksp_monitor`` ...) pass through to the
PETSc backend: arguments starting with a single dash are left to PETSc.

Exit codes: 0 done, 2 a one-line error (``slabqkt: error: ...``), 130
interrupted (SIGINT), 143 terminated (SIGTERM; temporary files removed).
"""
import argparse
import os
import sys

from .errors import SlabQKTError
from .tools.options import is_number

#: environment variables of MPI launchers (MPICH/Hydra, Open MPI, PMIx)
_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")
_RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")


def _split_petsc(argv):
    """Separate PETSc options (single dash + letter, and their values) from ours.

    The token after a PETSc option is its value if it does not start with a
    dash, or if it is a number (``-ksp_rtol -0.5``, ``-ksp_divtol -inf``).
    """
    ours, petsc = [], []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a.startswith("-") and not a.startswith("--") and len(a) > 2 and a[1].isalpha() \
                and not is_number(a):
            petsc.append(a)
            if i + 1 < len(argv) and (not argv[i + 1].startswith("-") or is_number(argv[i + 1])):
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
    r.add_argument("--force", action="store_true", help="replace an existing --out file even if "
                   "it is not a slabqkt result (never a link, folder, device or the case file)")
    b = sub.add_parser("bulk", help="homogeneous bulk solution: conductivity and densities")
    b.add_argument("case")
    b.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    b.add_argument("--out", help="bulk result file (default: results/<name>_bulk.h5)")
    b.add_argument("--force", action="store_true", help="replace an existing --out file even if "
                   "it is not a slabqkt result")
    _kubo_arguments(sub.add_parser(
        "kubo", help="bulk Kubo-Bastin response with ladder vertex corrections beside the "
        "kinetic theory's bulk parts (docs/kubo.md)"))
    pl = sub.add_parser("plot", help="(re)draw the plots of a result file or a scan")
    pl.add_argument("file", help="result file (.h5), scan file (scan.h5) or scan folder")
    inf = sub.add_parser("info", help="what a result or scan file holds, and how it was made")
    inf.add_argument("file")
    _scan_arguments(sub.add_parser(
        "scan", help="parameter scan (see docs/scans.md)", description=_SCAN_DESCRIPTION,
        epilog=_SCAN_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter))
    return p


# -- slabqkt kubo (slabqkt.kubo.driver) --------------------------------------------------------
def _kubo_arguments(k):
    k.add_argument("case", help="case file (TOML)")
    k.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE")
    k.add_argument("--broadening", default="1,0.5,0.25,0.125", metavar="S1,S2,...",
                   help="disorder strengths as factors of the case's n_i v0^2 (Gamma scales "
                   "with them); several: extrapolate Gamma -> 0 (default 1,0.5,0.25,0.125)")
    k.add_argument("--n-angles", type=int, default=32, help="angles (2D) or azimuths (3D) of "
                   "the k rule (default 32)")
    k.add_argument("--n-polar", type=int, default=None, help="3D: Gauss nodes in cos(theta)")
    k.add_argument("--n-gauss", type=int, default=10, help="Gauss nodes per radial panel")
    k.add_argument("--tail-eV", type=float, default=30.0, help="the k rule reaches where all "
                   "bands are this far above the Fermi level (default 30 eV)")
    k.add_argument("--n-k", type=int, default=None, help="lattice models: base zone grid, "
                   "cells per reciprocal axis (default 64 in 2D, 24 in 3D; "
                   "slabqkt.kubo.lattice)")
    k.add_argument("--k-margin", type=float, default=None, help="lattice models: split cells "
                   "within this many of their energy spreads of the Fermi level (default 4)")
    k.add_argument("--k-resolution", type=float, default=None, help="lattice models: finest "
                   "cells spread at most Gamma/this in energy (default 2)")
    k.add_argument("--k-window", type=float, default=None, help="lattice models: split cells "
                   "within this many Gamma of the Fermi level too (default 3)")
    k.add_argument("--k-slope", choices=("bound", "band"), default=None, help="lattice "
                   "models: energy spread of a cell from the bound on all band slopes "
                   "(default, safe) or from each band's velocity (far fewer points for "
                   "multiband models)")
    k.add_argument("--real-part", choices=("traceless", "none", "full"), default=None,
                   help="Hermitian part of the self-energy kept (default: traceless for "
                   "continuum models, full for lattice models)")
    k.add_argument("--no-qkt", action="store_true", help="skip the kinetic-theory bulk parts")
    k.add_argument("--out", help="result file (default: results/<name>_kubo.h5)")
    k.add_argument("--force", action="store_true", help="replace an existing --out file even "
                   "if it is not a slabqkt Kubo result")


def _run_kubo(args, argv):
    from . import case as case_mod
    from . import provenance
    from .kubo.driver import SampleOptions, run_kubo
    from .result import check_output
    try:
        scales = [float(x) for x in args.broadening.split(",") if x.strip()]
    except ValueError:
        raise SlabQKTError(f"--broadening {args.broadening!r}: allowed a comma-separated list "
                           "of positive numbers, e.g. 1,0.5,0.25,0.125") from None
    for name, val, lo in (("--n-angles", args.n_angles, 2), ("--n-gauss", args.n_gauss, 1)):
        if val < lo:
            raise SlabQKTError(f"{name} {val}: allowed an integer >= {lo}")
    if not args.tail_eV > 0:
        raise SlabQKTError(f"--tail-eV {args.tail_eV}: allowed a positive number of eV")
    if args.n_k is not None and args.n_k < 2:
        raise SlabQKTError(f"--n-k {args.n_k}: allowed an integer >= 2 (cells per reciprocal axis)")
    for name, val in (("--k-margin", args.k_margin), ("--k-window", args.k_window)):
        if val is not None and not val >= 0:
            raise SlabQKTError(f"{name} {val}: allowed a number >= 0")
    if args.k_resolution is not None and not args.k_resolution > 0:
        raise SlabQKTError(f"--k-resolution {args.k_resolution}: allowed a positive number")
    case = case_mod.load_case(args.case, list(args.set))
    out = args.out or os.path.join("results", case.get("name", "case") + "_kubo.h5")
    comm = None
    if _launcher_size() > 1:
        from mpi4py import MPI
        comm = MPI.COMM_WORLD
    root = comm is None or comm.rank == 0
    if root:
        check_output(out, args.force, protect=[args.case], formats=("slabqkt-kubo",))
    lattice = {key: val for key, val in (("n_k", args.n_k), ("margin", args.k_margin),
                                         ("resolution", args.k_resolution),
                                         ("window", args.k_window),
                                         ("slope", args.k_slope)) if val is not None}
    opts = SampleOptions(n_angles=args.n_angles, n_polar=args.n_polar, n_gauss=args.n_gauss,
                         tail_eV=args.tail_eV, lattice=lattice)
    with provenance.timing() as seconds:
        res = run_kubo(case, scales, opts, args.real_part, comm=comm, qkt=not args.no_qkt)
    if root:
        for line in res.table():
            print(line)
        res.provenance = provenance.collect(argv, None, seconds)
        print(f"result: {res.save(out, force=args.force, protect=[args.case])}")
    return 0


# -- slabqkt scan: the arguments (slabqkt.scans runs them) ------------------------------------
_SCAN_DESCRIPTION = """Solve a case at many parameter values: one process, or an MPI ensemble
(mpiexec -n N ... --group-size G). A rerun of the same command solves only the missing points;
several jobs may work on one --dir at once. PETSc options (-ksp_type gmres ...) pass through to
the PETSc backend. See docs/scans.md."""
_SCAN_EPILOG = """VALUES of --vary:
  [0.1, 1, 10]      a TOML list (strings quoted: ["a", "b"]; list-valued keys: a list of lists)
  0.1,1,10          the same, on the command line
  0:1:11            numpy.linspace(0, 1, 11), both ends included
  log:10:1000:13    numpy.geomspace(10, 1000, 13), start and stop > 0

examples:
  slabqkt scan geometries/fuchs_specularity_thickness_scan.toml
  slabqkt scan --dir results/rough.scan geometries/rashba_strip.toml \\
      --vary boundaries.both.roughness_nm=log:0.02:1:7 --vary slab.thickness_mfp=[2,10]
  mpiexec -n 4 slabqkt scan CASE.toml --backend petsc --group-size 2 -ksp_monitor"""


def _scan_arguments(s):
    """Every option of ``slabqkt scan`` (options may come before or after the case)."""
    s.add_argument("case", nargs="?", help="case file (TOML), optionally with a [scan] table")
    s.add_argument("--vary", action="append", default=[], metavar="KEY=VALUES",
                   help="a varied case key and its values (forms below); repeat for more keys; "
                   "replaces the [scan.vary] table of the file; boundaries.both.KEY sets both "
                   "surfaces")
    s.add_argument("--mode", choices=("product", "zip"), help="product: every combination, one "
                   "dimension per key; zip: the i-th values together (default: scan.mode or "
                   "product)")
    s.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key of the base case (value parsed as TOML); repeatable")
    s.add_argument("--dir", metavar="DIR", help="scan folder: new, empty, or this scan's "
                   "(default: scan.directory or results/<case name>.scan)")
    s.add_argument("--out", metavar="FILE", help="combined result (default: DIR/scan.h5)")
    s.add_argument("--group-size", default="1", metavar="G",
                   help="MPI ranks per point (divides the number of ranks; >1 needs --backend "
                   "petsc; default 1)")
    s.add_argument("--backend", choices=("scipy", "petsc"), help="override solver.backend")
    s.add_argument("--no-plots", action="store_true", help="skip the summary PNGs")
    s.set_defaults(_scan_parser=s)


def _run_scan(args, petsc_opts):
    """Run parsed ``slabqkt scan`` arguments; returns the exit code (errors raise)."""
    if args.case is None:
        args._scan_parser.error("a case file is required: slabqkt scan CASE.toml "
                                "[--vary KEY=VALUES ...] (slabqkt scan --help lists the options)")
    from .scans.driver import ScanOptions, run_command
    options = ScanOptions(case=args.case, vary=list(args.vary), mode=args.mode, set=list(args.set),
                          dir=args.dir, out=args.out, group_size=args.group_size,
                          backend=args.backend, no_plots=args.no_plots)
    return run_command(options, petsc_opts)


def scan_main(argv):
    """``slabqkt scan ARGV`` without :func:`main`'s error handling (SlabQKTError raises)."""
    ours, petsc_opts = _split_petsc(list(argv))
    return _run_scan(_parser().parse_args(["scan"] + ours), petsc_opts)


def _out_path(case, out):
    if out:
        return out
    if case["output"].get("file"):
        return case["output"]["file"]
    return os.path.join("results", case.get("name", "case") + ".h5")


def main(argv=None):
    from .tools.signals import Terminated, handle_sigterm
    argv = list(sys.argv[1:] if argv is None else argv)
    ours, petsc_opts = _split_petsc(argv)
    args = _parser().parse_args(ours)
    try:
        with handle_sigterm():
            return _dispatch(args, petsc_opts, argv)
    except SlabQKTError as exc:
        sys.stderr.write(f"slabqkt: error: {_rank_tag()}{exc}\n")  # one write: one line
        _abort_mpi(2)
        return 2
    except Terminated:
        sys.stderr.write(f"slabqkt: interrupted (SIGTERM){_rank_suffix()}\n")
        _abort_mpi(143)
        return 143
    except KeyboardInterrupt:
        sys.stderr.write(f"slabqkt: interrupted{_rank_suffix()}\n")
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


def _rank_suffix():
    tag = _rank_tag().strip()
    return f" {tag}" if tag else ""


def _launcher_size():
    """Number of ranks this process was started with by an MPI launcher (1: none).

    mpi4py is imported only when a launcher's environment variables say so
    (and none gives the size), so that a serial run never initialises MPI.
    """
    mpi = sys.modules.get("mpi4py.MPI")
    if mpi is not None:
        return mpi.COMM_WORLD.size
    for var in _SIZE_VARS:
        if os.environ.get(var, "").strip().isdigit():
            return int(os.environ[var])
    if any(v in os.environ for v in _RANK_VARS):
        try:
            from mpi4py import MPI
        except ImportError:
            return 2 if any(os.environ.get(v, "0") not in ("", "0") for v in _RANK_VARS) else 1
        return MPI.COMM_WORLD.size
    return 1


def _choose_backend(case, args):
    """Under an MPI launcher with several ranks a serial backend would solve the case on
    every rank and all of them would write the same file: take PETSc, or refuse."""
    size = _launcher_size()
    if size <= 1 or case["solver"]["backend"] != "scipy":
        return
    if getattr(args, "backend", None) == "scipy":
        raise SlabQKTError(f"--backend scipy runs on one process, but this run was started by an "
                           f"MPI launcher with {size} ranks (each would solve the same case and "
                           "write the same file): use --backend petsc, or run without mpiexec")
    try:
        from .solvers import petsc_backend  # noqa: F401
    except ImportError as exc:
        raise SlabQKTError(f"started by an MPI launcher with {size} ranks but solver.backend = "
                           f"'scipy' runs on one process, and the petsc backend cannot be imported "
                           f"({exc}): run `make mpi`, or run without mpiexec") from None
    from .tools import get_logger
    get_logger("cli").warning("started by an MPI launcher with %d ranks: solving with the petsc "
                              "backend instead of solver.backend = 'scipy' (give --backend petsc "
                              "to say so)", size)
    case["solver"]["backend"] = "petsc"


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


def _dispatch(args, petsc_opts, argv=()):
    from . import case as case_mod
    from . import provenance
    if args.command == "scan":
        return _run_scan(args, petsc_opts)
    if args.command == "kubo":
        return _run_kubo(args, argv)
    if args.command == "plot":
        return _plot(args.file)
    if args.command == "info":
        from .result import describe_file
        for line in describe_file(args.file):
            print(line)
        return 0
    overrides = list(args.set)
    if getattr(args, "backend", None):
        overrides.append(f"solver.backend={args.backend}")
    import time
    t0 = time.perf_counter()
    with provenance.timing() as seconds:
        with provenance.stage("case"):
            case = case_mod.load_case(args.case, overrides)
            _choose_backend(case, args)
        if petsc_opts and case["solver"]["backend"] != "petsc":
            raise SlabQKTError(f"PETSc options {' '.join(petsc_opts)} given but solver.backend = "
                               f"'{case['solver']['backend']}' (use --backend petsc)")
        from .tools import comm_rank
        root = comm_rank() == 0
        if args.command == "bulk":
            out = args.out or os.path.join("results", case.get("name", "case") + "_bulk.h5")
            plots = []
        else:
            out = _out_path(case, args.out)
            plots = _plot_names(case, out) if case["output"]["plots"] and not args.no_plots else []
        if root:
            # before the solve: a bad --out must not cost the run
            from .result import check_output
            check_output(out, args.force, protect=[args.case], also=plots)
        from .simulation import Simulation
        from .solvers import get_backend
        backend = get_backend(case["solver"]["backend"])
        if petsc_opts:
            backend.set_options(petsc_opts)
        sim = Simulation(case, backend)
        if args.command == "bulk":
            res = sim.run_bulk()
        else:
            res = sim.run()
    seconds["total"] = time.perf_counter() - t0
    if args.command == "bulk":
        if backend.is_root:
            _print_bulk(res)
            res.provenance = provenance.collect(argv, backend, seconds)
            print(f"result: {res.save(out, force=args.force, protect=[args.case])}")
        return 0
    if backend.is_root:
        res.provenance = provenance.collect(argv, backend, seconds)
        path = res.save(out, force=args.force, protect=[args.case])
        print(f"result: {path}")
        print(f"conductivity ratio sigma_film/sigma_bulk = {res.conductivity_ratio:.8f}")
        print(f"mean free path {res.attrs['mean_free_path_nm']:.5g} nm, tau "
              f"{res.attrs['tau_fs']:.5g} fs, {res.attrs['krylov_iterations']} Krylov iterations, "
              f"{res.attrs['solve_seconds']:.3g} s solve")
        if plots:
            for p in _draw(res, path):
                print(f"plot: {p}")
    backend.barrier()
    return 0


def _plot_names(case, out):
    """File names (no folder) of the plots of a run writing ``out``."""
    from .plots import stem_of
    stem = os.path.basename(stem_of(out))
    names = ["current"] + [n for n in case["observables"]["names"]
                           if not (n.startswith("current_") or n == "density")]
    return [f"{stem}_{n}.png" for n in names]


def _draw(res, path):
    """The plots of a result already saved at ``path``; a write error is one line and the
    (complete) result file stays."""
    from .plots import plot_result, stem_of
    try:
        return plot_result(res, stem_of(path))
    except OSError as exc:
        from .result import _reason
        raise SlabQKTError(f"cannot write the plots beside {path} ({_reason(exc)}); the result "
                           f"file {path} is complete") from None


def _plot(path):
    """``slabqkt plot FILE``: a slab result's plots, or a scan's summary plots."""
    from .result import file_kind, load_result
    kind = file_kind(path)
    if kind == "scan":
        paths = _plot_scan(path)
    elif kind in ("bulk", "kubo"):
        raise SlabQKTError(f"{path} is a {kind} result: nothing to plot against x")
    else:
        paths = _draw(load_result(path), path)
    for p in paths:
        print(p)
    return 0


def _plot_scan(path):
    from .scans import plot_scan_path
    return plot_scan_path(path)


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
    # the same per unit field: conductivities (S/m) and spin / orbital Hall conductivities
    # ((hbar/e) S/cm), the spin (orbital) along the first index, the flow along the second,
    # E along field.direction
    print("per unit field (density / |E|):")
    print(f"{'observable':<20}{'unit':<16}{'intra':>14}{'intrinsic':>14}{'disorder':>14}{'total':>14}")
    for name, (parts, unit) in res.per_field().items():
        print(f"{name:<20}{unit:<16}" + "".join(
            f"{parts[p]:>14.6g}" for p in ("intra", "intrinsic", "disorder", "total")))
    if res.intrinsic_error:
        E = sum(v * v for v in a["field_V_per_nm"]) ** 0.5
        sea = res.case.get("fermi_surface", {}).get("sea_grid")
        print(f"intrinsic part, two-grid error estimate (sea_grid {sea} against {sea // 2}):")
        for name, (_, unit) in res.per_field().items():
            if name in res.intrinsic_error:
                factor = res.per_field_factor(name)
                print(f"  {name:<18}+- {res.intrinsic_error[name] / E * factor:.3g} {unit}")


if __name__ == "__main__":
    sys.exit(main())
