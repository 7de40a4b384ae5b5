"""Tight-binding models: phase convention, analytic dh, chunking, presets, operators."""
import numpy as np
import pytest

from slabqkt.errors import CaseError, ModelError
from slabqkt.lattice import orbitals as orb
from slabqkt.lattice.builders import build_lattice_model
from slabqkt.lattice.tight_binding import LatticeModel, rotated
from slabqkt.models import L_P, Rashba
from slabqkt.units import HBAR2_OVER_2ME

RNG = np.random.default_rng(7)


def random_model(d=2, N=3, reach=2, seed=0, positions=True):
    """A random Hermitian model on an oblique lattice with orbital positions."""
    rng = np.random.default_rng(seed)
    A = np.eye(d) * 0.3 + 0.05 * rng.normal(size=(d, d))
    g = np.arange(-reach, reach + 1)
    R = np.stack(np.meshgrid(*([g] * d), indexing="ij"), -1).reshape(-1, d)
    H = rng.normal(size=(len(R), N, N)) + 1j * rng.normal(size=(len(R), N, N))
    H *= np.exp(-np.linalg.norm(R, axis=1))[:, None, None]
    minus = np.array([np.flatnonzero((R == -r).all(1))[0] for r in R])
    H = 0.5 * (H + H[minus].conj().swapaxes(-1, -2))
    tau = 0.3 * rng.random((N, d)) if positions else None
    # the film frame whose normal is b_1 (x must be a lattice-plane normal for the zone)
    from slabqkt.lattice.orientation import film_orientation
    f = film_orientation(A, normal_miller=[1] + [0] * (d - 1))
    Rot = f.rotation
    return LatticeModel(A @ Rot.T, R, H, None if tau is None else tau @ Rot.T, zone=f.zone)


@pytest.mark.parametrize("d", [2, 3])
def test_hermitian_and_dh_matches_central_differences(d):
    m = random_model(d, N=3, reach=2, seed=d)
    k = RNG.normal(size=(6, d)) * 8
    h = m.h(k)
    assert np.abs(h - h.conj().swapaxes(-1, -2)).max() < 1e-13 * np.abs(h).max()
    dh = m.dh(k)
    step = 1e-5
    for j in range(d):
        e = np.zeros(d)
        e[j] = step
        fd = (m.h(k + e) - m.h(k - e)) / (2 * step)
        assert np.abs(dh[:, j] - fd).max() < 1e-7 * np.abs(dh[:, j]).max()


@pytest.mark.parametrize("d", [2, 3])
def test_eigenvalues_periodic_under_reciprocal_vectors(d):
    m = random_model(d, N=3, seed=10 + d)
    k = RNG.normal(size=(5, d)) * 6
    e0 = np.linalg.eigvalsh(m.h(k))
    B = 2 * np.pi * np.linalg.inv(m.lattice).T
    for b in B:
        assert np.allclose(np.linalg.eigvalsh(m.h(k + b)), e0, atol=1e-12)
    # with tau != 0, h itself is only periodic up to the unitary D(b) = diag(e^{i b.tau})
    D = np.exp(1j * m.positions @ B[0])
    assert np.allclose(m.h(k + B[0]), D.conj()[:, None] * m.h(k) * D[None, :], atol=1e-12)


def test_phase_convention_of_one_hopping():
    """h_mn(k) = sum_R H_mn(R) e^{ik.(R + tau_n - tau_m)}, H_mn(R) = <m,0|H|n,R>."""
    A = 0.4 * np.eye(2)
    tau = np.array([[0.0, 0.0], [0.1, 0.05]])
    H = np.zeros((2, 2, 2), complex)
    H[0, 0, 1] = 0.3 + 0.2j  # <0, 0|H|1, R = a_1>
    H[1] = H[0].conj().T     # R = -a_1
    m = LatticeModel(A, [[1, 0], [-1, 0]], H, tau)
    k = np.array([1.3, -0.7])
    expect = (0.3 + 0.2j) * np.exp(1j * k @ (A[0] + tau[1] - tau[0]))
    assert abs(m.h(k)[0, 1] - expect) < 1e-15
    assert abs(m.h(k)[1, 0] - np.conj(expect)) < 1e-15
    assert abs(m.dh(k)[1, 0, 1] - 1j * (A[0] + tau[1] - tau[0])[1] * expect) < 1e-15


