"""Parameter scans: MPI ensembles, resumable, one labelled result, summary plots.

``slabqkt scan CASE.toml [--vary KEY=VALUES ...] [--mode product|zip] [--set KEY=VALUE ...]
[--dir DIR] [--out FILE] [--group-size G] [--backend scipy|petsc] [--no-plots]``

Any case key can be varied (``slab.thickness_mfp``, ``boundaries.left.roughness_nm``,
``fermi_surface.fermi_level_eV``, ...); ``boundaries.both.<key>`` sets the same value on
both surfaces. Values are a TOML list (``[0.1, 1, 10]``), ``'start:stop:num'``
(``numpy.linspace``, both ends included) or ``'log:start:stop:num'``
(``numpy.geomspace``). Every point's case goes through :func:`slabqkt.case.resolve`,
so the usual validation applies to every value.

Work layout (``DIR``, default ``results/<case name>.scan``)::

    DIR/scan.toml           resolved base case + expanded scan spec (identity of the scan)
    DIR/points/NNNNNN.h5    one Result per finished point, written atomically
    DIR/claims/<run id>/N   claim files of the running job (O_CREAT | O_EXCL)
    DIR/runs.log            one line per run: points solved, ranks, groups
    DIR/scan.h5             the combined, labelled result (:func:`load_scan`)
    DIR/scan_*.png          summary plots

Under ``mpiexec -n N`` the world communicator is split into N/G groups of G ranks
(``comm.Split``, as Firedrake's ``Ensemble``); each group solves one point at a time on
its sub-communicator and takes the next unclaimed point as soon as it is free (claim
files, so no rank has to serve requests while it computes). A rerun of the same
command solves only the points without a result file; claims of earlier (killed) runs
are discarded at start. See ``docs/scans.md``.
"""
import argparse
import copy
import itertools
import json
import logging
import os
import shutil
import socket
import sys
import tempfile
import time
import uuid

import numpy as np

from . import case as case_mod
from .case import SCHEMA, CaseError, parse_value, read_raw, resolve, set_key, to_toml
from .errors import SlabQKTError
from .result import atomic_h5
from .tools import Progress, get_logger

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

log = get_logger("scan")

#: the five parts of Eq. (1) stored for every observable profile
PARTS = ("intra", "intrinsic", "gradient", "disorder", "total")
#: edge quantities stored per observable, part and surface (see slabqkt.edge)
EDGE_KEYS = ("excess", "at_l10", "at_l2", "at_l", "decay_length", "mid")
SIDES = ("left", "right")
#: per-point scalars copied from Result.attrs: name -> (unit, meaning)
POINT_ATTRS = {
    "thickness_nm": ("nm", "slab thickness d"),
    "mean_free_path_nm": ("nm", "mean free path l"),
    "tau_fs": ("fs", "relaxation time tau"),
    "n_i_v0_sq": ("eV^2 nm^d", "disorder strength n_i v0^2"),
    "fermi_level_eV": ("eV", "chemical potential"),
    "sigma_bulk_SI": ("S/m (3D) or S (2D)", "bulk conductivity along E"),
    "krylov_iterations": ("1", "Krylov iterations of the slab solve"),
    "n_unknowns": ("1", "unknowns of the moment-space system"),
    "solve_seconds": ("s", "wall time of the linear solve"),
}
#: keys that are a property of the run, not of the scan (may differ between reruns)
RUN_KEYS = {("solver", "backend"), ("solver", "petsc"), ("output", "file"), ("output", "plots")}
#: keys of which a case gives at most one: varying one drops the others from the base
EXCLUSIVE = (("slab.thickness_nm", "slab.thickness_mfp"),
             ("disorder.tau_fs", "disorder.mean_free_path_nm", "disorder.n_i_v0_sq"))
RANGE_HELP = ("allowed: a non-empty list of values, 'start:stop:num' or 'log:start:stop:num' "
              "(real start and stop, integer num >= 1; log: start, stop > 0)")
FORMAT = "slabqkt-scan-1"


