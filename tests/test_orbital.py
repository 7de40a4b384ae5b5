"""Issue 6: orbital edge accumulation in a centrosymmetric p-orbital metal (docs/orbital.md).

Model: h = c k^2 + beta (k^2 1 - k k^T), c = hbar^2/2m*, basis (p_x, p_y, p_z),
(L_i)_ab = -i eps_iab (units hbar). Bands: longitudinal eps_L = c k^2 (projector
k^k^T, rank 1) and transverse eps_T = (c + beta) k^2 (1 - k^k^T, rank 2: the
paper's M < N case). T and inversion symmetric, isotropic.

What is checked (closed forms, symmetries, limits, convergence; nothing is
compared with an earlier output of the code):

- symmetry: Tr[P_n L] = 0 (T: real projectors), every bulk orbital density
  part = 0 (inversion), specular walls give the bulk everywhere (all zero),
  L_z(x) odd about the centre with symmetric walls in the 2D strip and the 3D
  film, L_x = L_y = 0 (mirror z -> -z), {L_z, v_x} even;
- closed forms: the intrinsic orbital Hall conductivity in 2D and 3D, the
  gradient weight sum_m Re Tr[A^x_nm L_z] = -k_y/k^2 on both sheets, the
  vanishing disorder part (isotropy), the 1/r collision convention (beta = 0 is
  three copies of a parabolic band);
- gauge: random unitaries inside the degenerate eigenspace (eigh patched) and a
  random orbital basis (model.unitary_seed) leave every part unchanged;
- limits: beta = 0 (one rank-3 eigenspace: all L parts exactly 0, a warning),
  unresolvable beta (CaseError), the beta -> 0+ limit (finite, warned);
  eigenspace grouping inconsistent over the Fermi surface (ModelError);
- a specular right wall equals the left half of a doubled symmetric slab;
- convergence of the integrated edge accumulation: second order in n_x
  (observed 2.0), faster than any power in the Fermi points (observed error
  ratio > 100 per doubling);
- the example script runs (--quick) and writes its figures.
"""
import os
import subprocess
import sys

import numpy as np
import pytest

from slabqkt import CaseError, ModelError, Simulation, resolve
from slabqkt.collision import Collision
from slabqkt.edge import cell_integrals, edge_quantities
from slabqkt.fermi_surface import FermiSurface
from slabqkt.models import OrbitalP
from slabqkt.observables import PARTS
from slabqkt.units import E_CHARGE, HBAR, HBAR2_OVER_2ME

from conftest import merge

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
C = HBAR2_OVER_2ME  # m* = m_e
BETA, MU, TAU, EFIELD = 0.0381, 0.5, 20.0, 1.0e5
E_V_PER_NM = EFIELD * 1e-9
ORB_NAMES = ["orbital_x", "orbital_y", "orbital_z", "orbital_current_zx"]

ORB2 = {
    "model": {"kind": "orbital_p", "dimension": 2, "effective_mass": 1.0, "beta_eV_nm2": BETA},
    "fermi_surface": {"fermi_level_eV": MU, "n_angles": 32},
    "disorder": {"tau_fs": TAU},
    "slab": {"thickness_mfp": 4.0, "n_x": 60},
    "boundaries": {"left": {"specularity": 0.0}, "right": {"specularity": 0.0}},
    "field": {"direction": [0.0, 1.0, 0.0], "magnitude_V_per_m": EFIELD},
    "observables": {"names": ORB_NAMES},
}
ORB3 = merge(ORB2, {"model": {"dimension": 3}, "fermi_surface": {"n_angles": 8, "n_polar": 4},
                    "slab": {"n_x": 40}})
BASE = {2: ORB2, 3: ORB3}


def make(dim=2, extra=None):
    extra = extra or {}
    raw = merge(BASE[dim], extra)
    if "boundaries" in extra:
        raw["boundaries"] = extra["boundaries"]
    return resolve(raw)


def run(dim=2, extra=None):
    return Simulation(make(dim, extra)).run()


_SCALES = {}


def edge_scale(dim):
    """Size of the L_z edge accumulation (diffuse walls): the scale of every orbital density."""
    if dim not in _SCALES:
        res = run(dim)
        _SCALES[dim] = np.abs(res.profile("orbital_z")).max()
    assert _SCALES[dim] > 0
    return _SCALES[dim]


