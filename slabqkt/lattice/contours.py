"""2D lattice Fermi contours on the half zone, with Gauss-Legendre nodes on smooth pieces.

Algorithm (see docs/fermi_surfaces.md):

1. Eigenvalues on the grid k_x in [0, B/2] (n/2 + 1 points) x t in [-1/2, 1/2]
   (n + 1 points, both ends evaluated: the model is periodic) of the half zone.
2. For every eigenvalue index, the contours eps_i = mu of the grid (contourpy,
   marching squares); an index that is not the first of its eigenspace is a
   repeat of a lower one (a Kramers partner) and is dropped.
3. Polyline vertices refined onto the surface by Newton steps along the
   gradient (Hellmann-Feynman); vertices on the domain boundary move along it.
4. Cuts: where v_x changes sign (a root of v_x found along the contour by
   regula falsi), and at the domain boundary (k_x = 0 and B/2 are mirror
   lines, where v_x = 0 too; t = +-1/2 is the periodic cut). Every piece is a
   smooth arc with v_x of one sign inside.
5. On each arc a smooth reference curve c(u), u in [-1, 1] (a Chebyshev fit
   of the refined points in chord length, ends pinned to the exact end
   points), and the exact contour point k(u) = c(u) + s(u) n(u) on its normal
   n(u). Gauss-Legendre nodes u_j; the Jacobian |dk/du| follows from implicit
   differentiation, so the weights w_j = W_j |dk/du| / ((2 pi)^2 |grad eps|)
   are exact for the curve and the rule converges faster than any power of
   the node count for integrands smooth on each arc.
"""
import numpy as np

from ..errors import ModelError
from .fermi_surface import check_gaps, components, constraint_normals, plane_normals

_GAUSS = {}


def _gauss(n):
    if n not in _GAUSS:
        _GAUSS[n] = np.polynomial.legendre.leggauss(n)
    return _GAUSS[n]


def _perp(v):
    return np.stack([-v[..., 1], v[..., 0]], axis=-1)


def _grid_lines(E, kx, t, mu):
    import contourpy
    lines = []
    for i in range(E.shape[-1]):
        Z = E[..., i] - mu
        if Z.min() >= 0 or Z.max() <= 0:
            continue
        gen = contourpy.contour_generator(kx, t, Z, line_type="Separate")
        for L in gen.lines(0.0):
            L = np.asarray(L, float)
            closed = len(L) > 2 and np.array_equal(L[0], L[-1])
            if closed:
                L = L[:-1]
            # drop repeated vertices (a contour through a grid point)
            keep = np.ones(len(L), bool)
            keep[1:] = np.any(L[1:] != L[:-1], axis=1)
            L = L[keep]
            if len(L) >= 2:
                lines.append((i, L, closed))
    return lines


def _boundary_mask(L, B, closed):
    """Bits: 0 k_x = 0, 1 k_x = B/2, 2 t = -1/2, 3 t = 1/2, for the two ends of open lines."""
    m = np.zeros(len(L), np.int64)
    if closed:
        return m
    tolx, tolt = 1e-12 * B, 1e-12
    for j in (0, len(L) - 1):
        x, y = L[j]
        m[j] = ((abs(x) < tolx) * 1 | (abs(x - B / 2) < tolx) * 2 | (abs(y + 0.5) < tolt) * 4
                | (abs(y - 0.5) < tolt) * 8)
    return m


def _turning_points(runner, a, b, idx, iters=60):
    """Roots of v_x on the contour between surface points a and b (v_x of opposite signs)."""
    chord = b - a
    nrm = _perp(chord) / np.linalg.norm(chord, axis=-1, keepdims=True)
    lo, hi = np.zeros(len(a)), np.ones(len(a))
    _, ga, *_ = runner.band(a, idx)
    _, gb, *_ = runner.band(b, idx)
    flo = ga[:, 0] / np.linalg.norm(ga, axis=-1)
    fhi = gb[:, 0] / np.linalg.norm(gb, axis=-1)
    side = np.zeros(len(a), int)
    k = a.copy()
    g = ga
    for _ in range(iters):
        th = (lo * fhi - hi * flo) / (fhi - flo)
        k, g, *_ = runner.project(a + th[:, None] * chord, idx, direction=nrm, what="turning points")
        f = g[:, 0] / np.linalg.norm(g, axis=-1)
        if np.all(np.abs(f) < 1e-14):
            break
        left = np.sign(f) == np.sign(flo)
        # Illinois: halve the retained end's value when the same end is kept twice
        flo_new = np.where(left, f, np.where(side == -1, 0.5 * flo, flo))
        fhi_new = np.where(left, np.where(side == 1, 0.5 * fhi, fhi), f)
        lo = np.where(left, th, lo)
        hi = np.where(left, hi, th)
        side = np.where(left, 1, -1)
        flo, fhi = flo_new, fhi_new
    return k, g


