"""Issue 3: the interband density matrix of Eq. (1) and its observables.

Checks, with closed forms or independent re-implementations only:

- the analytic interband Berry connection against finite differences of
  projectors (the code never differentiates numerically; the test may),
  gauge invariance, degenerate eigenspaces grouped, vanishing gaps refused;
- the per-state weights of the gradient and disorder parts against the
  projector forms of docs/theory.md (no eigenvector-pair shortcut), the
  Fermi-sea intrinsic part against an independent quadrature, custom
  observables against the built-in ones;
- Edelstein (intraband), the intrinsic damping-like spin density of the
  Rashba ferromagnet (closed form and the paper's Fermi-surface form,
  Eq. 13) and its cancellation by the disorder part (Eqs. 14-15), the
  universal intrinsic spin Hall conductivity |e|/8 pi and its cancellation;
- strip profiles: parities under x -> d - x, the gradient part (zero for
  specular walls and in the bulk), the middle of a thick strip equals the
  bulk, the edge decay length scales with tau, random unitary gauge.

Conventions: q = e = -|e|; H = hbar^2 k^2/2m* + alpha_R (sigma_x k_y -
sigma_y k_x) + Delta sigma_z; spin densities in units hbar/2 per nm^2
(i.e. <sigma>), spin currents in hbar nm/fs per nm^2 (docs/observables.md).
"""
import pathlib

import numpy as np
import pytest

from slabqkt import CaseError, ModelError, Simulation, load_case, resolve
from slabqkt.band_geometry import Eigensystem, berry_connection
from slabqkt.fermi_surface import FermiSurface
from slabqkt.models import OrbitalP, Rashba, Rotated, random_unitary
from slabqkt.observables import ObservableSet, StateWeights, make_observable
from slabqkt.units import E_CHARGE, HBAR, HBAR2_OVER_2ME

from conftest import merge

ROOT = pathlib.Path(__file__).resolve().parents[1]
MS, AR = 0.5, 0.05  # m*/m_e, alpha_R (eV nm)
MSTAR = HBAR ** 2 * MS / (2 * HBAR2_OVER_2ME)  # m* in eV fs^2 / nm^2

BULK = {
    "model": {"kind": "rashba", "dimension": 2, "effective_mass": MS, "alpha_R": AR},
    "fermi_surface": {"fermi_level_eV": 0.1, "n_angles": 64},
    "disorder": {"tau_fs": 20.0},
    "field": {"direction": [1.0, 0.0, 0.0], "magnitude_V_per_m": 1.0e5},
    "observables": {"names": ["spin_x", "spin_y", "spin_z"]},
}

STRIP = merge(BULK, {
    "field": {"direction": [0.0, 1.0, 0.0]},
    "slab": {"thickness_mfp": 5.0, "n_x": 120},
    "boundaries": {"left": {"specularity": 0.0}, "right": {"specularity": 0.0}},
})


def bulk(extra=None):
    sim = Simulation(resolve(merge(BULK, extra or {})))
    _, obs = sim.bulk()
    return sim, obs


def strip(extra=None):
    extra = extra or {}
    raw = merge(STRIP, extra)
    if "boundaries" in extra:  # replace the surfaces, do not merge specularity with roughness
        raw["boundaries"] = extra["boundaries"]
    return Simulation(resolve(raw)).run()


def natural_scales(obs, fs, coll):
    """Sizes of the per-state weights (intra, grad, dis_phi, dis_m) from their definitions.

    |Tr[P O]| <= ||O||; |Tr[A^x O]| <= ||dh^x|| ||O|| / gap; the disorder weights are bounded
    by ||D|| ||O|| / gap and sum_s w_s ||O|| / gap. Comparisons are made relative to these
    (a weight that vanishes by symmetry is then compared with its natural size, not with 0).
    """
    es = fs.es
    dh = es.U[:, None] @ es.dh @ es.U.conj().swapaxes(-1, -2)[:, None]
    onorm = np.linalg.norm(obs.matrix(fs.model, fs.k, dh), ord=2, axis=(-2, -1)).max()
    gap = es.min_interband_gap(fs.group)
    dhx = np.linalg.norm(es.dh[:, 0], ord=2, axis=(-2, -1)).max()
    D = np.einsum("s,sab->ab", fs.w, fs.P)
    return {"intra": onorm, "grad": dhx * onorm / gap,
            "dis_phi": np.linalg.norm(D, 2) * onorm / gap, "dis_m": fs.w.sum() * onorm / gap}


