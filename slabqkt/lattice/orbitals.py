"""Orbital descriptors, real-orbital angular momentum and spin operators.

Every basis state of a lattice model may carry an :class:`Orbital`
descriptor: the site (index into ``model.positions``), the angular momentum
l, the real cubic harmonic, and the spin ('up', 'down' or None for a spinless
model). Spin and orbital operators follow from the descriptors alone, so they
are right for any basis order.

Real orbitals (all with positive coefficients, as in Slater & Koster 1954)::

    l = 0   s
    l = 1   px ~ x, py ~ y, pz ~ z
    l = 2   dz2 ~ (3z^2 - r^2)/(2 sqrt 3), dxz ~ xz, dyz ~ yz, dx2-y2 ~ (x^2 - y^2)/2, dxy ~ xy

Orders (``P_ORDERS``, ``D_ORDER``): p shells in Wannier90's fixed order
(pz, px, py) by default (``p_order = 'wannier90'``) or (px, py, pz)
(``p_order = 'cartesian'``, the order of the continuum ``orbital_p`` model);
d shells always in Wannier90's order (dz2, dxz, dyz, dx2-y2, dxy).

Spin orders (``spin_order``): 'interleaved' puts (up, down) next to each
other for every orbital, 'block' lists all orbitals spin up, then all spin
down.

L is in units of hbar, sigma are the Pauli matrices (spin s = hbar sigma/2),
both in the Cartesian frame in which the orbitals are defined.
"""
import dataclasses

import numpy as np

from ..errors import CaseError

#: Real-orbital names per l.
L_OF = {"s": 0, "px": 1, "py": 1, "pz": 1,
        "dz2": 2, "dxz": 2, "dyz": 2, "dx2-y2": 2, "dxy": 2}
#: Orders of the p shell.
P_ORDERS = {"wannier90": ("pz", "px", "py"), "cartesian": ("px", "py", "pz")}
#: Order of the d shell (Wannier90's).
D_ORDER = ("dz2", "dxz", "dyz", "dx2-y2", "dxy")
SPIN_ORDERS = ("interleaved", "block")

PAULI = np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=complex)
_SPIN_INDEX = {"up": 0, "down": 1}

# Levi-Civita and the rotation generators (G_i)_ab = -eps_iab: G_i v = e_i x v.
_EPS = np.zeros((3, 3, 3))
for _i, _j, _k in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
    _EPS[_i, _j, _k], _EPS[_i, _k, _j] = 1.0, -1.0
GENERATORS = -_EPS

_S3, _S2 = np.sqrt(3.0), np.sqrt(2.0)


def _sym(a, b):
    m = np.zeros((3, 3))
    m[a, b] = m[b, a] = 1.0 / _S2
    return m


#: Real p orbitals as vectors c (f = c.r), real d orbitals as symmetric traceless
#: matrices Q (f = r^T Q r), each of unit Frobenius norm.
P_VECTORS = {"px": np.eye(3)[0], "py": np.eye(3)[1], "pz": np.eye(3)[2]}
D_FORMS = {"dz2": np.diag([-1.0, -1.0, 2.0]) / np.sqrt(6.0), "dxz": _sym(0, 2),
           "dyz": _sym(1, 2), "dx2-y2": np.diag([1.0, -1.0, 0.0]) / _S2, "dxy": _sym(0, 1)}


@dataclasses.dataclass(frozen=True)
class Orbital:
    """One basis state: site index, real orbital name, spin ('up', 'down' or None)."""

    site: int
    name: str
    spin: str = None

    @property
    def l(self):
        return L_OF[self.name]


def shell_names(l, p_order="wannier90"):
    """Real-orbital names of an l shell in the stated order."""
    if l == 0:
        return ("s",)
    if l == 1:
        return P_ORDERS[p_order]
    if l == 2:
        return D_ORDER
    raise ValueError(f"l = {l}: only s, p, d")


def real_rotation(l, R, names=None):
    """Matrix D (2l+1, 2l+1) of an orthogonal R (a rotation or a reflection) in a real l shell.

    The rotated orbital U(R)|b> = sum_a D_ab |a> (U(R) f(r) = f(R^-1 r)).
    l = 1 in the (px, py, pz) basis: D = R. l = 2: D_ab = Tr[Q_a R Q_b R^T],
    the rotation of the quadratic forms. Improper R = -R' (R' proper) give
    D(R) = (-1)^l D(R'): the parity of the shell under inversion (used for the
    mirror operator, slabqkt.mirror).
    """
    R = np.asarray(R, float)
    if names is None:
        names = shell_names(l, "cartesian")
    if l == 0:
        return np.ones((1, 1))
    if l == 1:
        V = np.array([P_VECTORS[n] for n in names])  # rows c_a
        return V @ R @ V.T
    Q = np.array([D_FORMS[n] for n in names])
    return np.einsum("aij,jk,bkl,il->ab", Q, R, Q, R)


def angular_momentum(l, names=None):
    """L (3, 2l+1, 2l+1) in units of hbar in a real l shell (default order: Wannier90's).

    From the rotation generators: L_i f = i d/dtheta U(R_theta) f at 0, i.e.
    (L_i)_ab = i <a| G_i acting on b>: for p, (L_i)_ab = -i eps_iab (Cartesian
    basis), for d, (L_i)_ab = i Tr[Q_a [G_i, Q_b]].
    """
    if names is None:
        names = shell_names(l)
    if l == 0:
        return np.zeros((3, 1, 1), complex)
    if l == 1:
        V = np.array([P_VECTORS[n] for n in names])
        return 1j * np.einsum("ak,ikm,bm->iab", V, GENERATORS, V)
    Q = np.array([D_FORMS[n] for n in names])
    comm = np.einsum("ijk,bkl->ibjl", GENERATORS, Q) - np.einsum("bjk,ikl->ibjl", Q, GENERATORS)
    return 1j * np.einsum("ajl,ibjl->iab", Q, comm)


