"""Issue 11: the matrix-valued intraband distribution of degenerate eigenspaces.

``disorder.intraband_form = 'matrix'`` gives every Fermi-surface state an r_s x r_s Hermitian
matrix F(x, s) (slabqkt/distribution.py, docs/theory.md "Degenerate eigenspaces"). What is
checked (physics, not earlier outputs of the code):

- the collision operator: it conserves the density, the uniform shift F = P is its null
  vector, every matrix element relaxes at the mean rate of its two indices, P D P = d P
  gives the scalar rates;
- r_s = 1 everywhere (Rashba strip, specular and rough walls): identical to the scalar
  solver to 1e-12;
- 2D orbital_p: the matrix solver equals the symmetry-resolved limit (the transverse
  degeneracy lifted by delta |z><z|, delta = 1e-6 eV, the bands solved separately) for the
  conductivity, the bulk, the L_z profile and edge excess (0.5 % asked; 1e-5 found), with a
  specular wall (the mirror operator maps the doublet) and a diffuse one; the paper's form
  differs by percents; random unitaries inside the doublet change nothing;
- 3D orbital_p (P D P = d P in the bulk by isotropy): the bulk is unchanged part by part;
- the Kramers-degenerate N = 6 lambda L.S lattice model: conservation, parity, gauge
  invariance; by the symmetry Theta = IT (antiunitary, Theta^2 = -1, at every k) the
  traceless part of F vanishes identically with scalar disorder and diffuse or mirror walls,
  so the intraband spin accumulation at diffuse walls is 0 (to rounding) beside the interband
  gradient part, and the matrix result equals the paper's form; specular slab = bulk (needs
  the lattice mirror operator of branch 'mirror');
- mode off: the run is the scalar pipeline, bit for bit; a missing mirror operator is a
  one-line CaseError on disorder.intraband_form;
- 'auto' (the default): the matrix form where a degenerate eigenspace has its traceless part
  sourced (orbital_p: equals 'matrix' bit for bit), the exact shortcut to the scalar pipeline
  where P_s b P_s is proportional to P_s for the whole collision basis (Kramers doublets:
  equals the paper's form bit for bit, no mirror operator needed), the form used in the
  result file, the missing-mirror CaseError under 'auto';
- MPI: a 2-rank PETSc run of the matrix mode equals the serial SciPy run ('auto' resolves
  alike on every rank); the PETSc backend agrees in one process.
"""
import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from conftest import REQUIRE_MPI, merge

from slabqkt import CaseError, ModelError, Simulation, resolve
from slabqkt.boltzmann import SlabBoltzmann
from slabqkt.collision import Collision
from slabqkt.distribution import (TRACELESS_TOL, Components, MatrixCollision,
                                  traceless_sources)
from slabqkt.models import OrbitalP
from slabqkt.observables import PARTS

ORB = {
    "model": {"kind": "orbital_p", "dimension": 2, "effective_mass": 1.0, "beta_eV_nm2": 0.0381},
    "fermi_surface": {"fermi_level_eV": 0.5, "n_angles": 32},
    "disorder": {"tau_fs": 20.0},
    "slab": {"thickness_mfp": 4.0, "n_x": 40},
    "boundaries": {"left": {"specularity": 0.5}, "right": {"specularity": 0.0}},
    "field": {"direction": [0.0, 1.0, 0.0]},
    "observables": {"names": ["density", "current_x", "current_y", "orbital_z",
                              "orbital_current_zx"]},
}
ORB3 = merge(ORB, {"model": {"dimension": 3}, "fermi_surface": {"n_angles": 8, "n_polar": 4},
                   "slab": {"n_x": 30}})
