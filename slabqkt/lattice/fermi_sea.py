"""Fermi-sea (intrinsic) part of Eq. (1) for lattice models: a Brillouin-zone grid sum.

    o_I = -e sum_{n != m} int_BZ d^dk/(2 pi)^d (f_n - f_m)/(eps_n - eps_m) E.Tr[A_nm O]

at T = 0 (f = theta(mu - eps)) on a uniform midpoint grid of the zone,
k = sum_i (j_i + 1/2)/n b_i (b_i the reciprocal basis of
:class:`~slabqkt.lattice.zone.Zone`), every cell weighted by
V_BZ / (n^d (2 pi)^d). The integrand is periodic (on-site operators and the
velocity are covariant under k -> k + G) and smooth except for the jump of
the occupations at the Fermi surface, which limits the plain midpoint rule to
an erratic first order in 1/n. Cells that the Fermi surface may cross (the
occupations at the centre differ from those of a neighbouring centre, and
the neighbours of such cells) are therefore split into ``refine``^d
sub-cells, which sharpens the jump by that factor at a cost proportional to
the Fermi-surface area.

The error is estimated from a second evaluation with n/2 cells per axis:
|I_n - I_{n/2}|, reported beside the value (conservative for first-order
convergence). Under MPI the cells are split over the ranks through
``partition`` and the partial sums added by ``allreduce`` (the backend's).
"""
import numpy as np

from ..observables import fermi_sea_sum


def zone_grid(zone, n):
    """Midpoint grid of the zone: k (n^d, d) nm^-1 and the weight per point (nm^-d)."""
    d = zone.dimension
    t = (np.arange(n) + 0.5) / n
    frac = np.stack(np.meshgrid(*([t] * d), indexing="ij"), axis=-1).reshape(-1, d)
    return frac @ zone.reciprocal, zone.volume / (n ** d * (2 * np.pi) ** d)


def _surface_cells(occ, n, d):
    """Cells (flat indices) next to an occupation change, dilated by one cell (periodic)."""
    pattern = occ.reshape((n,) * d + (-1,))
    flag = np.zeros((n,) * d, bool)
    for ax in range(d):
        diff = np.any(pattern != np.roll(pattern, 1, axis=ax), axis=-1)
        flag |= diff | np.roll(diff, -1, axis=ax)
    grown = flag.copy()
    for ax in range(d):
        grown |= np.roll(flag, 1, axis=ax) | np.roll(flag, -1, axis=ax)
    return np.nonzero(grown.ravel())[0]


def grid_sum(observables, model, energy, field, n, tol, refine=4, partition=None,
             allreduce=None, chunk=20000):
    """The intrinsic parts (n_obs,) on the n^d grid with refined Fermi-surface cells.

    Parameters
    ----------
    refine : int
        Sub-cells per axis of a cell the Fermi surface may cross (1: plain midpoint rule).
    partition, allreduce : callable, optional
        MPI hooks: the indices of n items this rank computes; the sum over ranks.
    """
    zone = model.zone
    d = zone.dimension
    allreduce = allreduce or (lambda a: a)
    k, wk = zone_grid(zone, n)
    mine = np.arange(len(k)) if partition is None else np.asarray(partition(len(k)))

    def occupation(eps):
        return (eps < energy).astype(float)

    # occupations at every centre (eigenvalues only: cheap next to the sums, and computed
    # on every rank, so that all ranks choose the same refined cells without communication)
    occ = np.concatenate([occupation(np.linalg.eigvalsh(model.h(k[lo:lo + chunk])))
                          for lo in range(0, len(k), chunk)])
    fine = _surface_cells(occ, n, d) if refine > 1 else np.zeros(0, int)
    coarse = np.ones(len(k), bool)
    coarse[fine] = False
    # plain cells: the centre value
    sel = mine[coarse[mine]]
    total = fermi_sea_sum(observables, model, k[sel], np.full(len(sel), wk), occ[sel], field, tol,
                          chunk)
    # refined cells: refine^d sub-cell midpoints each
    fine_mine = fine[np.isin(fine, mine)]
    if len(fine_mine):
        t = ((np.arange(refine) + 0.5) / refine - 0.5) / n
        sub = np.stack(np.meshgrid(*([t] * d), indexing="ij"), axis=-1).reshape(-1, d) @ zone.reciprocal
        ws = wk / refine ** d
        per = max(1, chunk // len(sub))
        for lo in range(0, len(fine_mine), per):
            kk = (k[fine_mine[lo:lo + per], None, :] + sub[None]).reshape(-1, d)
            total = total + fermi_sea_sum(observables, model, kk, np.full(len(kk), ws),
                                          occupation, field, tol, chunk)
    return allreduce(total)


def intrinsic_lattice(observables, model, energy, field, n, tol, refine=4, partition=None,
                      allreduce=None):
    """Intrinsic parts and their two-grid error estimates.

    Parameters
    ----------
    observables : list of Observable
    model : lattice model with ``zone``
    energy : float
        Fermi level mu (eV).
    field : (3,) V/nm
    n : int
        Cells per reciprocal axis (even, >= 4).
    tol : float
        Degeneracy tolerance (eV).
    refine : int
        Sub-cells per axis in Fermi-surface cells.

    Returns
    -------
    value, error : ndarray (n_obs,), unit of O times nm^-d
    """
    args = (observables, model, energy, field)
    fine = grid_sum(*args, n, tol, refine, partition, allreduce)
    coarse = grid_sum(*args, n // 2, tol, refine, partition, allreduce)
    return fine, np.abs(fine - coarse)
