"""Running a scan: one process or an MPI ensemble, resumable, safe beside other jobs.

Under ``mpiexec -n N`` the world communicator is split into N/G groups of G ranks
(``comm.Split``, as Firedrake's ``Ensemble``); each group solves one point at a time on
its sub-communicator and takes the next unclaimed point as soon as it is free (claim
files, so no rank has to serve requests while it computes). A rerun of the same command
solves only the points without a complete result file. Another job on the same folder
(a second ``slabqkt scan`` started at the same time) shares the work: a point claimed by a
live job is left to it, and a job waits for such points before it combines. See
``docs/scans.md``. The command line (``slabqkt scan``) is parsed in :mod:`slabqkt.cli`.
"""
import dataclasses
import logging
import os
import sys
import time

from ..case import CaseError
from ..errors import SlabQKTError
from ..tools import Progress, get_logger
from .dataset import combine
from .spec import build_scan
from .store import Store, point_path, prepare_directory, read_point

log = get_logger("scan")

_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")
_RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")
#: seconds between looks at the claims of another job while waiting for its points
POLL_SECONDS = 0.2


@dataclasses.dataclass
class ScanOptions:
    """What ``slabqkt scan`` was asked to do (see ``slabqkt scan --help``)."""

    case: str
    vary: list = dataclasses.field(default_factory=list)
    mode: str = None
    set: list = dataclasses.field(default_factory=list)
    dir: str = None
    out: str = None
    group_size: str = "1"
    backend: str = None
    no_plots: bool = False


def world_comm():
    """COMM_WORLD if this process runs under an MPI launcher with several ranks, else None.

    mpi4py is imported only when the environment shows a launcher (or it is loaded already),
    so that a serial scan never initialises MPI.
    """
    launched = any(v in os.environ for v in _SIZE_VARS + _RANK_VARS)
    if "mpi4py.MPI" not in sys.modules and not launched:
        return None
    try:
        from mpi4py import MPI
    except ImportError as exc:
        size = next((os.environ[v] for v in _SIZE_VARS if v in os.environ), "1")
        if size.isdigit() and int(size) > 1:
            raise SlabQKTError(f"started by an MPI launcher with {size} ranks but mpi4py cannot be "
                               f"imported ({exc}); run `make mpi` or run the scan on one process")
        return None
    comm = MPI.COMM_WORLD
    return comm if comm.size > 1 else None


def _agree(world, fn):
    """Run ``fn`` on every rank; on any SlabQKTError all ranks learn about it.

    Returns (value, error message or None). Serial: exceptions propagate.
    """
    if world is None:
        return fn(), None
    try:
        val, err = fn(), None
    except SlabQKTError as exc:
        val, err = None, str(exc)
    errs = world.allgather(err)
    first = next((e for e in errs if e), None)
    return val, first


def _group_size(text, nranks, backend):
    try:
        g = int(text)
    except (TypeError, ValueError):
        g = None
    if g is None or g < 1 or nranks % g:
        raise CaseError("--group-size", text, f"allowed: a positive divisor of the number of MPI "
                        f"ranks ({nranks})")
    if g > 1 and backend != "petsc":
        raise CaseError("--group-size", g, "allowed: 1 with solver.backend = 'scipy' (groups of "
                        "several ranks need --backend petsc)")
    return g