RASHBA = {
    "model": {"kind": "rashba", "alpha_R": 0.1, "exchange_eV": 0.02},
    "fermi_surface": {"fermi_level_eV": 0.1, "n_angles": 32},
    "disorder": {"tau_fs": 20.0}, "slab": {"thickness_mfp": 2.0, "n_x": 30},
    "boundaries": {"left": {"specularity": 0.5}, "right": {"roughness_nm": 0.1}},
    "observables": {"names": ["density", "current_x", "current_y", "spin_x", "spin_y",
                              "spin_z"]},
}
SOC = {
    "model": {"kind": "orbital_p_lattice", "dimension": 2, "soc_p_eV": 0.3},
    "fermi_surface": {"fermi_level_eV": 0.8, "lattice_grid": 16, "n_points": 128,
                      "sea_grid": 8},
    "disorder": {"tau_fs": 10.0}, "slab": {"thickness_mfp": 2.0, "n_x": 30},
    "field": {"direction": [0.0, 1.0, 0.0]},
    "boundaries": {"left": {"specularity": 0.0}, "right": {"specularity": 0.0}},
    "observables": {"names": ["density", "current_x", "current_y", "spin_x", "spin_y",
                              "spin_z", "orbital_z", "spin_current_zx"]},
}
MATRIX = {"disorder": {"intraband_form": "matrix"}}
PAPER = {"disorder": {"intraband_form": "equal_occupation"}}


def case(base, *extra):
    raw = base
    for e in extra:
        raw = merge(raw, e)
    return resolve(raw)


_RUNS = {}


def run(name, base, *extra):
    """Simulation and Result, cached per name within this module."""
    if name not in _RUNS:
        sim = Simulation(case(base, *extra))
        _RUNS[name] = sim, tag(sim, sim.run())
    return _RUNS[name]


def tag(sim, res):
    """Keep the DOS and mean speed with a result (for the scales)."""
    res.attrs["dos"] = sim.fs.density_of_states
    res.attrs["mean_speed"] = sim.fs.mean_speed()
    return res


def scales(res):
    """Per observable: the largest |part| of its family (spin, orbital, current, ...) plus
    1e-6 of a response's natural size DOS |e E| l (times <|v|> for currents); the density
    (which vanishes by k_y -> -k_y here) has that natural size as its scale."""
    dos = res.attrs["dos"]
    base = dos * np.linalg.norm(res.attrs["field_V_per_nm"]) * res.attrs["mean_free_path_nm"]
    out = {}
    for name in res.observables:
        if name == "density":
            out[name] = base
            continue
        b = base * res.attrs["mean_speed"] if "current" in name else base
        kind = name.rpartition("_")[0]
        fam = [n for n in res.observables if n.rpartition("_")[0] == kind]
        out[name] = 1e-6 * b + max(max(np.abs(res.profile(n, p)).max(), abs(res.bulk[n][p]))
                                   for n in fam for p in PARTS)
    return out


def compare(a, b, rtol, names=None, parts=PARTS, scale=None):
    """Every part of every profile and bulk value of results a and b within rtol of scale."""
    sc = scale or scales(b)
    for name in names or b.observables:
        for part in parts:
            pa = np.broadcast_to(a.profile(name, part), a.x.shape)
            pb = np.broadcast_to(b.profile(name, part), b.x.shape)
            assert np.abs(pa - pb).max() <= rtol * sc[name], (name, part,
                                                              np.abs(pa - pb).max() / sc[name])
            assert abs(a.bulk[name][part] - b.bulk[name][part]) <= rtol * sc[name], (name, part)