# ---------------------------------------------------------------------------------------------
# the scan specification
# ---------------------------------------------------------------------------------------------
def check_key(key, value=None):
    """Raise a :class:`CaseError` unless ``key`` is a case key that a scan may vary.

    Allowed: ``section.key`` of :data:`slabqkt.case.SCHEMA` (except ``scan.*``, ``output.*``,
    ``solver.backend``, ``solver.petsc``) and ``boundaries.left|right|both.<surface key>``.
    """
    shown = value if value is not None else "..."
    parts = key.split(".")
    if parts[0] == "boundaries":
        sides = ("left", "right", "both")
        if len(parts) != 3 or parts[1] not in sides or parts[2] not in case_mod._SURFACE:
            raise CaseError(key, shown, "unknown key; allowed: boundaries.left|right|both."
                            + "|".join(case_mod._SURFACE))
        return
    if len(parts) != 2 or parts[0] not in SCHEMA:
        raise CaseError(key, shown, "unknown key; allowed: section.key with section one of "
                        + ", ".join(s for s in SCHEMA if s != "scan"))
    sec, name = parts
    if sec == "scan" or sec == "output" or (sec, name) in RUN_KEYS:
        raise CaseError(key, shown, "cannot be varied; allowed: keys of the physics and numerics "
                        "(not scan.*, output.*, solver.backend, solver.petsc)")
    if name not in SCHEMA[sec]:
        raise CaseError(key, shown, f"unknown key; allowed in [{sec}]: " + ", ".join(SCHEMA[sec]))


def targets(key):
    """The case keys a varied key sets (``boundaries.both.k`` sets left and right)."""
    parts = key.split(".")
    if parts[0] == "boundaries" and parts[1] == "both":
        return [f"boundaries.left.{parts[2]}", f"boundaries.right.{parts[2]}"]
    return [key]


def expand_values(key, spec):
    """The list of values of one varied key.

    Parameters
    ----------
    key : str
    spec : list, scalar or str
        A list (a scalar is a one-value list), ``'start:stop:num'`` (linear, ends included)
        or ``'log:start:stop:num'`` (geometric).
    """
    if isinstance(spec, dict):
        raise CaseError(key, spec, RANGE_HELP)
    if isinstance(spec, (list, tuple)):
        if len(spec) == 0:
            raise CaseError(key, list(spec), RANGE_HELP)
        return list(spec)
    if isinstance(spec, str) and spec.lstrip().startswith("["):
        # not a valid TOML array (e.g. unquoted strings)
        raise CaseError(key, spec, RANGE_HELP + "; strings in a list need quotes")
    if isinstance(spec, str) and "," in spec and ":" not in spec:
        # a bare comma-separated list from the command line: --vary slab.n_x=100,200
        return [parse_value(v.strip()) for v in spec.split(",")]
    if isinstance(spec, str) and ":" in spec:
        fields = [f.strip() for f in spec.split(":")]
        is_log = fields[0].lower() == "log"
        if is_log:
            fields = fields[1:]
        if len(fields) != 3:
            raise CaseError(key, spec, RANGE_HELP)
        try:
            start, stop, num = float(fields[0]), float(fields[1]), float(fields[2])
        except ValueError:
            raise CaseError(key, spec, RANGE_HELP) from None
        if not (np.isfinite(start) and np.isfinite(stop) and np.isfinite(num)) \
                or not num.is_integer() or num < 1 or (is_log and (start <= 0 or stop <= 0)):
            raise CaseError(key, spec, RANGE_HELP)
        num = int(num)
        vals = np.geomspace(start, stop, num) if is_log else np.linspace(start, stop, num)
        return [float(v) for v in vals]
    return [spec]


def _exclusive_group(t):
    """Case keys of which a case holds at most one, ``t`` among them."""
    parts = t.split(".")
    if parts[0] == "boundaries":
        return tuple(f"boundaries.{parts[1]}.{k}" for k in case_mod._SURFACE)
    return next((g for g in EXCLUSIVE if t in g), (t,))


def _flatten(table, prefix=""):
    """``{"slab": {"n_x": [..]}}`` and ``{"slab.n_x": [..]}`` both give ``{"slab.n_x": [..]}``."""
    out = {}
    for k, v in table.items():
        name = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(_flatten(v, name))
        else:
            out[name] = v
    return out


