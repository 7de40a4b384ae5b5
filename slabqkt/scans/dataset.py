"""The combined, labelled scan result (``DIR/scan.h5``): build, write, read.

Layout: parameter dimensions (one per varied key in product mode, ``point`` in zip mode),
then ``part`` / ``edge_part`` / ``side`` and ``node``; one HDF5 dataset per variable with
its dimension names in the ``dims`` attribute (JSON). ``/provenance`` (a group) holds how
the file was made when :mod:`slabqkt.provenance` is available.
"""
import json
import os

import numpy as np

from .. import case as case_mod
from ..case import SCHEMA
from ..errors import SlabQKTError
from ..result import atomic_h5
from .spec import dumps_toml, inline_toml, targets
from .store import point_path, read_point

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
FORMAT = "slabqkt-scan-1"
#: root attributes and variables every combined file has (read_scan checks them)
REQUIRED_ATTRS = ("name", "mode", "param_dims", "varied_keys", "observables", "dimension")
REQUIRED_DATA = ("conductivity_ratio", "fuchs_sondheimer", "thickness_mfp",
                 "specularity_left", "specularity_right")


class ScanData:
    """The combined scan result as plain arrays (xarray-free; :func:`load_scan` converts).

    Attributes
    ----------
    coords, data : dict name -> (dims tuple, ndarray, attrs dict)
    attrs : dict
    """

    def __init__(self, coords, data, attrs, provenance=None):
        self.coords, self.data, self.attrs = coords, data, attrs
        #: how the file was made (slabqkt.provenance.collect), stored in /provenance
        self.provenance = dict(provenance or {})

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
            if self.provenance:
                g = f.create_group("provenance")
                for k, v in self.provenance.items():
                    g.attrs[str(k)] = _attr_value(v)
        return os.fspath(path)


def _attr_value(v):
    """An HDF5 attribute value: numbers and strings as they are, anything else as JSON."""
    if isinstance(v, (bool, int, float, str, np.integer, np.floating)):
        return v
    return json.dumps(v, default=str)


def _coord_values(values):
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=np.int64)
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=float)
    if all(isinstance(v, bool) for v in values):
        return np.asarray(values, dtype=bool)
    if all(isinstance(v, str) for v in values):
        return np.asarray(values, dtype=str)
    return np.asarray([inline_toml(v) for v in values], dtype=str)


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
    from ..analytic import fuchs_sondheimer
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
    if results is None:
        results = [read_point(point_path(scan.directory, i)) for i in range(scan.size)]
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
    attrs = {"format": FORMAT, "case": dumps_toml(scan.base), "scan": scan.spec.to_toml(),
             "name": scan.name, "mode": spec.mode, "param_dims": json.dumps(list(pdims)),
             "varied_keys": json.dumps(spec.keys), "n_points": scan.size,
             "dimension": int(scan.base["model"]["dimension"]),
             "model": scan.base["model"]["kind"],
             "field_direction": json.dumps(scan.base["field"]["direction"]),
             "observables": json.dumps(names)}
    for k, v in (run_info or {}).items():
        attrs[k] = v
    return ScanData(coords, data, attrs)


def _scalar(v):
    return v.item() if hasattr(v, "item") and np.ndim(v) == 0 else v


def read_scan(path):
    """Read a combined scan file (or the scan folder) into a :class:`ScanData`.

    No xarray needed. Anything but a complete slabqkt scan result is a one-line
    :class:`~slabqkt.errors.SlabQKTError`.
    """
    import h5py
    path = os.fspath(path)
    if os.path.isdir(path):
        folder = path
        path = os.path.join(path, "scan.h5")
        if not os.path.exists(path):
            if os.path.exists(os.path.join(folder, "scan.toml")):
                raise SlabQKTError(f"{folder} is a scan folder without a combined result yet "
                                   "(no scan.h5: rerun `slabqkt scan` to finish the scan)")
            raise SlabQKTError(f"{folder} is a folder, not a slabqkt scan folder (no scan.toml "
                               "or scan.h5)")
    if not os.path.exists(path):
        raise SlabQKTError(f"{path}: no such file")
    if not os.path.isfile(path):
        raise SlabQKTError(f"{path} is not a regular file (expected a slabqkt scan result)")
    coords, data, prov = {}, {}, {}
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        msg = str(exc).splitlines()[0] if str(exc) else "unreadable"
        raise SlabQKTError(f"{path} is not a readable HDF5 file ({msg})") from None
    try:
        with f:
            if f.attrs.get("format") != FORMAT:
                raise SlabQKTError(f"{path} is not a slabqkt scan result (format "
                                   f"{_scalar(f.attrs.get('format'))!r}, expected {FORMAT!r})")
            attrs = {k: _scalar(v) for k, v in f.attrs.items()}
            for name, ds in f.items():
                if isinstance(ds, h5py.Group):
                    if name == "provenance":
                        prov = {k: _scalar(v) for k, v in ds.attrs.items()}
                    continue
                val = ds[()]
                if isinstance(val, np.ndarray) and val.dtype.kind == "S":
                    val = val.astype(str)
                dims = tuple(json.loads(ds.attrs["dims"]))
                a = {k: _scalar(v) for k, v in ds.attrs.items() if k not in ("dims", "role")}
                (coords if ds.attrs["role"] == "coordinate" else data)[name] = (dims, val, a)
    except SlabQKTError:
        raise
    except Exception as exc:  # truncated datasets, missing dims/role attributes
        msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SlabQKTError(f"{path} is not a complete slabqkt scan result ({msg})") from None
    missing = [k for k in REQUIRED_ATTRS if k not in attrs] + [k for k in REQUIRED_DATA
                                                               if k not in data]
    if missing:
        raise SlabQKTError(f"{path} is not a complete slabqkt scan result (no "
                           f"{', '.join(missing)})")
    return ScanData(coords, data, attrs, prov)


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
                           "slabqkt.scans.read_scan for plain arrays") from None
    sd = read_scan(path)
    coords = {k: xr.Variable(d, v, a) for k, (d, v, a) in sd.coords.items()}
    data = {k: xr.Variable(d, v, a) for k, (d, v, a) in sd.data.items()}
    attrs = dict(sd.attrs)
    if sd.provenance:
        attrs["provenance"] = json.dumps(sd.provenance, default=str)
    return xr.Dataset(data, coords=coords, attrs=attrs)
