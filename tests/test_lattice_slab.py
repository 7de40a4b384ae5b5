"""Issue 9 acceptance: lattice models end to end through :class:`Simulation` (cases as dicts).

1. Continuum limit (k_F a << 1): the 'square' (2D) and 'cubic' (3D) presets reproduce the
   Fuchs-Sondheimer closed forms (symmetric p, Lucas's asymmetric form, Soffer roughness
   against an independent quadrature over the continuum circle / sphere) within 0.5 %, the
   deviation falling as (k_F a)^2; 'rashba_square' gives the Edelstein closed form within 1 %,
   the deviation falling as a^2.
2. A multiband lattice model with spin-orbit coupling ('orbital_p_lattice' with soc_p_eV,
   N = 6, Kramers doublets; 2D and 3D): conservation (j_x = 0, neutrality), the specular slab
   equals the bulk at every x for every part of every observable, the parity of every profile
   under x -> d - x from the mirror symmetries of the model (and the profiles the mirrors
   forbid vanish), gauge invariance (model.unitary_seed, spin_order, p_order), and the
   orientation check of an fcc Slater-Koster film through the case.
3. DOS and bulk conductivity of the one-band presets (Simulation.bulk / run_bulk) against an
   independent k-grid sum: a dense periodic grid with a Gaussian-smeared delta, extrapolated
   to zero smearing.
"""
import numpy as np
import pytest
from scipy import integrate

from slabqkt import CaseError, Simulation, resolve
from slabqkt.analytic import fuchs_sondheimer
from slabqkt.units import E_CHARGE, HBAR, HBAR2_OVER_2ME, conductivity_to_si

from conftest import merge

A = 0.3  # lattice constant of the presets (nm, their default)
C = HBAR2_OVER_2ME  # hbar^2/2m* for m* = m_e (eV nm^2): t = C / a^2


def fermi_level(kFa, a=A, mass=1.0):
    """mu (eV) of the continuum band hbar^2 k^2/2m* with k_F a = kFa."""
    return C / mass * (kFa / a) ** 2


# ---------------------------------------------------------------- 1. continuum limit

def _one_band(dim, kFa, boundaries, kappa=1.0, n_x=160):
    fs = {"fermi_level_eV": fermi_level(kFa), "sea_grid": 8}
    # 2D: Gauss nodes on the contour (the 64-grid resolves the small circle after Newton);
    # 3D: the marching-cubes mesh subdivided to ~8e3 faces (second order in the mesh size)
    fs.update({"lattice_grid": 64, "n_points": 256} if dim == 2 else
              {"lattice_grid": 16, "n_points": 8000})
    return resolve({"model": {"kind": "square" if dim == 2 else "cubic", "dimension": dim},
                    "fermi_surface": fs, "disorder": {"tau_fs": 10.0},
                    "slab": {"thickness_mfp": kappa, "n_x": n_x}, "boundaries": boundaries})


def _walls(p_left, p_right=None):
    return {"left": {"specularity": p_left},
            "right": {"specularity": p_left if p_right is None else p_right}}


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("walls", [(0.0, None), (0.5, None), (0.2, 0.8)],
                         ids=["p=0", "p=0.5", "lucas-0.2-0.8"])
def test_continuum_limit_fuchs_sondheimer(dim, walls):
    """k_F a = 0.1: the lattice band is the parabolic one up to O((k_F a)^2) anisotropy."""
    res = Simulation(_one_band(dim, 0.1, _walls(*walls))).run()
    p1, p2 = walls
    exact = fuchs_sondheimer(1.0, p1, dim, p2=p2)
    assert abs(res.conductivity_ratio / exact - 1) < 5e-3
    assert res.attrs["fermi_surface_sampler"] == "lattice"