# ---------------------------------------------------------------------------
# band geometry
# ---------------------------------------------------------------------------
MODELS = {
    "rashba_fm": lambda: Rashba(2, MS, AR, 0.03, (0.3, -0.2, 1.0)),
    "orbital_p_2d": lambda: OrbitalP(2, 0.5, 0.03),  # transverse band doubly degenerate
    "orbital_p_3d": lambda: OrbitalP(3, 0.7, -0.02),
    "rotated": lambda: Rotated(OrbitalP(3, 0.7, 0.02), random_unitary(3, 11)),
}


def _random_k(d, n=7, seed=3):
    rng = np.random.default_rng(seed)
    k = rng.normal(size=(n, d))
    return k / np.linalg.norm(k, axis=-1)[:, None] * rng.uniform(0.4, 1.6, size=(n, 1))


def _groups(es):
    return int(es.label.max()) + 1


@pytest.mark.parametrize("name", sorted(MODELS))
def test_berry_connection_is_i_Pn_dPm_by_finite_differences(name):
    """A_nm = i P_n dP_m/dk (analytic in the code) against a central difference of P_m."""
    model = MODELS[name]()
    d = model.dimension
    k = _random_k(d)
    es = Eigensystem(model, k, 1e-9)
    ng = _groups(es)
    assert np.all(es.label.max(axis=1) == ng - 1)  # same eigenspace count at every k
    if isinstance(model, (OrbitalP, Rotated)):
        assert ng == 2 and sorted(es.rank(0).tolist() + es.rank(1).tolist()) == [1] * 7 + [2] * 7
    h = 1e-5
    for n in range(ng):
        for m in range(ng):
            if n == m:
                continue
            A = berry_connection(es, n, m)  # (M, d, N, N)
            Pn = es.projector(n)
            fd = np.empty_like(A)
            for j in range(d):
                dk = np.zeros(d)
                dk[j] = h
                Pp = Eigensystem(model, k + dk).projector(m)
                Pm = Eigensystem(model, k - dk).projector(m)
                fd[:, j] = 1j * Pn @ (Pp - Pm) / (2 * h)
            scale = np.abs(A).max()
            assert scale > 1e-3
            assert np.abs(A - fd).max() < 1e-7 * scale
            # A_mn = A_nm^dagger
            assert np.allclose(berry_connection(es, m, n), A.conj().swapaxes(-1, -2),
                               atol=1e-13 * scale)


def test_berry_connection_gauge_covariant():
    """Basis change h -> U h U^+: A -> U A U^+ (every eigenspace pair)."""
    inner = OrbitalP(3, 0.7, 0.02)
    U = random_unitary(3, 5)
    k = _random_k(3)
    es0, es1 = Eigensystem(inner, k), Eigensystem(Rotated(inner, U), k)
    for n, m in ((0, 1), (1, 0)):
        A0, A1 = berry_connection(es0, n, m), berry_connection(es1, n, m)
        assert np.allclose(U @ A0 @ U.conj().T, A1, atol=1e-12 * np.abs(A0).max())


def test_state_weights_independent_of_basis_inside_degenerate_eigenspace():
    """Rotating the eigenvectors of the degenerate band among themselves changes nothing."""
    model = OrbitalP(2, 0.5, 0.03)
    fs = FermiSurface(model, 0.2, 16)
    from slabqkt.collision import Collision
    coll = Collision(fs, 0.01)
    rng = np.random.default_rng(0)
    # random positive weights: D and the moment sums become anisotropic (not zero by symmetry)
    fs.w = fs.w * rng.uniform(0.5, 1.5, size=fs.n_states)
    z = rng.normal(size=(3, 3)) + 1j * rng.normal(size=(3, 3))
    herm = z + z.conj().T
    custom = {"rnd": {"real": herm.real.tolist(), "imag": herm.imag.tolist()}}
    obs = [make_observable(n, model, custom) for n in ("orbital_z", "orbital_current_zy", "rnd")]
    ref = [StateWeights(o, fs, coll, 1e-8) for o in obs]
    es = fs.es
    dh_orig = es.U[:, None] @ es.dh @ es.U.conj().swapaxes(-1, -2)[:, None]
    for s in range(len(fs.k)):
        idx = np.nonzero(es.label[s] == 1)[0]
        assert len(idx) == 2
        z = rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2))
        q, _ = np.linalg.qr(z)
        es.U[s][:, idx] = es.U[s][:, idx] @ q
    es.dh = es.U.conj().swapaxes(-1, -2)[:, None] @ dh_orig @ es.U[:, None]
    new = [StateWeights(o, fs, coll, 1e-8) for o in obs]
    for o, r, n in zip(obs, ref, new):
        scales = natural_scales(o, fs, coll)
        for attr in ("intra", "grad", "dis_phi", "dis_m"):
            assert np.abs(getattr(r, attr) - getattr(n, attr)).max() < 1e-12 * scales[attr], attr
    # the random observable has sizeable gradient and disorder weights: the test is not empty
    scales = natural_scales(obs[2], fs, coll)
    for attr in ("intra", "grad", "dis_phi", "dis_m"):
        assert np.abs(getattr(ref[2], attr)).max() > 1e-3 * scales[attr], attr