def full(res, name, part):
    return np.broadcast_to(res.profile(name, part), res.x.shape)


# ---------------------------------------------------------------------------
# symmetry
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("seed", [None, 3])
def test_intraband_orbital_weight_vanishes(dim, seed):
    """T symmetry: Tr[P_n L_i] = 0 at every Fermi point (real projectors in the p basis;
    basis independent, so also after a random unitary basis change). Per-state weights of
    the paper's form (the matrix form's traceless components carry Tr[G_a L] != 0)."""
    sim = Simulation(make(dim, {"model": {"unitary_seed": seed} if seed else {},
                                "disorder": {"intraband_form": "equal_occupation"}}))
    assert sorted(set(sim.fs.rank.tolist())) == [1, 2]
    for wt, name in zip(sim.observables.weights, sim.observables.names):
        if name.startswith("orbital"):  # ||L_i|| = 1, ||{L_z, v_x}/2|| <= max |v|
            bound = 1.0 if name in ORB_NAMES[:3] else np.abs(sim.fs.v).max()
            assert np.abs(wt.intra).max() <= 1e-13 * bound, name


@pytest.mark.parametrize("dim", [2, 3])
def test_bulk_orbital_densities_vanish(dim):
    """Inversion: no bulk L density linear in E, part by part; the orbital Hall current is not 0."""
    sim = Simulation(make(dim))
    _, obs = sim.bulk()
    scale = edge_scale(dim)
    for name in ORB_NAMES[:3]:
        for part in PARTS:
            assert abs(obs[name][part]) <= 1e-10 * scale, (name, part)
    assert abs(obs["orbital_current_zx"]["intrinsic"]) > 0


@pytest.mark.parametrize("dim", [2, 3])
def test_specular_walls_give_the_bulk(dim):
    """p = 1 on both sides: sigma ratio 1, every profile equals its bulk value (L: zero)."""
    res = run(dim, {"boundaries": {"left": {"specularity": 1.0}, "right": {"specularity": 1.0}}})
    assert res.conductivity_ratio == pytest.approx(1.0, abs=1e-10)
    sim_scale = edge_scale(dim)
    jscale = abs(res.bulk["current_y"]["total"])
    # density response scale: DOS |e E| l (the density itself vanishes by k_y -> -k_y)
    fs = Simulation(make(dim)).fs
    nscale = fs.density_of_states * E_V_PER_NM * res.attrs["mean_free_path_nm"]
    for name in res.observables:
        s = (jscale if name.startswith("current") else nscale if name == "density"
             else abs(res.bulk[name]["total"]) if name == "orbital_current_zx" else sim_scale)
        for part in PARTS:
            diff = np.abs(full(res, name, part) - res.bulk[name][part]).max()
            assert diff <= 1e-10 * s, (name, part)
    scale = sim_scale
    for name in ORB_NAMES[:3]:
        for part in PARTS:
            assert np.abs(full(res, name, part)).max() <= 1e-10 * scale, (name, part)


@pytest.mark.parametrize("dim", [2, 3])
def test_parities_with_symmetric_walls(dim):
    """Mirror x -> d - x (C2 about x on the axial L): L_z(x) odd, {L_z, v_x}/2 even.

    Mirror z -> -z (p_z -> -p_z, the 2D model and the 3D film are invariant, E_y is):
    L_x = L_y = 0 at every x. Isotropy: D = sum_s w_s P_s commutes with the
    orbital rotations about z, so P_n D P_m = 0 (n != m) and the disorder part of L
    vanishes (docs/orbital.md). The accumulation is all gradient part.
    """
    res = run(dim)
    scale = edge_scale(dim)
    for part in PARTS:
        lz = full(res, "orbital_z", part)
        assert np.abs(lz + lz[::-1]).max() <= 1e-10 * scale, part
        jz = full(res, "orbital_current_zx", part)
        assert np.abs(jz - jz[::-1]).max() <= 1e-10 * abs(res.bulk["orbital_current_zx"]["total"])
        for name in ("orbital_x", "orbital_y"):
            assert np.abs(full(res, name, part)).max() <= 1e-10 * scale, (name, part)
    for part in ("intra", "intrinsic", "disorder"):
        assert np.abs(full(res, "orbital_z", part)).max() <= 1e-10 * scale, part
    edge = res.edges["orbital_z"]["total"]
    assert edge["left"]["excess"] == pytest.approx(-edge["right"]["excess"], rel=1e-10)
    assert edge["left"]["excess"] < 0  # e < 0, E along +y (docs/orbital.md)
    # asymmetric walls break the parity: the check above can fail
    res2 = run(dim, {"boundaries": {"left": {"specularity": 0.0}, "right": {"specularity": 0.5}}})
    lz = full(res2, "orbital_z", "total")
    assert np.abs(lz + lz[::-1]).max() > 0.1 * scale