class ScanSpec:
    """Varied keys, their values and how they combine.

    Parameters
    ----------
    vary : dict
        key -> list of values (already expanded), in order: the dimensions of the result.
    mode : {"product", "zip"}
        ``product``: every combination (C order, the last key varies fastest), one result
        dimension per key. ``zip``: the i-th values of all keys together (equal lengths),
        one result dimension ``point`` with every key as a coordinate along it.
    """

    def __init__(self, vary, mode="product"):
        if not vary:
            raise CaseError("scan.vary", {}, "allowed: at least one key = values ([scan.vary] "
                            "in the case file or --vary KEY=VALUES)")
        if mode not in ("product", "zip"):
            raise CaseError("scan.mode", mode, "allowed: 'product', 'zip'")
        self.keys = list(vary)
        self.values = [list(vary[k]) for k in self.keys]
        self.mode = mode
        seen = {}
        for key in self.keys:
            for t in targets(key):
                group = _exclusive_group(t)
                for g in group:
                    if g in seen:
                        raise CaseError(key, vary[key], f"conflicts with varied key {seen[g]} "
                                        "(both set the same case value)")
                for g in group:
                    seen[g] = key
        if mode == "zip":
            lens = {k: len(v) for k, v in zip(self.keys, self.values)}
            if len(set(lens.values())) != 1:
                raise CaseError("scan.mode", "zip", "allowed: equal numbers of values for every "
                                "varied key (got " + ", ".join(f"{k}: {n}" for k, n in lens.items())
                                + ")")

    @property
    def dims(self):
        return list(self.keys) if self.mode == "product" else ["point"]

    @property
    def shape(self):
        if self.mode == "product":
            return tuple(len(v) for v in self.values)
        return (len(self.values[0]),)

    @property
    def size(self):
        return int(np.prod(self.shape))

    def assignments(self):
        """List over points (flat C order) of ``[(key, value), ...]``."""
        if self.mode == "product":
            combos = itertools.product(*self.values)
        else:
            combos = zip(*self.values)
        return [list(zip(self.keys, c)) for c in combos]

    def describe(self):
        sep = " x " if self.mode == "product" else " zipped with "
        return self.mode + " of " + sep.join(f"{k}[{len(v)}]" for k, v in zip(self.keys, self.values))

    def to_dict(self):
        return {"mode": self.mode, "vary": {k: v for k, v in zip(self.keys, self.values)}}

    def to_toml(self):
        lines = ["[scan]", f'mode = "{self.mode}"', "", "[scan.vary]"]
        for k, v in zip(self.keys, self.values):
            lines.append(json.dumps(k) + " = " + _toml_value(v))
        return "\n".join(lines) + "\n"


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(type(v))


def apply_point(raw_base, assignment):
    """A raw case dict with the varied values set (alternatives of each key dropped)."""
    raw = copy.deepcopy(raw_base)
    for key, value in assignment:
        for t in targets(key):
            parts = t.split(".")
            if parts[0] == "boundaries":
                surf = raw.get("boundaries", {}).get(parts[1])
                if isinstance(surf, dict):
                    for other in case_mod._SURFACE:
                        if other != parts[2]:
                            surf.pop(other, None)
            for group in EXCLUSIVE:
                if t in group:
                    for other in group:
                        sec, name = other.split(".")
                        if other != t and isinstance(raw.get(sec), dict):
                            raw[sec].pop(name, None)
            set_key(raw, t, value)
    return raw


def _strip_run_keys(case):
    out = copy.deepcopy(case)
    out.pop("name", None)
    for sec, name in RUN_KEYS:
        if isinstance(out.get(sec), dict):
            out[sec].pop(name, None)
    out.pop("scan", None)
    return out


