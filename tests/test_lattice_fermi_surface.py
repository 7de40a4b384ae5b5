"""Lattice Fermi surfaces (2D contours, 3D isosurfaces) against independent routes.

Independent routes: the exact elliptic-integral DOS of the square lattice (and
the simple-cubic DOS as an integral of it), and dense periodic k grids with a
Gaussian-smeared delta, extrapolated to zero smearing (polynomial in sigma^2).
"""
import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import ellipk

import lattice_toys as toys
from slabqkt.errors import ModelError
from slabqkt.lattice.fermi_surface import LatticeFermiSurface
from slabqkt.units import HBAR

A = 0.3  # lattice constant, nm
TAU, D, P = 10.0, 10.0, 0.3  # fs, nm, specularity


def dos_square(E, t=1.0, a=A):
    """Exact DOS per area of -2t(cos k_x a + cos k_y a), 1/(eV nm^2)."""
    return ellipk(1 - E * E / (16 * t * t)) / (2 * np.pi ** 2 * t * a * a) if abs(E) < 4 * t else 0.0


def dos_cubic(E, t=1.0, a=A):
    """Exact simple-cubic DOS, 1/(eV nm^3): g3(E) = (1/(pi a)) int_0^pi g2(E + 2t cos th) dth."""
    c = -E / (2 * t)
    pts = [np.arccos(c)] if abs(c) < 1 else None
    val, _ = quad(lambda th: dos_square(E + 2 * t * np.cos(th), t, a), 0, np.pi, points=pts,
                  limit=400, epsabs=1e-12, epsrel=1e-11)
    return val / (np.pi * a)


def fuchs_factor(vx):
    lam = TAU * np.abs(vx)
    e = np.exp(-D / lam)
    return (1 - P) * (lam / D) * (1 - e) / (1 - P * e)


def fs_averages(fs):
    """DOS, sum w v_x^2 and the Fuchs ratio <v_y^2 F>/<v_y^2> on a Fermi surface."""
    rw = fs.rank * fs.w
    vy2 = fs.v[:, 1] ** 2
    return (rw.sum(), np.sum(rw * fs.v[:, 0] ** 2),
            np.sum(rw * vy2 * fuchs_factor(fs.v[:, 0])) / np.sum(rw * vy2))


def ratio_ref(model, mu, n, sigmas):
    """DOS, sum w v_x^2 and the Fuchs ratio from a dense periodic grid with Gaussian deltas.

    Midpoint grid of n^d points on the reciprocal cell (fractional coordinates),
    every eigenvalue of h counted (degenerate ones once each: ranks included),
    each quantity extrapolated to sigma -> 0 by a polynomial in sigma^2 through
    the given smearings (eV).
    """
    d = model.dimension
    R = model.zone.reciprocal
    f1 = (np.arange(n) + 0.5) / n
    F = np.stack(np.meshgrid(*([f1] * d), indexing="ij"), -1).reshape(-1, d)
    num = np.zeros(len(sigmas))
    den = np.zeros(len(sigmas))
    dos = np.zeros(len(sigmas))
    vxx = np.zeros(len(sigmas))
    for c in range(0, len(F), 2 ** 18):
        k = F[c:c + 2 ** 18] @ R
        eps, U = np.linalg.eigh(model.h(k))
        v = np.real(np.einsum("mai,mdab,mbi->mid", U.conj(), model.dh(k), U)) / HBAR
        for j, s in enumerate(sigmas):
            g = np.exp(-0.5 * ((eps - mu) / s) ** 2)
            vy2 = v[..., 1] ** 2
            num[j] += np.sum(g * vy2 * fuchs_factor(v[..., 0]))
            den[j] += np.sum(g * vy2)
            dos[j] += g.sum() / s
            vxx[j] += np.sum(g * v[..., 0] ** 2) / s
    norm = abs(np.linalg.det(R)) / (2 * np.pi) ** d / len(F) / np.sqrt(2 * np.pi)
    X = np.vander(np.asarray(sigmas) ** 2, len(sigmas), increasing=True)
    ext = lambda y: np.linalg.solve(X, y)[0]  # noqa: E731
    return ext(dos * norm), ext(vxx * norm), ext(num / den)


