"""Results: one self-describing HDF5 file per run, written atomically.

Layout (all lengths nm, densities per nm^d at the case's field):

    /               attrs: case (TOML text), conductivity_ratio, mean_free_path_nm,
                    tau_fs, n_i_v0_sq, ... (see docs/results.md)
    /x              (n_nodes,) nm, attrs units="nm"
    /observables/<name>/<part>   (n_nodes,) part in intra, intrinsic, gradient,
                    disorder, total; attrs units, and the bulk value
    /observables/<name>/edge/<part>/<side>   attrs: excess, at_l10, at_l2, at_l,
                    decay_length, mid

    /provenance     attrs: slabqkt version, git commit, command line, versions,
                    host, date, wall seconds per stage (slabqkt.provenance)

Dimension scales make every profile an xarray variable over ``x``
(``xarray.open_dataset(path, group="observables/spin_y")``).

Output safety: :func:`check_output` (called by the CLI before the solve)
checks that the result can be written, and :func:`check_target` refuses to
replace anything that is not a slabqkt result file (unless forced) and never
replaces a symbolic link, a directory, a device or a FIFO.
"""
import contextlib
import dataclasses
import os
import stat
import tempfile

import numpy as np

from . import case as case_mod
from .errors import SlabQKTError
from .observables import PARTS