def _first_difference(a, b, prefix=""):
    """Dotted name of the first differing entry of two nested dicts, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a or k not in b:
                return (f"{prefix}{k}", a.get(k, "(absent)"), b.get(k, "(absent)"))
            d = _first_difference(a[k], b[k], f"{prefix}{k}.")
            if d:
                return d
        return None
    if a != b:
        return (prefix.rstrip("."), a, b)
    return None


class Scan:
    """A fully specified scan: base case, spec, every point's resolved case.

    Build it with :func:`build_scan` (case file + command line) or directly from a raw case
    dict with a ``[scan]`` table.
    """

    def __init__(self, raw_case, vary=None, mode=None, directory=None):
        raw = copy.deepcopy(raw_case)
        scan_tab = raw.pop("scan", {}) or {}
        if not isinstance(scan_tab, dict):
            raise CaseError("scan", scan_tab, "allowed: a table")
        for k, v in scan_tab.items():
            if k not in SCHEMA["scan"]:
                raise CaseError(f"scan.{k}", v, "unknown key; allowed: " + ", ".join(SCHEMA["scan"]))
        file_vary = scan_tab.get("vary", {})
        if not isinstance(file_vary, dict):
            raise CaseError("scan.vary", file_vary, "allowed: a table key = values")
        vary_raw = _flatten(file_vary) if vary is None else dict(vary)
        mode = mode or scan_tab.get("mode", "product")
        self.directory = directory or scan_tab.get("directory")
        if self.directory is not None and not isinstance(self.directory, str):
            raise CaseError("scan.directory", self.directory, "allowed: a string (a folder path)")
        expanded = {}
        for key, spec in vary_raw.items():
            check_key(key, spec)
            expanded[key] = expand_values(key, spec)
        self.spec = ScanSpec(expanded, mode)
        self.raw_base = raw
        self.name = str(raw.get("name", "case"))
        self.cases = [resolve(apply_point(raw, a)) for a in self.spec.assignments()]
        for c in self.cases:
            if "thickness_nm" not in c["slab"] and "thickness_mfp" not in c["slab"]:
                raise CaseError("slab.thickness_nm", None, "a scan solves slabs: give "
                                "slab.thickness_nm or slab.thickness_mfp (in the case or varied)")
        try:
            self.base = resolve(raw)
        except CaseError:
            # the file alone is incomplete (a varied key supplies a required value)
            self.base = copy.deepcopy(self.cases[0])
        self.base.pop("scan", None)
        for c in self.cases:
            c.pop("scan", None)
        if self.directory is None:
            self.directory = os.path.join("results", self.name + ".scan")

    @property
    def size(self):
        return self.spec.size

    def identity_toml(self):
        """Text of DIR/scan.toml: the resolved base case and the expanded scan spec."""
        base = dict(self.base)
        base.pop("scan", None)
        return ("# slabqkt scan: base case and scan specification. A rerun in this folder\n"
                "# must match it (solver.backend, solver.petsc, output.* and name may differ).\n"
                + to_toml(base) + "\n" + self.spec.to_toml())

    def check_identity(self, text):
        """Raise if the scan.toml ``text`` of a folder describes another scan."""
        try:
            old = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CaseError("scan.directory", self.directory,
                            f"its scan.toml is not valid TOML ({exc}); delete the folder or use "
                            "another --dir") from None
        new = tomllib.loads(self.identity_toml())
        old_spec, new_spec = old.pop("scan", {}), new.pop("scan", {})
        diff = (_first_difference(_strip_run_keys(old), _strip_run_keys(new))
                or _first_difference({"scan": old_spec}, {"scan": new_spec}))
        if diff:
            key, there, now = diff
            raise CaseError("scan.directory", self.directory,
                            f"holds a different scan ({key} = {there!r} there, {now!r} now); "
                            "use another --dir or delete the folder")


def build_scan(case_path, vary=(), mode=None, sets=(), directory=None, backend=None):
    """A :class:`Scan` from a case file and command-line options.

    Parameters
    ----------
    case_path : str
    vary : sequence of str
        ``KEY=VALUES``; if given they replace the file's ``[scan.vary]``.
    mode, directory : str, optional
        Override ``scan.mode`` / ``scan.directory``.
    sets : sequence of str
        ``KEY=VALUE`` overrides of the base case (``--set``).
    backend : str, optional
        Overrides ``solver.backend``.
    """
    raw = read_raw(case_path, list(sets) + ([f"solver.backend={backend}"] if backend else []))
    cli_vary = None
    if vary:
        cli_vary = {}
        for item in vary:
            if "=" not in item:
                raise CaseError("--vary", item, "allowed: KEY=VALUES, e.g. slab.thickness_mfp=log:0.1:10:5")
            key, val = item.split("=", 1)
            key = key.strip()
            if key in cli_vary:
                raise CaseError(key, val, "given twice with --vary")
            cli_vary[key] = parse_value(val.strip())
    return Scan(raw, cli_vary, mode, directory)


# ---------------------------------------------------------------------------------------------
# the scan folder
# ---------------------------------------------------------------------------------------------
def point_path(directory, index):
    return os.path.join(directory, "points", f"{index:06d}.h5")


def _atomic_write_text(path, text):
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=folder)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def finished_points(directory, n):
    """Indices (< n) with a complete point file."""
    import h5py
    folder = os.path.join(directory, "points")
    done = []
    if not os.path.isdir(folder):
        return done
    for name in os.listdir(folder):
        stem, ext = os.path.splitext(name)
        if ext != ".h5" or not stem.isdigit():
            continue
        i = int(stem)
        if i < n and h5py.is_hdf5(os.path.join(folder, name)):
            done.append(i)
    return sorted(done)


def _count_point_files(directory):
    try:
        names = os.listdir(os.path.join(directory, "points"))
    except OSError:
        return 0
    return sum(1 for n in names if n.endswith(".h5") and n[:-3].isdigit())


def prepare_directory(scan):
    """Create or check DIR (rank 0 only). Returns (run id, finished indices).

    A folder made for another scan is refused. Claims of earlier runs and temporary files
    left by killed writers are removed; they never block a restart.
    """
    d = scan.directory
    os.makedirs(os.path.join(d, "points"), exist_ok=True)
    ident = os.path.join(d, "scan.toml")
    if os.path.exists(ident):
        with open(ident) as f:
            scan.check_identity(f.read())
    else:
        _atomic_write_text(ident, scan.identity_toml())
    for name in os.listdir(os.path.join(d, "points")):
        if name.startswith(".tmp-"):
            os.unlink(os.path.join(d, "points", name))
    for name in os.listdir(d):
        if name.startswith(".tmp-"):
            os.unlink(os.path.join(d, name))
    claims = os.path.join(d, "claims")
    if os.path.isdir(claims):
        shutil.rmtree(claims, ignore_errors=True)
    run_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:8]}"
    os.makedirs(os.path.join(claims, run_id), exist_ok=True)
    return run_id, finished_points(d, scan.size)


def claim(claim_dir, index):
    """Atomically claim a point for this group: True if nobody in this run had it."""
    try:
        fd = os.open(os.path.join(claim_dir, str(index)), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    try:
        os.write(fd, f"{socket.gethostname()} {os.getpid()} {time.time():.3f}\n".encode())
    finally:
        os.close(fd)
    return True


# ---------------------------------------------------------------------------------------------
# MPI
# ---------------------------------------------------------------------------------------------
_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS")
_RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")


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


# ---------------------------------------------------------------------------------------------
# running
# ---------------------------------------------------------------------------------------------
def _parser():
    p = argparse.ArgumentParser(prog="slabqkt scan", description="Parameter scan of a case "
                                "(docs/scans.md). PETSc options (-ksp_type ...) pass through.")
    p.add_argument("case", help="case file (TOML), optionally with a [scan] table")
    p.add_argument("--vary", action="append", default=[], metavar="KEY=VALUES",
                   help="varied key: a TOML list [a,b,c], 'start:stop:num' or 'log:start:stop:num'; "
                   "replaces [scan.vary] of the file; repeat for more keys")
    p.add_argument("--mode", choices=("product", "zip"), help="combine the varied keys (default: "
                   "scan.mode or product)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a key of the base case")
    p.add_argument("--dir", help="scan folder (default: scan.directory or results/<case name>.scan)")
    p.add_argument("--out", help="combined result (default: DIR/scan.h5)")
    p.add_argument("--group-size", default="1", metavar="G",
                   help="MPI ranks per point (divides the number of ranks; >1 needs --backend petsc)")
    p.add_argument("--backend", choices=("scipy", "petsc"), help="override solver.backend")
    p.add_argument("--no-plots", action="store_true", help="skip the summary PNGs")
    return p


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


def main(argv):
    """Entry point of ``slabqkt scan`` (see the module docstring). Returns the exit code."""
    from .cli import _split_petsc
    ours, petsc_opts = _split_petsc(list(argv))
    args = _parser().parse_args(ours)
    world = world_comm()
    rank = 0 if world is None else world.rank
    nranks = 1 if world is None else world.size

    def setup():
        scan = build_scan(args.case, args.vary, args.mode, args.set, args.dir, args.backend)
        backend_name = scan.base["solver"]["backend"]
        g = _group_size(args.group_size, nranks, backend_name)
        if petsc_opts and backend_name != "petsc":
            raise SlabQKTError(f"PETSc options {' '.join(petsc_opts)} given but solver.backend = "
                               f"'{backend_name}' (use --backend petsc)")
        return scan, g

    (scan_g), err = _agree(world, setup)
    if err:
        if rank == 0:
            print(f"slabqkt: error: {err}", file=sys.stderr)
        return 2
    scan, group_size = scan_g

    def prep():
        if rank == 0:
            return prepare_directory(scan)
        return None

    prepared, err = _agree(world, prep)
    if err:
        if rank == 0:
            print(f"slabqkt: error: {err}", file=sys.stderr)
        return 2
    if world is not None:
        prepared = world.bcast(prepared, root=0)
    run_id, done_before = prepared
    _run(scan, args, world, group_size, run_id, done_before, petsc_opts)
    return 0


def _run(scan, args, world, group_size, run_id, done_before, petsc_opts):
    from .simulation import Simulation
    from .solvers import get_backend
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
    done_set = set(done_before)
    todo = [i for i in range(scan.size) if i not in done_set]
    claim_dir = os.path.join(scan.directory, "claims", run_id)
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
        now = _count_point_files(scan.directory) - len(done_before)
        if now > progress.done:
            progress.update(now - progress.done)

    solved = 0
    failed = []
    try:
        pos = 0
        while True:
            index = -1
            if leader:
                while pos < len(todo):
                    i = todo[pos]
                    pos += 1
                    if claim(claim_dir, i):
                        index = i
                        break
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
                    log.error("scan point %d failed: %s", index, exc)
                continue
            if leader:
                res.save(point_path(scan.directory, index))
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
        sim_log.setLevel(old_level)
    if rank != 0:
        return None
    report(force=True)
    shutil.rmtree(claim_dir, ignore_errors=True)
    with open(os.path.join(scan.directory, "runs.log"), "a") as f:
        f.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} run {run_id}: solved {solved_all} of "
                f"{scan.size} points ({len(done_before)} done before"
                + (f", {len(failed)} failed" if failed else "") + f"), {nranks} rank(s), "
                f"{n_groups} group(s) of {group_size}, backend {backend_name}\n")
    if failed:
        i, msg = failed[0]
        raise SlabQKTError(f"{len(failed)} of {scan.size} scan points failed (the others are kept; "
                           f"a rerun retries the failed ones): point {i} "
                           f"({_point_label(scan, i)}): {msg}")
    missing = sorted(set(range(scan.size)) - set(finished_points(scan.directory, scan.size)))
    if missing:
        raise SlabQKTError(f"scan points {missing[:10]} have no result after the run")
    print(f"scan: solved {solved_all} point(s) in this run ({len(done_before)} were done before, "
          f"{scan.size} in all)", flush=True)
    out = args.out or os.path.join(scan.directory, "scan.h5")
    data = combine(scan, run_info={"points_solved_last_run": int(solved_all), "ranks": nranks,
                                   "group_size": group_size, "backend": backend_name})
    data.save(out)
    print(f"result: {out}", flush=True)
    if not args.no_plots and scan.base["output"]["plots"]:
        from .scan_plots import plot_scan
        stem = os.path.splitext(out)[0]
        for p in plot_scan(data, stem):
            print(f"plot: {p}", flush=True)
    return data


def _point_label(scan, index):
    return ", ".join(f"{k} = {v!r}" for k, v in scan.spec.assignments()[index])


def run_scan(scan, out=None, plots=False):
    """Solve every missing point of a :class:`Scan` in this process and combine (Python API).

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
    args = argparse.Namespace(out=out, no_plots=not plots)
    run_id, done = prepare_directory(scan)
    return _run(scan, args, None, 1, run_id, done, [])


