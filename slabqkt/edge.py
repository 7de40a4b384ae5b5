"""Edge quantities of a profile o(x) on [0, d], converged with the grid.

At a diffuse wall the gradient part of a density diverges logarithmically
(integrable), so the value *at* the wall depends on the grid. Reported
instead (DESIGN section 3), for each surface, with o_mid = o(d/2):

- ``excess``: A = int (o(x) - o_mid) dx over the half slab next to the
  surface (unit of o times nm);
- ``at_l10``, ``at_l2``, ``at_l``: o at distance l/10, l/2, l from the wall
  (NaN when that point lies beyond the middle);
- ``decay_length``: the centroid of |o - o_mid| over the half slab,
  int y |o - o_mid| dy / int |o - o_mid| dy (y the distance to the wall),
  which equals lambda for o - o_mid = a exp(-y/lambda) in a thick slab (nm).

Integrals use exact cell integrals when they are given
(:func:`cell_integrals`): the gradient part integrates exactly over every
cell from its primitive (see
:meth:`slabqkt.observables.ObservableSet.gradient_primitives`), which makes
``excess`` and ``decay_length`` converge at second order in n_x uniformly
in the number of Fermi points; the trapezoid rule on the nodal values does
not (grazing states have boundary layers thinner than the first cell).
"""
import numpy as np

EDGE_KEYS = ("excess", "at_l10", "at_l2", "at_l", "decay_length")

_INTEG = np.trapezoid if hasattr(np, "trapezoid") else np.trapz


def _half(x, o, side):
    d = x[-1]
    mid = 0.5 * d
    o_mid = np.interp(mid, x, o)
    if side == "left":
        sel = x < mid
        y = np.concatenate([x[sel], [mid]])
        f = np.concatenate([o[sel], [o_mid]])
    else:
        sel = x > mid
        y = np.concatenate([[mid], x[sel]])
        f = np.concatenate([[o_mid], o[sel]])
        y = d - y
        y, f = y[::-1], f[::-1]
    return y, f, o_mid


def cell_integrals(x, parts, gradient_primitive=None):
    """Integral of every part of Eq. (1) over every cell [x_j, x_{j+1}].

    Parameters
    ----------
    x : (n_nodes,) nodes, nm
    parts : dict part -> (n_nodes,) array or scalar (intra, intrinsic, gradient, disorder)
    gradient_primitive : (n_nodes,), optional
        G with gradient = -dG/dx exactly in every cell (unit of o times nm).

    Returns
    -------
    dict part -> (n_cells,) in unit of o times nm; ``total`` is the sum.
    The smooth parts use the trapezoid rule; the gradient part is
    -(G_{j+1} - G_j) when G is given.
    """
    dx = np.diff(x)
    out = {}
    for p in ("intra", "intrinsic", "gradient", "disorder"):
        o = np.broadcast_to(np.asarray(parts[p], float), x.shape)
        out[p] = 0.5 * dx * (o[1:] + o[:-1])
    if gradient_primitive is not None:
        out["gradient"] = -np.diff(np.asarray(gradient_primitive, float))
    out["total"] = out["intra"] + out["intrinsic"] + out["gradient"] + out["disorder"]
    return out


def _half_cells(x, cells, side):
    """Cell integrals and cell-centre distances to the wall over one half slab.

    The cell containing d/2 (odd n_x) contributes its fraction beyond the
    middle in proportion to length.
    """
    d = x[-1]
    mid = 0.5 * d
    a, b = x[:-1], x[1:]
    if side == "left":
        lo, hi = a, np.minimum(b, mid)
        keep = a < mid
        y = 0.5 * (lo + hi)
    else:
        lo, hi = np.maximum(a, mid), b
        keep = b > mid
        y = d - 0.5 * (lo + hi)
    frac = np.clip((hi - lo) / (b - a), 0.0, 1.0)
    return (cells * frac)[keep], (hi - lo)[keep], y[keep]


def edge_quantities(x, o, mean_free_path, cell_integrals=None):
    """Edge quantities of profile ``o`` (on nodes ``x``) for both surfaces.

    Parameters
    ----------
    x : (n_nodes,) nm
    o : (n_nodes,) profile (any unit)
    mean_free_path : float, nm
    cell_integrals : (n_cells,), optional
        Exact integrals of ``o`` over the cells (:func:`cell_integrals`);
        used for ``excess`` and ``decay_length`` instead of the trapezoid rule.

    Returns
    -------
    dict side -> dict key -> float
    """
    o = np.broadcast_to(np.asarray(o, float), np.shape(x))
    out = {}
    for side in ("left", "right"):
        y, f, o_mid = _half(x, o, side)
        if cell_integrals is None:
            ex = f - o_mid
            excess = float(_INTEG(ex, y))
            a = np.abs(ex)
            norm = _INTEG(a, y)
            first = _INTEG(y * a, y)
        else:
            c, dy, yc = _half_cells(x, np.asarray(cell_integrals, float), side)
            exc = c - o_mid * dy
            excess = float(exc.sum())
            a = np.abs(exc)
            norm = a.sum()
            first = np.sum(yc * a)
        decay = float(first / norm) if norm > 0 else float("nan")
        vals = {}
        for key, frac in (("at_l10", 0.1), ("at_l2", 0.5), ("at_l", 1.0)):
            dist = frac * mean_free_path
            vals[key] = float(np.interp(dist, y, f)) if dist <= y[-1] else float("nan")
        out[side] = {"excess": excess, **vals, "decay_length": decay, "mid": float(o_mid)}
    return out