def test_vanishing_gap_on_the_fermi_surface_is_refused():
    """Two eigenspaces closer than gap_tol (10 x degeneracy_tol) on the FS: a clear error."""
    # gap 2 alpha_R k_F ~ 5e-9 eV: above degeneracy_tol (1e-9, two eigenspaces), below 1e-8
    with pytest.raises(ModelError, match="interband gap"):
        bulk({"model": {"alpha_R": 2e-9}})
    # the same bands merged into one eigenspace are fine (no interband term at all)
    sim, obs = bulk({"model": {"alpha_R": 2e-9}, "fermi_surface": {"degeneracy_tol_eV": 1e-7}})
    assert sim.fs.n_sheets == 1 and np.all(sim.fs.rank == 2)
    assert obs["spin_x"]["intrinsic"] == 0.0 and obs["spin_x"]["disorder"] == 0.0
    # direct call with an explicit tolerance
    es = Eigensystem(Rashba(2, MS, AR, 0.0), np.array([[0.5, 0.1]]))
    with pytest.raises(ModelError, match="below 1 eV"):
        es.interband_weights(0, gap_tol=1.0)


@pytest.mark.parametrize("delta", [0.0, 0.04])
def test_min_interband_gap_reported(delta):
    """attrs['min_interband_gap_eV'] = min over the FS of 2 sqrt(alpha_R^2 k^2 + Delta^2)."""
    res = strip({"model": {"exchange_eV": delta}, "slab": {"n_x": 20}})
    fs = Simulation(resolve(merge(STRIP, {"model": {"exchange_eV": delta}}))).fs
    k2 = np.sum(fs.k ** 2, axis=-1)
    expect = np.min(2 * np.sqrt(AR ** 2 * k2 + delta ** 2))
    assert res.attrs["min_interband_gap_eV"] == pytest.approx(expect, rel=1e-12)
    b = Simulation(resolve(merge(BULK, {"model": {"exchange_eV": delta}}))).run_bulk()
    assert b.attrs["min_interband_gap_eV"] == pytest.approx(expect, rel=1e-12)


# ---------------------------------------------------------------------------
# observables: projector forms, Fermi sea, custom matrices
# ---------------------------------------------------------------------------
def _eigenspace_energy(es, group):
    mask = es.members(group)
    return (es.eps * mask).sum(-1) / mask.sum(-1)