# ---------------------------------------------------------------------------------------------
# the combined result
# ---------------------------------------------------------------------------------------------
class ScanData:
    """The combined scan result as plain arrays (xarray-free; :func:`load_scan` converts).

    Attributes
    ----------
    coords, data : dict name -> (dims tuple, ndarray, attrs dict)
    attrs : dict
    """

    def __init__(self, coords, data, attrs):
        self.coords, self.data, self.attrs = coords, data, attrs

    @property
    def param_dims(self):
        return json.loads(self.attrs["param_dims"])

    @property
    def varied(self):
        return json.loads(self.attrs["varied_keys"])

    def get(self, name):
        if name in self.data:
            return self.data[name]
        return self.coords[name]

    def save(self, path):
        """Write the HDF5 file atomically (temporary file in the same folder, then rename)."""
        with atomic_h5(path) as f:
            for k, v in self.attrs.items():
                f.attrs[k] = v
            for role, table in (("coordinate", self.coords), ("data", self.data)):
                for name, (dims, val, attrs) in table.items():
                    arr = np.asarray(val)
                    if arr.dtype.kind in "UO":
                        arr = arr.astype("S")
                    ds = f.create_dataset(name, data=arr)
                    ds.attrs["dims"] = json.dumps(list(dims))
                    ds.attrs["role"] = role
                    for k, v in attrs.items():
                        ds.attrs[k] = v
        return os.fspath(path)