def _split_lines(runner, lines, K, G, mask_all, offsets):
    """Arcs (index, points (m, 2), start point, end point) between cuts."""
    breaks = []  # (line, j): v_x changes sign between vertices j and j+1 (cyclic)
    for li, (i, L, closed) in enumerate(lines):
        o = offsets[li]
        m = len(L)
        s = np.sign(G[o:o + m, 0])
        mask = mask_all[o:o + m]
        valid = (mask & 3) == 0
        pairs = np.arange(m if closed else m - 1)
        nxt = (pairs + 1) % m
        ch = valid[pairs] & valid[nxt] & (s[pairs] != s[nxt])
        breaks += [(li, j) for j in pairs[ch]]
    tp = {}
    if breaks:
        bl = np.array(breaks)
        ia = np.array([offsets[l] + j for l, j in breaks])
        ib = np.array([offsets[l] + (j + 1) % len(lines[l][1]) for l, j in breaks])
        idx = np.array([lines[l][0] for l, _ in breaks])
        kt, _ = _turning_points(runner, K[ia], K[ib], idx)
        for n, (l, j) in enumerate(map(tuple, bl)):
            tp.setdefault(l, []).append((j, kt[n]))
    arcs = []
    for li, (i, L, closed) in enumerate(lines):
        o = offsets[li]
        pts = K[o:o + len(L)]
        cuts = sorted(tp.get(li, []), key=lambda c: c[0])
        if closed:
            if len(cuts) < 2:
                raise ModelError("a closed Fermi contour without two points of v_x = 0 (it is not "
                                 "resolved): raise fermi_surface.lattice_grid")
            m = len(L)
            for c in range(len(cuts)):
                j0, k0 = cuts[c]
                j1, k1 = cuts[(c + 1) % len(cuts)]
                inner = (j0 + 1 + np.arange((j1 - j0) % m)) % m
                arcs.append((i, np.concatenate([k0[None], pts[inner], k1[None]])))
        else:
            start = 0
            k_prev = None
            for j, kc in cuts:
                seg = pts[start:j + 1]
                arcs.append((i, np.concatenate(([k_prev[None]] if k_prev is not None else []) + [seg, kc[None]])))
                start, k_prev = j + 1, kc
            seg = pts[start:]
            arcs.append((i, np.concatenate(([k_prev[None]] if k_prev is not None else []) + [seg])))
    return arcs


def _densify(runner, arcs, min_points=9, rounds=3):
    for _ in range(rounds):
        if min(len(p) for _, p in arcs) >= min_points:
            break
        mids = [0.5 * (p[1:] + p[:-1]) for _, p in arcs]
        idx = np.concatenate([np.full(len(m), i) for (i, _), m in zip(arcs, mids)])
        km, *_ = runner.project(np.concatenate(mids), idx, what="contour points")
        out, o = [], 0
        for (i, p), m in zip(arcs, mids):
            q = np.empty((2 * len(p) - 1, 2))
            q[0::2] = p
            q[1::2] = km[o:o + len(m)]
            o += len(m)
            out.append((i, q))
        arcs = out
    return arcs