# ---------------------------------------------------------------------------
# the collision operator
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("dim", [2, 3])
def test_matrix_collision_structure(dim):
    """Conservation, null vector, rates (a_i + a_j)/2, and the P D P = d P reduction."""
    sim = Simulation(case(ORB if dim == 2 else ORB3, MATRIX))
    fs, co = sim.fs, sim.coll
    comp = co.comp
    assert sorted(set(fs.rank.tolist())) == [1, 2] and comp.n == int(np.sum(fs.rank ** 2))
    rng = np.random.default_rng(3)
    f = rng.normal(size=(3, comp.n))
    Cf = co.apply(f)
    # the density sum_s w_s Tr[C[F]] = 0 for any F
    assert np.abs(co.density(Cf)).max() <= 1e-13 * np.abs(f * co.inv_tau * co.w).sum()
    # F = P_s on every state: C = 0
    uni = co.apply(comp.t)
    assert np.abs(uni).max() <= 1e-13 * co.inv_tau.max()
    # the components are orthonormal operators inside the eigenspace: Tr[G_a G_b] = delta,
    # P G P = G
    for s in (0, np.argmax(fs.rank)):
        a = comp.of_states([s])
        G = comp.G[a]
        gram = np.real(np.einsum("aij,bji->ab", G, G))
        assert np.allclose(gram, np.eye(len(a)), atol=1e-12)
        assert np.allclose(fs.P[s] @ G @ fs.P[s], G, atol=1e-12)
    # every element (i, j) relaxes at the mean of the rates of (i, i) and (j, j)
    first = comp.offset[comp.state]
    ri, rj = co.inv_tau[first + comp.pair[:, 0]], co.inv_tau[first + comp.pair[:, 1]]
    assert np.allclose(co.inv_tau, 0.5 * (ri + rj), rtol=1e-14, atol=0)
    # diagonal rates: the eigenvalues of Gamma P D P; their trace is Gamma Tr[P D], the
    # scalar rate times r_s
    scal = Collision(fs, sim.n_i_v0_sq)
    tr = np.zeros(len(fs.k))
    np.add.at(tr, comp.state, co.inv_tau * comp.t)
    assert np.allclose(tr, scal.inv_tau * fs.rank, rtol=1e-12)
    assert co.mean_tau() == pytest.approx(scal.mean_tau(), rel=1e-13)
    dbl = comp.state[(comp.t == 1) & (fs.rank[comp.state] == 2)]
    rates = co.inv_tau[(comp.t == 1) & (fs.rank[comp.state] == 2)].reshape(-1, 2)
    if dim == 3:  # isotropy: P D P = d P, both rates the scalar one
        assert np.allclose(rates, scal.inv_tau[dbl].reshape(-1, 2), rtol=1e-12)
    else:  # 2D: the in-plane transverse orbital and p_z scatter at different rates
        assert np.min(np.abs(rates[:, 1] - rates[:, 0]) / rates.mean(axis=1)) > 0.3


# ---------------------------------------------------------------------------
# r_s = 1: the scalar solver
# ---------------------------------------------------------------------------
def test_rank_one_equals_scalar_solver():
    """Rashba + exchange (no degeneracy), specular left, rough right: every part of every
    profile, bulk, the conductivity ratio and the edge excess to 1e-12."""
    sim_m, m = run("rashba_m", RASHBA, MATRIX)
    sim_s, s = run("rashba_s", RASHBA, PAPER)
    assert isinstance(sim_m.coll, MatrixCollision) and np.all(sim_m.fs.rank == 1)
    assert m.attrs["intraband_form"] == "matrix"
    compare(m, s, 1e-12)
    assert m.conductivity_ratio == pytest.approx(s.conductivity_ratio, rel=1e-12)
    for name in ("spin_x", "spin_z"):
        ea, eb = (r.edges[name]["total"]["left"]["excess"] for r in (m, s))
        assert ea == pytest.approx(eb, rel=1e-10, abs=1e-12 * scales(s)[name] * s.x[-1])
    # 'auto' keeps the scalar form where nothing is degenerate
    assert not Simulation(case(RASHBA, {"disorder": {"intraband_form": "auto"}})).matrix


# ---------------------------------------------------------------------------
# 2D orbital_p: the symmetry-resolved limit
# ---------------------------------------------------------------------------
DELTA = {"model": {"z_splitting_eV": 1e-6}}


def test_orbital_p_2d_equals_symmetry_resolved_limit():
    """Matrix solver = the degeneracy lifted by delta |z><z| (delta = 1e-6 eV, grouping
    tolerance 1e-9 eV), solved as separate bands: conductivity, bulk, L_z profile and edge
    excess within 0.5 % (the paper's equal occupation is off by percents)."""
    sim_m, m = run("orb_m", ORB, MATRIX)
    sim_r, r = run("orb_r", ORB, DELTA, PAPER)
    _, p = run("orb_p", ORB, PAPER)
    assert np.all(sim_r.fs.rank == 1) and sim_r.fs.n_sheets == 3
    # the resolved rates are the eigenvalues of Gamma P D P: the diagonal component rates
    diag = sim_m.coll.inv_tau[sim_m.coll.trace == 1]
    assert np.allclose(np.unique(np.round(diag, 8)), np.unique(np.round(sim_r.coll.inv_tau, 8)),
                       rtol=1e-5)
    tol = 5e-3
    assert m.attrs["sigma_bulk_SI"] == pytest.approx(r.attrs["sigma_bulk_SI"], rel=tol)
    assert m.conductivity_ratio == pytest.approx(r.conductivity_ratio, rel=tol)
    sc = scales(r)
    compare(m, r, tol, names=["current_y", "orbital_z", "orbital_current_zx"], scale=sc)
    for side in ("left", "right"):
        ea, eb = (x.edges["orbital_z"]["total"][side]["excess"] for x in (m, r))
        assert ea == pytest.approx(eb, rel=tol)
        # the paper's form misses it by several percent (the issue's ~10 %)
        assert abs(p.edges["orbital_z"]["total"][side]["excess"] / eb - 1) > 0.03
    assert abs(p.attrs["sigma_bulk_SI"] / r.attrs["sigma_bulk_SI"] - 1) > 0.02
    # far tighter than asked: the delta -> 0 limit is reached to O(delta)
    compare(m, r, 1e-5, names=["current_y", "orbital_z"], scale=sc)