@pytest.mark.parametrize("which", ["orbital_p", "rashba_fm"])
def test_state_weights_equal_projector_forms(which):
    """Per-state weights of intra/gradient/disorder against Eq. (1) reduced with projectors.

    grad_s = sum_{m != n} Re Tr[A^x_nm O],  dis_phi_s = sum_m Im Tr[P_n D P_m O]/(eps_n - eps_m),
    dis_m = sum_s w_s sum_m Im Tr[P_n Lambda_mu P_m O]/(eps_n - eps_m)
    with the projectors P_m of *all* other eigenspaces (docs/theory.md).
    """
    from slabqkt.collision import Collision
    if which == "orbital_p":
        model = OrbitalP(2, 0.5, 0.03)
        names = ["orbital_z", "orbital_current_zy", "orbital_current_xx", "current_y", "density"]
        fs = FermiSurface(model, 0.2, 16)
    else:
        model = Rashba(2, MS, AR, 0.03, (0.3, 0.0, 1.0))
        names = ["spin_x", "spin_z", "spin_current_zy", "spin_current_yx", "current_x"]
        fs = FermiSurface(model, 0.1, 16)
    # random positive weights: the formulas hold for any measure, and D = sum w P and the
    # moment sums are then not zero by the model's symmetry (a real test of the D term)
    fs.w = fs.w * np.random.default_rng(1).uniform(0.5, 1.5, size=fs.n_states)
    coll = Collision(fs, 0.01)
    es = fs.es
    ng = _groups(es)
    D = np.einsum("s,sab->ab", fs.w, fs.P)
    sizes = []
    for name in names:
        obs = make_observable(name, model)
        sw = StateWeights(obs, fs, coll, 1e-8)
        O = obs.matrix(model, fs.k, es.U[:, None] @ es.dh @ es.U.conj().swapaxes(-1, -2)[:, None])
        grad = np.zeros(fs.n_states)
        dphi = np.zeros(fs.n_states)
        dm = np.zeros((fs.n_states, coll.n_moments))
        en = _eigenspace_energy(es, fs.group)
        for m in range(ng):
            other = np.full(fs.n_states, m)
            sel = fs.group != m
            if not sel.any():
                continue
            A = berry_connection(es, fs.group, np.where(sel, other, (m + 1) % ng))
            Pn, Pm = fs.P, es.projector(other)
            em = _eigenspace_energy(es, other)
            tr_g = np.real(np.einsum("sab,sba->s", A[:, 0], O))
            grad += np.where(sel, tr_g, 0.0)
            inv = np.where(sel, 1.0 / np.where(sel, en - em, 1.0), 0.0)
            dphi += inv * np.imag(np.einsum("sab,bc,scd,sda->s", Pn, D, Pm, O))
            dm += inv[:, None] * np.imag(np.einsum("sab,rbc,scd,sda->sr", Pn, coll.basis, Pm, O))
        intra = np.real(np.einsum("sab,sba->s", fs.P, O))
        dm = dm.T @ fs.w
        scales = natural_scales(obs, fs, coll)
        for attr, got, ref in (("intra", sw.intra, intra), ("grad", sw.grad, grad),
                               ("dis_phi", sw.dis_phi, dphi), ("dis_m", sw.dis_m, dm)):
            assert np.abs(got - ref).max() < 1e-12 * scales[attr], (name, attr)
        sizes.append([np.abs(getattr(sw, a)).max() / scales[a] for a in ("grad", "dis_phi", "dis_m")])
    assert np.all(np.max(sizes, axis=0) > 1e-3)  # not all zero by symmetry


def test_intrinsic_fermi_sea_against_independent_quadrature():
    """o_I = -e sum_{n != m} int (f_n - f_m)/(eps_n - eps_m) E.Tr[A_nm O] (T = 0), OrbitalP 2D.

    Reference: bands eps_L = c k^2 (longitudinal) and eps_T = (c + beta) k^2 (degenerate)
    have circular Fermi seas of known radii; only the ring between them contributes.
    Gauss-Legendre in k on the ring, uniform midpoint rule in angle, projector-based A.
    """
    ms, beta, mu = 0.5, 0.03, 0.2
    model = OrbitalP(2, ms, beta)
    c = HBAR2_OVER_2ME / ms
    kT, kL = np.sqrt(mu / (c + beta)), np.sqrt(mu / c)
    fs = FermiSurface(model, mu, 16)
    assert fs.n_sheets == 2
    assert np.allclose(fs.kF[fs.rank == 2], kT, rtol=1e-12) and np.allclose(fs.kF[fs.rank == 1], kL,
                                                                              rtol=1e-12)
    from slabqkt.collision import Collision
    coll = Collision(fs, 0.01)
    field = np.array([0.0, 2e-4, 0.0])
    names = ["orbital_current_zx", "orbital_current_zy", "orbital_z", "current_x"]
    obs = [make_observable(n, model) for n in names]
    got = ObservableSet(obs, model, fs, coll, field).intrinsic
    xg, wg = np.polynomial.legendre.leggauss(40)
    kr = 0.5 * (kL + kT) + 0.5 * (kL - kT) * xg
    nth = 48
    th = (np.arange(nth) + 0.5) * 2 * np.pi / nth
    K = (kr[:, None, None] * np.stack([np.cos(th), np.sin(th)], -1)[None]).reshape(-1, 2)
    wk = (0.5 * (kL - kT) * wg * kr)[:, None].repeat(nth, 1).ravel() * (2 * np.pi / nth) / (2 * np.pi) ** 2
    es = Eigensystem(model, K)
    # in the ring: L (group 0, lower) occupied, T (group 1) empty
    eL, eT = _eigenspace_energy(es, 0), _eigenspace_energy(es, 1)
    AL_T = berry_connection(es, 0, 1)  # (M, d, 3, 3)
    dh = es.U[:, None] @ es.dh @ es.U.conj().swapaxes(-1, -2)[:, None]
    for o, g in zip(obs, got):
        O = o.matrix(model, K, dh)
        EA = np.einsum("j,sjab->sab", field[:2], AL_T)
        # pair (L, T) and (T, L): (f_L - f_T)/(eL - eT) [Tr(A_LT O) + conj] with f_L - f_T = 1
        val = 2 * np.real(np.einsum("sab,sba->s", EA, O)) / (eL - eT)
        ref = -E_CHARGE * np.sum(wk * val)
        bound = np.sum(wk * np.abs(val))  # the size of the integrand: scale for zero results
        assert abs(g - ref) <= 1e-9 * bound, o.name
    assert abs(got[0]) > 0  # the orbital Hall current is not trivially zero


