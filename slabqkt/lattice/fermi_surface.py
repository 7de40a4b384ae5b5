"""Fermi surfaces of lattice models on the periodic Brillouin zone, mirror pairs by construction.

The surface is built on the half zone k_x in [0, B/2] (the film frame of
:class:`slabqkt.lattice.zone.Zone`, in-plane window t in [-1/2, 1/2)^(d-1) of
the in-plane cell, which is a fundamental domain as well) and reflected,
k_x -> -k_x, so that every node's specular partner is a node exactly.

- 2D (:mod:`slabqkt.lattice.contours`): contours of every eigenspace on a grid,
  refined onto eps = mu by Newton steps, cut where v_x = 0 and at the domain
  boundary, Gauss-Legendre nodes in an arc-length-like parameter with the exact
  Jacobian of the curve: faster than any power in the node count.
- 3D (:mod:`slabqkt.lattice.isosurface`): marching cubes on the half-zone grid,
  optionally on a locally refined sub-grid where the surface crosses the grid
  (:mod:`slabqkt.lattice.refine`, fermi_surface.refine, for sheets a few grid steps
  across), vertices projected onto the surface, optional midpoint subdivision, one
  node per face (centroid projected onto the surface), weights from the face's
  vector area: second order in the mesh size.

The eigen-solves of the grid and the Newton steps go through two hooks,
``partition(n)`` (indices of n points this rank computes) and
``allgather(array)`` (the concatenation over ranks, in rank order), serial by
default, so that an MPI driver can split them over ranks.
"""
import numpy as np

from ..band_geometry import Eigensystem
from ..errors import ModelError
from ..fermi_surface import SurfaceMeasures

#: Newton stops when |eps - mu| is below this (eV).
ENERGY_TOL = 1e-12


def _serial_partition(n):
    return np.arange(n)


def _serial_allgather(a):
    return a


