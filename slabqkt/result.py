"""Results: one self-describing HDF5 file per run, written atomically.

Layout (all lengths nm, densities per nm^d at the case's field):

    /               attrs: case (TOML text), conductivity_ratio, mean_free_path_nm,
                    tau_fs, n_i_v0_sq, ... (see docs/results.md)
    /x              (n_nodes,) nm, attrs units="nm"
    /observables/<name>/<part>   (n_nodes,) part in intra, intrinsic, gradient,
                    disorder, total; attrs units, and the bulk value
    /observables/<name>/edge/<part>/<side>   attrs: excess, at_l10, at_l2, at_l,
                    decay_length, mid

Dimension scales make every profile an xarray variable over ``x``
(``xarray.open_dataset(path, group="observables/spin_y")``).
"""
import contextlib
import dataclasses
import os
import tempfile

import numpy as np

from . import case as case_mod
from .observables import PARTS


@contextlib.contextmanager
def atomic_h5(path):
    """An h5py.File open for writing that appears at ``path`` only when complete.

    It is written as a temporary file in the same folder and renamed
    (``os.replace`` is atomic on POSIX); on any error the temporary file is
    removed and nothing appears.
    """
    import h5py
    path = os.fspath(path)
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

    @property
    def conductivity_ratio(self):
        return self.attrs.get("conductivity_ratio")

    def density_unit(self, name):
        d = self.attrs["dimension"]
        u = self.units.get(name, "1")
        return f"{u} nm^-{d}" if u != "1" else f"nm^-{d}"

    def profile(self, name, part="total"):
        return np.asarray(self.observables[name][part])

    def save(self, path):
        """Write atomically (:func:`atomic_h5`); returns the path."""
        with atomic_h5(path) as f:
            f.attrs["case"] = case_mod.to_toml(self.case)
            f.attrs["format"] = "slabqkt-result-1"
            for k, v in self.attrs.items():
                f.attrs[k] = v
            if self.x is not None:
                dx = f.create_dataset("x", data=self.x)
                dx.attrs["units"] = "nm"
                dx.attrs["long_name"] = "distance from the left surface"
                dx.make_scale("x")
            grp = f.create_group("observables")
            for name, parts in self.observables.items():
                g = grp.create_group(name)
                unit = self.density_unit(name)
                g.attrs["units"] = unit
                g.attrs["operator_units"] = self.units.get(name, "1")
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
        return os.fspath(path)


def load_result(path):
    """Read a result file back into a :class:`Result`."""
    import h5py
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover
        import tomli as tomllib
    with h5py.File(path, "r") as f:
        case = tomllib.loads(f.attrs["case"])
        attrs = {k: (v.item() if hasattr(v, "item") and np.ndim(v) == 0 else v)
                 for k, v in f.attrs.items() if k not in ("case", "format")}
        x = f["x"][...] if "x" in f else None
        obs, bulk, units, edges = {}, {}, {}, {}
        for name, g in f["observables"].items():
            obs[name] = {p: g[p][()] for p in PARTS}
            bulk[name] = {p: float(g[p].attrs["bulk"]) for p in PARTS}
            units[name] = g.attrs["operator_units"]
            if "edge" in g:
                edges[name] = {part: {side: dict(gs.attrs) for side, gs in gp.items()}
                               for part, gp in g["edge"].items()}
    return Result(case=case, x=x, observables=obs, bulk=bulk, attrs=attrs, units=units, edges=edges)