def _fit(p):
    """Chebyshev reference curve through the points p (m, 2), ends pinned exactly."""
    seg = np.linalg.norm(np.diff(p, axis=0), axis=-1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    L = s[-1]
    u = 2 * s / L - 1
    # least squares on ~equispaced points is stable for deg below ~2 sqrt(m) (no Runge wiggles)
    deg = int(max(1, min((len(p) - 1) // 2, 2 * np.sqrt(len(p)), 24)))
    C = np.polynomial.chebyshev.chebfit(u, p, deg)  # (deg + 1, 2)
    cheb = np.polynomial.chebyshev
    e0, e1 = cheb.chebval(-1.0, C), cheb.chebval(1.0, C)
    # c(u) + (1 - u)/2 (p0 - c(-1)) + (1 + u)/2 (p1 - c(1))
    C[0] += 0.5 * ((p[0] - e0) + (p[-1] - e1))
    C[1] += 0.5 * ((p[-1] - e1) - (p[0] - e0))
    return C, L


def build_contours(runner, zone, n, n_points, min_nodes=4):
    """Half-zone Fermi contour nodes and weights (see the module docstring).

    Returns a dict: k (Nh, 2), w (Nh,), eigen_index (Nh,), sheet, sheet_mirror
    (Nh,) sheet labels of the nodes and of their mirror images, n_arcs.
    """
    B = zone.kx_period
    q = zone.par[0]
    ex = np.array([1.0, 0.0])
    nx = n // 2
    kx = np.linspace(0.0, B / 2, nx + 1)
    t = np.linspace(-0.5, 0.5, n + 1)
    Kg = kx[None, :, None] * ex + t[:, None, None] * q
    E = runner.eigvals(Kg)
    dk = max(B / 2 / nx, np.linalg.norm(q) / n)
    mu = runner.mu
    lines = _grid_lines(E, kx, t, mu)
    empty = dict(k=np.zeros((0, 2)), w=np.zeros(0), eigen_index=np.zeros(0, int),
                 sheet=np.zeros(0, int), sheet_mirror=np.zeros(0, int), n_arcs=0)
    if not lines:
        return empty
    offsets = np.cumsum([0] + [len(L) for _, L, _ in lines])[:-1]
    P = np.concatenate([L for _, L, _ in lines])
    K0 = P[:, :1] * ex + P[:, 1:] * q
    idx = np.concatenate([np.full(len(L), i) for i, L, _ in lines])
    mask = np.concatenate([_boundary_mask(L, B, c) for _, L, c in lines])
    normals = constraint_normals(mask, plane_normals(zone), 2)
    K, G, gap, first, _ = runner.project(K0, idx, normals=normals, what="contour vertices")
    # eigenvalue indices that are not the first of their eigenspace repeat a lower sheet
    keep_line = np.ones(len(lines), bool)
    for i in np.unique(idx):
        sel = idx == i
        if not first[sel].any():
            keep_line[[l for l, (j, _, _) in enumerate(lines) if j == i]] = False
        elif not first[sel].all():
            raise ModelError(f"eigenspace degeneracy changes along the Fermi surface at {mu:g} eV "
                             f"(eigenvalue {i} merges with a lower one on part of its contour): bands "
                             "touch there; adjust fermi_surface.degeneracy_tol_eV")
    ok = np.repeat(keep_line, [len(L) for _, L, _ in lines])
    _check_line_gaps(lines, keep_line, K, G, gap, offsets, dk, runner)
    lines = [ln for ln, kp in zip(lines, keep_line) if kp]
    if not lines:
        return empty
    K, G, mask = K[ok], G[ok], mask[ok]
    offsets = np.cumsum([0] + [len(L) for _, L, _ in lines])[:-1]
    arcs = _split_lines(runner, lines, K, G, mask, offsets)
    arcs = _densify(runner, arcs)
    # nodes in proportion to length
    fits = [_fit(p) for _, p in arcs]
    Ls = np.array([L for _, L in fits])
    n_half = max(1, int(n_points) // 2)
    counts = np.maximum(int(min_nodes), np.round(n_half * Ls / Ls.sum()).astype(int))
    cheb = np.polynomial.chebyshev
    R, Rd, Rdd, W, I, A = [], [], [], [], [], []
    for a, ((i, _), (C, _)) in enumerate(zip(arcs, fits)):
        u, wu = _gauss(int(counts[a]))
        D1 = cheb.chebder(C)
        D2 = cheb.chebder(D1) if len(D1) > 1 else np.zeros((1, 2))
        R.append(cheb.chebval(u, C).T)
        Rd.append(cheb.chebval(u, D1).T)
        Rdd.append(cheb.chebval(u, D2).T)
        W.append(wu)
        I.append(np.full(len(u), i))
        A.append(np.full(len(u), a))
    R, Rd, Rdd, W, I, A = map(np.concatenate, (R, Rd, Rdd, W, I, A))
    sp = np.linalg.norm(Rd, axis=-1)
    nrm = _perp(Rd) / sp[:, None]
    k, g, gap, _, _ = runner.project(R, I, direction=nrm, what="contour nodes")
    check_gaps(gap, g, dk, mu, runner.tol, "at a contour node")
    sig = np.einsum("md,md->m", k - R, nrm)
    dn = _perp(Rdd / sp[:, None] - Rd * (np.einsum("md,md->m", Rd, Rdd) / sp ** 3)[:, None])
    dsig = -np.einsum("md,md->m", g, Rd + sig[:, None] * dn) / np.einsum("md,md->m", g, nrm)
    kd = Rd + dsig[:, None] * nrm + sig[:, None] * dn
    jac = np.linalg.norm(kd, axis=-1)
    gn = np.linalg.norm(g, axis=-1)
    if np.any(np.einsum("md,md->m", kd, Rd) <= 0) or np.any(np.abs(sig) > 0.25 * Ls[A]):
        raise ModelError(f"a Fermi contour piece at {mu:g} eV is not resolved by the grid "
                         "(its reference curve folds): raise fermi_surface.lattice_grid")
    # v_x keeps one sign on an arc: a sign change means a missed v_x = 0 point
    sgn = np.sign(g[:, 0])
    smin = np.full(len(arcs), 2.0)
    smax = np.full(len(arcs), -2.0)
    np.minimum.at(smin, A, sgn)
    np.maximum.at(smax, A, sgn)
    if np.any(smin != smax):
        raise ModelError(f"v_x changes sign inside a Fermi contour piece at {mu:g} eV (points of "
                         "v_x = 0 closer than the grid step): raise fermi_surface.lattice_grid")
    w = W * jac / ((2 * np.pi) ** 2 * gn)
    # sheets: arcs glued at shared end points (modulo the lattice), and to their mirrors
    ends = np.array([[p[0], p[-1]] for _, p in arcs]).reshape(-1, 2)
    na = len(arcs)
    pts = np.concatenate([ends, ends * [-1.0, 1.0]])
    e = np.arange(2 * na).reshape(-1, 2)
    lab = components(pts, np.concatenate([e, e + 2 * na]), zone)
    sheet_arc, sheet_arc_m = lab[0:2 * na:2], lab[2 * na::2]
    return dict(k=k, w=w, eigen_index=I, sheet=sheet_arc[A], sheet_mirror=sheet_arc_m[A],
                n_arcs=na, arc=A, arc_length=Ls, grid=(nx + 1, n + 1))


def _check_line_gaps(lines, keep_line, K, G, gap, offsets, dk, runner):
    """Interband gaps along the contours, their minima refined by a parabola in gap^2.

    Near an avoided crossing gap^2 is quadratic along the contour, so the
    parabola through a vertex of locally smallest gap and its neighbours
    estimates the true minimum even when the grid misses it.
    """
    est, at, shown = [], [], []
    for li, ((_, L, closed), kp) in enumerate(zip(lines, keep_line)):
        if not kp:
            continue
        o, m = offsets[li], len(L)
        p, y = K[o:o + m], gap[o:o + m] ** 2
        est.append(gap[o:o + m])
        at.append(o + np.arange(m))
        shown.append(gap[o:o + m])
        if m < 3 or not np.isfinite(y).all():
            continue
        s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=-1))])
        j = np.arange(1, m - 1)
        j = j[(y[j] <= y[j - 1]) & (y[j] <= y[j + 1])]
        x0, x1, x2 = s[j - 1], s[j], s[j + 1]
        y0, y1, y2 = y[j - 1], y[j], y[j + 1]
        d01, d12 = (y1 - y0) / (x1 - x0), (y2 - y1) / (x2 - x1)
        a2 = (d12 - d01) / (x2 - x0)
        with np.errstate(divide="ignore", invalid="ignore"):
            xm = 0.5 * (x0 + x1) - d01 / (2 * a2)
            ym = y0 + (xm - x0) * (d01 + a2 * (xm - x1))
        good = (a2 > 0) & np.isfinite(ym)
        est.append(np.sqrt(np.maximum(ym[good], 0.0)))
        at.append(o + j[good])
        shown.append(gap[o + j[good]])
    if est:
        at = np.concatenate(at)
        check_gaps(np.concatenate(est), G[at], dk, runner.mu, runner.tol,
                   "at a contour vertex, and less between vertices", np.concatenate(shown))
