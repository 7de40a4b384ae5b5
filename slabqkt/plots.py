"""PNG plots of a result, labelled axes and units.

Every profile gets two panels: the whole slab against x/l, and a near-wall
view against the distance from each wall in units of the mean free path on
a log axis (left wall x/l, right wall (d - x)/l), where the edge layers of a
thick slab, squeezed into the first and last percent of the full view, are
resolved.
"""
import os

import numpy as np

from .observables import PARTS

_STYLE = {"intra": "-", "intrinsic": ":", "gradient": "--", "disorder": "-.", "total": "-"}


def _mpl():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def wall_distances(result):
    """Distances (units of l) from the left and the right wall over each half slab.

    Returns
    -------
    list of (side, mask, distance)
        ``mask`` selects the nodes of the half slab next to that wall at a
        positive distance; ``distance`` (1) is x/l or (d - x)/l there.
    """
    l = result.attrs["mean_free_path_nm"]
    x = np.asarray(result.x, float)
    d = x[-1]
    out = []
    for side, dist in (("left", x), ("right", d - x)):
        mask = (dist > 0) & (dist <= 0.5 * d)
        out.append((side, mask, dist[mask] / l))
    return out


def _near_wall(ax, result, y, label, ylabel, bulk=None, edge=None):
    """The near-wall panel: y against the distance from each wall, log axis."""
    for (side, mask, dist), style in zip(wall_distances(result), ("-", "--")):
        ax.plot(dist, np.broadcast_to(y, result.x.shape)[mask], style, color="k" if side ==
                "left" else "C3", label=f"{label}, {side} wall")
    if bulk is not None:
        ax.axhline(bulk, color="0.5", lw=0.8, label="bulk")
    for side, e in (edge or {}).items():
        ax.plot([0.1, 0.5, 1.0], [e["at_l10"], e["at_l2"], e["at_l"]], "o", ms=4, mfc="none",
                color="k" if side == "left" else "C3")
    ax.set_xscale("log")
    ax.set_xlabel("distance from the wall / l  (l = %.3g nm)" % result.attrs["mean_free_path_nm"])
    ax.set_ylabel(ylabel)
    ax.set_title("near the walls")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3, which="both")


def plot_current(result, path):
    """Current density along the field, j(x)/j_bulk, against x/l and near the walls."""
    plt = _mpl()
    x = result.x / result.attrs["mean_free_path_nm"]
    e = np.asarray(result.attrs["field_V_per_nm"], float)
    e = e / np.linalg.norm(e)
    j = sum(e[i] * result.profile(f"current_{a}") for i, a in enumerate("xyz")
            if f"current_{a}" in result.observables)
    jb = sum(e[i] * result.bulk[f"current_{a}"]["total"] for i, a in enumerate("xyz")
             if f"current_{a}" in result.bulk)
    fig, (ax, axw) = plt.subplots(1, 2, figsize=(11, 4))
    ax.plot(x, j / jb, label="j_E(x) / j_bulk")
    if "current_x" in result.observables:
        ax.plot(x, result.profile("current_x") / jb, "--", label="j_x(x) / j_bulk (must be 0)")
    ax.set_xlabel("x / l  (l = %.3g nm)" % result.attrs["mean_free_path_nm"])
    ax.set_ylabel("current density / bulk value (1)")
    ax.set_title("σ_film/σ_bulk = %.5f" % result.conductivity_ratio)
    ax.legend()
    ax.grid(alpha=0.3)
    _near_wall(axw, result, j / jb, "j_E / j_bulk", "current density / bulk value (1)", 1.0)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_observable(result, name, path):
    """The four parts of Eq. (1) and their total for one observable, against x/l; beside it
    the total near each wall (distance from the wall / l, log axis)."""
    plt = _mpl()
    x = result.x / result.attrs["mean_free_path_nm"]
    fig, (ax, axw) = plt.subplots(1, 2, figsize=(11, 4))
    for part in PARTS:
        y = result.profile(name, part)
        total = part == "total"
        # the total underneath, wide and pale, so that a part equal to it stays visible
        ax.plot(x, np.broadcast_to(y, x.shape), _STYLE[part], lw=4.0 if total else 1.3,
                alpha=0.35 if total else 1.0, zorder=1 if total else 2, color="k" if total else None,
                label=part)
    ax.axhline(result.bulk[name]["total"], color="0.5", lw=0.8, label="bulk total")
    _edge_summary(ax, result, name)
    ax.set_xlabel("x / l  (l = %.3g nm)" % result.attrs["mean_free_path_nm"])
    fld = np.linalg.norm(result.attrs["field_V_per_nm"]) * 1e9
    ylabel = f"{name} density ({result.density_unit(name)}) at |E| = {fld:.3g} V/m"
    ax.set_ylabel(ylabel)
    ax.set_title(f"{name}: parts of Eq. (1)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    _near_wall(axw, result, result.profile(name, "total"), f"{name} total", ylabel,
               result.bulk[name]["total"], (result.edges or {}).get(name, {}).get("total"))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _edge_summary(ax, result, name):
    """Edge quantities of the total (slabqkt.edge): markers at l/10, l/2, l from each wall
    and the excess per unit surface and decay length of each side as text."""
    edge = (result.edges or {}).get(name, {}).get("total")
    if not edge:
        return
    l = result.attrs["mean_free_path_nm"]
    d = result.x[-1] / l
    lines = []
    for side, sign, x0 in (("left", 1.0, 0.0), ("right", -1.0, d)):
        e = edge[side]
        xs = [x0 + sign * f for f in (0.1, 0.5, 1.0)]
        ys = [e["at_l10"], e["at_l2"], e["at_l"]]
        ax.plot(xs, ys, "o", ms=4, color="k", mfc="none",
                label="total at l/10, l/2, l from the walls" if side == "left" else None)
        lines.append(f"{side}: excess {e['excess']:.4g} {result.density_unit(name)} nm, "
                     f"decay length {e['decay_length']:.3g} nm")
    ax.text(0.02, 0.02, "\n".join(lines), transform=ax.transAxes, fontsize=7, va="bottom",
            bbox=dict(boxstyle="round", fc="white", alpha=0.8, lw=0.5))


def plot_result(result, stem):
    """All plots of a slab result; returns the list of PNG paths."""
    paths = [plot_current(result, f"{stem}_current.png")]
    for name in result.observables:
        if name.startswith("current_") or name == "density":
            continue
        paths.append(plot_observable(result, name, f"{stem}_{name}.png"))
    return paths


def stem_of(path):
    return os.path.splitext(os.fspath(path))[0]
