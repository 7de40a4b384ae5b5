"""Local refinement of the 3D half-zone grid where the Fermi surface crosses it.

A sheet only a few grid steps across (the Delta pockets of Si: about two coarse cells
in radius at lattice_grid 64) is triangulated by marching cubes into a handful of
large flat faces, and its DOS weight (second order in the face size) is off by tens
of percent. Raising ``lattice_grid`` costs n^3 eigen-solves. Here only the coarse
cells that the surface crosses (a sign change of eps_i - mu among the 8 corners)
are re-sampled on a sub-grid ``q`` times finer (fermi_surface.refine = q), and the
refined region grows into every neighbour cell on whose shared face the fine values
change sign (a sheet bulging into a cell between its corners), until the fine surface
closes up: about q^3 (surface cells) eigen-solves, i.e. ~ q^3 n^2 instead of (q n)^3.
Elsewhere the fine grid takes the trilinear interpolant of the coarse values, which
has no sign change in a cell whose corners have none, so marching cubes on the fine
array finds exactly the surface of the refined cells. The mesh then has the faces of
the grid q times finer (the same faces, where the coarse grid sees every sheet): the
DOS error drops by q^2 (benchmarks/si_pockets.py). Not covered: a sheet that the
coarse grid misses entirely, and a bulge through a periodic in-plane face of the half
zone whose image cell is not crossed at the coarse level (the growth does not wrap).
"""
import numpy as np
from scipy import ndimage


