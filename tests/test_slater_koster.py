"""Slater-Koster bonds (Table I against the rotated z bond), neighbour shells, on-site SOC."""
import numpy as np
import pytest
from scipy.linalg import expm

from slabqkt.errors import CaseError
from slabqkt.lattice import orbitals as orb
from slabqkt.lattice import slater_koster as sk
from slabqkt.lattice.builders import build_lattice_model

RNG = np.random.default_rng(11)
NAMES = ["s"] + list(orb.P_ORDERS["wannier90"]) + list(orb.D_ORDER)
L_NAME = [orb.L_OF[n] for n in NAMES]


def random_params(rng):
    return {p: float(rng.normal()) for p in sk.SK_PARAMETERS}


def z_bond(P):
    """The bond along z: only sigma, pi, delta diagonal elements (and the s-p_z-d_z2 sigma ones)."""
    E = np.zeros((9, 9))
    i = {n: NAMES.index(n) for n in NAMES}
    E[i["s"], i["s"]] = P["ss_sigma"]
    E[i["s"], i["pz"]], E[i["pz"], i["s"]] = P["sp_sigma"], -P["sp_sigma"]
    E[i["s"], i["dz2"]] = E[i["dz2"], i["s"]] = P["sd_sigma"]
    E[i["pz"], i["pz"]] = P["pp_sigma"]
    E[i["px"], i["px"]] = E[i["py"], i["py"]] = P["pp_pi"]
    E[i["pz"], i["dz2"]], E[i["dz2"], i["pz"]] = P["pd_sigma"], -P["pd_sigma"]
    E[i["px"], i["dxz"]], E[i["dxz"], i["px"]] = P["pd_pi"], -P["pd_pi"]
    E[i["py"], i["dyz"]], E[i["dyz"], i["py"]] = P["pd_pi"], -P["pd_pi"]
    E[i["dz2"], i["dz2"]] = P["dd_sigma"]
    E[i["dxz"], i["dxz"]] = E[i["dyz"], i["dyz"]] = P["dd_pi"]
    E[i["dx2-y2"], i["dx2-y2"]] = E[i["dxy"], i["dxy"]] = P["dd_delta"]
    return E


def rotation_to(u):
    """A proper rotation R with R z = u, and its axis-angle (n, theta)."""
    z = np.array([0.0, 0.0, 1.0])
    ax = np.cross(z, u)
    ax /= np.linalg.norm(ax)
    th = np.arccos(np.clip(u @ z, -1, 1))
    return expm(th * np.einsum("i,iab->ab", ax, orb.GENERATORS)), ax, th


def block_rotation(R, ax=None, th=None):
    D = np.zeros((9, 9))
    D[0, 0] = 1.0
    if ax is None:
        D[1:4, 1:4] = orb.real_rotation(1, R, NAMES[1:4])
        D[4:, 4:] = orb.real_rotation(2, R, NAMES[4:])
    else:  # exp(-i theta n.L) in the real basis, from the L matrices
        for sl, l in ((slice(1, 4), 1), (slice(4, 9), 2)):
            L = orb.angular_momentum(l, NAMES[sl])
            U = expm(-1j * th * np.einsum("i,iab->ab", ax, L))
            assert np.abs(U.imag).max() < 1e-12
            D[sl, sl] = U.real
    return D


def test_z_bond_has_only_sigma_pi_delta_elements():
    P = random_params(RNG)
    assert np.allclose(sk.bond_matrix(NAMES, [0, 0, 2.5], P), z_bond(P), atol=1e-15)


@pytest.mark.parametrize("seed", range(4))
def test_every_bond_matrix_is_the_rotated_z_bond(seed):
    """E(u) = D(R) E(z) D(R)^T, R z = u, for s-s, s-p, p-p, s-d, p-d, d-d (all 81 entries)."""
    rng = np.random.default_rng(seed)
    P = random_params(rng)
    Ez = z_bond(P)
    for _ in range(5):
        u = rng.normal(size=3)
        u /= np.linalg.norm(u)
        R, ax, th = rotation_to(u)
        assert np.allclose(R @ [0, 0, 1], u)
        D = block_rotation(R)
        # the quadratic-form rotation of the d shell is exp(-i theta n.L) of the L matrices
        assert np.allclose(D, block_rotation(R, ax, th), atol=1e-12)
        E = sk.bond_matrix(NAMES, 0.37 * u, P)
        assert np.allclose(E, D @ Ez @ D.T, atol=1e-13), np.round(E - D @ Ez @ D.T, 8)
        # two-centre parity: E_ba(d) = (-1)^(l_a + l_b) E_ab(d) = E_ab(-d)
        par = (-1.0) ** np.add.outer(L_NAME, L_NAME)
        assert np.allclose(sk.bond_matrix(NAMES, -u, P), E * par, atol=1e-14)


