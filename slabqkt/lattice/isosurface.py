"""3D lattice Fermi surfaces: triangulated isosurfaces on the half zone, one node per face.

Algorithm (see docs/fermi_surfaces.md):

1. Eigenvalues on the grid k_x in [0, B/2] (n/2 + 1 points) x t_1, t_2 in
   [-1/2, 1/2] (n + 1 points each, both ends evaluated) of the half zone.
2. For every eigenvalue index that is the first of its eigenspace, the
   isosurface eps_i = mu by marching cubes (scikit-image, Lewiner's variant).
3. Vertices projected onto the surface by Newton steps along the gradient;
   vertices on a face of the domain (the mirror planes k_x = 0, B/2 and the
   periodic faces t_i = +-1/2) move inside that face, so the half mesh closes
   up with its mirror image and its periodic images.
4. Optionally ``levels`` midpoint subdivisions (each face into four, the new
   vertices projected the same way).
5. One node per face: the centroid, projected onto the surface along the
   gradient. Weight w = (S . grad eps) / ((2 pi)^3 |grad eps|^2), S the face's
   vector area: the area of the surface patch over the face (S . nu, nu the
   unit normal) divided by |grad eps|. Second order in the mesh size h.
"""
import logging

import numpy as np

from ..errors import ModelError
from .fermi_surface import check_gaps, components, constraint_normals, plane_normals

log = logging.getLogger("slabqkt")

#: 3D refuses vertex gaps below this fraction of |grad eps| dk (a gap between it and 1/2
#: is a crease the grid does not resolve: a local error, logged as a warning)
GAP_FACTOR = 0.1
#: faces with w <= 0 whose |w| adds up to less than this share of the total are slivers
SLIVER_SHARE = 1e-4
#: faces with w <= 0 whose |w| adds up to less than this share (and more than SLIVER_SHARE)
#: are a local fold: each hands its signed weight to its largest edge neighbour (the signed
#: sum over a fold is its area); a larger share is a mesh too coarse and an error
FOLD_SHARE = 1e-3


def _subdivide(V, F, mask, idx):
    e = np.sort(F[:, [[0, 1], [1, 2], [2, 0]]], axis=-1).reshape(-1, 2)
    uniq, inv = np.unique(e, axis=0, return_inverse=True)
    inv = inv.reshape(-1, 3) + len(V)
    mids = 0.5 * (V[uniq[:, 0]] + V[uniq[:, 1]])
    m01, m12, m20 = inv[:, 0], inv[:, 1], inv[:, 2]
    v0, v1, v2 = F[:, 0], F[:, 1], F[:, 2]
    F2 = np.concatenate([np.stack([v0, m01, m20], 1), np.stack([v1, m12, m01], 1),
                         np.stack([v2, m20, m12], 1), np.stack([m01, m12, m20], 1)])
    return mids, mask[uniq[:, 0]] & mask[uniq[:, 1]], idx[uniq[:, 0]], F2


def _piece(verts, faces, i, B, nx, n, ex, q1, q2, Vs, Fs, Ms, Is):
    """Append one marching-cubes piece (vertices in coarse index coordinates) to the lists."""
    nv = sum(len(v) for v in Vs)
    k = (verts[:, :1] * (B / 2 / nx) * ex + (verts[:, 1:2] / n - 0.5) * q1
         + (verts[:, 2:3] / n - 0.5) * q2)
    tol = 1e-9
    m = ((np.abs(verts[:, 0]) < tol) * 1 | (np.abs(verts[:, 0] - nx) < tol) * 2
         | (np.abs(verts[:, 1]) < tol) * 4 | (np.abs(verts[:, 1] - n) < tol) * 8
         | (np.abs(verts[:, 2]) < tol) * 16 | (np.abs(verts[:, 2] - n) < tol) * 32)
    Vs.append(k)
    Fs.append(faces.astype(np.int64) + nv)
    Ms.append(m.astype(np.int64))
    Is.append(np.full(len(k), i))