def test_specular_right_wall_is_half_of_a_doubled_slab():
    """p_R = 1 is a mirror: d with (p = 0, 1) equals the left half of 2d with (0, 0)
    (uniform grids with the same nodes), so L_z vanishes at the specular wall."""
    half = run(2, {"slab": {"thickness_mfp": 2.0, "n_x": 40, "grading": 0.0},
                   "boundaries": {"left": {"specularity": 0.0}, "right": {"specularity": 1.0}}})
    whole = run(2, {"slab": {"thickness_mfp": 4.0, "n_x": 80, "grading": 0.0}})
    assert np.allclose(half.x, whole.x[:41], rtol=0, atol=1e-12 * half.x[-1])
    scale = np.abs(whole.profile("orbital_z")).max()
    for part in PARTS:
        a = full(half, "orbital_z", part)
        b = full(whole, "orbital_z", part)[:41]
        assert np.abs(a - b).max() <= 1e-10 * scale, part
    assert half.conductivity_ratio == pytest.approx(whole.conductivity_ratio, rel=1e-10)


# ---------------------------------------------------------------------------
# closed forms
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [2, 3])
def test_intrinsic_orbital_hall_closed_form(dim):
    """Bulk {L_z, v_x}/2 for E = E y (pairs L,T through the rank-2 eigenspace; f_L - f_T = 1
    on the shell k_T < k < k_L):
    2D: e E (2c + beta) ln(1 + beta/c) / (4 pi beta hbar);
    3D: e E (4c + beta)(k_L - k_T) / (6 pi^2 beta hbar).
    Its disorder part vanishes (P_n D P_m = 0 and M = 0 in the bulk)."""
    sim = Simulation(make(dim))
    _, obs = sim.bulk()
    kL, kT = np.sqrt(MU / C), np.sqrt(MU / (C + BETA))
    if dim == 2:
        ref = E_CHARGE * E_V_PER_NM * (2 * C + BETA) * np.log(1 + BETA / C) / (4 * np.pi * BETA * HBAR)
    else:
        ref = E_CHARGE * E_V_PER_NM * (4 * C + BETA) * (kL - kT) / (6 * np.pi ** 2 * BETA * HBAR)
    got = obs["orbital_current_zx"]
    assert got["intrinsic"] == pytest.approx(ref, rel=1e-10)
    # the intra part is 0 by Tr[P_n L_z v_x] symmetry (exactly 0.0 in the paper's form; the
    # matrix form of the 3D film sums traceless components to rounding, ~1e-52 here)
    assert abs(got["disorder"]) <= 1e-10 * abs(ref) and abs(got["intra"]) <= 1e-14 * abs(ref)


@pytest.mark.parametrize("dim", [2, 3])
def test_gradient_weight_closed_form(dim):
    """sum_{m != n} Re Tr[A^x_nm L_z] = -k_y / k^2 on the rank-1 and on the rank-2 sheet:
    A^x_LT = -i k^ (P_T e_x)^T / k, independent of beta (A_TL = A_LT^dagger). Per-state
    weights: the paper's form (one weight per state, not per matrix component)."""
    sim = Simulation(make(dim, {"disorder": {"intraband_form": "equal_occupation"}}))
    fs = sim.fs
    wt = sim.observables.weights[sim.observables.names.index("orbital_z")]
    ref = -fs.k[:, 1] / np.sum(fs.k ** 2, axis=-1)
    assert np.abs(wt.grad - ref).max() <= 1e-12 * np.abs(ref).max()
    for r in (1, 2):
        assert np.any(fs.rank == r)