@pytest.mark.parametrize("lattice, counts, radii", [
    ("square", (4, 4, 4), (1.0, np.sqrt(2), 2.0)),
    ("sc", (6, 12, 8), (1.0, np.sqrt(2), np.sqrt(3))),
    ("bcc", (8, 6, 12), (np.sqrt(3) / 2, 1.0, np.sqrt(2))),
    ("fcc", (12, 6, 24), (np.sqrt(2) / 2, 1.0, np.sqrt(1.5))),
])
def test_neighbour_shells(lattice, counts, radii):
    shells = sk.neighbour_shells(sk.LATTICES[lattice] * 0.4, 3)
    assert tuple(len(c) for _, c, _ in shells) == counts
    assert np.allclose([r for _, _, r in shells], 0.4 * np.array(radii))


def test_s_band_on_bcc_closed_form():
    """One s orbital, nearest neighbours: eps = e_s + 8 ss_sigma cos(k_x a/2) cos(k_y a/2) cos(k_z a/2)."""
    a = 0.3
    m = build_lattice_model({"kind": "slater_koster", "dimension": 3, "lattice": "bcc", "a_nm": a,
                             "orbitals": "s", "shells": [{"ss_sigma": -0.5}], "e_s_eV": 0.2})
    k = RNG.normal(size=(10, 3)) * 8
    expect = 0.2 + 8 * -0.5 * np.prod(np.cos(k * a / 2), axis=-1)
    assert np.allclose(m.h(k)[:, 0, 0], expect, atol=1e-13)


def test_p_bands_on_sc_closed_form():
    """p on sc, nearest neighbours: h_ab = delta_ab 2 sum_j (Vs delta_aj + Vp (1 - delta_aj)) cos k_j a."""
    a, Vs, Vp = 0.3, 1.1, -0.3
    for order, names in orb.P_ORDERS.items():
        m = build_lattice_model({"kind": "orbital_p_lattice", "dimension": 3, "a_nm": a,
                                 "shells": [{"pp_sigma": Vs, "pp_pi": Vp}], "p_order": order})
        k = RNG.normal(size=(7, 3)) * 8
        axis = {"px": 0, "py": 1, "pz": 2}
        c = np.cos(k * a)
        expect = np.zeros((7, 3, 3))
        for i, n in enumerate(names):
            expect[:, i, i] = 2 * (Vs * c[:, axis[n]] + Vp * (c.sum(-1) - c[:, axis[n]]))
        assert np.allclose(m.h(k), expect, atol=1e-13)
        assert m.N == 3 and m.spin_operators() is None
        L = m.orbital_operators()
        assert np.allclose(L, orb.angular_momentum(1, names))


@pytest.mark.parametrize("l, name, lam", [(1, "p", 0.3), (2, "d", 0.2)])
@pytest.mark.parametrize("order", orb.SPIN_ORDERS)
def test_onsite_soc_j_splitting(l, name, lam, order):
    """lambda L.S: j = l + 1/2 at lambda l/2, j = l - 1/2 at -lambda (l + 1)/2."""
    b = orb.basis((l,), spin=True, spin_order=order)
    e = np.linalg.eigvalsh(orb.spin_orbit(b, {l: lam}))
    n_low, n_high = 2 * l, 2 * l + 2
    assert np.allclose(e[:n_low], -lam * (l + 1) / 2) and np.allclose(e[n_low:], lam * l / 2)
    assert len(e) == n_low + n_high
    gap = e[-1] - e[0]
    assert gap == pytest.approx({1: 1.5, 2: 2.5}[l] * lam)
    # the same through the builder (k = 0 of an isolated atom: no hoppings)
    m = build_lattice_model({"kind": "slater_koster", "dimension": 3, "lattice": "sc",
                             "a_nm": 0.3, "orbitals": name, "shells": [{}],
                             f"soc_{name}_eV": lam, "spin_order": order})
    assert np.allclose(np.linalg.eigvalsh(m.h(np.zeros(3))), e)