class FineGrid:
    """Eigenvalues on a grid ``q`` times finer than the coarse half-zone grid, near the surface.

    The fine values are handed out in tiles of ``tile`` coarse cells per axis (only
    the tiles holding refined cells), so that the memory stays ~ q^3 tile^3 per tile
    and marching cubes runs on the refined region only. Neighbouring tiles share
    their boundary planes: the vertices there are computed from the same two values
    in both, so the pieces join up (sheets are labelled by positions anyway).

    Parameters
    ----------
    runner : :class:`slabqkt.lattice.fermi_surface.Runner` (eigen-solves, MPI hooks)
    point : callable
        ``point(I)`` -> k (M, 3), nm^-1, of coarse-grid index coordinates I (M, 3)
        (fractional indices allowed).
    E : ndarray (nx + 1, n + 1, n + 1, N)
        Coarse eigenvalues, eV.
    q : int
        Sub-cells per coarse cell and axis (>= 2).
    margin : int
        Coarse cells added round the crossed ones beforehand (default 0: the refined region
        grows instead, cell by cell, wherever the fine values change sign on its boundary).
    tile : int
        Coarse cells per axis of a tile (default 4).

    Attributes
    ----------
    q : int; shape : fine-grid shape (q nx + 1, q n + 1, q n + 1)
    n_evaluated : int, fine points evaluated exactly (the rest interpolated)
    refined_cells : int, coarse cells re-sampled
    growth : int, of these the cells added because the fine surface reached into them
    """

    def __init__(self, runner, point, E, q, margin=0, tile=4):
        self.q = q = int(q)
        self.tile = int(tile)
        mu = runner.mu
        shp = np.array(E.shape[:3])
        self.shape = tuple(q * (shp - 1) + 1)
        self.E = E
        # coarse cells crossed by any band: corners with both signs of eps_i - mu
        s = E - mu
        corners = [s[dx:dx + shp[0] - 1, dy:dy + shp[1] - 1, dz:dz + shp[2] - 1]
                   for dx in (0, 1) for dy in (0, 1) for dz in (0, 1)]
        lo = np.minimum.reduce(corners)
        hi = np.maximum.reduce(corners)
        cells = ((lo < 0) & (hi > 0)).any(-1)
        if margin > 0 and cells.any():
            cells = ndimage.binary_dilation(cells, np.ones((3, 3, 3), bool), iterations=margin)
        self.index = np.zeros(0, np.int64)
        self.values = np.zeros((0, E.shape[-1]))
        self.growth = 0
        todo = cells.copy()
        o = np.stack(np.meshgrid(*[np.arange(q + 1)] * 3, indexing="ij"), -1).reshape(-1, 3)
        while todo.any():
            # fine points of the new cells, as flat indices of the fine grid (never allocated whole)
            c = np.argwhere(todo)
            flat = np.unique(np.ravel_multi_index((c[:, None, :] * q + o[None]).reshape(-1, 3).T,
                                                  self.shape))
            flat = flat[~self._has(flat)]
            I = np.stack(np.unravel_index(flat, self.shape), -1) / q
            val = runner.eigvals(point(I)) if len(I) else np.zeros((0, E.shape[-1]))
            idx = np.concatenate([self.index, flat])
            order = np.argsort(idx)
            self.index, self.values = idx[order], np.concatenate([self.values, val])[order]
            # a face of a new cell on which the fine values change sign: the surface goes on
            # into the neighbour, which is refined too (until the fine surface closes up)
            todo = np.zeros_like(cells)
            for ax in range(3):
                for side, step in ((0, -1), (q, 1)):
                    f = o[o[:, ax] == side]
                    fv = self._lookup(np.ravel_multi_index((c[:, None, :] * q + f[None]).reshape(
                        -1, 3).T, self.shape)).reshape(len(c), len(f), -1) - mu
                    cross = ((fv.min(1) < 0) & (fv.max(1) > 0)).any(-1)
                    nb = c.copy()
                    nb[:, ax] += step
                    ok = cross & (nb[:, ax] >= 0) & (nb[:, ax] < shp[ax] - 1)
                    nb = nb[ok]
                    todo[nb[:, 0], nb[:, 1], nb[:, 2]] = True
            todo &= ~cells
            cells |= todo
            self.growth += int(todo.sum())
        self.cells = cells
        self.refined_cells = int(cells.sum())
        self.n_evaluated = len(self.index)
        # tiles holding refined cells
        T = self.tile
        nt = -(-(shp - 1) // T)
        pad = np.zeros(tuple(nt * T), bool)
        pad[:cells.shape[0], :cells.shape[1], :cells.shape[2]] = cells
        has = pad.reshape(nt[0], T, nt[1], T, nt[2], T).any(axis=(1, 3, 5))
        self.tiles = np.argwhere(has) * T  # coarse index of each tile's origin

    def _has(self, flat):
        j = np.minimum(np.searchsorted(self.index, flat), max(len(self.index) - 1, 0))
        return self.index[j] == flat if len(self.index) else np.zeros(len(flat), bool)

    def _lookup(self, flat):
        """Fine values (M, N) at flat fine indices, all evaluated."""
        return self.values[np.searchsorted(self.index, flat)]

    def pieces(self, i):
        """(values, offset, scale) of eigenvalue i on each tile: values (eV) on the tile's
        fine grid, exact in the refined cells and trilinear elsewhere; a vertex at fine index
        coordinates v of the tile lies at coarse index coordinates v / scale + offset."""
        q, T = self.q, self.tile
        top = np.array(self.E.shape[:3]) - 1
        for a in self.tiles:
            b = np.minimum(a + T, top)
            f = _trilinear(self.E[a[0]:b[0] + 1, a[1]:b[1] + 1, a[2]:b[2] + 1, i], q)
            loc = np.stack(np.meshgrid(*[np.arange(m) for m in f.shape], indexing="ij"), -1)
            flat = np.ravel_multi_index((loc + a * q).reshape(-1, 3).T, self.shape)
            hit = self._has(flat)
            f = f.ravel()
            f[hit] = self.values[np.searchsorted(self.index, flat[hit]), i]
            yield f.reshape(loc.shape[:3]), a.astype(float), float(q)


def _trilinear(a, q):
    """Trilinear interpolant of a (n0, n1, n2) on the grid q times finer (corners kept)."""
    out = a
    for ax in range(3):
        n = out.shape[ax]
        x = np.arange(q * (n - 1) + 1) / q
        j = np.minimum(np.floor(x).astype(int), n - 2)
        t = x - j
        lo = np.take(out, j, axis=ax)
        hi = np.take(out, j + 1, axis=ax)
        sh = [1, 1, 1]
        sh[ax] = -1
        t = t.reshape(sh)
        out = lo * (1 - t) + hi * t
    return out


__all__ = ["FineGrid"]
