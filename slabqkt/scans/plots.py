"""Summary plots of a combined scan (PNG, labelled axes with units).

- ``<stem>_conductivity_vs_<key>.png``: sigma_film/sigma_bulk against each varied key, one
  line per value of the next varied key; for a single parabolic band with constant
  specularities the Fuchs-Sondheimer (Lucas) closed form is drawn as dashed curves.
- ``<stem>_<observable>_edge_vs_<key>.png``: edge accumulation (integrated excess) and
  decay length at both surfaces against each varied key.
- ``<stem>_conductivity_map.png``, ``<stem>_<observable>_excess_map.png``: heat maps when
  two (or more: the others at their first value) keys vary.

Works on :class:`slabqkt.scans.ScanData` (no xarray needed); :func:`plot_scan_path` draws
them from a scan folder or its ``scan.h5`` (``slabqkt plot``).
"""
import os

import numpy as np

from ..analytic import fuchs_sondheimer
from ..errors import SlabQKTError

#: observables without an interesting edge: the charge density (neutral) and j_x (zero)
SKIP_EDGE = ("density", "current_x")
MAX_LINES = 8

_FRIENDLY = {
    "slab.thickness_mfp": "thickness d / l",
    "slab.thickness_nm": "thickness d",
    "fermi_surface.fermi_level_eV": "Fermi level",
    "disorder.tau_fs": "relaxation time",
    "disorder.mean_free_path_nm": "mean free path",
}


def _mpl():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _slug(key):
    return key.replace(".", "_")


def _label(data, key):
    unit = data.coords[key][2].get("units", "1")
    parts = key.split(".")
    if parts[0] == "boundaries":
        what = {"specularity": "specularity p", "roughness_nm": "rms roughness r"}.get(parts[2], parts[2])
        side = {"left": "x = 0", "right": "x = d", "both": "both surfaces"}[parts[1]]
        name = f"{what} ({side})"
    else:
        name = _FRIENDLY.get(key, key)
    return f"{name} ({unit})\n[{key}]"


def _numeric(vals):
    return np.issubdtype(np.asarray(vals).dtype, np.number)


def _use_log(vals):
    v = np.asarray(vals, float)
    return bool(np.all(v > 0) and v.max() / v.min() >= 20)


def _axis(data, key):
    """(values along the key, is numeric, log axis) for a product dimension or zipped key."""
    vals = data.coords[key][1]
    if not _numeric(vals):
        return np.arange(len(vals)), False, False
    return np.asarray(vals, float), True, _use_log(vals)


def _series(data, axis_key):
    """Lines along ``axis_key``: list of (label, index tuple into the param shape)."""
    dims = data.param_dims
    shape = data.get("conductivity_ratio")[1].shape
    if data.attrs["mode"] == "zip":
        return [("", (slice(None),))]
    a = dims.index(axis_key)
    others = [d for d in dims if d != axis_key]
    line = others[0] if others else None
    out = []
    js = [0] if line is None else range(shape[dims.index(line)])
    if line is not None and len(js) > MAX_LINES:
        js = np.unique(np.linspace(0, len(js) - 1, MAX_LINES).round().astype(int))
    for j in js:
        idx = [0] * len(dims)
        idx[a] = slice(None)
        label = ""
        if line is not None:
            idx[dims.index(line)] = j
            v = data.coords[line][1][j]
            label = f"{line} = {v:.4g}" if _numeric([v]) else f"{line} = {v}"
        out.append((label, tuple(idx)))
    return out


def _fixed_note(data, keys_shown):
    dims = data.param_dims
    rest = [d for d in dims if d not in keys_shown]
    if not rest or data.attrs["mode"] == "zip":
        return ""
    return " (" + ", ".join(f"{d} = {data.coords[d][1][0]}" for d in rest) + ")"


