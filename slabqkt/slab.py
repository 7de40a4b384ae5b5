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


class Grid:
    """Nodes x_0 = 0 < ... < x_n = d (nm).

    Parameters
    ----------
    thickness : float
        d in nm.
    n_cells : int
    grading : float in [0, 1)
        0 uniform; g blends x = d[(1-g) u + g (1 - cos(pi u))/2], u uniform.
    """

    def __init__(self, thickness, n_cells, grading=0.5):
        u = np.linspace(0.0, 1.0, n_cells + 1)
        self.x = thickness * ((1 - grading) * u + grading * 0.5 * (1 - np.cos(np.pi * u)))
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