def build_isosurface(runner, zone, n, n_points=None, levels=None, refine=1):
    """Half-zone Fermi-surface nodes and weights (see the module docstring).

    ``refine`` = q > 1 re-samples the coarse cells the surface crosses (and a one-cell
    margin) on a sub-grid q times finer before marching cubes
    (:mod:`slabqkt.lattice.refine`, fermi_surface.refine).

    Returns a dict: k (Nh, 3), w (Nh,), eigen_index (Nh,), sheet, sheet_mirror
    (Nh,), levels, n_faces, h (mean edge length, nm^-1).
    """
    from skimage.measure import marching_cubes
    B = zone.kx_period
    q1, q2 = zone.par
    ex = np.eye(3)[0]
    nx = n // 2
    kx = np.linspace(0.0, B / 2, nx + 1)
    t = np.linspace(-0.5, 0.5, n + 1)
    Kg = (kx[:, None, None, None] * ex + t[None, :, None, None] * q1
          + t[None, None, :, None] * q2)
    E = runner.eigvals(Kg)
    dk = max(B / 2 / nx, np.linalg.norm(q1) / n, np.linalg.norm(q2) / n)
    mu = runner.mu
    fine = None
    if refine > 1:
        from .refine import FineGrid
        fine = FineGrid(runner, lambda I: (I[:, :1] * (B / 2 / nx) * ex + (I[:, 1:2] / n - 0.5) * q1
                                           + (I[:, 2:3] / n - 0.5) * q2), E, refine)
        dk /= refine
    Vs, Fs, Ms, Is = [], [], [], []
    for i in range(E.shape[-1]):
        Fg = E[..., i] - mu
        if Fg.min() >= 0 or Fg.max() <= 0:
            continue
        for Fp, off, sc in ([(E[..., i], 0.0, 1.0)] if fine is None else fine.pieces(i)):
            Fg = Fp - mu
            if Fg.min() >= 0 or Fg.max() <= 0:
                continue
            # grid values exactly at the level make faces inside the grid planes: nudge them
            Fg = np.where(Fg == 0, 1e-13 * max(1.0, abs(mu)), Fg)
            verts, faces, _, _ = marching_cubes(Fg, 0.0, allow_degenerate=False)
            if not len(faces):
                continue
            verts = verts / sc + off  # coarse-grid index coordinates
            _piece(verts, faces, i, B, nx, n, ex, q1, q2, Vs, Fs, Ms, Is)
    empty = dict(k=np.zeros((0, 3)), w=np.zeros(0), eigen_index=np.zeros(0, int),
                 sheet=np.zeros(0, int), sheet_mirror=np.zeros(0, int), levels=0, n_faces=0)
    if not Vs:
        return empty
    V0, F, mask, idx = (np.concatenate(a) for a in (Vs, Fs, Ms, Is))
    pn = plane_normals(zone)
    V, G, gap, first, _ = runner.project(V0, idx, normals=constraint_normals(mask, pn, 3),
                                         what="isosurface vertices")
    keep_v = np.ones(len(V), bool)
    for i in np.unique(idx):
        sel = idx == i
        if not first[sel].any():
            keep_v[sel] = False
        elif not first[sel].all():
            raise ModelError(f"eigenspace degeneracy changes along the Fermi surface at {mu:g} eV "
                             f"(eigenvalue {i} merges with a lower one on part of its sheet): bands "
                             "touch there; adjust fermi_surface.degeneracy_tol_eV")
    check_gaps(gap[keep_v], G[keep_v], dk, mu, runner.tol, "at an isosurface vertex", factor=GAP_FACTOR)
    _warn_gaps(gap[keep_v], G[keep_v], dk, mu)
    if not keep_v.all():
        newid = np.cumsum(keep_v) - 1
        F = newid[F[keep_v[F[:, 0]]]]
        V, G, mask, idx = V[keep_v], G[keep_v], mask[keep_v], idx[keep_v]
    # a face inside a mirror plane carries no flux (v_x = 0 there): drop it
    F = F[(mask[F[:, 0]] & mask[F[:, 1]] & mask[F[:, 2]] & 3) == 0]
    if not len(F):
        return empty
    if levels is None:
        levels = 0
        if n_points is not None:
            levels = int(max(0, np.round(np.log(max(n_points, 1) / (2.0 * len(F))) / np.log(4))))
    for _ in range(levels):
        mids, mm, mi, F = _subdivide(V, F, mask, idx)
        km, gm, gapm, _, _ = runner.project(mids, mi, normals=constraint_normals(mm, pn, 3),
                                            what="isosurface vertices")
        check_gaps(gapm, gm, dk, mu, runner.tol, "at an isosurface vertex", factor=GAP_FACTOR)
        V, mask, idx = np.concatenate([V, km]), np.concatenate([mask, mm]), np.concatenate([idx, mi])
    fi = idx[F[:, 0]]
    T = V[F]  # (Nf, 3, 3)
    S = 0.5 * np.cross(T[:, 1] - T[:, 0], T[:, 2] - T[:, 0])
    k, g = _face_nodes(runner, T, fi, B)
    gg = np.einsum("fd,fd->f", g, g)
    flux = np.einsum("fd,fd->f", S, g)
    # marching cubes orients each mesh consistently; fix the sign per eigenvalue index
    sgn = np.ones(len(F))
    for i in np.unique(fi):
        sel = fi == i
        sgn[sel] = np.sign(flux[sel].sum()) or 1.0
    w = sgn * flux / ((2 * np.pi) ** 3 * gg)
    ok = np.linalg.norm(S, axis=-1) > 0
    # slivers: a grid vertex a tiny fraction of a step from the level gets tiny faces round
    # it, and some flip over (w < 0) when projected onto the surface. Far below the rule's
    # error, they are dropped; a real fold (a mesh too coarse) is refused by the caller.
    flip = w <= 0
    share = np.abs(w[flip]).sum() / np.abs(w).sum() if flip.any() else 0.0
    if flip.any() and share < SLIVER_SHARE:
        ok &= ~flip
    elif flip.any() and share < FOLD_SHARE:
        w, merged = _merge_folds(F, w, flip)
        ok &= ~merged
        log.info("Fermi surface at %g eV: %d folded faces (%.2g of the weight) merged into their "
                 "edge neighbours", mu, int(flip.sum()), share)
    k, w, fi, F, g = k[ok], w[ok], fi[ok], F[ok], g[ok]
    nvv = len(V)
    pts = np.concatenate([V, V * [-1.0, 1.0, 1.0]])
    e = F[:, [[0, 1], [1, 2]]].reshape(-1, 2)
    lab = components(pts, np.concatenate([e, e + nvv]), zone)
    edge_len = np.linalg.norm(T[:, 1] - T[:, 0], axis=-1).mean()
    return dict(k=k, w=w, eigen_index=fi, sheet=lab[F[:, 0]], sheet_mirror=lab[nvv + F[:, 0]],
                levels=levels, n_faces=len(F), h=float(edge_len), grid=(nx + 1, n + 1, n + 1),
                refine=int(refine), fine_points=0 if fine is None else fine.n_evaluated)