def _coord_values(values):
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=np.int64)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=float)
    if all(isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=bool)
    if all(isinstance(v, str) for v in values):
        return np.asarray(values, dtype=str)
    return np.asarray([_toml_value(v) for v in values], dtype=str)


def _key_unit(key):
    parts = key.split(".")
    if parts[0] == "boundaries":
        return case_mod._SURFACE[parts[2]].unit
    return SCHEMA[parts[0]][parts[1]].unit


def _key_doc(key):
    parts = key.split(".")
    if parts[0] == "boundaries":
        doc = case_mod._SURFACE[parts[2]].doc
        side = {"left": "surface x = 0", "right": "surface x = d", "both": "both surfaces"}[parts[1]]
        return f"{side}: {doc}"
    return SCHEMA[parts[0]][parts[1]].doc


def _specularity(surface):
    """Constant Fuchs p of a resolved surface table, or None for a rough surface."""
    if "roughness_nm" in surface:
        return None
    return float(surface.get("specularity", 0.0))


def fuchs_reference(case, kappa):
    """Fuchs-Sondheimer sigma/sigma_0 for a point, or NaN where the closed form does not apply.

    It applies to a single parabolic band at T = 0 with constant specularities (Lucas's form
    for p_left != p_right).
    """
    from .analytic import fuchs_sondheimer
    pl = _specularity(case["boundaries"]["left"])
    pr = _specularity(case["boundaries"]["right"])
    if (case["model"]["kind"] != "parabolic" or pl is None or pr is None
            or case["temperature"]["kelvin"] != 0 or not np.isfinite(kappa)):
        return float("nan")
    return float(fuchs_sondheimer(kappa, pl, case["model"]["dimension"], pr))