@pytest.mark.parametrize("dim", [2, 3])
def test_collision_rank_convention(dim):
    """C(s) = (1/r_s) sum w W (phi' - phi): conserves sum r w phi for rank-2 eigenspaces, and
    beta = 0 (one rank-3 eigenspace, P = 1) is three independent parabolic bands: the same
    1/tau as ParabolicBand at the same n_i v0^2, three times its current."""
    fs = FermiSurface(OrbitalP(dim, 1.0, BETA), MU, 16, 4)
    coll = Collision(fs, 0.01)
    phi = np.random.default_rng(0).normal(size=fs.n_states)
    rw = fs.rank * fs.w
    assert abs(np.sum(rw * coll.apply(phi))) <= 1e-13 * np.sum(rw * np.abs(coll.apply(phi)))
    raw = merge(BASE[dim], {"model": {"beta_eV_nm2": 0.0}, "disorder": {}})
    raw["disorder"] = {"n_i_v0_sq": 0.005}
    orb = Simulation(resolve(raw))
    par_raw = merge(raw, {"model": {"kind": "parabolic", "beta_eV_nm2": 0.0},
                          "observables": {"names": []}})
    par = Simulation(resolve(par_raw))
    assert np.all(orb.fs.rank == 3) and orb.fs.n_sheets == 1
    assert np.allclose(orb.coll.inv_tau, par.coll.inv_tau[0], rtol=1e-12)
    jo = orb.bulk()[1]["current_y"]["total"]
    jp = par.bulk()[1]["current_y"]["total"]
    assert jo == pytest.approx(3 * jp, rel=1e-10)


# ---------------------------------------------------------------------------
# gauge invariance
# ---------------------------------------------------------------------------
def _compare(a, b, scales):
    for name, s in scales.items():
        for part in PARTS:
            d = np.abs(full(a, name, part) - full(b, name, part)).max()
            assert d <= 1e-10 * s, (name, part, d / s)


def _scales(res, dim):
    return {"orbital_z": edge_scale(dim), "orbital_x": edge_scale(dim),
            "orbital_y": edge_scale(dim),
            "orbital_current_zx": abs(res.bulk["orbital_current_zx"]["total"]),
            "current_y": abs(res.bulk["current_y"]["total"])}


@pytest.mark.parametrize("dim", [2, 3])
def test_random_rotation_inside_degenerate_eigenspaces(dim, monkeypatch):
    """Eigenvectors only enter through whole-eigenspace sums: multiply eigh's eigenvectors by a
    random block-diagonal unitary exp(i B), B Hermitian inside each group of equal
    eigenvalues (phases for rank 1, U(2) for the transverse band), everywhere."""
    ref = run(dim)
    orig = np.linalg.eigh
    rng = np.random.default_rng(11)
    changed = []

    def eigh(h):
        e, U = orig(h)
        if h.shape[-1] == 1:
            return e, U
        # groups of equal eigenvalues, tighter than the code's tolerance (1e-9 eV)
        split = np.abs(np.diff(e, axis=-1)) > 1e-12
        lab = np.concatenate([np.zeros(e.shape[:-1] + (1,), int), np.cumsum(split, axis=-1)], -1)
        same = lab[..., :, None] == lab[..., None, :]
        z = rng.normal(size=same.shape) + 1j * rng.normal(size=same.shape)
        B = np.where(same, z + np.conj(np.swapaxes(z, -1, -2)), 0.0)
        lam, W = orig(B)
        V = W @ (np.exp(1j * lam)[..., :, None] * np.conj(np.swapaxes(W, -1, -2)))
        # size of the mixing inside the degenerate (rank-2) groups
        offdiag = np.where(same & ~np.eye(same.shape[-1], dtype=bool), np.abs(V), 0.0)
        changed.append(offdiag.max())
        return e, U @ V

    monkeypatch.setattr(np.linalg, "eigh", eigh)
    new = run(dim)
    monkeypatch.undo()
    assert max(changed) > 0.1  # the degenerate eigenvectors were really mixed
    _compare(ref, new, _scales(ref, dim))


@pytest.mark.parametrize("dim", [2, 3])
def test_random_orbital_basis(dim):
    """model.unitary_seed: h -> U h U^+, L -> U L U^+: every part of every profile unchanged."""
    ref = run(dim)
    new = run(dim, {"model": {"unitary_seed": 17}})
    _compare(ref, new, _scales(ref, dim))
    assert new.edges["orbital_z"]["total"]["left"]["excess"] == pytest.approx(
        ref.edges["orbital_z"]["total"]["left"]["excess"], rel=1e-10)


