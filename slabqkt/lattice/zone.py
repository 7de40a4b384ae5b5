"""The periodic Brillouin zone in the film frame, mirror symmetric in k_x.

The film frame has x along the film normal. When the normal is a lattice
plane (Miller indices (hkl)), the shortest reciprocal-lattice vector along it,
b_perp = (B, 0, ...), completes to a reciprocal basis {b_perp, b_2, b_3}. The
set

    k_x in [-B/2, B/2)  x  {beta q_2 + gamma q_3 : beta, gamma in [0, 1)},

q_i the in-plane projections of b_i, is then a fundamental domain of the
reciprocal lattice: it has the cell's volume B |q_2 x q_3| and tiles k-space
(shift by b_2, b_3 to bring k_par into the cell, then by b_perp to bring k_x
into range). It is symmetric under k_x -> -k_x (k_x = +-B/2 are the same
plane), which is what Fuchs-Sondheimer's specular partner needs. Lattice
models (:mod:`slabqkt.lattice`) carry a :class:`Zone` as ``model.zone``;
Fermi-surface samplers build the half k_x >= 0 and reflect it.
"""
import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class Zone:
    """Mirror-symmetric fundamental domain of the reciprocal lattice (film frame).

    Attributes
    ----------
    kx_period : float
        B, the length of the shortest reciprocal-lattice vector along the
        film normal x (nm^-1): k_x is periodic with period B, the domain is
        k_x in [-B/2, B/2).
    par : ndarray (d - 1, d)
        In-plane reciprocal cell vectors q_i (nm^-1), x components exactly 0:
        k_par = sum_i t_i q_i, t_i in [0, 1).
    reciprocal : ndarray (d, d)
        A reciprocal basis in the film frame, rows b_i (nm^-1), b_0 = (B, 0..).
    """

    kx_period: float
    par: np.ndarray
    reciprocal: np.ndarray

    @property
    def dimension(self):
        return self.par.shape[1]

    @property
    def volume(self):
        """Volume (area in 2D) of the zone, nm^-d."""
        return float(abs(np.linalg.det(self.reciprocal)))

    def par_coordinates(self, k):
        """Fractional in-plane coordinates t (..., d-1) of k (..., d)."""
        k = np.asarray(k, float)
        q = self.par[:, 1:]  # (d-1, d-1)
        return np.linalg.solve(q.T, k[..., 1:].reshape(-1, q.shape[0]).T).T.reshape(
            k.shape[:-1] + (q.shape[0],))

    def wrap(self, k):
        """The image of k (..., d) in the domain (adds reciprocal-lattice vectors)."""
        k = np.array(k, float)
        t = self.par_coordinates(k)
        n = np.floor(t)
        # shifting k_par by -n_i q_i means adding -n_i b_i (which also moves k_x)
        k = k - np.einsum("...i,ij->...j", n, self.reciprocal[1:])
        B = self.kx_period
        k[..., 0] -= B * np.floor(k[..., 0] / B + 0.5)
        return k

    @classmethod
    def from_reciprocal(cls, reciprocal):
        """Zone of a film-frame reciprocal basis whose first row is along x."""
        b = np.asarray(reciprocal, float)
        if abs(b[0, 1:]).max() > 1e-12 * abs(b[0, 0]) or b[0, 0] == 0:
            raise ValueError("the first reciprocal basis vector must lie along x (the normal)")
        B = abs(float(b[0, 0]))
        par = b[1:].copy()
        par[:, 0] = 0.0
        b = b.copy()
        b[0] = np.abs(b[0])
        return cls(B, par, b)