def combine(scan, run_info=None, results=None):
    """Read every point file of a scan and build the labelled :class:`ScanData`.

    Layout: parameter dimensions (one per varied key in product mode, ``point`` in zip mode),
    then ``part`` (intra, intrinsic, gradient, disorder, total) or ``edge_part``/``side``, then
    ``node``. ``x`` is stored per point, dims (params..., node), because the grid changes with
    the thickness; the number of nodes is ``slab.n_x + 1`` (if n_x itself varies, shorter
    grids are padded with NaN).
    """
    from .result import load_result
    if results is None:
        results = [load_result(point_path(scan.directory, i)) for i in range(scan.size)]
    spec = scan.spec
    shape = spec.shape
    pdims = tuple(spec.dims)
    # the stored case of each point must be the one of the spec (guards against mixed folders)
    for i, (res, a) in enumerate(zip(results, spec.assignments())):
        for key, value in a:
            for t in targets(key):
                node = res.case
                for p in t.split("."):
                    node = node.get(p, {}) if isinstance(node, dict) else {}
                want = scan.cases[i]
                for p in t.split("."):
                    want = want[p]
                if node != want:
                    raise SlabQKTError(f"{point_path(scan.directory, i)} was computed for {t} = "
                                       f"{node!r}, the scan needs {want!r}; delete it and rerun")
    n_nodes = max(len(r.x) for r in results)
    names = list(dict.fromkeys(n for r in results for n in r.observables))
    edge_parts = sorted({p for r in results for n in r.edges for p in r.edges[n]},
                        key=lambda p: (PARTS.index(p) if p in PARTS else len(PARTS), p))
    coords, data = {}, {}
    if spec.mode == "product":
        for k, v in zip(spec.keys, spec.values):
            coords[k] = ((k,), _coord_values(v), {"units": _key_unit(k), "long_name": _key_doc(k)})
    else:
        coords["point"] = (("point",), np.arange(spec.size), {"units": "1",
                                                              "long_name": "index of the zipped point"})
        for k, v in zip(spec.keys, spec.values):
            coords[k] = (("point",), _coord_values(v), {"units": _key_unit(k), "long_name": _key_doc(k)})
    coords["part"] = (("part",), np.asarray(PARTS), {"long_name": "term of Eq. (1)"})
    if edge_parts:
        coords["edge_part"] = (("edge_part",), np.asarray(edge_parts), {"long_name": "term of Eq. (1)"})
    coords["side"] = (("side",), np.asarray(SIDES), {"long_name": "left: x = 0, right: x = d"})
    coords["node"] = (("node",), np.arange(n_nodes), {"long_name": "grid node index"})

    def empty(*extra):
        return np.full(shape + extra, np.nan)

    x = empty(n_nodes)
    ratio = empty()
    fs_ref = empty()
    spec_l, spec_r = empty(), empty()
    scal = {k: empty() for k in POINT_ATTRS}
    prof = {n: empty(len(PARTS), n_nodes) for n in names}
    bulk = {n: empty(len(PARTS)) for n in names}
    edge = {(n, k): empty(len(edge_parts), len(SIDES)) for n in names for k in EDGE_KEYS}
    units = {}
    for i, (res, c) in enumerate(zip(results, scan.cases)):
        idx = np.unravel_index(i, shape)
        nn = len(res.x)
        x[idx][:nn] = res.x
        ratio[idx] = res.conductivity_ratio
        for k in POINT_ATTRS:
            if k in res.attrs:
                scal[k][idx] = float(res.attrs[k])
        pl, pr = _specularity(c["boundaries"]["left"]), _specularity(c["boundaries"]["right"])
        spec_l[idx] = np.nan if pl is None else pl
        spec_r[idx] = np.nan if pr is None else pr
        fs_ref[idx] = fuchs_reference(c, res.attrs["thickness_nm"] / res.attrs["mean_free_path_nm"])
        for n in res.observables:
            units.setdefault(n, res.density_unit(n))
            for j, part in enumerate(PARTS):
                prof[n][idx][j, :nn] = np.broadcast_to(np.asarray(res.observables[n][part], float), (nn,))
                bulk[n][idx][j] = float(np.asarray(res.bulk[n][part]))
            for j, part in enumerate(edge_parts):
                sides = res.edges.get(n, {}).get(part)
                if not sides:
                    continue
                for s, side in enumerate(SIDES):
                    for k in EDGE_KEYS:
                        edge[(n, k)][idx][j, s] = float(sides[side].get(k, np.nan))
    coords["x"] = (pdims + ("node",), x, {"units": "nm", "long_name": "distance from the left "
                                          "surface, per point (the grid scales with d)"})
    data["conductivity_ratio"] = (pdims, ratio, {"units": "1", "long_name":
                                                 "sigma_film / sigma_bulk along E"})
    data["fuchs_sondheimer"] = (pdims, fs_ref, {"units": "1", "long_name":
                                                "Fuchs-Sondheimer (Lucas) closed form at the same "
                                                "d/l and p; NaN unless a single parabolic band with "
                                                "constant specularities"})
    data["thickness_mfp"] = (pdims, scal["thickness_nm"] / scal["mean_free_path_nm"],
                             {"units": "1", "long_name": "d / l"})
    data["specularity_left"] = (pdims, spec_l, {"units": "1", "long_name": "Fuchs p at x = 0 "
                                                "(NaN: rough surface)"})
    data["specularity_right"] = (pdims, spec_r, {"units": "1", "long_name": "Fuchs p at x = d "
                                                 "(NaN: rough surface)"})
    for k, (unit, doc) in POINT_ATTRS.items():
        data[k] = (pdims, scal[k], {"units": unit, "long_name": doc})
    for n in names:
        u = units[n]
        data[n] = (pdims + ("part", "node"), prof[n], {"units": u, "long_name": f"{n} density "
                                                       "profile at the case's field"})
        data[f"{n}_bulk"] = (pdims + ("part",), bulk[n], {"units": u, "long_name": f"{n} bulk value"})
        if edge_parts:
            eu = {"excess": f"{u} nm", "decay_length": "nm"}
            docs = {"excess": "integrated excess over the half slab next to the surface",
                    "at_l10": "value at l/10 from the surface", "at_l2": "value at l/2 from the surface",
                    "at_l": "value at l from the surface", "decay_length": "centroid of |o - o_mid| "
                    "from the surface", "mid": "value at the slab middle"}
            for k in EDGE_KEYS:
                data[f"{n}_edge_{k}"] = (pdims + ("edge_part", "side"), edge[(n, k)],
                                         {"units": eu.get(k, u), "long_name": f"{n}: {docs[k]}"})
    attrs = {"format": FORMAT, "case": to_toml(scan.base), "scan": scan.spec.to_toml(),
             "name": scan.name, "mode": spec.mode, "param_dims": json.dumps(list(pdims)),
             "varied_keys": json.dumps(spec.keys), "n_points": scan.size,
             "dimension": int(scan.base["model"]["dimension"]),
             "model": scan.base["model"]["kind"],
             "field_direction": json.dumps(scan.base["field"]["direction"]),
             "observables": json.dumps(names)}
    for k, v in (run_info or {}).items():
        attrs[k] = v
    return ScanData(coords, data, attrs)


