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
"""
import numpy as np

EDGE_KEYS = ("excess", "at_l10", "at_l2", "at_l", "decay_length")


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


def edge_quantities(x, o, mean_free_path):
    """Edge quantities of profile ``o`` (on nodes ``x``) for both surfaces.

    Returns
    -------
    dict side -> dict key -> float
    """
    out = {}
    for side in ("left", "right"):
        y, f, o_mid = _half(x, o, side)
        ex = f - o_mid
        integ = np.trapezoid if hasattr(np, "trapezoid") else np.trapz
        excess = float(integ(ex, y))
        a = np.abs(ex)
        norm = integ(a, y)
        decay = float(integ(y * a, y) / norm) if norm > 0 else float("nan")
        vals = {}
        for key, frac in (("at_l10", 0.1), ("at_l2", 0.5), ("at_l", 1.0)):
            dist = frac * mean_free_path
            vals[key] = float(np.interp(dist, y, f)) if dist <= y[-1] else float("nan")
        out[side] = {"excess": excess, **vals, "decay_length": decay, "mid": float(o_mid)}
    return out
