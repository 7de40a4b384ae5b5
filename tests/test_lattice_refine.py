"""fermi_surface.refine (slabqkt/lattice/refine.py): the refined region grows where the fine
surface leaves it; on a synthetic level set, without a lattice model."""
import numpy as np
from skimage.measure import marching_cubes

from slabqkt.lattice.refine import FineGrid

# two spheres, in units of the coarse grid step. A holds grid points ((4, 4, 4), (5, 4, 4), ...),
# so the cells round them are crossed at the coarse level, among them C = [5, 6] x [4, 5]^2.
# B (radius 0.45, centred on the face x = 6 between C and D = [6, 7] x [4, 5]^2) holds no grid
# point: refined, C shows B's left half, and the fine values change sign on the face x = 6,
# so D (all corners outside) must be refined too, or B is cut open there.
A, RA = np.array([4.3, 4.4, 4.5]), 1.0
B, RB = np.array([6.0, 4.5, 4.5]), 0.45


class Runner:
    mu = 0.0

    def eigvals(self, k):
        k = np.asarray(k, float)
        fa = np.sum((k - A) ** 2, -1) - RA ** 2
        fb = np.sum((k - B) ** 2, -1) - RB ** 2
        return np.minimum(fa, fb)[..., None]


def _area(fg, off, q):
    verts, faces, _, _ = marching_cubes(fg, 0.0, allow_degenerate=False)
    T = (verts / q + off)[faces]
    return 0.5 * np.linalg.norm(np.cross(T[:, 1] - T[:, 0], T[:, 2] - T[:, 0]), axis=-1).sum()


def test_refined_region_grows_into_the_cells_the_fine_surface_reaches():
    r = Runner()
    n = 10
    g = np.stack(np.meshgrid(*[np.arange(n + 1.0)] * 3, indexing="ij"), -1)
    E = r.eigvals(g)
    cells_d = E[6:8, 4:6, 4:6, 0]
    assert E[5:7, 4:6, 4:6, 0].min() < 0 < E[5:7, 4:6, 4:6, 0].max()  # C crossed (by A)
    assert cells_d.min() > 0  # D not
    q = 8
    fine = FineGrid(r, lambda I: I, E, q)
    area = sum(_area(f, off, sc) for f, off, sc in fine.pieces(0)
               if f.min() < 0 < f.max())
    exact = 4 * np.pi * (RA ** 2 + RB ** 2)
    assert fine.cells[6, 4, 4] and fine.growth > 0  # D grown into
    assert abs(area - exact) < 0.02 * exact, (area, exact)  # both spheres closed (B: 17 % of it)