def test_continuum_limit_is_approached_as_ka_squared():
    """The 2D deviation from the closed form is the lattice correction: it falls by ~4 when
    k_F a halves (measured 5.8e-3, 1.5e-3, 4.3e-4 at k_F a = 0.4, 0.2, 0.1 for p = 0)."""
    exact = fuchs_sondheimer(1.0, 0.0, 2)
    dev = [Simulation(_one_band(2, kFa, _walls(0.0), n_x=400)).run().conductivity_ratio / exact - 1
           for kFa in (0.4, 0.2)]
    assert dev[0] < 0 and dev[1] < 0
    assert 3.3 < dev[0] / dev[1] < 4.7, dev


def soffer_ratio(kappa, kF_r, dim):
    """sigma_film/sigma_bulk of the continuum band with p(mu) = exp(-(2 k_F r mu)^2) on both
    walls, mu = |k_x|/k_F, by quadrature over the circle / sphere: every state relaxes on its
    own, F(mu) = (1-p)(mu/kappa)(1-e^{-kappa/mu})/(1-p e^{-kappa/mu}) (lambda = l mu), and
    1 - <v_y^2 F>/<v_y^2> = 1 - (4/pi) int_0^{pi/2} sin^2 th F(cos th) dth (2D),
    1 - (3/2) int_0^1 (1 - mu^2) F(mu) dmu (3D)."""
    def F(mu, p):
        e = np.exp(-kappa / mu)
        return (1 - p) * (mu / kappa) * (1 - e) / (1 - p * e)

    def soffer(mu):
        return np.exp(-(2 * kF_r * mu) ** 2)

    def ratio(pfun):
        if dim == 2:
            f = lambda th: np.sin(th) ** 2 * F(np.cos(th), pfun(np.cos(th)))  # noqa: E731
            val = integrate.quad(f, 0, np.pi / 2, limit=200, epsabs=1e-13)[0]
            return 1 - 4 / np.pi * val
        f = lambda mu: (1 - mu * mu) * F(mu, pfun(mu))  # noqa: E731
        return 1 - 1.5 * integrate.quad(f, 0, 1, limit=200, epsabs=1e-13)[0]

    # the same quadrature with a constant p is the Fuchs-Sondheimer closed form
    for p in (0.0, 0.4):
        assert ratio(lambda mu, p=p: p + 0 * mu) == pytest.approx(fuchs_sondheimer(kappa, p, dim),
                                                                  rel=1e-9)
    return ratio(soffer)


@pytest.mark.parametrize("dim", [2, 3])
def test_continuum_limit_soffer_roughness(dim):
    """boundaries.*.roughness_nm: p(s) = exp(-(2 k_x(s) r)^2) per state; 2 k_F r = 1."""
    kFa = 0.1
    r = 1.0 / (2 * kFa / A)
    res = Simulation(_one_band(dim, kFa, {"left": {"roughness_nm": r},
                                          "right": {"roughness_nm": r}})).run()
    exact = soffer_ratio(1.0, kFa / A * r, dim)
    # the roughness matters: between the diffuse and the specular films, far from both
    assert fuchs_sondheimer(1.0, 0.0, dim) + 0.05 < exact < 0.95
    assert abs(res.conductivity_ratio / exact - 1) < 5e-3


def _edelstein(a, mass=0.5, alpha=0.05, tau=100.0, direction=(1.0, 0.0, 0.0)):
    """Bulk <sigma> of 'rashba_square' over the closed form (q tau m* alpha_R/(pi hbar^3)) z x E."""
    mu = 0.02  # both Rashba bands occupied (their crossing is at 0)
    case = resolve({"model": {"kind": "rashba_square", "dimension": 2, "effective_mass": mass,
                              "alpha_R": alpha, "a_nm": a},
                    # the zone grows as 1/a: keep the grid step in k
                    "fermi_surface": {"fermi_level_eV": mu, "lattice_grid": int(round(64 * A / a)),
                                      "n_points": 256, "sea_grid": 8},
                    "disorder": {"tau_fs": tau}, "field": {"direction": list(direction)},
                    "observables": {"names": ["spin_x", "spin_y", "spin_z"]}})
    sim = Simulation(case)
    _, obs = sim.bulk()
    mstar = HBAR ** 2 * mass / (2 * HBAR2_OVER_2ME)  # eV fs^2 / nm^2
    expect = E_CHARGE * tau * mstar * alpha / (np.pi * HBAR ** 3) * np.cross([0, 0, 1.0], sim.field)
    got = np.array([obs[f"spin_{c}"]["total"] for c in "xyz"])
    return got, expect


