"""Slater-Koster two-centre tight-binding models: s, p, d on sc, bcc, fcc and square lattices.

Bond matrices from Slater & Koster, Phys. Rev. 94, 1498 (1954), Table I,
with the direction cosines (l, m, n) of the bond d = R (from the orbital at
the origin to the one at R)::

    E_ab(d) = <a, 0 | H | b, d>,      E_ba(d) = (-1)^(l_a + l_b) E_ab(d) = E_ab(-d)

(one atom per cell: the same two-centre integrals for both ends). The entries
not listed in the table follow from it by the cyclic permutation
x -> y -> z, l -> m -> n, as Slater and Koster state. A bond along z has only
the diagonal sigma, pi, delta elements: E_zz = pp_sigma, E_xx = E_yy = pp_pi,
E_{dz2,dz2} = dd_sigma, ... (checked against the rotation of that z bond in
tests/test_slater_koster.py).

Parameters of a neighbour shell (eV): ss_sigma, sp_sigma, pp_sigma, pp_pi,
sd_sigma, pd_sigma, pd_pi, dd_sigma, dd_pi, dd_delta (absent ones are 0).
"""
import numpy as np

from .orbitals import L_OF, basis as make_basis, shell_names, spin_orbit

SK_PARAMETERS = ("ss_sigma", "sp_sigma", "pp_sigma", "pp_pi", "sd_sigma", "pd_sigma", "pd_pi",
                 "dd_sigma", "dd_pi", "dd_delta")

#: Lattices: primitive vectors in units of the (conventional cubic) lattice constant a.
LATTICES = {
    "square": np.eye(2),
    "sc": np.eye(3),
    "bcc": 0.5 * np.array([[-1.0, 1, 1], [1, -1, 1], [1, 1, -1]]),
    "fcc": 0.5 * np.array([[0.0, 1, 1], [1, 0, 1], [1, 1, 0]]),
}

_R3 = np.sqrt(3.0)
# internal labels: s, x, y, z, xy, yz, zx, x2 (x^2 - y^2), z2 (3z^2 - r^2)
_NAME = {"s": "s", "px": "x", "py": "y", "pz": "z", "dxy": "xy", "dyz": "yz", "dxz": "zx",
         "dx2-y2": "x2", "dz2": "z2"}
_CYC = {"s": "s", "x": "y", "y": "z", "z": "x", "xy": "yz", "yz": "zx", "zx": "xy"}