def _random_rotation_eigh(rng, changed):
    orig = np.linalg.eigh

    def eigh(h):
        e, U = orig(h)
        if h.shape[-1] == 1:
            return e, U
        split = np.abs(np.diff(e, axis=-1)) > 1e-12 * max(1.0, np.abs(e).max())
        lab = np.concatenate([np.zeros(e.shape[:-1] + (1,), int), np.cumsum(split, axis=-1)], -1)
        same = lab[..., :, None] == lab[..., None, :]
        z = rng.normal(size=same.shape) + 1j * rng.normal(size=same.shape)
        B = np.where(same, z + np.conj(np.swapaxes(z, -1, -2)), 0.0)
        lam, W = orig(B)
        V = W @ (np.exp(1j * lam)[..., :, None] * np.conj(np.swapaxes(W, -1, -2)))
        off = np.where(same & ~np.eye(same.shape[-1], dtype=bool), np.abs(V), 0.0)
        changed.append(off.max() if off.size else 0.0)
        return e, U @ V
    return eigh


def test_orbital_p_2d_gauge(monkeypatch):
    """Random unitaries inside every degenerate eigenspace (the eigenvectors the code uses
    internally): every part of every profile unchanged."""
    _, ref = run("orb_m", ORB, MATRIX)
    changed = []
    monkeypatch.setattr(np.linalg, "eigh", _random_rotation_eigh(np.random.default_rng(5),
                                                                 changed))
    sim = Simulation(case(ORB, MATRIX))
    new = tag(sim, sim.run())
    monkeypatch.undo()
    assert max(changed) > 0.1
    compare(new, ref, 1e-10)
    # a random orbital basis (h -> V h V^+, O -> V O V^+, the mirror operator V U V^+)
    sim = Simulation(case(ORB, MATRIX, {"model": {"unitary_seed": 17}}))
    compare(tag(sim, sim.run()), ref, 1e-10)


def test_orbital_p_2d_finite_temperature():
    """T > 0: every energy slice uses the matrix form too; at low T the T = 0 result."""
    _, ref = run("orb_m", ORB, MATRIX)
    sim = Simulation(case(ORB, MATRIX, {"temperature": {"kelvin": 30.0, "n_energies": 2}}))
    res = tag(sim, sim.run())
    assert all(s.matrix for s, _, _ in sim._slices())
    compare(res, ref, 2e-3, names=["current_y", "orbital_z"])


# ---------------------------------------------------------------------------
# 3D orbital_p: P D P = d P in the bulk
# ---------------------------------------------------------------------------
def test_orbital_p_3d_bulk_unchanged_film_reported(capsys):
    """Isotropy: P D P = d P on the doublet, the field drives the trace only, so the bulk
    F = phi P: every bulk part equals the paper's to 1e-12. The film differs (P M(x) P has a
    traceless part near the walls); the difference is printed (docs/theory.md table)."""
    sim_m, m = run("orb3_m", ORB3, MATRIX)
    _, p = run("orb3_p", ORB3, PAPER)
    sc = scales(p)
    for name in p.observables:
        for part in PARTS:
            assert abs(m.bulk[name][part] - p.bulk[name][part]) <= 1e-12 * sc[name], (name, part)
    assert m.attrs["sigma_bulk_SI"] == pytest.approx(p.attrs["sigma_bulk_SI"], rel=1e-12)
    # the film is a different solution, but the same size (the traceless part is a
    # correction)
    em, ep = (x.edges["orbital_z"]["total"]["left"]["excess"] for x in (m, p))
    assert em == pytest.approx(ep, rel=0.05)
    with capsys.disabled():
        print(f"\n3D orbital_p film (d = 4 l, left p = 0.5): ratio matrix "
              f"{m.conductivity_ratio:.8f} paper {p.conductivity_ratio:.8f}; L_z left excess matrix {em:.6g} paper "
              f"{ep:.6g} ({em / ep - 1:+.3%})")