@pytest.mark.parametrize("direction", [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0)])
def test_continuum_limit_lattice_rashba_edelstein(direction):
    got, expect = _edelstein(0.15, direction=direction)
    ref = np.linalg.norm(expect)
    assert np.abs(got - expect).max() < 1e-2 * ref


def test_lattice_rashba_edelstein_deviation_falls_as_a_squared():
    """The ring of the Rashba bands has k_0 = m* alpha_R/hbar^2 ~ 0.33/nm whatever mu, so the
    continuum limit is a -> 0 (measured deviations -2.4e-3, -6.1e-4 at a = 0.3, 0.15 nm)."""
    dev = []
    for a in (A, A / 2):
        got, expect = _edelstein(a)
        dev.append(got[1] / expect[1] - 1)
    assert 3.5 < dev[0] / dev[1] < 4.5, dev


# ---------------------------------------------------------------- 4. DOS and bulk conductivity

def smeared_grid_sums(dim, mu, t, n, sigmas, a=A):
    """DOS and sum delta(eps - mu) v_y^2 of eps = 2t sum_i (1 - cos k_i a) (the presets' band):
    midpoint grid of n^d points on the zone, Gaussian deltas of widths ``sigmas`` (eV),
    extrapolated to sigma -> 0 by a polynomial in sigma^2. Units 1/(eV nm^d) and
    nm^2/(fs^2 eV nm^d)."""
    kk = (np.arange(n) + 0.5) / n * 2 * np.pi / a
    e1 = 2 * t * (1 - np.cos(kk * a))  # one axis' share of eps, eV
    v1 = 2 * t * a * np.sin(kk * a) / HBAR  # d eps/d(hbar k_y), nm/fs
    dos, vyy = np.zeros(len(sigmas)), np.zeros(len(sigmas))
    # axes (x, y[, z]); 3D: one k_x plane at a time
    planes = [e1[:, None]] if dim == 2 else [e1[i] + np.zeros((1, 1, 1)) for i in range(n)]
    for ex in planes:
        e = ex + e1[None, :] if dim == 2 else ex + e1[None, :, None] + e1[None, None, :]
        vy2 = (v1[None, :] if dim == 2 else v1[None, :, None]) ** 2
        for j, s in enumerate(sigmas):
            g = np.exp(-0.5 * ((e - mu) / s) ** 2) / (s * np.sqrt(2 * np.pi))
            dos[j] += g.sum()
            vyy[j] += np.sum(g * vy2)
    norm = 1.0 / (n * a) ** dim
    X = np.vander(np.asarray(sigmas) ** 2, len(sigmas), increasing=True)
    return np.linalg.solve(X, dos * norm)[0], np.linalg.solve(X, vyy * norm)[0]