CUSTOM = {
    "sz": {"real": [[1.0, 0.0], [0.0, -1.0]], "unit": "hbar/2"},
    "sy": {"imag": [[0.0, -1.0], [1.0, 0.0]]},
    "mix": {"real": [[0.7, 0.3], [0.3, -0.1]], "imag": [[0.0, 0.5], [-0.5, 0.0]]},
}


@pytest.mark.parametrize("seed", [None, 4])
def test_custom_matrices_equal_builtin_observables(seed):
    """[observables.custom] N x N Hermitian matrices, in the model's basis: every part."""
    extra = {"model": {"exchange_eV": 0.03, "unitary_seed": seed},
             "observables": {"names": ["spin_x", "spin_y", "spin_z", "density", "sz", "sy", "mix"],
                             "custom": CUSTOM},
             "slab": {"n_x": 40}}
    if seed is None:
        extra["model"].pop("unitary_seed")
    res = strip(extra)
    for part in ("intra", "intrinsic", "gradient", "disorder", "total"):
        P = {n: res.profile(n, part) for n in res.observables}
        scale = max(np.abs(res.profile(n, "total")).max() for n in ("spin_x", "spin_z"))
        assert np.allclose(P["sz"], P["spin_z"], rtol=0, atol=1e-12 * scale)
        assert np.allclose(P["sy"], P["spin_y"], rtol=0, atol=1e-12 * scale)
        # mix = 0.3 1 + 0.4 sigma_z + 0.3 sigma_x - 0.5 sigma_y
        lin = 0.3 * P["density"] + 0.4 * P["spin_z"] + 0.3 * P["spin_x"] - 0.5 * P["spin_y"]
        assert np.allclose(P["mix"], lin, rtol=0, atol=1e-12 * scale)
    assert res.units["sz"] == "hbar/2"


@pytest.mark.parametrize("spec", [
    {"real": [[1.0, 2.0], [0.0, 1.0]]},            # not Hermitian
    {"real": [[1.0, 0.0, 0.0]] * 3},               # wrong size for N = 2
    {"real": "sigma_z"},                           # not numeric
])
def test_bad_custom_matrix_names_the_key(spec):
    with pytest.raises(CaseError) as err:
        bulk({"observables": {"names": ["bad"], "custom": {"bad": spec}}})
    msg = str(err.value)
    assert msg.startswith("observables.custom.bad") and "\n" not in msg


def test_spin_operators_missing_is_an_error():
    with pytest.raises(CaseError, match="^observables.names"):
        make_observable("spin_x", OrbitalP(2, 0.5, 0.03))