def test_chunked_and_unchunked_sums_agree():
    m = random_model(3, N=4, reach=2, seed=3)
    k = RNG.normal(size=(40, 3)) * 5
    h0, dh0 = m.h(k), m.dh(k)
    m.chunk_bytes = 3000.0
    m.r_chunk_max = 7
    assert np.abs(m.h(k) - h0).max() < 1e-13
    assert np.abs(m.dh(k) - dh0).max() < 1e-13


def test_chunks_bound_the_temporaries():
    """619 R vectors, N = 18, 1e5 k points: the per-chunk temporaries stay below 100 MB."""
    g = np.arange(-5, 6)
    R = np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3)
    R = R[np.linalg.norm(R, axis=1) <= 5.3]
    H = np.zeros((len(R), 18, 18), complex)
    H[np.all(R == 0, axis=1)] = np.eye(18)
    m = LatticeModel(np.eye(3) * 0.3, R, H)
    assert len(R) == 619
    for n_mat in (1, 4):
        kc, rc = m._chunks(100000, n_mat)
        assert 1 <= kc < 100000 and rc == 309
        assert kc * (8 * (4 * rc + n_mat * 324) + 16 * n_mat * 324) <= 100e6


def test_energy_bounds_and_band_bottom():
    m = random_model(3, N=3, seed=5)
    lo, hi = m.energy_bounds()
    e = np.linalg.eigvalsh(m.h(RNG.normal(size=(500, 3)) * 10))
    assert lo <= e.min() and e.max() <= hi
    assert lo <= m.band_bottom() <= e.min() + 0.5 * (hi - lo)
    assert m.k_max(0.1) is None


def test_non_hermitian_hoppings_refused():
    H = np.zeros((2, 1, 1), complex)
    H[0] = H[1] = 1j  # H(-R) = H(R) != H(R)^+
    with pytest.raises(ModelError, match="not Hermitian"):
        LatticeModel(np.eye(2), [[1, 0], [-1, 0]], H)


def test_square_and_cubic_presets_closed_form():
    t, a = 0.7, 0.25
    for kind, d in (("square", 2), ("cubic", 3)):
        m = build_lattice_model({"kind": kind, "dimension": d, "t_eV": t, "a_nm": a})
        k = RNG.normal(size=(20, d)) * 10
        expect = -2 * t * np.cos(k * a).sum(-1) + 2 * d * t
        assert np.allclose(m.h(k)[:, 0, 0], expect, atol=1e-13)
        assert np.allclose(m.dh(k)[:, :, 0, 0], 2 * t * a * np.sin(k * a), atol=1e-13)
        assert m.energy_bounds() == pytest.approx((0.0, 4 * d * t))
        assert abs(m.band_bottom()) < 1e-12
    # t from the effective mass: the continuum band at small k
    m = build_lattice_model({"kind": "square", "effective_mass": 0.5, "a_nm": a})
    k = np.array([[1e-3, 2e-3]])
    assert m.h(k)[0, 0, 0].real == pytest.approx(HBAR2_OVER_2ME / 0.5 * (k * k).sum(), rel=1e-6)


def test_preset_dimension_mismatch_is_one_line_error():
    with pytest.raises(CaseError, match=r"model.dimension = 2: model.kind = 'cubic' here is 3D"):
        build_lattice_model({"kind": "cubic", "dimension": 2})


def test_rashba_square_reduces_to_continuum_rashba():
    """h_lattice(k) - h_Rashba(k) = O(k^3): the difference drops 1000 times per decade of k."""
    mt = {"kind": "rashba_square", "dimension": 2, "effective_mass": 0.5, "alpha_R": 0.05,
          "exchange_eV": 0.02, "magnetization": [0.3, 0.0, 1.0], "a_nm": 0.3}
    m = build_lattice_model(mt)
    c = Rashba(2, 0.5, 0.05, 0.02, [0.3, 0.0, 1.0])
    kdir = np.array([[0.6, 0.8], [-0.28, 0.96]])
    diffs = [np.abs(m.h(s * kdir) - c.h(s * kdir)).max() for s in (0.1, 0.01)]
    assert diffs[0] < 1e-3 * 0.05 * 0.1  # small against the alpha_R k term already
    assert diffs[0] / diffs[1] == pytest.approx(1000.0, rel=0.02)
    assert np.allclose(m.spin_operators(), orb.PAULI)
    assert m.orbital_operators() is None
    # 3D: spin-independent hopping along z (the continuum model's parabolic k_z)
    m3 = build_lattice_model(dict(mt, dimension=3))
    c3 = Rashba(3, 0.5, 0.05, 0.02, [0.3, 0.0, 1.0])
    k3 = np.array([[0.6, 0.0, 0.8]])
    d1, d2 = (np.abs(m3.h(s * k3) - c3.h(s * k3)).max() for s in (0.1, 0.01))
    assert d1 / d2 > 500