class Runner:
    """Evaluates a function of k on many points in chunks, split by the partition hooks.

    Parameters
    ----------
    model : lattice model (``h``, ``dh``, ``N``, ``dimension``, ``zone``)
    energy : float
        Fermi energy mu, eV.
    tol : float
        Eigenspace degeneracy tolerance, eV.
    partition, allgather : callables, optional
        MPI hooks (see the module docstring); serial by default.
    chunk : int
        Points per eigen-solve batch (bounds the memory).
    """

    def __init__(self, model, energy, tol, partition=None, allgather=None, chunk=4096):
        self.model, self.mu, self.tol = model, float(energy), tol
        self.partition = partition or _serial_partition
        self.allgather = allgather or _serial_allgather
        self.chunk = int(chunk)

    def map(self, fn, k, *args):
        """fn(k_chunk, *arg_chunks) -> tuple of arrays over points; the results for all k."""
        k = np.asarray(k, float)
        n = len(k)
        idx = np.asarray(self.partition(n), int)
        parts = [fn(k[idx[i:i + self.chunk]], *(a[idx[i:i + self.chunk]] for a in args))
                 for i in range(0, len(idx), self.chunk)]
        if not parts:
            parts = [fn(k[:0], *(a[:0] for a in args))]
        local = [np.concatenate(p) for p in zip(*parts)]
        all_idx = np.asarray(self.allgather(idx), int)
        out = []
        for arr in local:
            g = np.asarray(self.allgather(arr))
            res = np.empty((n,) + g.shape[1:], g.dtype)
            res[all_idx] = g
            out.append(res)
        return out

    def eigvals(self, k):
        """Ascending eigenvalues (..., N) on a grid of k (..., d)."""
        k = np.asarray(k, float)
        flat = k.reshape(-1, k.shape[-1])
        (e,) = self.map(lambda kk: (np.linalg.eigvalsh(self.model.h(kk)),), flat)
        return e.reshape(k.shape[:-1] + (e.shape[-1],))

    def _band_chunk(self, k, idx):
        h = self.model.h(k)
        eps, U = np.linalg.eigh(h)
        M, N = eps.shape
        gaps = np.diff(eps, axis=-1) > self.tol
        label = np.concatenate([np.zeros((M, 1), int), np.cumsum(gaps, axis=-1)], axis=-1)
        grp = label[np.arange(M), idx]
        mem = label == grp[:, None]
        rank = mem.sum(-1)
        e = (eps * mem).sum(-1) / rank
        dh = self.model.dh(k)
        # diagonal of U^+ dh U: one batched matmul, then an O(N^2) contraction
        diag = np.real(np.einsum("mai,mdai->mdi", U.conj(), dh @ U[:, None]))
        grad = (diag * mem[:, None, :]).sum(-1) / rank[:, None]
        first = mem.argmax(-1)
        last = N - 1 - mem[:, ::-1].argmax(-1)
        below = np.where(first > 0, e - eps[np.arange(M), np.maximum(first - 1, 0)], np.inf)
        above = np.where(last < N - 1, eps[np.arange(M), np.minimum(last + 1, N - 1)] - e, np.inf)
        is_first = first == idx
        return e, grad, np.minimum(below, above), is_first, rank

    def band(self, k, idx):
        """Eigenspace of eigenvalue ``idx`` (M,) at k (M, d).

        Returns mean energy (eV), gradient hbar v (eV nm, Hellmann-Feynman), gap
        to the nearest other eigenspace (eV), whether ``idx`` is the first member
        of its eigenspace, and its rank.
        """
        return self.map(self._band_chunk, k, np.asarray(idx, int))

    def project(self, k, idx, direction=None, normals=None, iters=40, what="points"):
        """Newton steps onto eps_idx(k) = mu.

        Parameters
        ----------
        k : (M, d) starting points, nm^-1
        idx : (M,) eigenvalue index of each point
        direction : (M, d), optional
            Fixed search directions; default: the gradient (re-evaluated every step).
        normals : (M, m, d), optional
            Orthonormal normals of planes the point must stay in (the gradient
            direction is projected onto their complement); zero rows are no constraint.

        Returns
        -------
        k, grad, gap, is_first, rank at the converged points.
        """
        k = np.array(k, float)
        idx = np.asarray(idx, int)
        act = np.arange(len(k))
        for _ in range(iters):
            if not len(act):
                break
            e, g, *_ = self.band(k[act], idx[act])
            f = e - self.mu
            if direction is None:
                dvec = g.copy()
                if normals is not None:
                    nrm = normals[act]
                    dvec -= np.einsum("mjd,mj->md", nrm, np.einsum("mjd,md->mj", nrm, dvec))
            else:
                dvec = direction[act]
            den = np.einsum("md,md->m", g, dvec)
            with np.errstate(divide="ignore", invalid="ignore"):
                step = (f / den)[:, None] * dvec
            bad = ~np.isfinite(step).all(-1)
            if bad.any():
                raise ModelError(f"Newton projection onto the Fermi surface at {self.mu:g} eV failed: "
                                 "the search direction is tangent to the surface (a band extremum "
                                 "or van Hove point on the Fermi level?)")
            k[act] -= step
            act = act[np.abs(f) > ENERGY_TOL]
        e, g, gap, first, rank = self.band(k, idx)
        if np.any(np.abs(e - self.mu) > 1e3 * ENERGY_TOL):
            raise ModelError(f"Newton projection of the {what} onto the Fermi surface at {self.mu:g} "
                             f"eV did not converge (|eps - mu| up to {np.abs(e - self.mu).max():.3g} "
                             "eV): raise fermi_surface.lattice_grid")
        return k, g, gap, first, rank


def plane_normals(zone):
    """Unit normals of the half-zone boundary planes, (2 d, d).

    Rows: k_x = 0, k_x = B/2, then t_i = const for each in-plane cell vector q_i
    (twice, for the lower and the upper face).
    """
    d = zone.dimension
    ex = np.eye(d)[0]
    out = [ex, ex]
    q = zone.par
    for i in range(d - 1):
        if d == 2:
            n = np.array([0.0, 1.0])
        else:
            other = q[1 - i]
            n = np.cross(ex, other)
            n /= np.linalg.norm(n)
        out += [n, n]
    return np.array(out)


def constraint_normals(mask, normals, d):
    """Orthonormal constraint normals (M, d, d) from face bitmasks (M,) (zero rows: none)."""
    M = len(mask)
    out = np.zeros((M, d, d))
    cnt = np.zeros(M, int)
    for b in range(len(normals)):
        on = (mask >> b) & 1 == 1
        if not on.any():
            continue
        n = np.broadcast_to(normals[b], (M, d)).copy()
        n -= np.einsum("mjd,mj->md", out, np.einsum("mjd,md->mj", out, n))
        nn = np.linalg.norm(n, axis=-1)
        ok = on & (nn > 1e-8)
        sel = np.nonzero(ok)[0]
        out[sel, cnt[sel]] = n[sel] / nn[sel, None]
        cnt[sel] += 1
    return out


def point_keys(k, zone, scale=1e-7):
    """Integer keys (M, d) equal for points that differ by a reciprocal-lattice vector."""
    f = np.asarray(k, float) @ np.linalg.inv(zone.reciprocal)
    n = np.round(f / scale).astype(np.int64)
    return np.mod(n, int(round(1 / scale)))