def _table(l, m, n, V):
    """The Slater-Koster entries E[(a, b)] (a dict) for direction cosines arrays l, m, n."""
    g = V.get
    ss, sps = g("ss_sigma", 0.0), g("sp_sigma", 0.0)
    pps, ppp = g("pp_sigma", 0.0), g("pp_pi", 0.0)
    sds, pds, pdp = g("sd_sigma", 0.0), g("pd_sigma", 0.0), g("pd_pi", 0.0)
    dds, ddp, ddd = g("dd_sigma", 0.0), g("dd_pi", 0.0), g("dd_delta", 0.0)
    E = {}

    def cyc(key, f):
        # f(l, m, n) for the first label pair; the cyclic images for the others
        a, b = key
        E[(a, b)] = f(l, m, n)
        a2, b2 = _CYC[a], _CYC[b]
        E[(a2, b2)] = f(m, n, l)
        E[(_CYC[a2], _CYC[b2])] = f(n, l, m)

    E[("s", "s")] = ss + 0 * l
    cyc(("s", "x"), lambda l, m, n: l * sps)
    cyc(("x", "x"), lambda l, m, n: l * l * pps + (1 - l * l) * ppp)
    cyc(("x", "y"), lambda l, m, n: l * m * pps - l * m * ppp)
    cyc(("s", "xy"), lambda l, m, n: _R3 * l * m * sds)
    E[("s", "x2")] = 0.5 * _R3 * (l * l - m * m) * sds
    E[("s", "z2")] = (n * n - 0.5 * (l * l + m * m)) * sds
    cyc(("x", "xy"), lambda l, m, n: _R3 * l * l * m * pds + m * (1 - 2 * l * l) * pdp)
    cyc(("x", "yz"), lambda l, m, n: _R3 * l * m * n * pds - 2 * l * m * n * pdp)
    cyc(("x", "zx"), lambda l, m, n: _R3 * l * l * n * pds + n * (1 - 2 * l * l) * pdp)
    E[("x", "x2")] = 0.5 * _R3 * l * (l * l - m * m) * pds + l * (1 - l * l + m * m) * pdp
    E[("y", "x2")] = 0.5 * _R3 * m * (l * l - m * m) * pds - m * (1 + l * l - m * m) * pdp
    E[("z", "x2")] = 0.5 * _R3 * n * (l * l - m * m) * pds - n * (l * l - m * m) * pdp
    q = n * n - 0.5 * (l * l + m * m)
    E[("x", "z2")] = l * q * pds - _R3 * l * n * n * pdp
    E[("y", "z2")] = m * q * pds - _R3 * m * n * n * pdp
    E[("z", "z2")] = n * q * pds + _R3 * n * (l * l + m * m) * pdp
    cyc(("xy", "xy"), lambda l, m, n: (3 * l * l * m * m * dds + (l * l + m * m - 4 * l * l * m * m)
                                       * ddp + (n * n + l * l * m * m) * ddd))
    cyc(("xy", "yz"), lambda l, m, n: (3 * l * m * m * n * dds + l * n * (1 - 4 * m * m) * ddp
                                       + l * n * (m * m - 1) * ddd))
    d2 = l * l - m * m
    E[("xy", "x2")] = 1.5 * l * m * d2 * dds - 2 * l * m * d2 * ddp + 0.5 * l * m * d2 * ddd
    E[("yz", "x2")] = (1.5 * m * n * d2 * dds - m * n * (1 + 2 * d2) * ddp
                       + m * n * (1 + 0.5 * d2) * ddd)
    E[("zx", "x2")] = (1.5 * n * l * d2 * dds + n * l * (1 - 2 * d2) * ddp
                       - n * l * (1 - 0.5 * d2) * ddd)
    E[("xy", "z2")] = (_R3 * l * m * q * dds - 2 * _R3 * l * m * n * n * ddp
                       + 0.5 * _R3 * l * m * (1 + n * n) * ddd)
    E[("yz", "z2")] = (_R3 * m * n * q * dds + _R3 * m * n * (l * l + m * m - n * n) * ddp
                       - 0.5 * _R3 * m * n * (l * l + m * m) * ddd)
    E[("zx", "z2")] = (_R3 * l * n * q * dds + _R3 * l * n * (l * l + m * m - n * n) * ddp
                       - 0.5 * _R3 * l * n * (l * l + m * m) * ddd)
    E[("x2", "x2")] = 0.75 * d2 * d2 * dds + (l * l + m * m - d2 * d2) * ddp + (n * n + 0.25 * d2 * d2) * ddd
    E[("x2", "z2")] = (0.5 * _R3 * d2 * q * dds + _R3 * n * n * (m * m - l * l) * ddp
                       + 0.25 * _R3 * (1 + n * n) * d2 * ddd)
    E[("z2", "z2")] = q * q * dds + 3 * n * n * (l * l + m * m) * ddp + 0.75 * (l * l + m * m) ** 2 * ddd
    return E


def _parity(a):
    return L_OF[{v: k for k, v in _NAME.items()}[a]] % 2


def bond_matrix(names, direction, params):
    """Two-centre bond matrices E_ab(d) (..., n, n) in eV for orbitals ``names``.

    Parameters
    ----------
    names : sequence of str
        Real-orbital names (orbitals.L_OF) of the basis on one atom, in order.
    direction : ndarray (..., 3)
        Bond vectors d (any length; only the direction cosines enter).
    params : dict
        Two-centre integrals of the shell (SK_PARAMETERS), eV.
    """
    d = np.asarray(direction, float)
    c = d / np.linalg.norm(d, axis=-1, keepdims=True)
    E = _table(c[..., 0], c[..., 1], c[..., 2], params)
    lab = [_NAME[x] for x in names]
    out = np.zeros(c.shape[:-1] + (len(lab), len(lab)))
    for i, a in enumerate(lab):
        for j, b in enumerate(lab):
            if (a, b) in E:
                out[..., i, j] = E[(a, b)]
            elif (b, a) in E:
                out[..., i, j] = (-1) ** (_parity(a) + _parity(b)) * E[(b, a)]
            else:  # pragma: no cover - the table is complete
                raise KeyError((a, b))
    return out