# ---------------------------------------------------------------------------
# Kramers doublets: the N = 6 lambda L.S lattice model
# ---------------------------------------------------------------------------
def test_kramers_lattice_conservation_parity_and_vanishing_traceless_part():
    """T and I symmetric, scalar disorder, diffuse walls. Theta = IT maps every projector,
    D, the velocity and M(x) onto themselves, and a Theta-even operator on a Kramers doublet
    is a multiple of P: the traceless part of F is 0, the intraband spin accumulation is 0
    (Tr[P sigma] = 0) beside the interband (gradient) spin accumulation, and the matrix result
    is the paper's. Conservation (j_x = 0, neutral) and the parity under x -> d - x hold."""
    sim, m = run("soc_m", SOC, MATRIX)
    _, p = run("soc_p", SOC, PAPER)
    assert np.all(sim.fs.rank == 2)
    sc = scales(p)
    compare(m, p, 1e-9, scale=sc)
    # the traceless part of F vanishes at every x: solve again and look at the components
    prob = sim.problem()
    u, _ = sim.backend.solve(prob, sim.case["solver"])
    f, _, _ = prob.solution(u)
    co = sim.coll
    comp = co.comp
    st = prob.states
    tr = np.zeros((len(f), len(sim.fs.k)))
    np.add.at(tr.T, comp.state[st], (f * comp.t[st]).T)
    mean = tr[:, comp.state[st]] / 2  # the trace part of each diagonal component
    traceless = np.where(comp.t[st] == 1, f - mean, f)
    assert np.abs(traceless).max() <= 1e-9 * np.abs(f).max()
    # intraband spin accumulation: 0 beside the interband parts
    for name in ("spin_z", "orbital_z"):
        intra = np.abs(m.profile(name, "intra")).max()
        grad = np.abs(m.profile(name, "gradient")).max()
        assert grad > 1e-3 * sc[name] and intra <= 1e-9 * grad, name
    # conservation: no particle current through the film, neutral
    jscale = abs(m.bulk["current_y"]["total"])
    assert np.abs(m.profile("current_x")).max() < 1e-9 * jscale
    dens = m.profile("density", "intra")
    nscale = sim.fs.density_of_states * np.linalg.norm(sim.field) * sim.mean_free_path
    assert abs(sim.grid.integrate(dens)) < 1e-9 * nscale * m.x[-1]
    # parity (identical walls): spin_z odd, current_y even about the centre
    for name, sign in (("spin_z", -1), ("orbital_z", -1), ("current_y", 1),
                       ("spin_current_zx", 1)):
        prof = m.profile(name)
        assert np.abs(prof - sign * prof[::-1]).max() <= 1e-9 * sc[name], name


def test_kramers_lattice_partly_specular_equals_paper():
    """A partly specular wall (p = 0.4, the doublets mapped by the lattice mirror operator)
    and a rough one keep F Theta-even too: the matrix form equals the paper's."""
    if not _lattice_mirror_available():
        pytest.skip("the lattice model has no mirror operator yet (model.mirror_x, branch "
                    "'mirror')")
    walls = {"boundaries": {"left": {"specularity": 0.4}, "right": {"roughness_nm": 0.1}}}
    raw = dict(SOC)
    raw["boundaries"] = walls["boundaries"]
    _, m = run("soc_rough_m", raw, MATRIX)
    _, p = run("soc_rough_p", raw, PAPER)
    compare(m, p, 1e-9)
    assert m.conductivity_ratio == pytest.approx(p.conductivity_ratio, rel=1e-10)


def test_kramers_lattice_gauge(monkeypatch):
    """Random U(2) inside every Kramers doublet (eigh patched): every part unchanged."""
    _, ref = run("soc_m", SOC, MATRIX)
    changed = []
    monkeypatch.setattr(np.linalg, "eigh", _random_rotation_eigh(np.random.default_rng(8),
                                                                 changed))
    sim = Simulation(case(SOC, MATRIX))
    new = tag(sim, sim.run())
    monkeypatch.undo()
    assert max(changed) > 0.1
    compare(new, ref, 1e-9)


