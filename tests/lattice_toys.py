"""Small lattice models with the tight-binding model contract, for Fermi-surface tests.

Contract (as slabqkt.lattice.tight_binding): ``N``, ``dimension``, ``zone``
(slabqkt.lattice.zone.Zone, film frame, x = film normal), ``h(k)`` for k
(..., d) in nm^-1 -> (..., N, N) complex eV, ``dh(k)`` -> (..., d, N, N) eV nm,
eigenvalues periodic under k -> k + reciprocal-lattice vectors.
"""
import numpy as np

from slabqkt.lattice.zone import Zone
from slabqkt.models import SIGMA, Model


class Toy:
    """A model from h(k) and dh(k) callables (and optionally its mirror operator, a constant U)."""

    mirror_tol_eV = None

    def __init__(self, N, zone, h, dh, name="toy", mirror=None):
        self.N, self.zone, self._h, self._dh, self.name = N, zone, h, dh, name
        self.dimension = zone.dimension
        self.kind, self._mirror = name, mirror

    def h(self, k):
        return self._h(np.asarray(k, float))

    def dh(self, k):
        return self._dh(np.asarray(k, float))

    def mirror_operator(self, k):
        if self._mirror is None:
            Model.mirror_operator(self, k)  # the refusal
        return np.broadcast_to(self._mirror, np.shape(k)[:-1] + (self.N, self.N))

    mirror_x = Model.mirror_x


def rectangular_zone(*a):
    """Zone of a rectangular (orthorhombic) lattice with constants a (nm)."""
    return Zone.from_reciprocal(np.diag([2 * np.pi / x for x in a]))


def scalar(zone, eps, grad, name):
    """One-band model from eps(k) (eV) and grad eps(k) (..., d) (eV nm)."""
    return Toy(1, zone, lambda k: eps(k)[..., None, None].astype(complex),
               lambda k: grad(k)[..., None, None].astype(complex), name)


def square(t_x=1.0, t_y=1.0, a=0.3, e0=0.0):
    """eps = e0 - 2 t_x cos(k_x a) - 2 t_y cos(k_y a)."""
    t = np.array([t_x, t_y])
    return scalar(rectangular_zone(a, a),
                  lambda k: e0 - 2 * np.sum(t * np.cos(k * a), axis=-1),
                  lambda k: 2 * a * t * np.sin(k * a), "square")


def cubic(t=1.0, a=0.3):
    """eps = -2 t sum_i cos(k_i a)."""
    return scalar(rectangular_zone(a, a, a),
                  lambda k: -2 * t * np.sum(np.cos(k * a), axis=-1),
                  lambda k: 2 * a * t * np.sin(k * a), "cubic")


def pocket(t=1.0, a=0.3):
    """eps = 2t cos(k_x a) - 2t cos(k_y a) + 0.5 t cos(2 k_y a): minimum -3.5 t at (pi/a, 0).

    The pocket sits on the zone-boundary mirror plane k_x = B/2, away from Gamma.
    """
    def eps(k):
        return 2 * t * np.cos(k[..., 0] * a) - 2 * t * np.cos(k[..., 1] * a) \
            + 0.5 * t * np.cos(2 * k[..., 1] * a)

    def grad(k):
        return np.stack([-2 * t * a * np.sin(k[..., 0] * a),
                         2 * t * a * np.sin(k[..., 1] * a) - t * a * np.sin(2 * k[..., 1] * a)], -1)
    return scalar(rectangular_zone(a, a), eps, grad, "pocket")


def four_pockets(t=1.0, a=0.3):
    """eps = 2t (cos 2k_x a + cos 2k_y a): minima -4t at (+-pi/2a, +-pi/2a).

    Below -2t: four closed electron pockets away from every mirror line and from
    the window edges, each cut only at its interior v_x = 0 points. Its DOS per
    area equals that of the square lattice -2t(cos k_x a + cos k_y a) at -E.
    """
    return scalar(rectangular_zone(a, a), lambda k: 2 * t * np.cos(2 * k * a).sum(-1),
                  lambda k: -4 * t * a * np.sin(2 * k * a), "four pockets")


def oblique(t=1.0, t2=0.35, a=0.3, b=0.4):
    """Centred-rectangular lattice a1 = (a, b), a2 = (-a, b): an oblique in-plane cell.

    eps = -2t (cos k.a1 + cos k.a2) - 2 t2 cos k.(a1 - a2). The film-frame reciprocal
    basis is b_perp = (2 pi / a, 0), b_2 = (pi/a, pi/b): its in-plane cell is sheared
    (b_2 has the x component B/2), so crossing the in-plane cell boundary shifts k_x
    by B/2.
    """
    a1, a2 = np.array([a, b]), np.array([-a, b])
    zone = Zone.from_reciprocal([[2 * np.pi / a, 0.0], [np.pi / a, np.pi / b]])
    R = np.array([a1, a2, a1 - a2])
    c = np.array([t, t, t2])

    def eps(k):
        return -2 * np.sum(c * np.cos(k @ R.T), axis=-1)

    def grad(k):
        return 2 * (c * np.sin(k @ R.T)) @ R
    return scalar(zone, eps, grad, "oblique")