# ---------------------------------------------------------------------------
# limits: beta -> 0, eigenspace grouping
# ---------------------------------------------------------------------------
def test_beta_zero_is_one_eigenspace_and_says_so(slab_log):
    """beta = 0: h = c k^2 1, one rank-3 eigenspace, no interband term: every orbital part is
    exactly 0, and a warning says why."""
    res = run(2, {"model": {"beta_eV_nm2": 0.0}})
    assert any("rank-3 eigenspace" in m for m in slab_log.messages())
    for name in ORB_NAMES:
        for part in PARTS:
            assert np.all(full(res, name, part) == 0.0), (name, part)
    assert res.attrs["min_interband_gap_eV"] == np.inf


@pytest.mark.parametrize("beta, tol", [(5e-10, 1e-9), (-5e-10, 1e-9), (1e-7, 1e-6)])
def test_unresolvable_beta_is_a_case_error(beta, tol):
    """0 < |beta| k_F^2 <= 10 degeneracy_tol (|beta| k_F^2 >= |beta| mu / max(c, c + beta)):
    refused with a one-line CaseError naming model.beta_eV_nm2; a smaller tolerance accepts."""
    fsk = {"degeneracy_tol_eV": tol}
    with pytest.raises(CaseError, match=r"^model\.beta_eV_nm2 = .*allowed: 0 .*degeneracy_tol") as exc:
        Simulation(make(2, {"model": {"beta_eV_nm2": beta}, "fermi_surface": fsk}))
    assert "\n" not in str(exc.value)
    ok = Simulation(make(2, {"model": {"beta_eV_nm2": beta},
                             "fermi_surface": {"degeneracy_tol_eV": tol * 1e-3}}))
    assert ok.observables.min_gap == pytest.approx(abs(beta) * MU / max(C, C + beta), rel=1e-6)


def test_beta_to_zero_plus_is_finite_and_warned(slab_log):
    """beta -> 0+: A_nm is beta independent, so the edge accumulation and the intrinsic orbital
    Hall conductivity tend to finite limits (2D: e E / (2 pi hbar)), not to the beta = 0 value 0:
    the limits beta -> 0 and hbar/tau -> 0 do not commute. Below hbar/tau a warning says so."""
    out = {}
    for beta in (C * 1e-3, C * 1e-4):
        slab_log.clear()
        res = run(2, {"model": {"beta_eV_nm2": beta}})
        assert any("hbar/tau" in m for m in slab_log.messages())
        out[beta] = res
    a, b = (out[k].edges["orbital_z"]["total"]["left"]["excess"] for k in sorted(out))
    assert a == pytest.approx(b, rel=2e-3) and abs(a) > 0.5 * abs(
        run(2).edges["orbital_z"]["total"]["left"]["excess"])
    ohe = out[C * 1e-4].bulk["orbital_current_zx"]["intrinsic"]
    assert ohe == pytest.approx(E_CHARGE * E_V_PER_NM / (2 * np.pi * HBAR), rel=1e-3)


def test_inconsistent_eigenspace_grouping_is_an_error():
    """A tolerance between the splittings at the two crossings would drop the transverse
    sheet silently (merged at k_T, resolved at k_L): ModelError. Well above both: one rank-3
    sheet; well below: two sheets of ranks 1 and 2."""
    model = OrbitalP(2, 1.0, 0.02)  # splitting 0.02 k_F^2: 0.172 eV at k_T, 0.262 eV at k_L
    with pytest.raises(ModelError, match="degeneracy_tol_eV"):
        FermiSurface(model, MU, 16, tol=0.2)
    fs = FermiSurface(model, MU, 16, tol=0.5)
    assert fs.n_sheets == 1 and np.all(fs.rank == 3)
    fs = FermiSurface(model, MU, 16, tol=1e-9)
    assert fs.n_sheets == 2 and sorted(set(fs.rank.tolist())) == [1, 2]