# ---------------------------------------------------------------- 2D

def test_square_dos_exact_and_faster_than_any_power():
    """DOS of the square lattice vs the elliptic integral; errors fall faster than p^-4."""
    m = toys.square(1.0, 1.0, A)
    mu = -1.0
    exact = dos_square(mu)
    err = [abs(LatticeFermiSurface(m, mu, 48, n).density_of_states / exact - 1) for n in (64, 128, 256)]
    assert err[2] < 1e-10
    assert err[1] < err[0] / 2 ** 6 and err[2] < err[1] / 2 ** 6, err


def test_open_surface_against_smeared_grid_and_high_order():
    """Anisotropic square lattice, open sheets crossing the zone: DOS, sum w v_x^2, Fuchs ratio."""
    m = toys.square(1.0, 0.5, A)
    mu = 0.4  # between 2|t_x - t_y| and 2(t_x + t_y): sheets open along k_y
    fs = LatticeFermiSurface(m, mu, 48, 256)
    assert fs.n_sheets == 2  # the two open sheets, each glued across the zone boundary
    dos, vxx, ratio = fs_averages(fs)
    rdos, rvxx, rratio = ratio_ref(m, mu, 1536, [0.03, 0.045, 0.06])
    assert dos == pytest.approx(rdos, rel=5e-5)
    assert vxx == pytest.approx(rvxx, rel=5e-5)
    assert ratio == pytest.approx(rratio, rel=5e-5)
    # Cauchy differences of the Fuchs ratio fall faster than p^-4 as nodes double
    vals = [fs_averages(LatticeFermiSurface(m, mu, 48, n))[2] for n in (32, 64, 128, 512)]
    e = [abs(v - vals[-1]) for v in vals[:3]]
    assert e[1] < e[0] / 16 and e[2] < e[1] / 16, e


def test_pocket_away_from_gamma():
    """An electron pocket around (pi/a, 0), cut by the zone-boundary mirror line k_x = B/2."""
    m = toys.pocket(1.0, A)
    mu = -3.0
    fs = LatticeFermiSurface(m, mu, 48, 256)
    assert fs.n_sheets == 1
    assert np.all(np.abs(np.abs(fs.k[:, 0]) - np.pi / A) < 0.4 * np.pi / A)  # around k_x = +-pi/a
    dos, vxx, ratio = fs_averages(fs)
    rdos, rvxx, rratio = ratio_ref(m, mu, 1536, [0.03, 0.045, 0.06])
    assert dos == pytest.approx(rdos, rel=5e-5)
    assert vxx == pytest.approx(rvxx, rel=5e-5)
    assert ratio == pytest.approx(rratio, rel=5e-5)


def test_interior_pockets_cut_at_turning_points():
    """Closed pockets inside the half zone: cut where v_x = 0 (regula falsi), exact DOS."""
    m = toys.four_pockets(1.0, A)
    exact = dos_square(3.0)
    fss = [LatticeFermiSurface(m, -3.0, 48, n) for n in (64, 128, 256)]
    assert all(fs.n_sheets == 4 and fs.geometry["n_arcs"] == 4 for fs in fss)
    err = [abs(fs.density_of_states / exact - 1) for fs in fss]
    assert err[2] < 1e-11 and err[1] < err[0] / 2 ** 6, err
    # no node on the mirror lines or near v_x = 0 beyond the Gauss end spacing
    fs = fss[0]
    assert np.all(np.abs(fs.v[:, 0]) > 1e-4 * np.linalg.norm(fs.v, axis=-1))


