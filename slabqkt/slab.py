"""The slab: graded x grid on [0, d] and the two surfaces.

The x grid is refined near both surfaces (boundary layers have the mean
free path as scale). Surfaces are Fuchs (constant specularity p) or rough
with the Ziman-Soffer angle-dependent specularity

    p(s) = exp(-(2 k_x(s) r)^2) = exp(-(4 pi r cos(theta) / lambda_F)^2),

r the rms roughness (J. M. Ziman, Electrons and Phonons, 1960, sec. 11.4;
S. B. Soffer, J. Appl. Phys. 38, 1710 (1967), his Eq. (9) in the
small-slope limit).
"""
import numpy as np

from .tools import get_logger

log = get_logger("slab")


class Grid:
    """Nodes x_0 = 0 < ... < x_n = d (nm).

    Parameters
    ----------
    thickness : float
        d in nm.
    n_cells : int
    grading : float in [0, 1), optional
        Cosine grid only: 0 uniform; g blends x = d[(1-g) u + g (1 - cos(pi u))/2],
        u uniform. Default 0.5.
    kind : {'cosine', 'geometric'}
        'geometric': cells grow by a constant ratio from ``first_cell`` at each
        wall towards the middle (symmetric); when ``n_cells`` cells of size
        ``first_cell`` already fill the slab, the grid is uniform. Default
        'cosine' (the historical grid; :func:`grid_from_case` picks 'geometric').
    first_cell : float, optional
        'geometric' only: width of the cells at the walls (nm).
    """

    def __init__(self, thickness, n_cells, grading=0.5, kind="cosine", first_cell=None):
        if kind == "geometric":
            self.x = thickness * geometric_nodes(n_cells, first_cell / thickness)
        else:
            g = 0.5 if grading is None else grading
            u = np.linspace(0.0, 1.0, n_cells + 1)
            self.x = thickness * ((1 - g) * u + g * 0.5 * (1 - np.cos(np.pi * u)))
        self.kind = kind
        self.x[0], self.x[-1] = 0.0, thickness
        self.dx = np.diff(self.x)
        self.thickness = float(thickness)
        self.n_cells = n_cells
        q = np.zeros(n_cells + 1)
        q[:-1] += 0.5 * self.dx
        q[1:] += 0.5 * self.dx
        #: trapezoid weights: integral of f over [0, d] is q @ f (nm)
        self.quad = q

    @property
    def n_nodes(self):
        return self.n_cells + 1

    def integrate(self, f, axis=0):
        return np.tensordot(self.quad, f, axes=([0], [axis]))


def geometric_nodes(n_cells, h0):
    """Nodes on [0, 1] of the symmetric geometric grid with first cell h0 (in units of d).

    Each half holds n_cells // 2 cells growing by a ratio r >= 1 chosen so that
    they fill it exactly (an odd n_cells puts one more cell in the middle, of
    the size its neighbours would have). r = 1 (uniform) when uniform cells
    are already no wider than h0.
    """
    m = n_cells // 2
    odd = n_cells % 2
    if h0 * n_cells >= 1.0 or m == 0:
        return np.linspace(0.0, 1.0, n_cells + 1)

    def half_length(r):
        # m cells h0 r^j (j < m), plus half of a middle cell h0 r^m for odd n_cells
        s = m if r == 1.0 else (r ** m - 1) / (r - 1)
        return h0 * (s + 0.5 * odd * r ** m)

    lo, hi = 1.0, 2.0
    while half_length(hi) < 0.5:
        hi *= 2.0
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if half_length(mid) < 0.5 else (lo, mid)
    r = 0.5 * (lo + hi)
    cells = h0 * r ** np.arange(m)
    mid_cell = [h0 * r ** m] if odd else []
    dx = np.concatenate([cells, mid_cell, cells[::-1]])
    x = np.concatenate([[0.0], np.cumsum(dx)])
    return x / x[-1]


def grid_from_case(slab, thickness, mean_free_path):
    """The x grid of a ``[slab]`` case table for a slab of ``thickness`` nm.

    ``slab.grid``: 'geometric' (first cell ``first_cell_mfp`` mean free paths),
    'cosine' (``slab.grading``), or 'auto' (the default: 'cosine' when the
    case gives ``slab.grading``, else 'geometric'). Logs a WARNING when the
    cells at the walls are wider than half a mean free path: the wall layers
    (thickness ~ l) are then not resolved.
    """
    from .errors import CaseError
    kind = slab.get("grid", "auto")
    if kind == "auto":
        kind = "cosine" if "grading" in slab else "geometric"
    if kind == "geometric" and "grading" in slab:
        raise CaseError("slab.grading", slab["grading"], "used only by slab.grid = 'cosine' "
                        "(the geometric grid is set by slab.first_cell_mfp)")
    grid = Grid(thickness, slab["n_x"], slab.get("grading"), kind,
                slab.get("first_cell_mfp", 0.1) * mean_free_path)
    first = float(grid.dx[0])
    if first > 0.5 * mean_free_path:
        log.warning(
            "the x grid does not resolve the wall layers: its first cell is %.3g mean free paths "
            "wide (%s grid, n_x = %d); profiles near the walls and the wall deficit of the "
            "conductivity (~ l/d) are then wrong by a large fraction of their size (use "
            "slab.grid = 'geometric' with slab.first_cell_mfp <= 0.1, or more cells)",
            first / mean_free_path, kind, grid.n_cells)
    return grid


class Surface:
    """One surface: constant specularity or rms roughness.

    Parameters
    ----------
    specularity : float, optional
    roughness_nm : float, optional
    """

    def __init__(self, specularity=None, roughness_nm=None):
        self.specularity = specularity
        self.roughness_nm = roughness_nm

    @classmethod
    def from_case(cls, table):
        return cls(table.get("specularity"), table.get("roughness_nm"))

    def p(self, k):
        """Specularity of every state with wavevector k (Ns, d), in [0, 1]."""
        if self.roughness_nm is not None:
            return np.exp(-(2.0 * k[:, 0] * self.roughness_nm) ** 2)
        p = 0.0 if self.specularity is None else self.specularity
        return np.full(len(k), float(p))

    def describe(self):
        if self.roughness_nm is not None:
            return f"rough, r = {self.roughness_nm:g} nm (Ziman-Soffer p = exp(-(2 k_x r)^2))"
        return f"Fuchs, p = {0.0 if self.specularity is None else self.specularity:g}"
