"""The specular mirror operator U(k) of every model: h(R k) = U h(k) U^+, R k = (-k_x, k_par).

Asserted: the symmetry at random k (to rounding for exact models), U unitary, spin and orbital
angular momentum transform as pseudovectors under the mirror x -> -x (U S_x U^+ = S_x,
U S_y U^+ = -S_y, U S_z U^+ = -S_z, the same for L), and the refusals (no operator, or not
mirror symmetric) are one-line ModelErrors naming the model kind and the reason or deviation.
"""
import numpy as np
import pytest

from slabqkt.errors import ModelError
from slabqkt.mirror import check_mirror, deviation, pseudovector_error, reflect, sample_points
from slabqkt.models import Model, OrbitalP, ParabolicBand, Rashba, Rotated, random_unitary

RNG = np.random.default_rng(2026)


def random_k(d, n=40, scale=4.0):
    return scale * (RNG.random((n, d)) - 0.5)


def assert_mirror(model, k, tol=1e-12):
    """h(Rk) = U h U^+ to tol (relative to the size of h), U unitary, pseudovector S and L."""
    U = model.mirror_x(k)
    assert U.shape == k.shape[:-1] + (model.N, model.N)
    dev, unit = deviation(model, k, U)
    scale = 1.0 + np.abs(model.h(k)).max()
    assert dev.max() < tol * scale, dev.max()
    assert unit < 1e-12
    for ops in (model.spin_operators(), model.orbital_operators()):
        if ops is not None:
            assert pseudovector_error(model, U, ops) < 1e-12
    return U


# ------------------------------------------------------------------ continuum models
@pytest.mark.parametrize("d", [2, 3])
def test_parabolic_band_mirror_is_one(d):
    m = ParabolicBand(d, 0.7)
    k = random_k(d)
    U = assert_mirror(m, k)
    assert np.all(U == 1.0)


@pytest.mark.parametrize("d", [2, 3])
@pytest.mark.parametrize("m_x", [0.0, 0.3])
def test_rashba_spin_is_a_pseudovector(d, m_x):
    # exchange along x is kept by the mirror; alpha_R (sigma_x k_y - sigma_y k_x) maps onto itself
    m = Rashba(d, 0.5, alpha_R=0.08, exchange_eV=m_x, magnetization=(1.0, 0.0, 0.0))
    U = assert_mirror(m, random_k(d))
    S = m.spin_operators()
    U0 = U[0]
    # U S_i U^+ = (+S_x, -S_y, -S_z): the mirror x -> -x acts on spin as a C2 rotation about x
    for i, s in enumerate((1, -1, -1)):
        assert np.abs(U0 @ S[i] @ U0.conj().T - s * S[i]).max() < 1e-15


@pytest.mark.parametrize("mag", [(0.0, 0.0, 1.0), (0.0, 1.0, 0.0), (1.0, 1.0, 0.0)])
def test_rashba_exchange_off_the_normal_is_refused(mag):
    m = Rashba(2, 0.5, alpha_R=0.08, exchange_eV=0.05, magnetization=mag)
    with pytest.raises(ModelError, match=r"^model.kind = 'rashba': no mirror symmetry operator "
                       r"for the specular wall x -> -x \(the exchange field .* pseudovector"):
        m.mirror_x(random_k(2))
    # m along z: the bands are still k_x -> -k_x symmetric, through the antiunitary
    # h(Rk) = h(k)^*, which is not of the form U h U^+ with the spin operator -i sigma_x
    if mag == (0.0, 0.0, 1.0):
        k = random_k(2)
        assert np.abs(m.h(reflect(k)) - m.h(k).conj()).max() < 1e-15
        e1, e2 = np.linalg.eigvalsh(m.h(k)), np.linalg.eigvalsh(m.h(reflect(k)))
        assert np.abs(e1 - e2).max() < 1e-14


@pytest.mark.parametrize("d", [2, 3])
def test_orbital_p_parities_and_orbital_pseudovector(d):
    m = OrbitalP(d, 0.7, 0.05)
    U = assert_mirror(m, random_k(d))
    assert np.array_equal(U[0], np.diag([-1.0, 1.0, 1.0]))
    # the degenerate transverse eigenspace at k maps onto the one at Rk
    k = random_k(d, 5)
    e, v = np.linalg.eigh(m.h(k))
    em, vm = np.linalg.eigh(m.h(reflect(k)))
    assert np.abs(e - em).max() < 1e-12
    # the rank-2 transverse eigenspace (above the longitudinal band for beta > 0)
    assert np.abs(e[:, 1] - e[:, 2]).max() < 1e-12 and (e[:, 1] - e[:, 0]).min() > 1e-4
    P = v[..., 1:] @ v[..., 1:].conj().swapaxes(-1, -2)
    Pm = vm[..., 1:] @ vm[..., 1:].conj().swapaxes(-1, -2)
    assert np.abs(U[:5] @ P @ U[:5].conj().swapaxes(-1, -2) - Pm).max() < 1e-12


@pytest.mark.parametrize("inner", [lambda: OrbitalP(3, 0.7, 0.05),
                                   lambda: Rashba(2, 0.5, alpha_R=0.08),
                                   lambda: ParabolicBand(2, 1.0)])
def test_rotated_gauge_carries_the_operator(inner):
    m0 = inner()
    V = random_unitary(m0.N, 5)
    m = Rotated(m0, V)
    k = random_k(m.dimension)
    U = assert_mirror(m, k)
    assert np.abs(U - V @ m0.mirror_x(k) @ V.conj().T).max() < 1e-14
    assert m.kind == m0.kind


def test_check_mirror_reports_the_deviation_in_eV():
    m = Rashba(2, 0.5, alpha_R=0.08)
    assert check_mirror(m) < 1e-14
    # a model whose operator is wrong: the checker names the deviation and the kind
    bad = Rashba(2, 0.5, alpha_R=0.08)
    bad.mirror_operator = lambda k: np.broadcast_to(np.eye(2, dtype=complex), k.shape[:-1] + (2, 2))
    k = sample_points(bad)
    dev = check_mirror(bad, k)
    expected = 2 * 0.08 * np.abs(k[:, 0]).max()  # alpha sigma_y k_x changes sign: ||.|| = 2 alpha |k_x|
    assert abs(dev - expected) < 1e-12
    with pytest.raises(ModelError, match=r"^model.kind = 'rashba' is not symmetric under the "
                       r"mirror x -> -x of the film normal: max \|\|h\(Rk\) - U h\(k\) U\^\+\|\| "
                       r"= [0-9.e-]+ eV > 1e-06 eV"):
        check_mirror(bad, tol=1e-6)


def test_a_model_without_operator_is_refused():
    class Plain(ParabolicBand):
        kind = "custom"
        mirror_operator = Model.mirror_operator  # the base class's refusal
    with pytest.raises(ModelError, match=r"^model.kind = 'custom': no mirror symmetry operator"):
        Plain(2).mirror_x(np.zeros((3, 2)))