# ---------------------------------------------------------------------------
# bulk anchors (DESIGN section 4, items 3 and 4)
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("eF", [0.02, 0.1, 0.3])
@pytest.mark.parametrize("direction", [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
def test_edelstein_carried_by_intraband(eF, direction):
    """Delta = 0: <sigma> = (q tau m* alpha_R / (pi hbar^3)) z x E, independent of eps_F."""
    sim, obs = bulk({"fermi_surface": {"fermi_level_eV": eF}, "field": {"direction": direction}})
    tau = 20.0
    expect = E_CHARGE * tau * MSTAR * AR / (np.pi * HBAR ** 3) * np.cross([0, 0, 1.0], sim.field)
    total = np.array([obs[f"spin_{a}"]["total"] for a in "xyz"])
    intra = np.array([obs[f"spin_{a}"]["intra"] for a in "xyz"])
    other = np.array([[obs[f"spin_{a}"][p] for p in ("intrinsic", "disorder")] for a in "xyz"])
    ref = np.linalg.norm(expect)
    assert np.abs(total - expect).max() < 5e-3 * ref
    assert np.abs(intra - expect).max() < 5e-3 * ref
    assert np.abs(other).max() < 1e-8 * ref


def _sot_analytic(E, eF, delta, alpha_R, ms=MS):
    """<sigma_x>_I = q E alpha Delta m* / (2 pi hbar (2 m* alpha^2 eps_F + Delta^2)), alpha = alpha_R/hbar."""
    mstar = HBAR ** 2 * ms / (2 * HBAR2_OVER_2ME)
    a = alpha_R / HBAR
    return E_CHARGE * E * a * delta * mstar / (2 * np.pi * HBAR * (2 * mstar * a ** 2 * eF + delta ** 2))


@pytest.mark.parametrize("eF,delta,alpha_R", [(0.1, 0.05, 0.05), (0.3, 0.1, 0.05), (0.3, 0.02, 0.03),
                                              (0.2, 0.1, 0.01)])
def test_intrinsic_damping_like_spin_density(eF, delta, alpha_R):
    """m || z, E || x: the Fermi-sea intrinsic part against the closed form (1 %)."""
    sim, obs = bulk({"model": {"exchange_eV": delta, "alpha_R": alpha_R},
                     "fermi_surface": {"fermi_level_eV": eF, "n_angles": 32}})
    E = np.linalg.norm(sim.field)
    assert obs["spin_x"]["intrinsic"] == pytest.approx(_sot_analytic(E, eF, delta, alpha_R), rel=1e-2)
    assert abs(obs["spin_y"]["intrinsic"]) < 1e-8 * abs(obs["spin_x"]["intrinsic"])


def _eq13_spin_x(sim, alpha_R, delta):
    """The paper's Eq. (13) on the code's Fermi-surface points, with the exact b_perp.

    T = (hbar/2) sum_sigma sigma int_FS dl_p/(2 pi hbar)^2 (eE).n b_perp, n the outward FS
    normal, sigma = +1 the upper band (eps_0 + Delta, the inner sheet), b_perp = m x (b_SO x m)/J_e
    = alpha_R (k_y, -k_x, 0)/Delta for m = z. With dl_p/(2 pi hbar)^2 = dl_k/(hbar (2 pi)^2) and
    dl_k/(2 pi)^2 = w_s hbar |v_s| (w_s the DOS measure): T = 1/2 sum_s sigma_s w_s hbar |v_s|
    (eE.n_s) b_perp(k_s). Then <sigma>_perp = -m x T / J_e.
    """
    fs = sim.fs
    sigma = np.where(fs.eigen_index == 1, 1.0, -1.0)
    speed = np.linalg.norm(fs.v, axis=-1)
    normal = fs.v / speed[:, None]
    b_perp = alpha_R * np.stack([fs.k[:, 1], -fs.k[:, 0], np.zeros(fs.n_states)], -1) / delta
    eE_n = E_CHARGE * normal @ sim.field[:2]
    T = 0.5 * np.sum((sigma * fs.w * HBAR * speed * eE_n)[:, None] * b_perp, axis=0)
    return (-np.cross([0.0, 0.0, 1.0], T) / delta)[0]


def test_intrinsic_equals_fermi_surface_form_eq13():
    """Eq. (13) is leading order in b_SO/J_e: compare where x = (alpha_R k_F/Delta)^2 << 1.

    The exact intrinsic part is (leading order) x (1 - x + ...) and Eq. (13) with the exact
    b_perp on the true Fermi surface is (leading order) x (1 + O(x)): they must agree to
    O(x) with an O(1) coefficient. Tolerance 2x (x = 0.0098 and 0.0025 here), and halving
    alpha_R must divide the difference by 4 (it is second order, not a sign or factor error).
    """
    eF, delta = 0.3, 0.1
    kF = np.sqrt(eF * MS / HBAR2_OVER_2ME)
    devs = []
    for alpha_R in (0.005, 0.0025):
        sim, obs = bulk({"model": {"exchange_eV": delta, "alpha_R": alpha_R},
                         "fermi_surface": {"fermi_level_eV": eF, "n_angles": 64}})
        x = (alpha_R * kF / delta) ** 2
        dev = _eq13_spin_x(sim, alpha_R, delta) / obs["spin_x"]["intrinsic"] - 1
        assert abs(dev) < 2 * x
        devs.append(dev)
    assert devs[0] / devs[1] == pytest.approx(4.0, rel=0.1)


def _fm_bulk_case(**model):
    raw = load_case(ROOT / "geometries" / "rashba_fm_bulk.toml")
    raw["model"].update(model)
    return resolve(raw)


@pytest.mark.parametrize("model", [{}, {"alpha_R": 0.05, "exchange_eV": 0.03},
                                   {"alpha_R": 0.02, "exchange_eV": 0.25, "effective_mass": 0.3}])
def test_disorder_cancels_intrinsic_torque(model):
    """Eqs. (14)-(15): <sigma_x>_I + <sigma_x>_III = 0 (1 % of the intrinsic part)."""
    case = _fm_bulk_case(**model)
    assert case["field"]["direction"] == [1.0, 0.0, 0.0] and case["model"]["magnetization"] == [0, 0, 1]
    sim = Simulation(case)
    _, obs = sim.bulk()
    I, III = obs["spin_x"]["intrinsic"], obs["spin_x"]["disorder"]
    mc = case["model"]
    ref = _sot_analytic(np.linalg.norm(sim.field), case["fermi_surface"]["fermi_level_eV"],
                        mc["exchange_eV"], mc["alpha_R"], mc["effective_mass"])
    assert I == pytest.approx(ref, rel=1e-2)
    assert abs(I + III) < 1e-2 * abs(I)
    # what survives is the field-like Edelstein part (intraband, along z x E = y)
    assert abs(obs["spin_y"]["intra"]) > 0 and abs(obs["spin_x"]["intra"]) < 1e-8 * abs(I)


@pytest.mark.parametrize("eF", [0.05, 0.3])
def test_spin_hall_universal_and_cancelled(eF):
    """Delta = 0, E || x, J^z_y = (hbar/4){sigma_z, v_y}: intrinsic |e|/8 pi, total 0.

    sigma^z_yx = J^z_y / E_x in |e| is (J/E) * hbar with J in hbar nm/fs per nm^2 and E in
    V/nm (docs/observables.md); the sign is + for q = e < 0 (Sinova et al. 2004), and the
    disorder (vertex) part cancels it (Inoue, Bauer, Molenkamp 2004).
    """
    sim, obs = bulk({"fermi_surface": {"fermi_level_eV": eF},
                     "observables": {"names": ["spin_current_zy", "spin_current_zx"]}})
    E = np.linalg.norm(sim.field)
    o = obs["spin_current_zy"]
    assert o["intrinsic"] / E * HBAR == pytest.approx(1 / (8 * np.pi), rel=1e-2)
    assert abs(o["intra"]) < 1e-8 * abs(o["intrinsic"])
    assert abs(o["intrinsic"] + o["disorder"]) < 1e-2 * abs(o["intrinsic"])
    assert abs(o["total"]) < 1e-2 * abs(o["intrinsic"])
    assert abs(obs["spin_current_zx"]["intrinsic"]) < 1e-8 * abs(o["intrinsic"])
    # E || y: sigma^z_xy = -sigma^z_yx (rotation by pi/2 about z), also cancelled
    sim, obs = bulk({"fermi_surface": {"fermi_level_eV": eF}, "field": {"direction": [0.0, 1.0, 0.0]},
                     "observables": {"names": ["spin_current_zx"]}})
    o = obs["spin_current_zx"]
    assert o["intrinsic"] / E * HBAR == pytest.approx(-1 / (8 * np.pi), rel=1e-2)
    assert abs(o["total"]) < 1e-2 * abs(o["intrinsic"])


# ---------------------------------------------------------------------------
# strip profiles
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("walls", [{"specularity": 0.0}, {"specularity": 0.5}, {"roughness_nm": 0.4}])
def test_strip_parities(walls):
    """Symmetric surfaces, E || y: s_x(x) even about the centre, s_y and s_z odd (every part)."""
    res = strip({"boundaries": {"left": walls, "right": walls}})
    scale = max(np.abs(res.profile(f"spin_{a}")).max() for a in "xyz")
    for part in ("intra", "gradient", "disorder", "total"):
        sx, sy, sz = (res.profile(f"spin_{a}", part) for a in "xyz")
        assert np.abs(sx - sx[::-1]).max() < 1e-8 * scale
        assert np.abs(sy + sy[::-1]).max() < 1e-8 * scale
        assert np.abs(sz + sz[::-1]).max() < 1e-8 * scale
    # the profiles are not trivially symmetric: edge accumulations exist
    assert res.profile("spin_x")[0] < 0.9 * res.bulk["spin_x"]["total"]
    assert abs(res.profile("spin_z")[0]) > 1e-2 * abs(res.bulk["spin_x"]["total"])


def test_gradient_part_vanishes_for_specular_walls_and_in_the_bulk():
    thick = strip({"slab": {"thickness_mfp": 40.0, "n_x": 200}})
    edge = thick.edges["spin_z"]["gradient"]["left"]["at_l10"]
    assert abs(edge) > 1e-2 * abs(thick.bulk["spin_x"]["total"])
    g = thick.profile("spin_z", "gradient")
    mid = np.interp(0.5 * thick.x[-1], thick.x, g)
    assert abs(mid) < 1e-3 * abs(edge)
    # the middle of the thick strip is the bulk, part by part
    for a in "xyz":
        for part in ("intra", "gradient", "disorder", "total"):
            m = thick.edges[f"spin_{a}"][part]["left"]["mid"]
            assert abs(m - thick.bulk[f"spin_{a}"][part]) < 1e-4 * abs(thick.bulk["spin_x"]["total"])
    specular = strip({"boundaries": {"left": {"specularity": 1.0}, "right": {"specularity": 1.0}}})
    for a in "xyz":
        assert np.abs(specular.profile(f"spin_{a}", "gradient")).max() < 1e-10 * abs(edge)
        assert np.allclose(specular.profile(f"spin_{a}"), specular.bulk[f"spin_{a}"]["total"],
                           rtol=0, atol=1e-10 * abs(specular.bulk["spin_x"]["total"]))


def test_decay_length_scales_with_tau():
    """Doubling tau at fixed thickness (nm), grid and everything else doubles the decay length.

    d = 40 l(tau): both half strips (20 l and 10 l) hold the whole edge layer.
    """
    l = Simulation(resolve(STRIP)).mean_free_path
    raw = merge(STRIP, {"slab": {"thickness_nm": 40 * l, "n_x": 240, "grading": 0.9}})
    del raw["slab"]["thickness_mfp"]
    r1 = Simulation(resolve(raw)).run()
    r2 = Simulation(resolve(merge(raw, {"disorder": {"tau_fs": 40.0}}))).run()
    assert r2.attrs["mean_free_path_nm"] == pytest.approx(2 * r1.attrs["mean_free_path_nm"], rel=1e-12)
    for name in ("spin_x", "spin_z"):
        for side in ("left", "right"):
            a = r1.edges[name]["total"][side]["decay_length"]
            b = r2.edges[name]["total"][side]["decay_length"]
            assert 0.1 * l < a < 2 * l
            assert b / a == pytest.approx(2.0, rel=0.1), name


def _natural_scale(sim, name):
    """sum_s r_s w_s |phi_bulk(s)| times max_s ||O(k_s)||: the natural size of a density of O."""
    obs = next(o for o in sim.observables.observables if o.name == name)
    es = sim.fs.es
    dh = es.U[:, None] @ es.dh @ es.U.conj().swapaxes(-1, -2)[:, None]
    onorm = np.linalg.norm(obs.matrix(sim.model, sim.fs.k, dh), ord=2, axis=(-2, -1)).max()
    phi, _ = sim.bulk()
    return onorm * np.sum(sim.fs.rank * sim.fs.w * np.abs(phi))


def test_gauge_invariance_random_unitary():
    """model.unitary_seed: h -> U h U^+, O -> U O U^+ leaves every part unchanged (1e-10)."""
    extra = {"model": {"exchange_eV": 0.03},
             "boundaries": {"left": {"specularity": 0.0}, "right": {"roughness_nm": 0.3}},
             "slab": {"n_x": 60},
             "observables": {"names": ["spin_x", "spin_y", "spin_z", "spin_current_zx",
                                       "spin_current_zy", "mix"], "custom": {"mix": CUSTOM["mix"]}}}
    raw = merge(STRIP, extra)
    raw["boundaries"] = extra["boundaries"]
    sim0 = Simulation(resolve(raw))
    r0 = sim0.run()
    r1 = Simulation(resolve(merge(raw, {"model": {"unitary_seed": 17}}))).run()
    for name in r0.observables:
        scale = _natural_scale(sim0, name)
        for part in ("intra", "intrinsic", "gradient", "disorder", "total"):
            a, b = r0.profile(name, part), r1.profile(name, part)
            assert np.abs(a - b).max() < 1e-10 * scale, (name, part)
            assert abs(r0.bulk[name][part] - r1.bulk[name][part]) < 1e-10 * scale
    assert np.abs(r0.profile("spin_z", "gradient")).max() > 1e-3 * _natural_scale(sim0, "spin_z")


def test_ready_cases_load():
    for name in ("rashba_strip", "rashba_fm_bulk", "rashba_fm_strip"):
        case = load_case(ROOT / "geometries" / f"{name}.toml")
        assert case["model"]["kind"] == "rashba"
    fm = load_case(ROOT / "geometries" / "rashba_fm_strip.toml")
    assert fm["model"]["magnetization"] == [0.0, 0.0, 1.0] and fm["model"]["exchange_eV"] > 0
    # a field along x is only allowed without a slab
    with pytest.raises(CaseError, match="^field.direction"):
        load_case(ROOT / "geometries" / "rashba_fm_bulk.toml", ["slab.thickness_mfp=5"])