def _dirac_matrices():
    s0 = np.eye(2)
    sx = np.array([[0, 1], [1, 0]], complex)
    sy = np.array([[0, -1j], [1j, 0]])
    sz = np.diag([1.0, -1.0]).astype(complex)
    G = [np.kron(sz, s0), np.kron(sx, sx), np.kron(sx, sy), np.kron(sx, sz), np.kron(sy, s0)]
    return np.array(G)


def kramers(t=1.0, a=0.3, m=1.0, lam=0.4, d=2):
    """4-band model h = eps(k) 1 + sum_a d_a(k) Gamma_a, every band a Kramers doublet.

    Gamma_a are the five anticommuting 4x4 Dirac matrices, so h has eigenvalues
    eps +- |d| each twice (rank-2 eigenspaces). eps = -t sum cos, d_1 = m - sum cos,
    d_2..d_{d+1} = lam sin(k_i a) (odd, as under I with T), d_5 = 0.3 t (cos k_x a -
    cos k_y a); |d| is even in k_x, so eigenvalues are mirror symmetric. In 2D (d_4 = 0) the
    mirror operator is U = Gamma_2 Gamma_4 (it flips d_2 and d_4, keeps d_1, d_3, d_5); in 3D
    (d_4 = lam sin k_z a) the reflection d_2 -> -d_2 of the 5-vector d has no unitary
    (Spin(5)) image: no mirror operator.
    """
    G = _dirac_matrices()
    zone = rectangular_zone(*([a] * d))

    def parts(k):
        c, s = np.cos(k * a), np.sin(k * a)
        e = -0.5 * t * c.sum(-1)
        de = 0.5 * t * a * s
        dd = np.zeros(k.shape[:-1] + (5,))
        ddk = np.zeros(k.shape[:-1] + (d, 5))
        dd[..., 0] = m * t - t * c.sum(-1)
        ddk[..., :, 0] = t * a * s
        for i in range(d):
            dd[..., 1 + i] = lam * t * s[..., i]
            ddk[..., i, 1 + i] = lam * t * a * c[..., i]
        dd[..., 4] = 0.3 * t * (c[..., 0] - c[..., 1])
        ddk[..., 0, 4] = -0.3 * t * a * s[..., 0]
        ddk[..., 1, 4] = 0.3 * t * a * s[..., 1]
        return e, de, dd, ddk

    def h(k):
        e, _, dd, _ = parts(k)
        return e[..., None, None] * np.eye(4) + np.einsum("...a,aij->...ij", dd, G)

    def dh(k):
        _, de, _, ddk = parts(k)
        return de[..., None, None] * np.eye(4) + np.einsum("...ka,aij->...kij", ddk, G)
    return Toy(4, zone, h, dh, "kramers", G[1] @ G[3] if d == 2 else None)


def avoided_crossing(t=1.0, a=0.3, delta=1e-6, d=2):
    """Two bands of different widths coupled by a constant delta (eV): an avoided crossing.

    e1 = -2t c, e2 = -t c/2 - t/2 + 0.2 t cos(k_y a), c = sum_i cos(k_i a). At mu = -0.5 t
    (c = 1/4 on e1) they cross where cos(k_y a) = 0.625, on the Fermi surface: the gap
    there is 2 delta.
    """
    def h(k):
        c = np.cos(k * a).sum(-1)
        out = np.zeros(k.shape[:-1] + (2, 2), complex)
        out[..., 0, 0] = -2 * t * c
        out[..., 1, 1] = -t * c * 0.5 - 0.5 * t + 0.2 * t * np.cos(k[..., 1] * a)
        out[..., 0, 1] = out[..., 1, 0] = delta
        return out

    def dh(k):
        s = np.sin(k * a)
        out = np.zeros(k.shape[:-1] + (d, 2, 2), complex)
        out[..., :, 0, 0] = 2 * t * a * s
        out[..., :, 1, 1] = 0.5 * t * a * s
        out[..., 1, 1, 1] -= 0.2 * t * a * s[..., 1]
        return out
    return Toy(2, rectangular_zone(*([a] * d)), h, dh, "avoided")


def rotated(model, U):
    """The model in another orbital basis: h' = U h U^+, dh' = U dh U^+ (U unitary)."""
    Uh = U.conj().T
    return Toy(model.N, model.zone, lambda k: U @ model.h(k) @ Uh,
               lambda k: U @ model.dh(k) @ Uh, model.name + "-rotated")


# ToyRashbaSquare: square lattice (constant a, nearest-neighbour t) with a lattice Rashba term
# and exchange,
#     h = -2t (cos k_x a + cos k_y a) + 4t + (alpha/a)(sigma_x sin k_y a - sigma_y sin k_x a) + J m.sigma,
# which near k = 0 is the continuum Rashba model with hbar^2/2m* = t a^2.
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

    def mirror_operator(self, k):
        """-i sigma_x (spin a pseudovector); J m.sigma with m_y, m_z breaks the mirror (the check)."""
        return np.broadcast_to(-1j * SIGMA[0], np.shape(k)[:-1] + (2, 2))