def read_scan(path):
    """Read a combined scan file into a :class:`ScanData` (no xarray needed)."""
    import h5py
    path = os.fspath(path)
    if os.path.isdir(path):
        path = os.path.join(path, "scan.h5")
    coords, data = {}, {}
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != FORMAT:
            raise SlabQKTError(f"{path} is not a slabqkt scan result (format "
                               f"{f.attrs.get('format')!r}, expected {FORMAT!r})")
        attrs = {k: (v.item() if hasattr(v, "item") and np.ndim(v) == 0 else v)
                 for k, v in f.attrs.items()}
        for name, ds in f.items():
            val = ds[()]
            if isinstance(val, np.ndarray) and val.dtype.kind == "S":
                val = val.astype(str)
            dims = tuple(json.loads(ds.attrs["dims"]))
            a = {k: (v.item() if hasattr(v, "item") and np.ndim(v) == 0 else v)
                 for k, v in ds.attrs.items() if k not in ("dims", "role")}
            (coords if ds.attrs["role"] == "coordinate" else data)[name] = (dims, val, a)
    return ScanData(coords, data, attrs)


def load_scan(path):
    """Open a combined scan result (file, or the scan folder) as an :class:`xarray.Dataset`.

    Dimensions: the varied keys (product mode; e.g. ``slab.thickness_mfp``) or ``point``
    (zip mode), then ``part`` / ``edge_part`` / ``side`` and ``node``. ``x`` (nm) is a
    coordinate over (params..., node). Example::

        ds = load_scan("results/fuchs_specularity_thickness.scan")
        ds.conductivity_ratio.sel({"slab.thickness_mfp": 1.0})
        ds.spin_z.sel(part="total").isel(node=0)
    """
    try:
        import xarray as xr
    except ImportError as exc:
        raise SlabQKTError(f"load_scan needs xarray ({exc}); pip install xarray, or use "
                           "slabqkt.scan.read_scan for plain arrays") from None
    sd = read_scan(path)
    coords = {k: xr.Variable(d, v, a) for k, (d, v, a) in sd.coords.items()}
    data = {k: xr.Variable(d, v, a) for k, (d, v, a) in sd.data.items()}
    return xr.Dataset(data, coords=coords, attrs=sd.attrs)