#: the ``format`` attribute of result files (slab and bulk)
FORMAT = "slabqkt-result-1"
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def _reason(exc):
    """The short reason of an OSError (strerror, else the first line of its text)."""
    if getattr(exc, "strerror", None):
        return exc.strerror
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _kind_of_mode(mode):
    for test, name in ((stat.S_ISLNK, "a symbolic link"), (stat.S_ISDIR, "a directory"),
                       (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                       (stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return name
    return "not a regular file"


def _refuse_special(path):
    """SlabQKTError if ``path`` exists and is not a regular file (never replaced)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise SlabQKTError(f"{path}: cannot be inspected ({_reason(exc)})") from None
    if not stat.S_ISREG(st.st_mode):
        kind = _kind_of_mode(st.st_mode)
        hint = ("give a file name inside it, e.g. " + os.path.join(path, "result.h5")
                if stat.S_ISDIR(st.st_mode) else "give another file name")
        raise SlabQKTError(f"{path} is {kind}: slabqkt never replaces one ({hint})")
    return st


def hdf5_format(path):
    """The ``format`` attribute of an HDF5 file, '' without one, None if not readable HDF5."""
    try:
        with open(path, "rb") as fh:
            if fh.read(8) != _HDF5_SIGNATURE:
                return None
        import h5py
        with h5py.File(path, "r") as f:
            fmt = f.attrs.get("format", "")
    except (OSError, ValueError, RuntimeError):
        return None
    return fmt.decode() if isinstance(fmt, bytes) else str(fmt)


def check_target(path, force=False, protect=(), formats=("slabqkt-result",)):
    """Refuse to replace ``path`` unless it is absent or a slabqkt result file.

    Parameters
    ----------
    path : str
        The file about to be written.
    force : bool
        Replace an existing regular file that is not a slabqkt result.
    protect : iterable of str
        Files that are never a target, even with ``force`` (the case file).
    formats : tuple of str
        HDF5 ``format`` attribute prefixes of the files that may be replaced
        (``slabqkt-scan`` for a scan's ``--out``).

    Raises
    ------
    SlabQKTError
        ``path`` is a symbolic link, directory, device, FIFO or socket
        (always), one of ``protect`` (always), or an existing regular file
        that is not a slabqkt result (without ``force``).
    """
    path = os.fspath(path)
    st = _refuse_special(path)
    if st is None:
        return
    for p in protect:
        try:
            other = os.stat(p)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
            raise SlabQKTError(f"{path} is the case file {p}: it is never replaced by a result "
                               "(give another --out)")
    if not force and not (hdf5_format(path) or "").startswith(tuple(formats)):
        what = "scan" if formats == ("slabqkt-scan",) else "result"
        raise SlabQKTError(f"{path} exists and is not a slabqkt {what} file: not replaced "
                           "(give another --out, or --force to replace it)")


def _name_max(folder):
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError):
        return 255


def check_output(path, force=False, protect=(), also=(), formats=("slabqkt-result",)):
    """Check before a solve that the result file can be written at ``path``.

    Creates the folder, writes and removes a temporary file in it, and
    applies :func:`check_target`, so that a bad ``--out`` fails in a second
    instead of after the solve.

    Parameters
    ----------
    path : str
    force, protect
        As :func:`check_target`.
    also : iterable of str
        Other file names (no folder) to be written beside it (the plots):
        their length is checked too.

    Returns
    -------
    str
        ``path``.
    """
    path = os.fspath(path)
    if not path or path.endswith(os.sep) or os.path.basename(path) in ("", ".", ".."):
        raise SlabQKTError(f"--out {path!r}: names a folder, not a file (e.g. results/run.h5)")
    folder = os.path.dirname(os.path.abspath(path))
    # the nearest existing ancestor: it must be a folder
    anc = folder
    while not os.path.lexists(anc):
        anc = os.path.dirname(anc)
    if not os.path.isdir(anc):
        raise SlabQKTError(f"cannot write {path}: {anc} is not a directory")
    limit = _name_max(anc)
    for name in [p for p in os.path.abspath(path).split(os.sep) if p] + list(also):
        n = len(os.fsencode(name))
        if n > limit:
            short = name if len(name) <= 40 else f"{name[:12]}...{name[-20:]}"
            raise SlabQKTError(f"cannot write {path}: the name {short} is {n} bytes long, "
                               f"the file system allows {limit}")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as exc:
        raise SlabQKTError(f"cannot create the folder {folder} for {path} "
                           f"({_reason(exc)})") from None
    check_target(path, force, protect, formats)
    try:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".h5", dir=folder)
    except OSError as exc:
        raise SlabQKTError(f"cannot write in {folder} ({_reason(exc)})") from None
    try:
        os.write(fd, b"\0" * 4096)
        os.fsync(fd)
    except OSError as exc:
        raise SlabQKTError(f"cannot write in {folder} ({_reason(exc)})") from None
    finally:
        os.close(fd)
        os.unlink(tmp)
    return path


@contextlib.contextmanager
def atomic_h5(path):
    """An h5py.File open for writing that appears at ``path`` only when complete.

    It is written as a temporary file in the same folder and renamed
    (``os.replace`` is atomic on POSIX); on any error the temporary file is
    removed and nothing appears.
    """
    import h5py
    path = os.fspath(path)
    _refuse_special(path)  # the rename would replace a link or device node itself
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".h5", dir=folder)
    os.close(fd)
    try:
        with h5py.File(tmp, "w") as f:
            yield f
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it 0600
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


@dataclasses.dataclass
class Result:
    case: dict
    x: np.ndarray
    observables: dict
    bulk: dict
    attrs: dict
    units: dict
    edges: dict
    phi_shape: tuple = ()
    #: attributes of the /provenance group (slabqkt.provenance.collect)
    provenance: dict = dataclasses.field(default_factory=dict)
    #: two-grid error estimate of the intrinsic part per observable (lattice models), in the
    #: observable's density unit; stored as the attribute ``intrinsic_error`` of its group
    intrinsic_error: dict = dataclasses.field(default_factory=dict)

    @property
    def conductivity_ratio(self):
        return self.attrs.get("conductivity_ratio")

    def density_unit(self, name):
        d = self.attrs["dimension"]
        u = self.units.get(name, "1")
        return f"{u} nm^-{d}" if u != "1" else f"nm^-{d}"

    def profile(self, name, part="total"):
        return np.asarray(self.observables[name][part])

    def per_field(self):
        """Bulk value of every part per unit field, in the output units of the observable.

        Returns
        -------
        dict
            name -> ({part: bulk density / |E| times the factor of
            :func:`slabqkt.units.per_field_unit`}, unit): conductivities in S/m
            (S in 2D), spin and orbital Hall conductivities in (hbar/e) S/cm
            ((hbar/e) S in 2D). Empty without the field or dimension attributes.
        """
        from .units import per_field_unit
        field = self.attrs.get("field_V_per_nm")
        d = self.attrs.get("dimension")
        if field is None or d is None:
            return {}
        E = float(np.linalg.norm(np.asarray(field, float)))
        if not E > 0:
            return {}
        out = {}
        for name, parts in self.bulk.items():
            factor, unit = per_field_unit(self.units.get(name, "1"), d)
            out[name] = ({p: float(np.asarray(v)) / E * factor for p, v in parts.items()}, unit)
        return out

    def per_field_factor(self, name):
        """The factor of :meth:`per_field` for observable ``name`` (density / |E| -> its unit)."""
        from .units import per_field_unit
        return per_field_unit(self.units.get(name, "1"), self.attrs["dimension"])[0]

    def save(self, path, force=None, protect=()):
        """Write atomically (:func:`atomic_h5`); returns the path.

        Parameters
        ----------
        path : str
        force : bool or None
            None (the Python API default): replace an existing regular file.
            False: replace only a slabqkt result file; True: any regular
            file. A link, directory, device or FIFO is never replaced.
        protect : iterable of str
            Files never replaced (:func:`check_target`).

        Raises
        ------
        SlabQKTError
            The target is refused, or writing failed (full disk, ...): one
            line; no partial file is left.
        """
        if force is not None:
            check_target(path, force, protect)
        try:
            self._write(path)
        except OSError as exc:
            raise SlabQKTError(f"cannot write {os.fspath(path)}: {_reason(exc)}") from None
        return os.fspath(path)

    def _write(self, path):
        from . import provenance
        prov = provenance.collect(backend=self.attrs.get("backend"))
        prov.update(self.provenance)
        with atomic_h5(path) as f:
            f.attrs["case"] = case_mod.to_toml(self.case)
            f.attrs["format"] = FORMAT
            for k, v in self.attrs.items():
                f.attrs[k] = v
            if self.x is not None:
                dx = f.create_dataset("x", data=self.x)
                dx.attrs["units"] = "nm"
                dx.attrs["long_name"] = "distance from the left surface"
                dx.make_scale("x")
            grp = f.create_group("observables")
            per_field = self.per_field()
            for name, parts in self.observables.items():
                g = grp.create_group(name)
                unit = self.density_unit(name)
                g.attrs["units"] = unit
                g.attrs["operator_units"] = self.units.get(name, "1")
                if name in per_field:
                    g.attrs["per_field_units"] = per_field[name][1]
                if name in self.intrinsic_error:
                    g.attrs["intrinsic_error"] = float(self.intrinsic_error[name])
                for part in PARTS:
                    val = np.asarray(parts[part])
                    if self.x is not None:
                        ds = g.create_dataset(part, data=val)
                        # the dimension scale lives in the root group; keep a local copy
                        # so that each observable group opens alone in xarray
                        if "x" not in g:
                            gx = g.create_dataset("x", data=self.x)
                            gx.attrs["units"] = "nm"
                            gx.make_scale("x")
                        ds.dims[0].attach_scale(g["x"])
                    else:
                        ds = g.create_dataset(part, data=val)
                    ds.attrs["units"] = unit
                    ds.attrs["bulk"] = float(np.asarray(self.bulk[name][part]))
                    if name in per_field:
                        ds.attrs["bulk_per_field"] = per_field[name][0][part]
                if self.edges.get(name):
                    ge = g.create_group("edge")
                    for part, sides in self.edges[name].items():
                        gp = ge.create_group(part)
                        for side, vals in sides.items():
                            gs = gp.create_group(side)
                            for k, v in vals.items():
                                gs.attrs[k] = v
                            gs.attrs["units"] = (f"excess: {unit} nm; at_*, mid: {unit}; "
                                                 "decay_length: nm")
            gp = f.create_group("provenance")
            for k, v in prov.items():
                gp.attrs[k] = v


def _plain(v):
    if isinstance(v, bytes):
        return v.decode()
    return v.item() if hasattr(v, "item") and np.ndim(v) == 0 else v


def open_hdf5(path, what="slabqkt result"):
    """Open ``path`` read-only as HDF5, or raise a one-line SlabQKTError saying what it is."""
    import h5py
    path = os.fspath(path)
    if not os.path.lexists(path):
        raise SlabQKTError(f"{path}: no such file")
    try:
        st = os.stat(path)
    except OSError as exc:
        raise SlabQKTError(f"{path}: cannot be read ({_reason(exc)})") from None
    if stat.S_ISDIR(st.st_mode):
        raise SlabQKTError(f"{path} is a directory, not a {what} file")
    if not stat.S_ISREG(st.st_mode):
        raise SlabQKTError(f"{path} is {_kind_of_mode(st.st_mode)}, not a {what} file")
    if st.st_size == 0:
        raise SlabQKTError(f"{path} is empty, not a {what} file")
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise SlabQKTError(f"{path}: cannot be read ({_reason(exc)})") from None
    if head != _HDF5_SIGNATURE:
        raise SlabQKTError(f"{path} is not a {what} file (not HDF5)")
    try:
        return h5py.File(path, "r")
    except (OSError, ValueError, RuntimeError) as exc:
        raise SlabQKTError(f"{path} is a damaged or truncated HDF5 file ({_reason(exc)})") from None


def _check_result(f, path):
    """Raise a one-line SlabQKTError unless ``f`` is a complete slabqkt result file."""
    fmt = _plain(f.attrs.get("format", ""))
    if isinstance(fmt, str) and fmt.startswith("slabqkt-scan"):
        raise SlabQKTError(f"{path} is a slabqkt scan file, not a single result (read it with "
                           "slabqkt.scans.read_scan or load_scan; `slabqkt plot` and `slabqkt info` take it)")
    if not (isinstance(fmt, str) and fmt.startswith("slabqkt-result")):
        raise SlabQKTError(f"{path} is an HDF5 file but not a slabqkt result (format attribute "
                           f"{fmt!r}, expected {FORMAT!r})")
    if "case" not in f.attrs:
        raise SlabQKTError(f"{path} is not a complete slabqkt result: it holds no case")
    if "observables" not in f or not len(f["observables"]):
        raise SlabQKTError(f"{path} is not a complete slabqkt result: no /observables")
    n = f["x"].shape if "x" in f else ()
    for name, g in f["observables"].items():
        for part in PARTS:
            if part not in g or "bulk" not in g[part].attrs:
                raise SlabQKTError(f"{path} is not a complete slabqkt result: "
                                   f"/observables/{name}/{part} is missing")
            if g[part].shape != n:
                raise SlabQKTError(f"{path} is not a complete slabqkt result: "
                                   f"/observables/{name}/{part} has shape {g[part].shape}, x {n}")


def load_result(path):
    """Read a result file back into a :class:`Result`.

    Raises
    ------
    SlabQKTError
        One line for anything that is not a complete slabqkt result file
        (missing, a directory, not HDF5, truncated, another format, no case, ...).
    """
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover
        import tomli as tomllib
    path = os.fspath(path)
    with open_hdf5(path) as f:
        _check_result(f, path)
        try:
            case = tomllib.loads(_plain(f.attrs["case"]))
        except (tomllib.TOMLDecodeError, TypeError, AttributeError) as exc:
            raise SlabQKTError(f"{path}: the stored case cannot be read ({exc})") from None
        try:
            attrs = {k: _plain(v) for k, v in f.attrs.items() if k not in ("case", "format")}
            x = f["x"][...] if "x" in f else None
            obs, bulk, units, edges, ierr = {}, {}, {}, {}, {}
            for name, g in f["observables"].items():
                if "intrinsic_error" in g.attrs:
                    ierr[name] = float(g.attrs["intrinsic_error"])
                obs[name] = {p: g[p][()] for p in PARTS}
                bulk[name] = {p: float(g[p].attrs["bulk"]) for p in PARTS}
                units[name] = _plain(g.attrs.get("operator_units", "1"))
                if "edge" in g:
                    edges[name] = {part: {side: dict(gs.attrs) for side, gs in gp.items()}
                                   for part, gp in g["edge"].items()}
            prov = ({k: _plain(v) for k, v in f["provenance"].attrs.items()}
                    if "provenance" in f else {})
        except (OSError, KeyError, ValueError) as exc:
            raise SlabQKTError(f"{path} is a damaged slabqkt result ({_reason(exc)})") from None
    return Result(case=case, x=x, observables=obs, bulk=bulk, attrs=attrs, units=units,
                  edges=edges, provenance=prov, intrinsic_error=ierr)


def file_kind(path):
    """'result' (slab), 'bulk', 'kubo' (slabqkt kubo) or 'scan' (a scan file, or a folder
    holding scan.toml).

    Raises a one-line SlabQKTError for anything else.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        if os.path.isfile(os.path.join(path, "scan.toml")):
            return "scan"
        raise SlabQKTError(f"{path} is a directory, neither a result file nor a scan folder "
                           "(no scan.toml in it)")
    with open_hdf5(path) as f:
        fmt = _plain(f.attrs.get("format", ""))
        if isinstance(fmt, str) and fmt.startswith("slabqkt-scan"):
            return "scan"
        if isinstance(fmt, str) and fmt.startswith("slabqkt-kubo"):
            return "kubo"
        _check_result(f, path)
        return "result" if "x" in f else "bulk"


def describe_file(path):
    """A few lines saying what a slabqkt file holds (``slabqkt info``)."""
    from . import provenance
    kind = file_kind(path)
    if kind == "scan":
        return _describe_scan(path)
    if kind == "kubo":
        from .kubo.driver import describe_kubo
        return describe_kubo(path)
    res = load_result(path)
    case, a = res.case, res.attrs
    model = case.get("model", {})
    nan = float("nan")
    head = (f"{path}: slabqkt {'slab result' if kind == 'result' else 'bulk result'}, case "
            f"{case.get('name', '?')!r}, model {model.get('kind', '?')} "
            f"{model.get('dimension', '?')}D, E_F = {a.get('fermi_level_eV', nan):.5g} eV, "
            f"T = {a.get('temperature_K', 0.0):.4g} K")
    lines = [head]
    if kind == "result":
        l = a.get("mean_free_path_nm", float("nan"))
        d = a.get("thickness_nm", float("nan"))
        lines.append(f"slab d = {d:.5g} nm = {d / l:.5g} l (l = {l:.5g} nm, tau = "
                     f"{a.get('tau_fs', float('nan')):.5g} fs), {len(res.x)} nodes; conductivity "
                     f"ratio sigma_film/sigma_bulk = {res.conductivity_ratio:.8g}; "
                     f"{a.get('backend', '?')} on {a.get('ranks', 1)} rank(s), "
                     f"{a.get('krylov_iterations', '?')} Krylov iterations, residual "
                     f"{a.get('relative_residual', float('nan')):.2g}")
    else:
        lines.append(f"sigma_bulk = {a.get('sigma_bulk_SI', float('nan')):.6g} "
                     f"{a.get('sigma_bulk_SI_unit', '')}, tau = {a.get('tau_fs', nan):.5g} "
                     f"fs, l = {a.get('mean_free_path_nm', float('nan')):.5g} nm")
    lines.append("observables: " + ", ".join(f"{n} [{res.density_unit(n)}]"
                                             for n in res.observables))
    lines += provenance.summary(res.provenance)
    return lines


def _describe_scan(path):
    import json
    from . import provenance
    path = os.fspath(path)
    file = os.path.join(path, "scan.h5") if os.path.isdir(path) else path
    if os.path.isdir(path) and not os.path.exists(file):
        return [f"{path}: slabqkt scan folder, no combined scan.h5 yet (run the scan again "
                "to finish it)"]
    with open_hdf5(file, "slabqkt scan") as f:
        fmt = _plain(f.attrs.get("format", ""))
        if not (isinstance(fmt, str) and fmt.startswith("slabqkt-scan")):
            raise SlabQKTError(f"{file} is not a slabqkt scan file (format attribute {fmt!r})")
        a = {k: _plain(v) for k, v in f.attrs.items()}
        prov = {k: _plain(v) for k, v in f["provenance"].attrs.items()} if "provenance" in f else {
            k: v for k, v in a.items() if k in ("slabqkt_version", "git_commit", "git_dirty",
                                                "command_line", "host", "date_utc")}
        try:
            keys = json.loads(a.get("param_dims", "[]"))
        except (TypeError, ValueError):
            keys = []
        dims = {k: (f[k].shape[0] if k in f and f[k].shape else 1) for k in keys}
        ratio = f["conductivity_ratio"][()] if "conductivity_ratio" in f else None

    def _js(key, default):
        try:
            return json.loads(a.get(key, default))
        except (TypeError, ValueError):
            return a.get(key, default)
    lines = [f"{file}: slabqkt scan, case {a.get('name', '?')!r}, {a.get('mode', '?')} mode, "
             "points over " + (", ".join(f"{k} ({n})" for k, n in dims.items()) or "?")]
    lines.append("observables: " + ", ".join(map(str, _js("observables", "[]"))))
    if ratio is not None and np.size(ratio):
        r = np.asarray(ratio, float)
        lines.append(f"conductivity ratio: {np.nanmin(r):.6g} .. {np.nanmax(r):.6g} over "
                     f"{r.size} point(s)")
    lines += provenance.summary(prov)
    return lines