def _lattice_mirror_available():
    sim = Simulation(case(SOC, PAPER, {"slab": {"n_x": 4}}))
    try:
        sim.model.mirror_x(sim.fs.k[:2])
    except (ModelError, AttributeError):
        return False
    return True


def test_kramers_lattice_specular_slab_is_bulk():
    """p = 1 on both walls: the doublets are reflected by the model's mirror operator (branch
    'mirror'); every profile equals the bulk."""
    if not _lattice_mirror_available():
        pytest.skip("the lattice model has no mirror operator yet (model.mirror_x, branch "
                    "'mirror'): specular walls of degenerate eigenspaces need it")
    spec = {"boundaries": {"left": {"specularity": 1.0}, "right": {"specularity": 1.0}}}
    sim, res = run("soc_spec", SOC, MATRIX, spec)
    assert res.conductivity_ratio == pytest.approx(1.0, abs=1e-10)
    sc = scales(res)
    for name in res.observables:
        for part in PARTS:
            prof = np.broadcast_to(res.profile(name, part), res.x.shape)
            assert np.abs(prof - res.bulk[name][part]).max() <= 1e-9 * sc[name], (name, part)


def test_orbital_p_specular_slab_is_bulk():
    """The continuum doublet at specular walls (mirror diag(-1, 1, 1)): slab = bulk, 2D."""
    spec = {"boundaries": {"left": {"specularity": 1.0}, "right": {"specularity": 1.0}}}
    sim = Simulation(case(ORB, MATRIX, spec, {"slab": {"n_x": 20}}))
    res = tag(sim, sim.run())
    assert res.conductivity_ratio == pytest.approx(1.0, abs=1e-10)
    sc = scales(run("orb_m", ORB, MATRIX)[1])
    for name in res.observables:
        for part in PARTS:
            prof = np.broadcast_to(res.profile(name, part), res.x.shape)
            assert np.abs(prof - res.bulk[name][part]).max() <= 1e-9 * sc[name], (name, part)


# ---------------------------------------------------------------------------
# mode off, errors
# ---------------------------------------------------------------------------
def test_mode_off_is_the_scalar_pipeline_bit_for_bit():
    """intraband_form = 'equal_occupation' (the paper's form): the scalar Collision and
    SlabBoltzmann, and the same numbers bit for bit as a by-hand scalar solve."""
    sim, res = run("orb_p", ORB, PAPER)
    assert res.attrs["intraband_form"] == "equal_occupation"
    assert type(sim.coll) is Collision and type(sim.problem()) is SlabBoltzmann
    fs = sim.fs
    coll = Collision(fs, sim.n_i_v0_sq)
    pL, pR = sim.surfaces[0].p(fs.k), sim.surfaces[1].p(fs.k)
    prob = SlabBoltzmann(fs, coll, sim.grid, pL, pR, sim.field)
    u, _ = sim.backend.solve(prob, sim.case["solver"])
    phi, dphi, m = prob.solution(u)
    obs = sim.observables.finish(sim.observables.local_parts(phi, dphi, m, prob.states), m)
    for name in res.observables:
        for part in PARTS:
            assert np.array_equal(np.broadcast_to(obs[name][part], res.x.shape),
                                  np.broadcast_to(res.observables[name][part], res.x.shape))


def test_missing_mirror_operator_is_a_case_error(monkeypatch):
    def no_mirror(self, k):
        raise ModelError("model 'orbital_p' has no mirror operator (test stand-in)")
    monkeypatch.setattr(OrbitalP, "mirror_x", no_mirror)
    with pytest.raises(CaseError, match="disorder.intraband_form.*mirror"):
        Simulation(case(ORB, MATRIX)).run()
    # diffuse walls need no mirror operator
    diffuse = {"boundaries": {"left": {"specularity": 0.0}, "right": {"specularity": 0.0}},
               "slab": {"n_x": 10}}
    Simulation(case(ORB, MATRIX, diffuse)).run()
    with pytest.raises(CaseError, match="intraband_form"):
        resolve(merge(ORB, {"disorder": {"intraband_form": "traceless"}}))


# ---------------------------------------------------------------------------
# 'auto' (the default): the matrix form where the traceless part is sourced
# ---------------------------------------------------------------------------
def test_default_is_auto():
    assert resolve(ORB)["disorder"]["intraband_form"] == "auto"
    assert resolve(SOC)["disorder"]["intraband_form"] == "auto"


