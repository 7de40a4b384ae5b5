"""Small lattice models written out by hand for tests (independent of slabqkt.lattice builders).

ToyRashbaSquare: square lattice (constant a, nearest-neighbour t) with a lattice Rashba term
and exchange,
    h = -2t (cos k_x a + cos k_y a) + 4t + (alpha/a)(sigma_x sin k_y a - sigma_y sin k_x a) + J m.sigma,
which near k = 0 is the continuum Rashba model with hbar^2/2m* = t a^2.
"""
import numpy as np

from slabqkt.lattice.zone import Zone
from slabqkt.models import SIGMA, Model


class ToyRashbaSquare(Model):
    N = 2
    dimension = 2

    def __init__(self, a=0.4, t=1.0, alpha=0.1, J=0.0, m=(0.0, 0.0, 1.0)):
        self.a, self.t, self.alpha, self.J = a, t, alpha, J
        self.m = np.asarray(m, float)
        self.zone = Zone.from_reciprocal(np.eye(2) * 2 * np.pi / a)

    def h(self, k):
        k = np.asarray(k, float)
        a, t = self.a, self.t
        e = -2 * t * (np.cos(k[..., 0] * a) + np.cos(k[..., 1] * a)) + 4 * t
        b = np.stack([self.alpha / a * np.sin(k[..., 1] * a), -self.alpha / a * np.sin(k[..., 0] * a),
                      np.zeros(k.shape[:-1])], -1) + self.J * self.m
        return e[..., None, None] * np.eye(2) + np.einsum("...i,iab->...ab", b, SIGMA)

    def dh(self, k):
        k = np.asarray(k, float)
        a, t = self.a, self.t
        out = np.zeros(k.shape[:-1] + (2, 2, 2), complex)
        out[..., 0, :, :] = ((2 * t * a * np.sin(k[..., 0] * a))[..., None, None] * np.eye(2)
                             - (self.alpha * np.cos(k[..., 0] * a))[..., None, None] * SIGMA[1])
        out[..., 1, :, :] = ((2 * t * a * np.sin(k[..., 1] * a))[..., None, None] * np.eye(2)
                             + (self.alpha * np.cos(k[..., 1] * a))[..., None, None] * SIGMA[0])
        return out

    def spin_operators(self):
        return SIGMA.copy()