@pytest.mark.parametrize("l", [1, 2])
def test_angular_momentum_algebra_in_the_real_basis(l):
    orders = [orb.shell_names(l, p) for p in orb.P_ORDERS] if l == 1 else [orb.D_ORDER]
    for names in orders:
        L = orb.angular_momentum(l, names)
        for i, j, k in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
            assert np.abs(L[i] @ L[j] - L[j] @ L[i] - 1j * L[k]).max() < 1e-14
        L2 = sum(x @ x for x in L)
        assert np.abs(L2 - l * (l + 1) * np.eye(2 * l + 1)).max() < 1e-14
        assert np.abs(L - L.conj().swapaxes(-1, -2)).max() < 1e-15
        assert np.abs(L.real).max() == 0  # real orbitals: L imaginary (time reversal odd)
    if l == 1:
        assert np.allclose(orb.angular_momentum(1, orb.P_ORDERS["cartesian"]), L_P)
        # Wannier90's (pz, px, py) is the cyclic relabelling of (px, py, pz)
        Lw = orb.angular_momentum(1)
        perm = [2, 0, 1]
        assert np.allclose(Lw, L_P[:, perm][:, :, perm])


@pytest.mark.parametrize("order", orb.SPIN_ORDERS)
def test_spin_and_orbital_operators_of_a_spinful_spd_basis(order):
    b = orb.basis((0, 1, 2), sites=2, spin=True, spin_order=order)
    assert len(b) == 36
    if order == "interleaved":
        assert [o.spin for o in b[:4]] == ["up", "down", "up", "down"]
    else:
        assert all(o.spin == "up" for o in b[:18])
    S = orb.spin_operators(b)
    L = orb.orbital_operators(b)
    for i, j, k in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
        assert np.allclose(S[i] @ S[j] - S[j] @ S[i], 2j * S[k])
        assert np.allclose(L[i] @ L[j] - L[j] @ L[i], 1j * L[k])
        for jj in range(3):
            assert np.allclose(S[i] @ L[jj], L[jj] @ S[i])
    L2 = sum(x @ x for x in L)
    ls = np.array([o.l for o in b])
    assert np.allclose(L2, np.diag(ls * (ls + 1.0)))
    assert np.allclose(sum(x @ x for x in S), 3 * np.eye(36))


def test_rotated_model_frame_and_pseudovector_operators():
    m = build_lattice_model({"kind": "rashba_square", "dimension": 3, "alpha_R": 0.05,
                             "exchange_eV": 0.03, "magnetization": [0.2, 0.5, 1.0]})
    th = 0.7
    Rz = np.array([[np.cos(th), -np.sin(th), 0], [np.sin(th), np.cos(th), 0], [0, 0, 1]])
    Rx = np.array([[1, 0, 0], [0, np.cos(0.3), -np.sin(0.3)], [0, np.sin(0.3), np.cos(0.3)]])
    R = Rz @ Rx
    from slabqkt.lattice.zone import Zone
    mr = rotated(m, R, zone=Zone.from_reciprocal(m.zone.reciprocal))
    k = RNG.normal(size=(5, 3)) * 4
    assert np.allclose(mr.h(k @ R.T), m.h(k), atol=1e-13)
    assert np.allclose(mr.dh(k @ R.T), np.einsum("ij,kjab->kiab", R, m.dh(k)), atol=1e-13)
    assert np.allclose(mr.lattice, m.lattice @ R.T)
    assert np.allclose(mr.spin_operators(), np.einsum("ij,jab->iab", R, m.spin_operators()))
    with pytest.raises(ModelError, match="proper rotation"):
        rotated(m, -np.eye(3))


TB = {"kind": "tight_binding", "dimension": 2, "lattice_vectors": [[0.3, 0.0], [0.0, 0.3]],
      "positions": [[0.0, 0.0], [0.15, 0.15]],
      "hoppings": [{"R": [0, 0], "real": [[0.5, -1.0], [-1.0, -0.5]]},
                   {"R": [1, 0], "real": [[-0.2, 0.0], [-1.0, 0.1]], "imag": [[0.0, 0.05], [0.0, 0.0]]},
                   {"R": [0, 1], "real": [[-0.2, 0.0], [-1.0, 0.1]]}],
      "basis": [{"site": 0, "orbital": "s"}, {"site": 1, "orbital": "pz"}]}