# ---------------------------------------------------------------------------
# edge quantities and convergence
# ---------------------------------------------------------------------------
def test_edge_quantities_with_exact_cell_integrals():
    """o = a exp(-y/lam) near each wall with exact cell integrals: excess and decay length
    exact up to the exponentially small overlap; the nodal values are interpolated."""
    d, lam, a = 40.0, 2.0, 3.0
    x = d * (1 - np.cos(np.pi * np.linspace(0, 1, 41))) / 2
    o = a * (np.exp(-x / lam) - np.exp(-(d - x) / lam))
    prim = a * lam * (np.exp(-x / lam) + np.exp(-(d - x) / lam))  # -d prim/dx = o
    zero = np.zeros_like(x)
    cells = cell_integrals(x, {"intra": zero, "intrinsic": 0.0, "gradient": o, "disorder": zero},
                           prim)
    e = edge_quantities(x, o, 5.0, cells["total"])
    h = np.exp(-d / (2 * lam))
    exact = a * lam * (1 - h) - a * lam * (h - h * h)  # int_0^{d/2} o dx, o(d/2) = 0
    assert e["left"]["excess"] == pytest.approx(exact, rel=1e-12)
    assert e["right"]["excess"] == pytest.approx(-exact, rel=1e-12)
    assert e["left"]["decay_length"] == pytest.approx(lam, rel=0.02)  # midpoint in y
    assert e["left"]["at_l2"] == pytest.approx(a * np.exp(-2.5 / lam), rel=0.05)


def _excess(extra):
    return run(2, extra).edges["orbital_z"]["total"]["left"]["excess"]


def test_edge_excess_second_order_in_nx():
    """Observed order of the integrated L_z accumulation in n_x (Richardson, three grids):
    1.98 and 2.00 for n_x = 50 ... 400 (exact cell integrals of the gradient part; the
    trapezoid rule on the nodal profile is not uniform in the Fermi points: grazing
    boundary layers thinner than a cell)."""
    e = [_excess({"slab": {"n_x": n}}) for n in (50, 100, 200, 400)]
    orders = np.log2(np.abs(np.diff(e)[:-1] / np.diff(e)[1:]))
    assert np.all((orders > 1.8) & (orders < 2.3)), orders


def test_edge_excess_spectral_in_fermi_points():
    """Gauss rule on each half circle: each doubling of the Fermi points (n_angles 8 -> 16 -> 32)
    divides the error by more than 50 (observed 99 and 121; order 2 would give 4)."""
    ref = _excess({"fermi_surface": {"n_angles": 128}})
    err = [abs(_excess({"fermi_surface": {"n_angles": n}}) - ref) for n in (8, 16, 32)]
    assert err[0] / err[1] > 50 and err[1] / err[2] > 50, err
    assert err[2] < 1e-5 * abs(ref)


# ---------------------------------------------------------------------------
# ready cases and the example
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("fn", ["orbital_p_strip.toml", "orbital_p_film.toml"])
def test_ready_cases(fn):
    from slabqkt import load_case
    case = load_case(os.path.join(ROOT, "geometries", fn))
    assert case["model"]["kind"] == "orbital_p"
    assert case["field"]["direction"] == [0.0, 1.0, 0.0]
    for name in ORB_NAMES:
        assert name in case["observables"]["names"]


def test_example_quick(tmp_path):
    script = os.path.join(ROOT, "examples", "orbital_edge_accumulation.py")
    proc = subprocess.run([sys.executable, script, "--quick", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for fn in ("orbital_Lz_parts.png", "orbital_excess_vs_thickness.png",
               "orbital_excess_vs_specularity.png"):
        path = tmp_path / fn
        assert path.exists() and path.stat().st_size > 10000, fn


def test_plots_show_the_edge_summary(tmp_path):
    """Result file -> PNG plots; the observable plots carry the edge quantities (read back)."""
    from slabqkt import load_result
    from slabqkt.plots import plot_result
    res = run(2)
    path = res.save(tmp_path / "orb.h5")
    back = load_result(path)
    assert back.edges["orbital_z"]["total"]["left"]["excess"] == pytest.approx(
        res.edges["orbital_z"]["total"]["left"]["excess"], rel=1e-14)
    pngs = plot_result(back, str(tmp_path / "orb"))
    assert any(p.endswith("_orbital_z.png") for p in pngs)
    for p in pngs:
        assert os.path.getsize(p) > 10000