@pytest.mark.parametrize("dim,mu_t,fs,n,sigmas,rtol", [
    # 2D at mu = 2t (a closed contour, away from the van Hove filling 4t): agreement 2e-9
    # (the contour rule converges faster than any power); 3D second order: 6e-4 at grid 32
    (2, 2.0, {"lattice_grid": 48, "n_points": 256}, 2048, [0.02, 0.03, 0.04], 1e-6),
    # 3D at mu = 5t: an open sheet crossing the zone faces (-2t < mu - 6t < 2t)
    (3, 5.0, {"lattice_grid": 32}, 192, [0.08, 0.1, 0.12], 1e-3),
])
def test_bulk_dos_and_conductivity_against_a_grid_sum(dim, mu_t, fs, n, sigmas, rtol):
    """One band with scalar disorder: tau uniform, phi = e tau E.v, and the bulk conductivity
    is sigma = e^2 tau int d^dk/(2pi)^d delta(eps - mu) v_y^2 (|e|^2/(eV fs nm^(d-2)))."""
    t = C / A ** 2
    tau = 10.0
    case = resolve({"model": {"kind": "square" if dim == 2 else "cubic", "dimension": dim},
                    "fermi_surface": {"fermi_level_eV": mu_t * t, "sea_grid": 8, **fs},
                    "disorder": {"tau_fs": tau}, "field": {"direction": [0.0, 1.0, 0.0]}})
    sim = Simulation(case)
    dos, vyy = smeared_grid_sums(dim, mu_t * t, t, n, sigmas)
    assert sim.fs.density_of_states == pytest.approx(dos, rel=rtol)
    assert np.ptp(sim.coll.inv_tau) < 1e-12 * sim.coll.inv_tau.mean()
    _, obs = sim.bulk()
    sigma = E_CHARGE ** 2 * tau * vyy
    assert sim.bulk_conductivity(obs) == pytest.approx(sigma, rel=rtol)
    res = sim.run_bulk()
    assert res.attrs["sigma_bulk_SI"] == pytest.approx(conductivity_to_si(sigma, dim), rel=rtol)
    assert res.bulk["current_y"]["total"] == pytest.approx(obs["current_y"]["total"], rel=1e-12)


# ---------------------------------------------------------------- 2. multiband, spin-orbit

#: the N = 6 lambda L.S p-orbital lattice model: T and I symmetric (Kramers doublets, rank-2
#: eigenspaces), and the mirrors M_x, M_y, M_z of the square / simple-cubic lattice (film normal
#: crystal x); 2D: two doublet sheets at 0.8 eV, 3D: three at 1.0 eV
SOC = {
    2: {"model": {"kind": "orbital_p_lattice", "dimension": 2, "soc_p_eV": 0.3},
        "fermi_surface": {"fermi_level_eV": 0.8, "lattice_grid": 16, "n_points": 256,
                          "sea_grid": 8}},
    3: {"model": {"kind": "orbital_p_lattice", "dimension": 3, "soc_p_eV": 0.3},
        "fermi_surface": {"fermi_level_eV": 1.0, "lattice_grid": 12, "sea_grid": 8}},
}
SOC_COMMON = {"disorder": {"tau_fs": 10.0}, "slab": {"thickness_mfp": 2.0, "n_x": 40},
              "field": {"direction": [0.0, 1.0, 0.0]},
              "boundaries": {"left": {"specularity": 0.0}, "right": {"specularity": 0.0}}}
NAMES = {2: ["density", "current_x", "current_y", "spin_x", "spin_y", "spin_z", "orbital_x",
             "orbital_y", "orbital_z", "spin_current_zx", "spin_current_zy", "spin_current_yx",
             "orbital_current_zx", "orbital_current_zy"]}
NAMES[3] = NAMES[2] + ["current_z", "spin_current_xz", "orbital_current_xz", "spin_current_zz"]


def soc_case(dim, **extra):
    raw = merge(merge(SOC[dim], SOC_COMMON), {"observables": {"names": NAMES[dim]}})
    return resolve(merge(raw, extra))


_RUNS = {}


def soc_run(dim, tag="diffuse", **extra):
    """Simulation and Result of the SOC film, cached per (dim, tag) within this module."""
    key = (dim, tag)
    if key not in _RUNS:
        sim = Simulation(soc_case(dim, **extra))
        _RUNS[key] = sim, sim.run()
    return _RUNS[key]


def mirror_signs(name):
    """Signs (M_x, M_y, M_z) of an observable under the three mirrors of the lattice.

    A polar vector component i changes sign under M_i only; an axial one (spin, orbital
    moment) under the two other mirrors; a current of spin or orbital moment i along j is the
    product of the two; the density is a scalar.
    """
    def polar(i):
        return np.array([-1 if j == i else 1 for j in range(3)])

    ax = "xyz".index
    if name == "density":
        return np.ones(3, int)
    kind, _, comp = name.rpartition("_")
    if kind == "current":
        return polar(ax(comp))
    if kind in ("spin", "orbital"):
        return -polar(ax(comp))
    if kind in ("spin_current", "orbital_current"):
        return -polar(ax(comp[0])) * polar(ax(comp[1]))
    raise AssertionError(name)