def test_orbital_p_lattice_with_soc_is_the_n6_model():
    m = build_lattice_model({"kind": "orbital_p_lattice", "dimension": 2, "soc_p_eV": 0.1})
    assert m.N == 6
    S, L = m.spin_operators(), m.orbital_operators()
    e = np.linalg.eigvalsh(m.h(np.zeros(2)))
    # at Gamma of the square lattice p_z differs from (p_x, p_y); SOC still commutes with J_z
    Jz = L[2] + 0.5 * S[2]
    h0 = m.h(np.zeros(2))
    assert np.allclose(h0 @ Jz, Jz @ h0)
    assert np.allclose(e[::2], e[1::2])  # Kramers pairs


SPD_SOC = {"kind": "slater_koster", "dimension": 3, "lattice": "fcc", "a_nm": 0.39,
           "orbitals": "sp3d5", "e_s_eV": 1.0, "e_p_eV": 4.0, "e_d_eV": -1.0, "e_d_eg_eV": -0.8,
           "soc_p_eV": 0.2, "soc_d_eV": 0.3,
           "shells": [{"ss_sigma": -0.8, "sp_sigma": 1.1, "pp_sigma": 1.6, "pp_pi": -0.2,
                       "sd_sigma": -0.5, "pd_sigma": -0.7, "pd_pi": 0.3, "dd_sigma": -0.4,
                       "dd_pi": 0.22, "dd_delta": -0.03},
                      {"ss_sigma": -0.05, "pp_sigma": 0.3, "dd_sigma": -0.05, "dd_pi": 0.01}]}


@pytest.mark.parametrize("order", orb.SPIN_ORDERS)
def test_kramers_degeneracy_of_a_T_and_I_symmetric_model(order):
    m = build_lattice_model(dict(SPD_SOC, spin_order=order))
    assert m.N == 18
    k = RNG.normal(size=(20, 3)) * 10
    e = np.linalg.eigvalsh(m.h(k))
    assert np.abs(e[:, ::2] - e[:, 1::2]).max() < 1e-10
    assert np.abs(e[:, 2::2] - e[:, 1:-1:2]).min() > 1e-6  # SOC split the doublets apart
    # inversion and time reversal separately: eps(k) = eps(-k)
    assert np.allclose(np.linalg.eigvalsh(m.h(-k)), e, atol=1e-12)


def test_spin_orders_give_the_same_spectrum():
    k = RNG.normal(size=(6, 3)) * 10
    e = [np.linalg.eigvalsh(build_lattice_model(dict(SPD_SOC, spin_order=o)).h(k))
         for o in orb.SPIN_ORDERS]
    assert np.allclose(e[0], e[1], atol=1e-12)


@pytest.mark.parametrize("change, key, text", [
    ({"orbitals": "ds"}, "model.orbitals", "'s', 'p', 'd' combined in that order"),
    ({"shells": [{"ss_sigma": -1, "xx_pi": 1}]}, "model.shells", "with keys ss_sigma"),
    ({"shells": [{"ss_sigma": float("nan")}]}, "model.shells", "finite numbers"),
    ({"orbitals": "sp", "soc_p_eV": 0.0}, "model.soc_d_eV", "needs d orbitals"),
    ({"lattice": "hcp"}, "model.lattice", "allowed: 'square', 'sc', 'bcc', 'fcc'"),
    ({"lattice": "square"}, "model.dimension", "set model.dimension = 2"),
    ({"spinful": False}, "model.spinful", "spin-orbit coupling needs spinful = true"),
    ({"hoppings": []}, "model.hoppings", "only used by model.kind = 'tight_binding'"),
    ({"colour": "red"}, "model.colour", "unknown key"),
])
def test_builder_errors_name_the_key(change, key, text):
    with pytest.raises(CaseError) as err:
        build_lattice_model(dict(SPD_SOC, **change))
    assert err.value.key == key and text in str(err.value)
    assert "\n" not in str(err.value)
