"""Provenance: what made a result file (versions, commit, command line, host, date, timings).

:func:`collect` returns flat attributes (strings and numbers) that
:meth:`slabqkt.result.Result.save` writes as attributes of the HDF5 group
``/provenance``; a scan writer can store the same dict. Wall times per stage
are measured with :func:`stage` inside a :func:`timing` scope (the CLI opens
one per command)::

    with provenance.timing() as seconds:
        with provenance.stage("solve"):
            ...
    provenance.collect(argv, backend, stages=seconds)
"""
import contextlib
import datetime
import functools
import os
import platform
import shlex
import socket
import subprocess
import sys
import time

_PKG = os.path.dirname(os.path.abspath(__file__))

#: the stage-time dict of the innermost open :func:`timing` scope (None: not timed)
_ACTIVE = []


@contextlib.contextmanager
def timing():
    """Open a scope in which :func:`stage` records wall seconds; yields the dict name -> s."""
    seconds = {}
    _ACTIVE.append(seconds)
    try:
        yield seconds
    finally:
        _ACTIVE.remove(seconds)


@contextlib.contextmanager
def stage(name):
    """Add the wall time (s) of the block to stage ``name`` of the open :func:`timing` scope.

    Outside a scope this costs one clock read and records nothing; nested
    simulations (the energy slices at T > 0) add to the same stage.
    """
    t0 = time.perf_counter()
    try:
        yield
    finally:
        if _ACTIVE:
            d = _ACTIVE[-1]
            d[name] = d.get(name, 0.0) + time.perf_counter() - t0


def _git(*args):
    try:
        proc = subprocess.run(["git", "-C", _PKG] + list(args), capture_output=True, text=True,
                              timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def git_state():
    """(commit, dirty) of the checkout this package was imported from.

    ``("unknown", -1)`` without git or outside a checkout (an installed
    wheel); ``dirty`` is 1 when tracked or untracked files under the package
    folder differ from the commit, else 0. Only a repository whose top level
    holds this package counts (a site-packages inside some other repository
    does not).
    """
    top = _git("rev-parse", "--show-toplevel")
    if not top or os.path.realpath(top) != os.path.realpath(os.path.dirname(_PKG)):
        return "unknown", -1
    commit = _git("rev-parse", "HEAD")
    if not commit:
        return "unknown", -1
    status = _git("status", "--porcelain", "--", _PKG)
    return commit, (-1 if status is None else int(bool(status)))


def _version(module):
    mod = sys.modules.get(module)
    if mod is None:
        try:
            mod = __import__(module)
        except ImportError:
            return "not installed"
    return str(getattr(mod, "__version__", "unknown"))


def _command_line(argv):
    if argv is None:
        argv = sys.argv[1:]
        prog = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python"
        if prog in ("__main__.py", "cli.py"):
            prog = "slabqkt"
    else:
        prog = "slabqkt"
    return shlex.join([prog] + [str(a) for a in argv])


def _mpi_petsc(backend):
    """Versions of PETSc, petsc4py, mpi4py and the MPI library (only if already imported)."""
    out = {}
    if "petsc4py.PETSc" in sys.modules:
        PETSc = sys.modules["petsc4py.PETSc"]
        out["petsc_version"] = ".".join(str(v) for v in PETSc.Sys.getVersion())
        out["petsc4py_version"] = _version("petsc4py")
    if "mpi4py.MPI" in sys.modules:
        MPI = sys.modules["mpi4py.MPI"]
        out["mpi4py_version"] = _version("mpi4py")
        try:
            lib = MPI.Get_library_version().strip().splitlines()
            out["mpi_library"] = " ".join(lib[0].split()) if lib else "unknown"
        except Exception:  # pragma: no cover - an MPI without the call
            out["mpi_library"] = "unknown"
        out["mpi_standard"] = "%d.%d" % MPI.Get_version()
    if backend is not None and hasattr(backend, "options_used"):
        out["petsc_options"] = backend.options_used
    return out


def collect(argv=None, backend=None, stages=None):
    """Provenance attributes of this process, flat strings and numbers.

    Parameters
    ----------
    argv : list of str, optional
        The command's arguments (after the program name); default ``sys.argv[1:]``.
    backend : Backend or str, optional
        The solver backend that ran: its name and ranks are recorded and, for
        PETSc, the PETSc/petsc4py/mpi4py/MPI versions and the options used.
    stages : dict, optional
        Stage name -> wall seconds (:func:`timing`), stored as ``seconds_<stage>``.

    Returns
    -------
    dict
        ``slabqkt_version``, ``git_commit``, ``git_dirty`` (1, 0, or -1 unknown),
        ``command_line``, ``python_version``, ``numpy_version``,
        ``scipy_version``, ``h5py_version``, ``host``, ``platform``,
        ``date_utc`` (ISO 8601), ``backend``, ``ranks``, and the PETSc/MPI
        entries and ``seconds_*`` when they apply.
    """
    from . import __version__
    commit, dirty = git_state()
    out = {
        "slabqkt_version": __version__,
        "git_commit": commit,
        "git_dirty": int(dirty),
        "command_line": _command_line(argv),
        "python_version": platform.python_version(),
        "numpy_version": _version("numpy"),
        "scipy_version": _version("scipy"),
        "h5py_version": _version("h5py"),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if backend is not None:
        name = backend if isinstance(backend, str) else getattr(backend, "name", str(backend))
        out["backend"] = str(name)
        if not isinstance(backend, str):
            out["ranks"] = int(getattr(backend, "size", 1))
        if name == "petsc":
            out.update(_mpi_petsc(None if isinstance(backend, str) else backend))
    for k, v in (stages or {}).items():
        out[f"seconds_{k}"] = float(v)
    return out


def summary(prov):
    """Two short lines describing a provenance dict (for ``slabqkt info``)."""
    if not prov:
        return ["provenance: none stored (a file written before provenance was recorded)"]
    dirty = {1: ", dirty", 0: "", -1: ""}.get(int(prov.get("git_dirty", -1)), "")
    commit = str(prov.get("git_commit", "unknown"))
    commit = commit[:12] if commit != "unknown" else "commit unknown"
    line = (f"made by slabqkt {prov.get('slabqkt_version', '?')} ({commit}{dirty}) on "
            f"{prov.get('host', '?')} at {prov.get('date_utc', '?')}, python "
            f"{prov.get('python_version', '?')}, numpy {prov.get('numpy_version', '?')}, "
            f"scipy {prov.get('scipy_version', '?')}")
    if "petsc_version" in prov:
        line += (f", PETSc {prov['petsc_version']} (petsc4py {prov.get('petsc4py_version', '?')}, "
                 f"mpi4py {prov.get('mpi4py_version', '?')}, {prov.get('mpi_library', '?')})")
        if prov.get("petsc_options"):
            line += f", options {prov['petsc_options']}"
    lines = [line, f"command: {prov.get('command_line', '?')}"]
    times = {k[8:]: v for k, v in prov.items() if k.startswith("seconds_")}
    if times:
        lines.append("wall time: " + ", ".join(f"{k} {float(v):.3g} s" for k, v in times.items()))
    return lines