def test_mirror_signs_of_the_observables():
    assert list(mirror_signs("spin_z")) == [-1, -1, 1]
    assert list(mirror_signs("current_y")) == [1, -1, 1]
    assert list(mirror_signs("spin_current_zx")) == [1, -1, 1]


def family_scale(sim, res, name):
    """The size of the observables of the same kind (spin, orbital, spin current, ...), plus
    1e-6 of a response's natural size, DOS |e E| l (times <|v|> for currents), which is the
    scale of a density response and a floor for a family that vanishes altogether."""
    base = sim.fs.density_of_states * np.linalg.norm(sim.field) * sim.mean_free_path
    if "current" in name:
        base *= sim.fs.mean_speed()
    if name == "density":
        return base
    kind = name.rpartition("_")[0]
    same = [n for n in res.observables if n.rpartition("_")[0] == kind]
    return 1e-6 * base + max(np.abs(res.observables[n][p]).max() for n in same
                             for p in ("intra", "gradient", "disorder", "total"))


@pytest.mark.parametrize("dim", [2, 3])
def test_soc_film_kramers_doublets_and_symmetry_of_every_profile(dim):
    """Identical walls, E || y (E has the signs (+, -, +) under M_x, M_y, M_z).

    M_x (x -> d - x) makes every profile, every part, even or odd by the observable's sign
    under M_x: exactly, since the Fermi surface is built of exact k_x mirror pairs. The
    mirrors that keep x, M_y and M_z, forbid every observable whose sign under them differs
    from E's: exactly in 2D (the contour nodes are k_y symmetric too); in 3D the isosurface
    nodes are not M_y / M_z symmetric, the forbidden profiles vanish only to the sampler's
    O(h^2) there (e.g. the spin_y / spin_z edge excesses 0.14, 0.0066, 0.0032 at
    lattice_grid 12, 16, 24) and are not asserted.
    """
    sim, res = soc_run(dim)
    assert np.all(sim.fs.rank == 2) and sim.fs.n_sheets >= 2 and sim.model.N == 6
    field_signs = np.array([1, -1, 1])
    allowed = []
    for name in NAMES[dim]:
        sx, sy, sz = mirror_signs(name)
        scale = family_scale(sim, res, name)
        forbidden = sy != field_signs[1] or sz != field_signs[2]
        for part in ("intra", "gradient", "disorder", "intrinsic", "total"):
            prof = np.broadcast_to(res.profile(name, part), res.x.shape)
            assert np.abs(prof - sx * prof[::-1]).max() <= 1e-9 * scale, (name, part)
            if forbidden and dim == 2:
                assert np.abs(prof).max() <= 1e-9 * scale, (name, part)
        left, right = (res.edges[name]["total"][s]["excess"] for s in ("left", "right"))
        assert right == pytest.approx(sx * left, rel=1e-8, abs=1e-9 * scale * res.x[-1])
        if not forbidden:
            allowed.append(name)
            # the allowed profiles are really there
            assert np.abs(res.profile(name)).max() > 1e-2 * scale, name
    expect = {"current_y", "spin_z", "orbital_z", "spin_current_zx", "orbital_current_zx"}
    if dim == 3:
        expect |= {"spin_current_xz", "orbital_current_xz"}
    assert set(allowed) == expect
    # the spin and orbital Hall accumulations are odd and there: opposite excesses at the walls
    for name in ("spin_z", "orbital_z"):
        size = family_scale(sim, res, name) * sim.mean_free_path
        assert abs(res.edges[name]["total"]["left"]["excess"]) > 1e-3 * size