def test_mirror_pairs_exact_and_no_grazing_node():
    for m, mu in [(toys.square(1.0, 0.5, A), 0.4), (toys.pocket(1.0, A), -3.0),
                  (toys.square(1.0, 1.0, A), 1.3), (toys.oblique(), 1.0)]:
        fs = LatticeFermiSurface(m, mu, 32, 128)
        R = fs.mirror
        assert np.array_equal(R[R], np.arange(fs.n_states))
        assert np.array_equal(fs.k[R, 0], -fs.k[:, 0]) and np.array_equal(fs.k[R, 1:], fs.k[:, 1:])
        assert np.array_equal(fs.v[R, 0], -fs.v[:, 0]) and np.array_equal(fs.w[R], fs.w)
        assert np.all(np.abs(fs.v[:, 0]) > 1e-6 * np.linalg.norm(fs.v, axis=-1))
        assert np.all(fs.w > 0) and fs.kind == "lattice"
        # the nodes are on the Fermi surface
        assert np.allclose(np.linalg.eigvalsh(m.h(fs.k))[np.arange(fs.n_states), fs.eigen_index], mu,
                           atol=1e-11)
        # k_x in the zone, velocities Hellmann-Feynman
        assert np.all(np.abs(fs.k[:, 0]) <= m.zone.kx_period / 2)


def test_oblique_zone_against_smeared_grid():
    """Centred-rectangular lattice: sheared in-plane cell (crossing it shifts k_x by B/2)."""
    m = toys.oblique()
    mu = 1.0
    fs = LatticeFermiSurface(m, mu, 48, 256)
    assert fs.geometry["n_arcs"] >= 2
    dos, vxx, _ = fs_averages(fs)
    rdos, rvxx, _ = ratio_ref(m, mu, 1536, [0.03, 0.045, 0.06])
    assert dos == pytest.approx(rdos, rel=5e-5)
    assert vxx == pytest.approx(rvxx, rel=5e-5)


def test_kramers_doublets_rank_two_and_gauge_invariant():
    """T, I symmetric 4-band model: rank-2 eigenspaces, projectors, gauge invariance."""
    m = toys.kramers()
    mu = 0.9
    fs = LatticeFermiSurface(m, mu, 32, 128)
    assert np.all(fs.rank == 2)
    assert np.allclose(np.einsum("saa->s", fs.P).real, 2)
    assert np.allclose(fs.P @ fs.P, fs.P, atol=1e-12)
    rdos, rvxx, _ = ratio_ref(m, mu, 512, [0.04, 0.06, 0.08])
    assert fs.density_of_states == pytest.approx(rdos, rel=1e-3)
    rng = np.random.default_rng(7)
    U, _ = np.linalg.qr(rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4)))
    fs2 = LatticeFermiSurface(toys.rotated(m, U), mu, 32, 128)
    assert fs2.n_states == fs.n_states
    assert np.allclose(fs2.k, fs.k, atol=1e-10)
    assert np.allclose(fs2.w, fs.w, rtol=1e-8)
    assert np.allclose(fs2.v, fs.v, atol=1e-9)
    assert np.allclose(fs2.P, U @ fs.P @ U.conj().T, atol=1e-9)


def test_avoided_crossing_below_resolution_refused():
    m = toys.avoided_crossing(delta=1e-6)
    with pytest.raises(ModelError, match=r"near-degeneracy on the Fermi surface at -0\.5 eV.*"
                                         r"lattice_grid"):
        LatticeFermiSurface(m, -0.5, 48, 256)
    fs = LatticeFermiSurface(toys.avoided_crossing(delta=0.3), -0.5, 48, 256)  # resolved gap
    assert fs.n_states > 0
    with pytest.raises(ModelError, match=r"near-degeneracy on the Fermi surface at -0\.5 eV.*"
                                         r"at an isosurface vertex"):
        LatticeFermiSurface(toys.avoided_crossing(delta=1e-6, d=3), -0.5, 24)


def test_partition_hooks_reproduce_serial():
    """A non-contiguous partition (even then odd indices) gathers back to the serial surface."""
    m = toys.square(1.0, 0.5, A)
    ref = LatticeFermiSurface(m, 0.4, 32, 128)
    sizes = []

    def partition(n):
        sizes.append(n)
        return np.concatenate([np.arange(0, n, 2), np.arange(1, n, 2)])

    fs = LatticeFermiSurface(m, 0.4, 32, 128, partition=partition, allgather=lambda a: a)
    assert np.array_equal(fs.k, ref.k) and np.array_equal(fs.w, ref.w)
    assert max(sizes) == 17 * 33 and len(sizes) > 5  # the grid and every Newton batch