def _fs_curve(data, axis_key, idx, x):
    """Dense Fuchs-Sondheimer curve along the line ``idx``, or None."""
    fs = data.get("fuchs_sondheimer")[1][idx]
    if not np.all(np.isfinite(fs)):
        return None
    dim = int(data.attrs["dimension"])
    kap = np.asarray(data.get("thickness_mfp")[1][idx], float)
    pl = np.asarray(data.get("specularity_left")[1][idx], float)
    pr = np.asarray(data.get("specularity_right")[1][idx], float)
    if axis_key in ("slab.thickness_mfp", "slab.thickness_nm") and len(x) > 1:
        lo, hi = kap.min(), kap.max()
        kd = np.geomspace(lo, hi, 120) if _use_log(kap) else np.linspace(lo, hi, 120)
        xd = kd * (x[0] / kap[0])
        return xd, [fuchs_sondheimer(k, pl[0], dim, pr[0]) for k in kd]
    parts = axis_key.split(".")
    if parts[0] == "boundaries" and parts[-1] == "specularity" and len(x) > 1:
        pd = np.linspace(x.min(), x.max(), 120)
        if parts[1] == "both":
            vals = [fuchs_sondheimer(kap[0], p, dim, p) for p in pd]
        elif parts[1] == "left":
            vals = [fuchs_sondheimer(kap[0], p, dim, pr[0]) for p in pd]
        else:
            vals = [fuchs_sondheimer(kap[0], pl[0], dim, p) for p in pd]
        return pd, vals
    return None