def test_soc_film_conservation_2d():
    """No particle current through the film (j_x = 0 at every x) and charge neutrality."""
    sim, res = soc_run(2)
    jscale = abs(res.bulk["current_y"]["total"])
    assert np.abs(res.profile("current_x", "intra")).max() < 1e-9 * jscale
    dens = res.profile("density", "intra")
    scale = sim.fs.density_of_states * np.linalg.norm(sim.field) * sim.mean_free_path
    assert abs(sim.grid.integrate(dens)) < 1e-9 * scale * res.x[-1]
    assert res.attrs["relative_residual"] < 1e-10


def test_soc_film_conservation_3d_second_order():
    """3D: the nodal scheme balances particles globally, not cell by cell; without an exact
    M_y symmetry of the nodes j_x vanishes at the walls exactly and inside to O(dx^2)
    (tests/test_discrete_conservation.py). Neutrality is exact."""
    jx = []
    for n_x in (20, 40, 80):
        sim = Simulation(soc_case(3, slab={"n_x": n_x, "grading": 0.5},
                                  observables={"names": ["density", "current_x"]}))
        res = sim.run()
        j = res.profile("current_x", "intra") / abs(res.bulk["current_y"]["total"])
        assert abs(j[0]) < 1e-10 and abs(j[-1]) < 1e-10
        jx.append(np.abs(j).max())
        dens = res.profile("density", "intra")
        scale = sim.fs.density_of_states * np.linalg.norm(sim.field) * sim.mean_free_path
        assert abs(sim.grid.integrate(dens)) < 1e-9 * scale * res.x[-1]
    orders = np.log2(np.array(jx[:-1]) / np.array(jx[1:]))
    assert np.all(orders > 1.7), (jx, orders)


#: the lattice Rashba ferromagnet with m in the film plane and normal to it and different walls:
#: no mirror left that keeps x, so density accumulates and j_x = 0 is not a symmetry
RASHBA_FM = {"model": {"kind": "rashba_square", "dimension": 2, "effective_mass": 0.5,
                       "alpha_R": 0.05, "exchange_eV": 0.02, "magnetization": [1.0, 0.0, 1.0]},
             "fermi_surface": {"fermi_level_eV": 0.1, "lattice_grid": 32, "n_points": 128,
                               "sea_grid": 8},
             "disorder": {"tau_fs": 20.0}, "slab": {"thickness_mfp": 2.0, "n_x": 40},
             "field": {"direction": [0.0, 1.0, 0.0]},
             "boundaries": {"left": {"specularity": 0.2}, "right": {"roughness_nm": 0.3}},
             "observables": {"names": ["density", "current_x", "current_y", "spin_x", "spin_y",
                                       "spin_z", "spin_current_zx"]}}


def test_lattice_rashba_ferromagnet_conservation():
    """Charge accumulates at the walls (no symmetry forbids it) but the film stays neutral;
    j_x vanishes at the walls exactly and inside to the scheme's O(dx^2)."""
    jx = []
    for n_x in (20, 40, 80):
        sim = Simulation(resolve(merge(RASHBA_FM, {"slab": {"n_x": n_x, "grading": 0.5}})))
        res = sim.run()
        dens = res.profile("density", "intra")
        scale = sim.fs.density_of_states * np.linalg.norm(sim.field) * sim.mean_free_path
        assert np.abs(dens).max() > 1e-3 * scale
        assert abs(sim.grid.integrate(dens)) < 1e-9 * scale * res.x[-1]
        j = res.profile("current_x", "intra") / abs(res.bulk["current_y"]["total"])
        assert abs(j[0]) < 1e-10 and abs(j[-1]) < 1e-10
        jx.append(np.abs(j).max())
    orders = np.log2(np.array(jx[:-1]) / np.array(jx[1:]))
    assert np.all(orders > 1.7), (jx, orders)


SPECULAR = {"boundaries": {"left": {"specularity": 1.0}, "right": {"specularity": 1.0}}}