def test_auto_on_orbital_p_runs_the_matrix_form():
    """2D and 3D orbital_p: P_s P_s' P_s has a traceless part on the transverse doublet (2D: the
    in-plane orbital and p_z scatter differently; 3D: P M(x) P near a wall), so 'auto' is the
    matrix form: the 2D strip equals intraband_form = 'matrix' bit for bit."""
    sim_m, m = run("orb_m", ORB, MATRIX)
    sim = Simulation(case(ORB))
    assert sim.intraband_form == "matrix" and isinstance(sim.coll, MatrixCollision)
    res = sim.run()
    assert res.attrs["intraband_form"] == "matrix"
    for name in m.observables:
        for part in PARTS:
            assert np.array_equal(res.profile(name, part), m.profile(name, part)), (name, part)
            assert res.bulk[name][part] == m.bulk[name][part], (name, part)
    rel, n_deg = traceless_sources(sim.fs, sim.fs._collision_basis[4])
    assert n_deg == int(np.sum(sim.fs.rank == 2)) > 0 and rel > 0.1
    assert Simulation(case(ORB3, {"slab": {"n_x": 4}})).intraband_form == "matrix"


def test_auto_on_kramers_lattice_takes_the_exact_shortcut(tmp_path):
    """Kramers doublets (T and I): P_s b P_s is a multiple of P_s for every basis matrix b of
    the scalar collision (Theta-even operators on a doublet), so 'auto' runs the scalar
    pipeline (no matrix components, no mirror operator needed) and equals the paper's form bit
    for bit; the matrix form gives the same to 1e-9 (its traceless part vanishes, test above).
    The result file records the form used."""
    from slabqkt.result import load_result
    sim_p, p = run("soc_p", SOC, PAPER)
    sim = Simulation(case(SOC))
    assert np.all(sim.fs.rank == 2)
    assert sim.intraband_form == "equal_occupation" and type(sim.coll) is Collision
    rel, n_deg = traceless_sources(sim.fs, sim.coll.basis)
    assert n_deg == sim.fs.n_states and rel <= TRACELESS_TOL
    res = sim.run()
    for name in p.observables:
        for part in PARTS:
            assert np.array_equal(res.profile(name, part), p.profile(name, part)), (name, part)
            assert res.bulk[name][part] == p.bulk[name][part], (name, part)
    assert res.conductivity_ratio == p.conductivity_ratio
    out = tmp_path / "soc_auto.h5"
    res.save(str(out))
    back = load_result(str(out))
    assert back.attrs["intraband_form"] == "equal_occupation"
    assert back.case["disorder"]["intraband_form"] == "auto"
    _, m = run("soc_m", SOC, MATRIX)
    compare(res, m, 1e-9, scale=scales(p))


def test_auto_without_mirror_operator(monkeypatch):
    """'auto' where the traceless part is sourced (2D orbital_p) and a wall reflects
    specularly but the model has no mirror operator: the one-line CaseError on
    disorder.intraband_form = 'auto' naming the remedy 'equal_occupation'. Where the shortcut
    holds (Kramers lattice model) no mirror operator is needed."""
    def no_mirror(self, k):
        raise ModelError("no mirror operator (test stand-in)")
    monkeypatch.setattr(OrbitalP, "mirror_x", no_mirror)
    with pytest.raises(CaseError, match=r"^disorder.intraband_form = 'auto': .*mirror.*"
                                        r"'equal_occupation'") as err:
        Simulation(case(ORB, {"slab": {"n_x": 10}})).run()
    assert "\n" not in str(err.value)
    sim = Simulation(case(SOC, {"slab": {"n_x": 10},
                                "boundaries": {"left": {"specularity": 0.5}}}))
    monkeypatch.setattr(type(sim.model), "mirror_x", no_mirror)
    assert sim.intraband_form == "equal_occupation"
    assert 0 < sim.run().conductivity_ratio < 1