def neighbour_shells(primitive, n_shells, tol=1e-9):
    """Lattice vectors (integer coordinates and Cartesian) of the first n_shells shells.

    Returns
    -------
    list of (ints (m, d), cart (m, d), distance)
    """
    A = np.asarray(primitive, float)
    dim = A.shape[0]
    amin = np.linalg.svd(A, compute_uv=False).min()
    reach = 1
    while True:
        g = np.arange(-reach, reach + 1)
        ints = np.stack(np.meshgrid(*([g] * dim), indexing="ij"), -1).reshape(-1, dim)
        cart = ints @ A
        r = np.linalg.norm(cart, axis=-1)
        keep = r > tol
        ints, cart, r = ints[keep], cart[keep], r[keep]
        order = np.argsort(r, kind="stable")
        ints, cart, r = ints[order], cart[order], r[order]
        breaks = np.concatenate([[0], np.nonzero(np.diff(r) > tol * max(1.0, r[-1]))[0] + 1, [len(r)]])
        if len(breaks) - 1 > n_shells and r[breaks[n_shells]] < reach * amin:
            # every lattice point closer than reach*amin lies in the search box
            return [(ints[breaks[i]:breaks[i + 1]], cart[breaks[i]:breaks[i + 1]], r[breaks[i]])
                    for i in range(n_shells)]
        reach += 1


def shells_of(orbitals):
    """The l shells of an orbitals string ('s', 'p', 'd', 'spd', 'sp3', 'sp3d5', ...)."""
    import re
    m = re.fullmatch(r"(s)?(p3?)?(d5?)?", orbitals or "")
    if not orbitals or m is None:
        return None
    return tuple(l for l, g in zip((0, 1, 2), m.groups()) if g)


def slater_koster_hoppings(lattice, a_nm, shells, n_shell_params, onsite, soc=None, spin=False,
                           p_order="wannier90", spin_order="interleaved"):
    """Hopping matrices of a one-atom Slater-Koster model.

    Parameters
    ----------
    lattice : {'square', 'sc', 'bcc', 'fcc'}
    a_nm : float
        Conventional (cubic / square) lattice constant, nm.
    shells : tuple of int
        l of the shells on the atom, e.g. (0, 1, 2).
    n_shell_params : list of dict
        Two-centre integrals (eV) for neighbour shells 1, 2, ...
    onsite : dict
        Orbital name -> on-site energy (eV).
    soc : dict {l: lambda (eV)}, optional
    spin : bool
    p_order, spin_order : str

    Returns
    -------
    primitive (d, d) nm, R_int (nR, d), H (nR, N, N) complex, orbitals (list of Orbital)
    """
    A = LATTICES[lattice] * a_nm
    dim = A.shape[0]
    orbs = make_basis(shells, 1, spin, p_order, spin_order)
    spatial = make_basis(shells, 1, False, p_order)
    names = [o.name for o in spatial]
    found = neighbour_shells(A, len(n_shell_params))
    R_list = [np.zeros((1, dim), int)]
    H_list = [np.diag([onsite.get(n, 0.0) for n in names]).astype(complex)[None]]
    for (ints, cart, _), params in zip(found, n_shell_params):
        d3 = np.zeros((len(cart), 3))
        d3[:, :dim] = cart
        R_list.append(ints)
        H_list.append(bond_matrix(names, d3, params).astype(complex))
    R = np.concatenate(R_list)
    Hs = np.concatenate(H_list)
    if spin:
        # spatial matrix on the orbital index, identity on spin, in the chosen order
        N = len(orbs)
        pos = {n: i for i, n in enumerate(names)}
        oi = np.array([pos[o.name] for o in orbs])
        same_spin = np.array([[a.spin == b.spin for b in orbs] for a in orbs])
        Hs = Hs[:, oi[:, None], oi[None, :]] * same_spin
        if soc:
            Hs[0] = Hs[0] + spin_orbit(orbs, soc)
        assert Hs.shape[1] == N
    return A, R, Hs, orbs


__all__ = ["SK_PARAMETERS", "LATTICES", "bond_matrix", "neighbour_shells", "shells_of",
           "slater_koster_hoppings", "shell_names"]