@pytest.mark.parametrize("which", ["soc-2d", "soc-3d", "rashba-fm"])
def test_specular_film_equals_bulk(which):
    """p = 1 on both walls: every part of every observable equals the bulk at every x."""
    if which == "rashba-fm":
        raw = merge(RASHBA_FM, {})
        raw["boundaries"] = SPECULAR["boundaries"]
        sim = Simulation(resolve(raw))
        res = sim.run()
    else:
        sim, res = soc_run(int(which[-2]), "specular", **SPECULAR)
    assert res.conductivity_ratio == pytest.approx(1.0, rel=1e-9)
    for name in res.observables:
        scale = family_scale(sim, res, name)
        for part in ("intra", "gradient", "disorder", "intrinsic", "total"):
            prof = np.broadcast_to(res.profile(name, part), res.x.shape)
            assert np.abs(prof - res.bulk[name][part]).max() <= 1e-9 * scale, (name, part)
        # the gradient part vanishes for specular walls (phi uniform in x)
        assert np.abs(res.profile(name, "gradient")).max() <= 1e-9 * scale
    # and the bulk is not trivial: the spin (orbital) Hall current is there
    key = "spin_current_zx"
    assert abs(res.bulk[key]["total"]) > 0.1 * family_scale(sim, res, key)


def _same_results(a, b, sim, rtol=1e-10):
    """Every profile part, bulk value, edge excess and the conductivity ratio agree."""
    assert b.conductivity_ratio == pytest.approx(a.conductivity_ratio, rel=rtol)
    assert np.array_equal(a.x, b.x) or np.allclose(a.x, b.x, rtol=1e-12)
    for name in a.observables:
        scale = family_scale(sim, a, name)
        for part in ("intra", "gradient", "disorder", "intrinsic", "total"):
            pa = np.broadcast_to(a.profile(name, part), a.x.shape)
            pb = np.broadcast_to(b.profile(name, part), b.x.shape)
            assert np.abs(pa - pb).max() <= rtol * scale, (name, part)
            assert abs(a.bulk[name][part] - b.bulk[name][part]) <= rtol * scale, (name, part)
        for side in ("left", "right"):
            ea, eb = (r.edges[name]["total"][side]["excess"] for r in (a, b))
            assert abs(ea - eb) <= rtol * scale * a.x[-1], (name, side)


@pytest.mark.parametrize("dim", [2, 3])
@pytest.mark.parametrize("change", [
    {"unitary_seed": 11},
    {"spin_order": "block"},
    {"p_order": "cartesian"},
    {"spin_order": "block", "p_order": "cartesian", "unitary_seed": 5},
], ids=["unitary", "spin-block", "p-cartesian", "all"])
def test_soc_film_gauge_invariance(dim, change):
    """A random unitary basis change (model.unitary_seed) and relabelled orbitals
    (spin_order, p_order) give the same film: eigenspaces enter through projectors only."""
    sim, ref = soc_run(dim)
    res = Simulation(soc_case(dim, model=change)).run()
    _same_results(ref, res, sim)


#: a small fcc Slater-Koster s + p model with spin-orbit coupling (N = 8, Kramers doublets)
FCC_SP = {"kind": "slater_koster", "dimension": 3, "lattice": "fcc", "a_nm": 0.36,
          "orbitals": "sp", "e_s_eV": 0.0, "e_p_eV": 4.0, "soc_p_eV": 0.4,
          "shells": [{"ss_sigma": -1.0, "sp_sigma": 1.2, "pp_sigma": 1.8, "pp_pi": -0.3}]}


def _fcc_case(normal):
    return resolve({"model": FCC_SP, "film": {"normal_miller": normal},
                    "fermi_surface": {"fermi_level_eV": 2.0, "lattice_grid": 12, "sea_grid": 8},
                    "disorder": {"tau_fs": 10.0}, "slab": {"thickness_mfp": 1.0, "n_x": 20},
                    "observables": {"names": ["spin_z", "orbital_z"]}})