def test_auto_memory_estimate(monkeypatch):
    """'auto' is estimated as the scalar form before the Fermi surface and checked again as
    'matrix' when it resolves to it: a machine with memory for the scalar run only refuses the
    2D orbital_p strip under 'auto' (one-line CaseError) and runs it in the paper's form."""
    from slabqkt import resources
    raw = case(ORB)
    scalar = resources.estimate(raw, bands=3)["total"]
    matrix = resources.estimate(case(ORB, MATRIX), bands=3)["total"]
    assert scalar == resources.estimate(case(ORB, PAPER), bands=3)["total"] < matrix
    monkeypatch.setattr(resources, "available_bytes", lambda: (scalar + matrix) // 2)
    with pytest.raises(CaseError, match="the run needs about"):
        Simulation(raw)
    Simulation(case(ORB, PAPER))


def test_components_of_states_layout():
    sim = Simulation(case(ORB, MATRIX, {"slab": {"n_x": 4}}))
    comp = Components(sim.fs)
    s = np.array([3, 0, int(np.argmax(sim.fs.rank))])
    idx = comp.of_states(s)
    assert np.array_equal(comp.state[idx], np.repeat(s, sim.fs.rank[s] ** 2))
    f = np.arange(comp.n, dtype=float)
    tp = comp.trace_part(f)
    assert tp.shape == (len(sim.fs.k),)


# ---------------------------------------------------------------------------
# backends
# ---------------------------------------------------------------------------
HAVE_PETSC = all(importlib.util.find_spec(m) is not None for m in ("petsc4py", "mpi4py"))
needs_petsc = pytest.mark.skipif(not HAVE_PETSC and not REQUIRE_MPI,
                                 reason="petsc4py/mpi4py not importable (make mpi)")
# 'auto' (the default), which resolves to the matrix form here: on 2 ranks the
# traceless-source check runs over each rank's block of states and is combined
MPI_CASE = merge(ORB, {"name": "traceless_mpi", "slab": {"thickness_mfp": 3.0, "n_x": 30},
                       "disorder": {"intraband_form": "auto"}, "output": {"plots": False}})
MPI_CASE["boundaries"] = {"left": {"specularity": 0.4}, "right": {"roughness_nm": 0.05}}


@needs_petsc
def test_petsc_backend_agrees():
    sim = Simulation(resolve(MPI_CASE))
    ref = tag(sim, sim.run())
    new = Simulation(resolve(MPI_CASE), backend="petsc").run()
    assert new.attrs["backend"].startswith("petsc")
    compare(new, ref, 1e-9)


MPI_SOC = merge(SOC, {"name": "traceless_soc_mpi", "disorder": {"intraband_form": "matrix"},
                      "output": {"plots": False}})
MPI_SOC["boundaries"] = {"left": {"specularity": 0.3}, "right": {"roughness_nm": 0.2}}


@pytest.mark.mpi
@needs_petsc
@pytest.mark.parametrize("which", ["orbital_p", "kramers_lattice", "kramers_auto"])
def test_two_ranks_equal_serial(which, tmp_path):
    """2 ranks (states split, PETSc) = one (SciPy) to 1e-10: the 2D orbital_p strip (p = 0.4
    and a rough wall) and the Kramers lattice model (its Fermi surface split over ranks too),
    in the matrix form; under 'auto' (the traceless-source check split over the ranks) the
    orbital_p strip resolves to the matrix form and the Kramers model to the paper's form on
    every rank."""
    from conftest import mpich_launcher, subprocess_env
    from slabqkt.case import to_toml
    from slabqkt.result import load_result
    raw = {"orbital_p": MPI_CASE, "kramers_lattice": MPI_SOC,
           "kramers_auto": merge(MPI_SOC, {"disorder": {"intraband_form": "auto"}})}[which]
    form = "equal_occupation" if which == "kramers_auto" else "matrix"
    if which == "kramers_lattice" and not _lattice_mirror_available():
        pytest.skip("the lattice model has no mirror operator yet (branch 'mirror')")
    exe = mpich_launcher()
    path = tmp_path / "traceless_mpi.toml"
    path.write_text(to_toml(resolve(raw)))
    out = tmp_path / "mpi.h5"
    cmd = [exe, "-n", "2", sys.executable, "-m", "slabqkt", "run", str(path), "--backend",
           "petsc", "--out", str(out), "--no-plots"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=subprocess_env(),
                          cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    mpi = load_result(str(out))
    assert mpi.attrs["ranks"] == 2 and mpi.attrs["intraband_form"] == form
    sim = Simulation(resolve(raw))
    ref = tag(sim, sim.run())
    assert mpi.conductivity_ratio == pytest.approx(ref.conductivity_ratio, rel=1e-10)
    compare(mpi, ref, 1e-10)