def test_inline_hoppings_complete_the_hermitian_partner():
    m = build_lattice_model(TB)
    assert m.N == 2 and len(m.R_int) == 5
    minus = [i for i, r in enumerate(m.R_int.tolist()) if r == [-1, 0]][0]
    plus = [i for i, r in enumerate(m.R_int.tolist()) if r == [1, 0]][0]
    assert np.allclose(m.H[minus], m.H[plus].conj().T)
    k = RNG.normal(size=(4, 2)) * 5
    h = m.h(k)
    assert np.allclose(h, h.conj().swapaxes(-1, -2))
    assert m.spin_operators() is None
    assert np.allclose(m.orbital_operators(), 0)  # a p_z alone carries no L


@pytest.mark.parametrize("change, key, text", [
    ({"hoppings": [{"R": [0, 0], "real": [[0.0, 1.0], [0.0, 0.0]]}]}, "model.hoppings",
     "H(0) must be Hermitian"),
    ({"hoppings": [{"R": [1, 0], "real": [[1.0]]}, {"R": [-1, 0], "real": [[2.0]]}]},
     "model.hoppings", "H([-1, 0]) must equal H([1, 0])^dagger"),
    ({"hoppings": [{"R": [1, 0], "real": [[1.0]]}, {"R": [1, 0], "real": [[1.0]]}]},
     "model.hoppings", "each R may be listed once"),
    ({"hoppings": [{"R": [1, 0, 0], "real": [[1.0]]}]}, "model.hoppings", "R must be 2 integers"),
    ({"hoppings": [{"R": [1, 0], "real": [[float("inf")]]}]}, "model.hoppings", "finite real"),
    ({"hoppings": [{"R": [1, 0], "real": [[1.0, 0.0]]}]}, "model.hoppings", "finite real numbers"),
    ({"hoppings": [{"R": [1, 0], "rea": [[1.0]]}]}, "model.hoppings", "allowed: a non-empty list"),
    ({"positions": [[0.0, 0.0]]}, "model.positions", "one position per state (N = 2)"),
    ({"basis": [{"site": 0, "orbital": "s"}]}, "model.basis", "one entry per state (N = 2)"),
    ({"basis": [{"site": 0, "orbital": "fxyz"}, {"site": 1, "orbital": "s"}]}, "model.basis",
     "orbital = s|px"),
    ({"lattice_vectors": [[0.3, 0.0], [0.6, 0.0]]}, "model.lattice_vectors", "linearly independent"),
    ({"lattice_vectors": [[0.3, 0.0, 0.0], [0.0, 0.3, 0.0], [0.0, 0.0, 0.3]]}, "model.dimension",
     "set model.dimension = 3"),
    ({"a_nm": 0.3}, "model.a_nm", "only used by model.kind"),
    ({"alpha_R": 0.1}, "model.alpha_R", "only used by model.kind = 'rashba' or 'rashba_square'"),
])
def test_inline_model_errors_name_the_key(change, key, text):
    with pytest.raises(CaseError) as err:
        build_lattice_model(dict(TB, **change))
    assert err.value.key == key, str(err.value)
    assert text in str(err.value) and "\n" not in str(err.value)


def test_every_lattice_key_is_documented():
    import os
    from slabqkt.lattice.builders import FILM_KEYS, LATTICE_KEYS, LATTICE_KINDS
    with open(os.path.join(os.path.dirname(__file__), "..", "docs", "models.md")) as f:
        text = f.read()
    for name, key in list(LATTICE_KEYS.items()) + list(FILM_KEYS.items()):
        assert f"| `{name}` | {key.unit} |" in text, name
        assert key.unit and len(key.doc) > 15
    for kind in LATTICE_KINDS:
        assert f"| `{kind}` |" in text


def test_repeated_R_vectors_add_up():
    H = np.array([[[0.5]], [[-1.0]], [[-1.0]], [[0.25]]], complex)
    m = LatticeModel(0.3 * np.eye(2), [[0, 0], [1, 0], [-1, 0], [0, 0]], H)
    k = np.array([[0.7, 0.1]])
    assert m.h(k)[0, 0, 0].real == pytest.approx(0.75 - 2 * np.cos(0.21))