def plot_conductivity(data, axis_key, path):
    """sigma_film/sigma_bulk against one varied key (+ Fuchs-Sondheimer where it applies)."""
    plt = _mpl()
    x, numeric, log = _axis(data, axis_key)
    ratio = data.get("conductivity_ratio")[1]
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    fs_labelled = False
    for n, (label, idx) in enumerate(_series(data, axis_key)):
        color = f"C{n % 10}"
        curve = _fs_curve(data, axis_key, idx, x) if numeric else None
        # with a reference curve the computed points are markers (the curve is the line)
        ax.plot(x, ratio[idx], "o" if curve is not None else "o-", color=color, ms=5,
                label=label or "slabqkt")
        if curve is not None:
            ax.plot(curve[0], curve[1], "--", color=color, lw=1,
                    label=None if fs_labelled else "Fuchs-Sondheimer (closed form)")
            fs_labelled = True
        elif np.all(np.isfinite(data.get("fuchs_sondheimer")[1][idx])):
            ax.plot(x, data.get("fuchs_sondheimer")[1][idx], "x", color=color,
                    label=None if fs_labelled else "Fuchs-Sondheimer (closed form)")
            fs_labelled = True
    if log:
        ax.set_xscale("log")
    if not numeric:
        ax.set_xticks(x, data.coords[axis_key][1], rotation=30)
    ax.set_xlabel(_label(data, axis_key))
    ax.set_ylabel("conductivity ratio σ_film / σ_bulk (1)")
    ax.set_title(f"{data.attrs['name']}: conductivity{_fixed_note(data, [axis_key] + data.param_dims[:2])}",
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_edges(data, name, axis_key, path):
    """Edge accumulation (excess) and decay length of one observable against a varied key."""
    plt = _mpl()
    x, numeric, log = _axis(data, axis_key)
    parts = list(data.coords["edge_part"][1])
    k = parts.index("total")
    exc_d, exc, exc_a = data.get(f"{name}_edge_excess")
    _, dec, _ = data.get(f"{name}_edge_decay_length")
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for n, (label, idx) in enumerate(_series(data, axis_key)):
        color = f"C{n % 10}"
        for s, (side, style) in enumerate((("left", "o-"), ("right", "s--"))):
            lab = f"{label}, {side}" if label else side
            a1.plot(x, exc[idx + (k, s)], style, color=color, ms=4, label=lab)
            a2.plot(x, dec[idx + (k, s)], style, color=color, ms=4, label=lab)
    for ax in (a1, a2):
        if log:
            ax.set_xscale("log")
        if not numeric:
            ax.set_xticks(x, data.coords[axis_key][1], rotation=30)
        ax.set_xlabel(_label(data, axis_key))
        ax.grid(alpha=0.3)
    a1.set_ylabel(f"{name} edge excess ({exc_a.get('units')})")
    a2.set_ylabel("decay length (nm)")
    a1.axhline(0, color="0.5", lw=0.6)
    a1.legend(fontsize=7)
    fig.suptitle(f"{data.attrs['name']}: {name} edge accumulation (total of Eq. 1), left x = 0, "
                 f"right x = d{_fixed_note(data, [axis_key] + data.param_dims[:2])}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _ticks(data, key):
    vals = data.coords[key][1]
    return [f"{v:.3g}" if _numeric([v]) else str(v) for v in vals]


def plot_map(data, values, label, path, title):
    """Heat map over the first two varied keys (x: the second, y: the first), one cell per point."""
    plt = _mpl()
    dims = data.param_dims
    ky, kx = dims[0], dims[1]
    idx = (slice(None), slice(None)) + (0,) * (len(dims) - 2)
    z = np.asarray(values[idx], float)
    ny, nx = z.shape
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    mesh = ax.pcolormesh(np.arange(nx + 1) - 0.5, np.arange(ny + 1) - 0.5, z, shading="flat",
                         cmap="viridis")
    if z.size <= 64 and np.any(np.isfinite(z)):
        mid = 0.5 * (np.nanmin(z) + np.nanmax(z))
        for i in range(ny):
            for j in range(nx):
                if np.isfinite(z[i, j]):
                    ax.text(j, i, f"{z[i, j]:.3g}", ha="center", va="center", fontsize=7,
                            color="k" if z[i, j] > mid else "w")
    step_x, step_y = max(1, nx // 12), max(1, ny // 12)
    ax.set_xticks(np.arange(nx)[::step_x], _ticks(data, kx)[::step_x], rotation=30)
    ax.set_yticks(np.arange(ny)[::step_y], _ticks(data, ky)[::step_y])
    ax.set_xlabel(_label(data, kx))
    ax.set_ylabel(_label(data, ky))
    fig.colorbar(mesh, ax=ax, label=label)
    ax.set_title(title + _fixed_note(data, [kx, ky]), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _zip_axis(data):
    """The zipped key used as abscissa: the first numeric one (else the point index)."""
    keys = data.varied
    for k in keys:
        if _numeric(data.coords[k][1]):
            return k
    return "point"


def plot_scan(data, stem):
    """Every summary plot of a scan; returns the PNG paths."""
    import json
    names = json.loads(data.attrs["observables"])
    # current components normal to E vanish in these geometries: no edge plot for them
    field = np.asarray(json.loads(data.attrs.get("field_direction", "[0, 1, 0]")), float)
    normal = [f"current_{a}" for i, a in enumerate("xyz") if abs(field[i]) < 1e-12 * np.abs(field).max()]
    edge_names = [n for n in names if n not in SKIP_EDGE and n not in normal
                  and f"{n}_edge_excess" in data.data]
    axes = data.param_dims if data.attrs["mode"] == "product" else [_zip_axis(data)]
    paths = []
    for key in axes:
        paths.append(plot_conductivity(data, key, f"{stem}_conductivity_vs_{_slug(key)}.png"))
    for name in edge_names:
        for key in axes:
            paths.append(plot_edges(data, name, key, f"{stem}_{name}_edge_vs_{_slug(key)}.png"))
    if data.attrs["mode"] == "product" and len(data.param_dims) >= 2:
        paths.append(plot_map(data, data.get("conductivity_ratio")[1], "σ_film / σ_bulk (1)",
                              f"{stem}_conductivity_map.png",
                              f"{data.attrs['name']}: conductivity ratio"))
        for name in edge_names:
            _, exc, a = data.get(f"{name}_edge_excess")
            k = list(data.coords["edge_part"][1]).index("total")
            paths.append(plot_map(data, exc[..., k, 0], f"{name} excess at x = 0 ({a.get('units')})",
                                  f"{stem}_{name}_excess_map.png",
                                  f"{data.attrs['name']}: {name} edge accumulation (x = 0)"))
    return paths


def plot_scan_path(path):
    """Draw the summary plots of a finished scan; returns the PNG paths.

    Parameters
    ----------
    path : str or os.PathLike
        A scan folder (holding ``scan.toml`` and the combined ``scan.h5``) or a combined
        scan file. The PNGs go beside the file: ``<stem>_conductivity_vs_<key>.png``, ...

    Raises
    ------
    SlabQKTError
        One line for anything else: a missing file, a folder that is not a scan folder, a
        scan not finished yet, a file that is not a complete scan result, an unwritable folder.
    """
    from .dataset import read_scan
    path = os.fspath(path)
    if os.path.isdir(path):
        if not os.path.exists(os.path.join(path, "scan.toml")):
            raise SlabQKTError(f"{path} is a folder but not a slabqkt scan folder (no scan.toml)")
        path = os.path.join(path, "scan.h5")
        if not os.path.exists(path):
            raise SlabQKTError(f"{os.path.dirname(path)} is a scan folder without a combined "
                               "result yet (no scan.h5: rerun `slabqkt scan` to finish it)")
    data = read_scan(path)
    try:
        return plot_scan(data, os.path.splitext(path)[0])
    except OSError as exc:
        raise SlabQKTError(f"cannot write the plots of {path} ({exc.strerror or exc})") from None
    except (KeyError, ValueError, IndexError) as exc:
        raise SlabQKTError(f"{path} is not a complete slabqkt scan result ({exc})") from None