def components(points, edges, zone):
    """Connected components of a graph of k points (identified modulo the lattice).

    points (M, d); edges (E, 2) index pairs. Returns labels (M,).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    M = len(points)
    _, inv = np.unique(point_keys(points, zone), axis=0, return_inverse=True)
    inv = inv.ravel()
    first = np.full(inv.max() + 1, -1)
    first[inv[::-1]] = np.arange(M)[::-1]
    ident = np.stack([np.arange(M), first[inv]], axis=1)
    e = np.concatenate([np.asarray(edges, int).reshape(-1, 2), ident])
    A = coo_matrix((np.ones(len(e)), (e[:, 0], e[:, 1])), shape=(M, M))
    _, lab = connected_components(A, directed=False)
    return lab


def check_gaps(gap, grad, dk, energy, tol, where, shown=None, factor=0.5):
    """Refuse eigenspaces that come closer than the grid resolves.

    gap (M,) eV: (estimated) distance to the nearest other eigenspace at M
    points of the surface; grad (M, d) eV nm; dk the grid step, nm^-1. The
    resolution is ``factor`` |grad eps| dk (default: the energy change over half
    a grid step). ``shown`` (M,): the gaps to name in the message (default ``gap``).
    """
    res = factor * np.linalg.norm(grad, axis=-1) * dk
    bad = gap < res
    if np.any(bad):
        j = np.argmin(gap / res)
        g = gap[j] if shown is None else shown[j]
        raise ModelError(
            f"near-degeneracy on the Fermi surface at {energy:g} eV: another eigenspace comes within "
            f"{g:.3g} eV ({where}), below the resolution {res[j]:.3g} eV of the k grid "
            f"(an avoided crossing narrower than a grid step); raise fermi_surface.lattice_grid, or "
            f"merge the bands with fermi_surface.degeneracy_tol_eV above the gap (now {tol:g} eV)")


class LatticeFermiSurface(SurfaceMeasures):
    """Fermi surface of a lattice model at one energy, mirror-symmetric in k_x by construction.

    Parameters
    ----------
    model : lattice model
        ``N``, ``dimension`` (2 or 3), ``zone`` (Zone, film frame), ``h(k)``
        (eV), ``dh(k)`` (eV nm), eigenvalues periodic in the reciprocal lattice.
    energy : float
        Energy of the surface (Fermi level), eV.
    lattice_grid : int
        Grid points along each axis of the zone for the contour / isosurface
        extraction (fermi_surface.lattice_grid); the half zone gets half of them
        along k_x. It must resolve every sheet (pockets smaller than a few
        grid steps may be missed).
    n_points : int, optional
        Target number of Fermi points, both halves (fermi_surface.n_points).
        2D: nodes are shared among the contour pieces in proportion to their
        length (default 256). 3D: sets the number of midpoint subdivisions of the
        marching-cubes mesh (each one quadruples the faces; default: none).
    tol : float
        Degeneracy tolerance of eigenspaces, eV.
    partition, allgather : callables, optional
        MPI hooks: ``partition(n)`` gives the indices of n points this rank
        computes, ``allgather(a)`` the concatenation over ranks in rank order.
    min_nodes : int
        2D: fewest Gauss nodes on one contour piece.
    refine : int
        3D: the coarse cells the surface crosses (and a one-cell margin) are
        re-sampled on a sub-grid ``refine`` times finer before marching cubes
        (fermi_surface.refine, :mod:`slabqkt.lattice.refine`): the mesh of a grid
        ``refine`` times finer at ~ refine^3 n^2 instead of (refine n)^3 eigen-solves.
        1 (default): off. Ignored in 2D (the contours are spectrally accurate).

    Attributes (Ns states)
    ----------------------
    energy : float (eV); dimension : int; model; tol : float (eV)
    k : (Ns, d) nm^-1, the half k_x > 0 first, then its mirror image
    w : (Ns,) 1/(eV nm^d), DOS measure per eigenspace point
    rank : (Ns,) eigenspace dimension
    v : (Ns, d) band velocity, nm/fs
    P : (Ns, N, N) eigenspace projector
    group : (Ns,) eigenspace index at k_s in ``es``
    es : Eigensystem at the Fermi points
    eigen_index : (Ns,) first eigenvalue of the eigenspace
    sheet : (Ns,) connected sheet (on the periodic zone) of each state; n_sheets
    mirror : (Ns,) index of the specular partner: k[mirror] = (-k_x, k_par),
        v_x[mirror] = -v_x, w[mirror] = w, exactly
    n_states : int; kind = 'lattice'
    weight_correction : float
        max |dw|/w of the correction that makes sum_s w_s v_par(s) = 0 per band
    geometry : dict
        Construction details (2D: n_arcs, arc, arc_length; 3D: levels, n_faces, h).
    """

    kind = "lattice"

    def __init__(self, model, energy, lattice_grid=64, n_points=None, tol=1e-9,
                 partition=None, allgather=None, min_nodes=4, chunk=4096, refine=1):
        d = model.dimension
        if d not in (2, 3):
            raise ModelError(f"lattice Fermi surfaces need dimension 2 or 3, not {d}")
        if int(lattice_grid) < 4:
            raise ModelError(f"fermi_surface.lattice_grid = {lattice_grid}: at least 4 points per axis")
        if int(refine) < 1:
            raise ModelError(f"fermi_surface.refine = {refine}: at least 1 (1: no refinement)")
        self.model, self.energy, self.dimension, self.tol = model, float(energy), d, tol
        self.lattice_grid = n = 2 * ((int(lattice_grid) + 1) // 2)
        self.runner = Runner(model, energy, tol, partition, allgather, chunk)
        if d == 2:
            from .contours import build_contours
            geo = build_contours(self.runner, model.zone, n, 256 if n_points is None else n_points,
                                 min_nodes)
        else:
            from .isosurface import build_isosurface
            geo = build_isosurface(self.runner, model.zone, n, n_points, refine=int(refine))
        kh, wh, ih, sheet_h, sheet_m = geo["k"], geo["w"], geo["eigen_index"], geo["sheet"], geo["sheet_mirror"]
        nh = len(kh)
        if nh == 0:
            raise ModelError(f"no band crosses the energy {energy:g} eV (or every pocket is smaller "
                             f"than the grid resolves: fermi_surface.lattice_grid = {n})")
        flip = np.ones(d)
        flip[0] = -1.0
        self.k = np.concatenate([kh, kh * flip])
        self.w = np.concatenate([wh, wh])
        self.eigen_index = np.concatenate([ih, ih])
        nh_ar = np.arange(nh)
        self.mirror = np.concatenate([nh_ar + nh, nh_ar])
        _, self.sheet = np.unique(np.concatenate([sheet_h, sheet_m]), return_inverse=True)
        self.sheet = self.sheet.ravel()
        self.n_sheets = int(self.sheet.max()) + 1
        self.es = Eigensystem(model, self.k, tol, mapper=self.runner.map)
        self.group = self.es.label[np.arange(2 * nh), self.eigen_index]
        first = (self.eigen_index == 0) | (self.es.label[np.arange(2 * nh),
                                                         np.maximum(self.eigen_index - 1, 0)] != self.group)
        if not first.all():
            raise ModelError(f"the eigenspaces at the Fermi points at {energy:g} eV differ from those "
                             "found while building the surface (a splitting comparable to "
                             f"fermi_surface.degeneracy_tol_eV = {tol:g} eV)")
        self.rank = self.es.rank(self.group)
        self.P = self.es.projector(self.group)
        v = self.es.velocity(self.group)
        # the mirror half gets the reflected velocity exactly (it agrees to rounding)
        self.v = np.concatenate([v[:nh], v[:nh] * flip])
        if np.any(np.abs(self.v[:, 0]) <= 1e-12 * np.linalg.norm(self.v, axis=-1)):
            raise ModelError("a Fermi point has v_x = 0; change fermi_surface.lattice_grid or n_points")
        self.weight_correction = self._zero_mean_velocity()
        if np.any(self.w <= 0):
            raise ModelError(f"non-positive Fermi-surface weights at {energy:g} eV (a folded mesh): "
                             "raise fermi_surface.lattice_grid")
        self.n_states = 2 * nh
        self.geometry = geo

    def _zero_mean_velocity(self):
        """Make sum_s w_s v_par(s) vanish on every band exactly; returns max |dw|/w.

        For a periodic band int d^dk delta(eps - mu) grad eps = 0; the sum over
        the nodes vanishes in k_x by the mirror construction, and in-plane to the
        rule's accuracy only (O(h^2) in 3D). The slab problem needs it exactly
        (a field along the film must not charge the bulk), so the weights are
        scaled by 1 + lambda.v_par with lambda fixed by that condition: a
        change of the order of the quadrature error, mirror symmetric.
        """
        worst = 0.0
        for i in np.unique(self.eigen_index):
            sel = self.eigen_index == i
            vp = self.v[sel, 1:]
            w = self.w[sel]
            M = np.einsum("s,si,sj->ij", w, vp, vp)
            b = w @ vp
            if not np.all(np.isfinite(M)) or np.linalg.det(M) <= 0:
                continue
            lam = -np.linalg.solve(M, b)
            f = vp @ lam
            self.w[sel] = w * (1.0 + f)
            worst = max(worst, float(np.abs(f).max()))
        return worst


__all__ = ["LatticeFermiSurface", "Runner"]