def run_command(options, petsc_opts=()):
    """Run ``slabqkt scan`` with parsed options; returns the exit code.

    Serially a bad input raises (one-line :class:`SlabQKTError`); under MPI all ranks agree
    on the error, rank 0 prints it and every rank returns 2.
    """
    petsc_opts = list(petsc_opts)
    world = world_comm()
    rank = 0 if world is None else world.rank
    nranks = 1 if world is None else world.size

    def setup():
        scan = build_scan(options.case, options.vary, options.mode, options.set, options.dir,
                          options.backend)
        backend_name = scan.base["solver"]["backend"]
        g = _group_size(options.group_size, nranks, backend_name)
        if petsc_opts and backend_name != "petsc":
            raise SlabQKTError(f"PETSc options {' '.join(petsc_opts)} given but solver.backend = "
                               f"'{backend_name}' (use --backend petsc)")
        return scan, g

    scan_g, err = _agree(world, setup)
    if err:
        if rank == 0:
            print(f"slabqkt: error: {err}", file=sys.stderr)
        return 2
    scan, group_size = scan_g

    def prepare():
        if options.out:  # before any point is solved: never replace what is not a scan file
            from ..result import check_output
            check_output(options.out, protect=(options.case,), formats=("slabqkt-scan",))
        return prepare_directory(scan)

    prepared, err = _agree(world, lambda: prepare() if rank == 0 else None)
    if err:
        if rank == 0:
            print(f"slabqkt: error: {err}", file=sys.stderr)
        return 2
    if world is not None:
        prepared = world.bcast(prepared, root=0)
    _run(scan, options, world, group_size, prepared, petsc_opts)
    return 0


def _point_label(scan, index):
    return ", ".join(f"{k} = {v!r}" for k, v in scan.spec.assignments()[index])


class _Scheduler:
    """Which point a group leader solves next (claims shared with every job on the folder)."""

    def __init__(self, store, claims, todo, run_id):
        self.store, self.claims, self.todo, self.run_id = store, claims, todo, run_id
        self.settled = set()  # done, ours, or left to another group of this run

    def next_point(self, on_wait=None):
        """Index to solve now, or -1 when nothing is left for this group.

        Points claimed by a live job of another run are waited for (they may come back if
        that job stops or its point fails).
        """
        announced = False
        while True:
            waiting = []
            for i in self.todo:
                if i in self.settled:
                    continue
                if self.claims.try_claim(i):
                    self.settled.add(i)
                    if self.store.is_done(i):  # written by another job meanwhile
                        self.claims.release(i)
                        continue
                    return i
                if self.store.is_done(i):
                    self.settled.add(i)
                elif not self.store.locking or self.claims.owner(i) == self.run_id:
                    self.settled.add(i)  # another group of this run solves it
                else:
                    waiting.append(i)
            if not waiting:
                return -1
            if not announced:
                log.info("waiting for %d point(s) being solved by another job on %s",
                         len(waiting), self.store.directory)
                announced = True
            if on_wait is not None:
                on_wait()
            time.sleep(POLL_SECONDS)


def _provenance(backend):
    """slabqkt.provenance.collect() if that module exists, else {}."""
    try:
        from ..provenance import collect
    except ImportError:
        return {}
    try:
        return dict(collect(backend=backend))
    except Exception as exc:  # provenance must never cost the result
        log.warning("provenance not recorded: %s", exc)
        return {}