_MPI_SCRIPT = """
import sys
import numpy as np
from mpi4py import MPI
sys.path.insert(0, {tests!r})
import lattice_toys as toys
from slabqkt.lattice.fermi_surface import LatticeFermiSurface
comm = MPI.COMM_WORLD
part = lambda n: np.array_split(np.arange(n), comm.size)[comm.rank]
gather = lambda a: np.concatenate(comm.allgather(a))
out = {{}}
for tag, m, mu, grid in [("2d", toys.square(1.0, 0.5, 0.3), 0.4, 32), ("3d", toys.kramers(d=3), 0.9, 16)]:
    fs = LatticeFermiSurface(m, mu, grid, 128 if tag == "2d" else None, partition=part, allgather=gather)
    out[tag + "_k"], out[tag + "_w"] = fs.k, fs.w
if comm.rank == 0:
    np.savez({out!r}, **out)
"""


@pytest.mark.mpi
def test_two_mpi_ranks_reproduce_serial(tmp_path):
    """The hooks with mpi4py on 2 ranks (array_split partition, allgather): serial result to 1e-10."""
    import os
    import subprocess
    import sys
    from conftest import mpich_launcher, subprocess_env
    pytest.importorskip("mpi4py")
    exe = mpich_launcher()
    script = tmp_path / "fs_mpi.py"
    out = tmp_path / "fs.npz"
    script.write_text(_MPI_SCRIPT.format(tests=os.path.dirname(os.path.abspath(__file__)), out=str(out)))
    proc = subprocess.run([exe, "-n", "2", sys.executable, str(script)], capture_output=True, text=True,
                          env=subprocess_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr
    res = np.load(out)
    for tag, m, mu, grid in [("2d", toys.square(1.0, 0.5, A), 0.4, 32), ("3d", toys.kramers(d=3), 0.9, 16)]:
        ref = LatticeFermiSurface(m, mu, grid, 128 if tag == "2d" else None)
        assert res[tag + "_k"].shape == ref.k.shape
        assert np.allclose(res[tag + "_k"], ref.k, atol=1e-10, rtol=0)
        assert np.allclose(res[tag + "_w"], ref.w, rtol=1e-10, atol=0)


# ---------------------------------------------------------------- 3D

def test_cubic_dos_second_order():
    """Simple-cubic DOS vs the exact integral: error ratio >= ~4 when the grid step halves."""
    m = toys.cubic(1.0, A)
    mu = -1.0
    exact = dos_cubic(mu)
    err = [abs(LatticeFermiSurface(m, mu, n).density_of_states / exact - 1) for n in (16, 32, 64)]
    order = np.log2(np.array(err[:-1]) / err[1:])
    assert np.all(order > 1.8), (err, order)
    assert err[-1] < 2e-4


def test_cubic_corner_pocket_second_order():
    """A hole pocket at R = (pi/a)(1, 1, 1): on the mirror plane k_x = B/2 and the window edges."""
    m = toys.cubic(1.0, A)
    exact = dos_cubic(5.0)
    fss = [LatticeFermiSurface(m, 5.0, n) for n in (16, 32, 64)]
    assert all(fs.n_sheets == 1 for fs in fss)
    assert np.all(np.abs(np.abs(fss[-1].k) - np.pi / A) < 0.6 * np.pi / A)
    err = [abs(fs.density_of_states / exact - 1) for fs in fss]
    order = np.log2(np.array(err[:-1]) / err[1:])
    assert np.all(order > 1.8), (err, order)


def test_cubic_open_surface_against_smeared_grid():
    """sc with -2t < mu < 2t (open sheets): DOS, sum w v_x^2, Fuchs ratio within well under 0.3 %."""
    m = toys.cubic(1.0, A)
    mu = 0.7
    fs = LatticeFermiSurface(m, mu, 64)
    assert fs.n_sheets == 1
    R = fs.mirror
    assert np.array_equal(fs.k[R, 0], -fs.k[:, 0]) and np.array_equal(fs.v[R, 0], -fs.v[:, 0])
    assert np.all(np.abs(fs.v[:, 0]) > 0) and np.all(fs.w > 0)
    dos, vxx, ratio = fs_averages(fs)
    assert dos == pytest.approx(dos_cubic(mu), rel=3e-4)
    rdos, rvxx, rratio = ratio_ref(m, mu, 160, [0.16, 0.2, 0.24])
    assert dos == pytest.approx(rdos, rel=5e-4)
    assert vxx == pytest.approx(rvxx, rel=5e-4)
    assert ratio == pytest.approx(rratio, rel=5e-4)


def test_isosurface_subdivision_and_kramers_3d():
    m = toys.cubic(1.0, A)
    coarse = LatticeFermiSurface(m, -1.0, 16)
    fine = LatticeFermiSurface(m, -1.0, 16, n_points=4 * coarse.n_states)
    assert fine.geometry["levels"] == 1 and fine.n_states == 4 * coarse.n_states
    exact = dos_cubic(-1.0)
    assert abs(fine.density_of_states / exact - 1) < 0.5 * abs(coarse.density_of_states / exact - 1)
    k3 = LatticeFermiSurface(toys.kramers(d=3), 0.9, 24)
    assert np.all(k3.rank == 2) and np.array_equal(k3.k[k3.mirror, 0], -k3.k[:, 0])


# ---------------------------------------------------------------- with the slab solver

@pytest.mark.parametrize("name,model,mu,grid,n_points", [
    ("open 2D", toys.square(1.0, 0.5, A), 0.4, 48, 256),
    ("pocket", toys.pocket(1.0, A), -3.0, 48, 256),
    ("four pockets", toys.four_pockets(1.0, A), -3.0, 48, 256),
    ("sc open", toys.cubic(1.0, A), 0.7, 24, None),
])
def test_film_solve_single_band_formula(name, model, mu, grid, n_points):
    """sigma_film/sigma_bulk = 1 - <v_y^2 (1-p)(lam/d)(1-e^{-d/lam})/(1-p e^{-d/lam})>/<v_y^2>.

    One band, scalar disorder, k_y -> -k_y symmetric: every state relaxes on its own.
    The Fermi surface must also satisfy sum_s w_s v_s = 0 (exactly, after the weight
    correction) or the slab problem has no solution.
    """
    from slabqkt.boltzmann import BulkBoltzmann, SlabBoltzmann
    from slabqkt.collision import Collision
    from slabqkt.slab import Grid
    from slabqkt.solvers.scipy_backend import ScipyBackend
    fs = LatticeFermiSurface(model, mu, grid, n_points)
    rw = fs.rank * fs.w
    assert np.all(np.abs(rw @ fs.v) < 1e-12 * (rw @ np.abs(fs.v)))
    assert fs.weight_correction < (1e-12 if fs.dimension == 2 else 1e-3)
    coll = Collision(fs, 1.0)
    tau = 1.0 / coll.inv_tau
    d, p = 3.0 * fs.mean_speed() * tau.mean(), 0.3
    field = np.array([0.0, 1e-3, 0.0])
    g = Grid(d, 400, 0.5)
    prob = SlabBoltzmann(fs, coll, g, np.full(fs.n_states, p), np.full(fs.n_states, p), field)
    u, _ = ScipyBackend().solve(prob, {})
    phi, _, _ = prob.solution(u)
    j_film = g.integrate((phi * (rw * fs.v[:, 1])[prob.states]).sum(-1)) / d
    phib, _ = BulkBoltzmann(fs, coll, field).solve()
    j_bulk = np.sum(rw * fs.v[:, 1] * phib)
    lam = tau * np.abs(fs.v[:, 0])
    e = np.exp(-d / lam)
    F = (1 - p) * (lam / d) * (1 - e) / (1 - p * e)
    vy2 = rw * fs.v[:, 1] ** 2
    assert j_film / j_bulk == pytest.approx(1 - np.sum(vy2 * F) / np.sum(vy2), rel=3e-5)