def _merge_folds(F, w, flip):
    """Weights with every flipped face's (negative) weight added to its edge neighbour.

    A mesh folded over locally (a few faces flipped when their vertices are projected onto
    the surface) still integrates correctly with the signed weights: the flipped face
    cancels the overlap of its neighbours. Each flipped face hands its weight to the
    unflipped neighbour across one of its edges with the largest weight; a neighbour left
    with w <= 0 stays, for the caller to refuse.

    Parameters
    ----------
    F : (Nf, 3) int, faces (vertex indices; the sheets of different bands share no vertex)
    w : (Nf,) weights
    flip : (Nf,) bool, w <= 0

    Returns
    -------
    w : (Nf,) weights
    merged : (Nf,) bool, the flipped faces whose weight went to a neighbour (to be dropped)
    """
    e = np.sort(F[:, [[0, 1], [1, 2], [2, 0]]], axis=-1).reshape(-1, 2)
    _, eid = np.unique(e, axis=0, return_inverse=True)
    eid = eid.ravel()
    order = np.argsort(eid, kind="stable")
    same = eid[order[1:]] == eid[order[:-1]]
    a, b = order[:-1][same], order[1:][same]  # the two (face, edge) slots of an inner edge
    other = np.full(len(eid), -1)
    other[a], other[b] = b // 3, a // 3
    other = other.reshape(-1, 3)
    fl = np.nonzero(flip)[0]
    cand = other[fl]
    score = np.where(cand >= 0, w[np.maximum(cand, 0)], -np.inf)
    score = np.where((cand >= 0) & flip[np.maximum(cand, 0)], -np.inf, score)
    best = cand[np.arange(len(fl)), np.argmax(score, axis=1)]
    w = w.copy()
    has = (best >= 0) & np.isfinite(score.max(axis=1))
    np.add.at(w, best[has], w[fl[has]])
    merged = np.zeros(len(w), bool)
    merged[fl[has]] = True
    return w, merged


def _warn_gaps(gap, grad, dk, mu):
    ratio = gap / (np.linalg.norm(grad, axis=-1) * dk)
    if len(ratio) and ratio.min() < 0.5:
        log.warning("Fermi surface at %g eV: another eigenspace comes within %.3g eV, below half "
                    "the energy step of the k grid (%.3g eV): the crease of that avoided "
                    "crossing is not resolved (a local error; raise fermi_surface.lattice_grid)",
                    mu, gap[np.argmin(ratio)], 0.5 * (np.linalg.norm(grad, axis=-1) * dk)[np.argmin(ratio)])


def _face_nodes(runner, T, fi, B):
    """Face nodes projected onto the surface, inside 0 < k_x < B/2 and off v_x = 0."""
    bary = np.array([[1 / 3, 1 / 3, 1 / 3], [0.5, 0.25, 0.25], [0.25, 0.5, 0.25], [0.25, 0.25, 0.5]])
    todo = np.arange(len(T))
    k = np.zeros((len(T), 3))
    g = np.zeros((len(T), 3))
    ex = np.zeros((1, 3, 3))
    ex[0, 0, 0] = 1.0
    for b in bary:
        if not len(todo):
            break
        c = np.einsum("j,fjd->fd", b, T[todo])
        kk, gg, *_ = runner.project(c, fi[todo], what="face nodes")
        out = (kk[:, 0] <= 0) | (kk[:, 0] >= B / 2)
        if out.any():
            # a node of a face next to a mirror plane moves parallel to it
            kk[out], gg[out], *_ = runner.project(c[out], fi[todo][out],
                                                  normals=np.repeat(ex, out.sum(), 0),
                                                  what="face nodes")
        k[todo], g[todo] = kk, gg
        bad = np.abs(gg[:, 0]) <= 1e-9 * np.linalg.norm(gg, axis=-1)
        todo = todo[bad]
    if len(todo):
        raise ModelError("a Fermi point has v_x = 0 on the isosurface; change fermi_surface.lattice_grid")
    return k, g