def _run(scan, options, world, group_size, prepared, petsc_opts):
    from ..simulation import Simulation
    from ..solvers import get_backend
    run_id, done_before, locking = prepared
    rank = 0 if world is None else world.rank
    nranks = 1 if world is None else world.size
    sub = None
    if world is not None:
        sub = world.Split(rank // group_size, rank)
    leader = sub is None or sub.rank == 0
    n_groups = nranks // group_size
    backend_name = scan.base["solver"]["backend"]
    backend = get_backend(backend_name, sub) if backend_name == "petsc" else get_backend("scipy")
    if petsc_opts:
        backend.set_options(petsc_opts)
    store = Store(scan.directory, scan.size, locking)
    done_set = set(done_before)
    todo = [i for i in range(scan.size) if i not in done_set]
    claims = store.claims(run_id)
    sched = _Scheduler(store, claims, todo, run_id)
    if rank == 0:
        print(f"scan: {scan.size} points ({scan.spec.describe()}) in {scan.directory}: "
              f"{len(done_before)} done before, {len(todo)} to solve on {n_groups} group(s) of "
              f"{group_size} rank(s)", flush=True)
    quiet = os.environ.get("SLABQKT_LOG_LEVEL", "INFO").upper() != "DEBUG"
    sim_log = logging.getLogger("slabqkt.simulation")
    old_level = sim_log.level
    if quiet:
        sim_log.setLevel(logging.WARNING)
    progress = Progress(len(todo), "points", logger=log)

    last = [0.0]

    def report(force=False):
        # rank 0 counts the point files of all groups (a listing, at most once a second)
        if rank != 0 or not todo or (not force and time.perf_counter() - last[0] < 1.0):
            return
        last[0] = time.perf_counter()
        now = min(store.count_files() - len(done_before), len(todo))
        if now > progress.done:
            progress.update(now - progress.done)

    solved = 0
    failed = []
    try:
        while True:
            index = sched.next_point(report) if leader else -1
            if sub is not None and sub.size > 1:
                index = sub.bcast(index, root=0)
            if index < 0:
                break
            try:
                res = Simulation(scan.cases[index], backend).run()
            except SlabQKTError as exc:
                # the same on every rank of the group; the other points go on
                failed.append((index, str(exc)))
                if leader:
                    claims.release(index)
                    log.error("scan point %d failed: %s", index, exc)
                continue
            if leader:
                try:
                    res.save(point_path(scan.directory, index))
                finally:
                    claims.release(index)
                solved += 1
            report()
        if world is not None:
            req = world.Ibarrier()
            if rank == 0:
                while not req.Test():
                    report()
                    time.sleep(0.05)
            else:
                req.Wait()
            solved_all = world.reduce(solved, root=0)
            failed = world.gather(failed if leader else [], root=0)
            failed = sorted(f for part in (failed or []) for f in part)
        else:
            solved_all = solved
    finally:
        claims.release_all()  # an interrupted solve leaves its point to the next job
        sim_log.setLevel(old_level)
    if rank != 0:
        return None
    report(force=True)
    with store.locked():
        with open(os.path.join(scan.directory, "runs.log"), "a") as f:
            f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} run {run_id}: solved {solved_all} of "
                    f"{scan.size} points ({len(done_before)} done before"
                    + (f", {len(failed)} failed" if failed else "") + f"), {nranks} rank(s), "
                    f"{n_groups} group(s) of {group_size}, backend {backend_name}\n")
        if failed:
            i, msg = failed[0]
            raise SlabQKTError(f"{len(failed)} of {scan.size} scan points failed (the others are "
                               f"kept; a rerun retries the failed ones): point {i} "
                               f"({_point_label(scan, i)}): {msg}")
        results, missing = [], []
        for i in range(scan.size):
            try:
                results.append(read_point(point_path(scan.directory, i)))
            except SlabQKTError:
                missing.append(i)
        if missing:
            raise SlabQKTError(f"scan points {missing[:10]} have no complete result after the "
                               "run; rerun the same command")
        print(f"scan: solved {solved_all} point(s) in this run ({len(done_before)} were done "
              f"before, {scan.size} in all)", flush=True)
        out = options.out or os.path.join(scan.directory, "scan.h5")
        data = combine(scan, run_info={"points_solved_last_run": int(solved_all), "ranks": nranks,
                                       "group_size": group_size, "backend": backend_name},
                       results=results)
        data.provenance = _provenance(backend)
        data.save(out)
        print(f"result: {out}", flush=True)
        if not options.no_plots and scan.base["output"]["plots"]:
            from .plots import plot_scan
            stem = os.path.splitext(out)[0]
            for p in plot_scan(data, stem):
                print(f"plot: {p}", flush=True)
    return data


def run_scan(scan, out=None, plots=False):
    """Solve every missing point of a :class:`~slabqkt.scans.Scan` in this process and combine.

    Parameters
    ----------
    scan : Scan
        e.g. ``build_scan("geometries/fuchs_specularity_thickness_scan.toml")``.
    out : str, optional
        Combined file (default ``DIR/scan.h5``).
    plots : bool
        Also write the summary PNGs.

    Returns
    -------
    ScanData
    """
    options = ScanOptions(case="", out=out, no_plots=not plots)
    return _run(scan, options, None, 1, prepare_directory(scan), [])