def test_fcc_111_film_refused_001_runs():
    """fcc (111): no mirror plane parallel to the film and no 2-fold axis along the normal,
    the specular partner of a state is another root: a one-line CaseError naming the key."""
    with pytest.raises(CaseError) as err:
        Simulation(_fcc_case([1, 1, 1]))
    msg = str(err.value)
    assert msg.startswith("film.normal_miller = (1, 1, 1): ") and "\n" not in msg
    assert "not symmetric under k_x -> -k_x" in msg and "(001)" in msg
    sim = Simulation(_fcc_case([0, 0, 1]))
    res = sim.run()
    assert sim.model.N == 8 and np.all(sim.fs.rank == 2)
    assert res.attrs["film_normal_key"] == "film.normal_miller = (0, 0, 1)"
    # (001): film (x, y, z) = crystal (z, y, -x); b_0 = 4 pi / a along x
    assert np.allclose(res.attrs["film_rotation"], [[0, 0, 1], [0, 1, 0], [-1, 0, 0]], atol=1e-12)
    assert sim.model.zone.kx_period == pytest.approx(4 * np.pi / 0.36)
    assert 0 < res.conductivity_ratio < 1


def test_no_sea_warning_for_intrinsic_parts_that_vanish_by_symmetry(slab_log):
    """T and I: every intrinsic spin and orbital density vanishes, and so do the density and
    the currents' intrinsic parts; their two-grid 'errors' are rounding (~1e-21). They were
    each reported as '2.1 relative, above fermi_surface.sea_tolerance' because every
    observable of their unit vanished; a real two-grid error (the spin Hall current at
    sea_grid 8, 0.5 relative) is still reported."""
    Simulation(soc_case(2))
    warned = {m.split(":")[0].removeprefix("intrinsic part of ") for m in slab_log.messages()
              if m.startswith("intrinsic part of ")}
    assert "spin_current_zx" in warned
    zero = {"density", "current_x", "current_y", "spin_x", "spin_y", "spin_z", "orbital_x",
            "orbital_y", "orbital_z"}
    assert not warned & zero, warned


def test_isosurface_slivers_at_a_grid_vertex_near_the_level_are_not_a_fold():
    """3D SOC model at 0.5 eV: eps_2((pi/2a)(1, 1, 1)) = 0.50070 eV sits 0.7 meV above the
    level on a grid vertex (lattice_grid a multiple of 4: 12 ... 32 all hit it); marching
    cubes puts slivers round it, and a few flip over when projected onto the surface
    (weights -0.4 % to -5 % of a typical face, 1e-5 of the total). That was refused as 'a
    folded mesh: raise fermi_surface.lattice_grid', which did not help. They are dropped now;
    the DOS agrees with the sliver-free grids 14 and 18 to their O(h^2) difference."""
    def dos(grid):
        case = soc_case(3, fermi_surface={"fermi_level_eV": 0.5, "lattice_grid": grid,
                                          "sea_grid": 4, "sea_refine": 1},
                        observables={"names": ["density"]})
        return Simulation(case).fs.density_of_states
    d14, d16, d18 = dos(14), dos(16), dos(18)
    assert abs(d16 / d18 - 1) < 1.5 * abs(d14 / d18 - 1) + 1e-4
    assert abs(d16 / d18 - 1) < 1e-2
    # a real fold (fcc at 1 eV on a 12-grid: 72 of 800 faces with -0.9 typical weights) is
    # still refused
    with pytest.raises(CaseError, match="non-positive Fermi-surface weights"):
        Simulation(resolve(merge({"model": FCC_SP, "film": {"normal_miller": [0, 0, 1]},
                                  "fermi_surface": {"fermi_level_eV": 1.0, "lattice_grid": 12,
                                                    "sea_grid": 8}},
                                 {"disorder": {"tau_fs": 10.0}})))


def test_fcc_film_gauge_invariance():
    """The (001) fcc s + p + SOC film (rotated into the film frame) under a random unitary
    basis change and relabelled orbitals: the same film."""
    ref_sim = Simulation(_fcc_case([0, 0, 1]))
    ref = ref_sim.run()
    case = _fcc_case([0, 0, 1])
    case["model"].update(spin_order="block", p_order="cartesian", unitary_seed=3)
    _same_results(ref, Simulation(case).run(), ref_sim)