def basis(shells, sites=1, spin=None, p_order="wannier90", spin_order="interleaved"):
    """The orbital list of a model: every site carries the same shells.

    Parameters
    ----------
    shells : sequence of int
        l of every shell on a site, e.g. (0, 1, 2) for s p d.
    sites : int
    spin : bool
        Spinful (two states per orbital) or spinless.
    p_order : {'wannier90', 'cartesian'}
    spin_order : {'interleaved', 'block'}

    Returns
    -------
    list of Orbital
    """
    orb = [(s, n) for s in range(sites) for l in shells for n in shell_names(l, p_order)]
    if not spin:
        return [Orbital(s, n) for s, n in orb]
    if spin_order == "interleaved":
        return [Orbital(s, n, sp) for s, n in orb for sp in ("up", "down")]
    if spin_order == "block":
        return [Orbital(s, n, sp) for sp in ("up", "down") for s, n in orb]
    raise CaseError("model.spin_order", spin_order, "allowed: " + ", ".join(map(repr, SPIN_ORDERS)))


def _same_spatial(orbitals):
    site = np.array([o.site for o in orbitals])
    ls = np.array([o.l for o in orbitals])
    return (site[:, None] == site[None, :]) & (ls[:, None] == ls[None, :])


def orbital_operators(orbitals, l_only=None):
    """L (3, N, N) in units of hbar: acts on the real orbital, diagonal in site and spin.

    ``l_only`` restricts it to the shells of that l (for the spin-orbit term).
    """
    N = len(orbitals)
    out = np.zeros((3, N, N), complex)
    same = _same_spatial(orbitals)
    spin = [o.spin for o in orbitals]
    for l in (1, 2):
        if l_only is not None and l != l_only:
            continue
        idx = [i for i, o in enumerate(orbitals) if o.l == l]
        if not idx:
            continue
        names = shell_names(l, "cartesian") if l == 1 else D_ORDER
        Lm = angular_momentum(l, names)
        pos = {n: i for i, n in enumerate(names)}
        a = np.array([pos[orbitals[i].name] for i in idx])
        idx = np.array(idx)
        mask = same[np.ix_(idx, idx)] & (np.array([spin[i] for i in idx], object)[:, None]
                                         == np.array([spin[i] for i in idx], object)[None, :])
        block = Lm[:, a[:, None], a[None, :]] * mask
        out[:, idx[:, None], idx[None, :]] = block
    return out


def spin_operators(orbitals):
    """Pauli matrices (3, N, N) on the spin label, diagonal in the orbital; None if spinless."""
    spins = [o.spin for o in orbitals]
    if all(s is None for s in spins):
        return None
    if any(s not in _SPIN_INDEX for s in spins):
        raise ValueError("every orbital must have spin 'up' or 'down' in a spinful model")
    N = len(orbitals)
    sidx = np.array([_SPIN_INDEX[s] for s in spins])
    key = [(o.site, o.name) for o in orbitals]
    same = np.array([[key[i] == key[j] for j in range(N)] for i in range(N)])
    return PAULI[:, sidx[:, None], sidx[None, :]] * same


def spin_orbit(orbitals, soc):
    """On-site spin-orbit coupling sum_l lambda_l L.S = sum_l (lambda_l/2) L^(l).sigma (eV).

    Parameters
    ----------
    soc : dict {l: lambda_l in eV}
    """
    N = len(orbitals)
    H = np.zeros((N, N), complex)
    S = spin_operators(orbitals)
    for l, lam in soc.items():
        if lam == 0.0:
            continue
        if S is None:
            raise ValueError("spin-orbit coupling needs a spinful basis")
        L = orbital_operators(orbitals, l_only=l)
        H += 0.5 * lam * np.einsum("iab,ibc->ac", L, S)
    return H


def parse_basis(items, n_sites, key="model.basis"):
    """Orbital list from case data: a list of tables {site = 0, orbital = 'pz', spin = 'up'}."""
    allowed = ("allowed: a list of tables {site = <int>, orbital = " + "|".join(L_OF)
               + ", spin = 'up'|'down' (all or none)}")
    if not isinstance(items, (list, tuple)) or not items:
        raise CaseError(key, items, allowed)
    out = []
    for it in items:
        if not isinstance(it, dict) or set(it) - {"site", "orbital", "spin"} or "orbital" not in it:
            raise CaseError(key, it, allowed)
        site, name, spin = it.get("site", 0), it["orbital"], it.get("spin")
        if isinstance(site, bool) or not isinstance(site, int) or not 0 <= site < n_sites:
            raise CaseError(key, it, f"site must be an integer in [0, {n_sites - 1}] (a label: "
                            "states with the same site, orbital and opposite spin are one "
                            "spin doublet)")
        if name not in L_OF:
            raise CaseError(key, it, allowed)
        if spin is not None and spin not in _SPIN_INDEX:
            raise CaseError(key, it, allowed)
        out.append(Orbital(site, name, spin))
    if len({o.spin is None for o in out}) > 1:
        raise CaseError(key, items, "give spin for every state or for none")
    if len(set(out)) != len(out):
        raise CaseError(key, items, "every state must appear once")
    return out
