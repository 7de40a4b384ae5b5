"""Film orientation: the rotation to the film frame, its reciprocal basis and Zone.

The film frame has x along the film normal. The normal is a lattice-plane
normal, given as

* Miller indices (hkl): in the conventional cubic basis for the cubic
  lattices 'sc', 'bcc', 'fcc' (the normal is the Cartesian direction
  (h, k, l) of the cubic axes, the usual crystallographic convention) and for
  'square' (h, k); for a general lattice (inline tight-binding models) in the
  primitive reciprocal basis: G = h b_1 + k b_2 (+ l b_3);
* or a Cartesian direction (crystal frame), which must be parallel to a
  reciprocal-lattice vector (with integer coordinates up to ``MAX_INDEX``).

The rotation R (film = R crystal, proper) sends the normal to x and the
in-plane axis to y. Default in-plane axis (3D): the projection of the crystal
y axis onto the plane, or of the crystal z axis when y is along the normal;
so a normal along crystal x gives R = 1, (001) gives film (x, y, z) =
crystal (z, y, -x), (110) gives film y = [-110], z = [001]. In 2D the
in-plane axis is fixed by R being proper: y_film = z x normal.

The film-frame reciprocal basis has b_0 = (B, 0, ...), the shortest
reciprocal-lattice vector along the normal; its integer coordinates
(primitive reciprocal basis) have gcd 1 and are completed to a unimodular
integer matrix M (extended Euclid), rows b'_i = sum_j M_ij b_j, then the
in-plane rows are Lagrange-Gauss reduced (still unimodular).
"""
import dataclasses
import math

import numpy as np

from ..errors import CaseError
from .zone import Zone

#: Largest |integer coordinate| searched when a Cartesian normal is matched to a
#: reciprocal-lattice vector.
MAX_INDEX = 24
CUBIC = ("sc", "bcc", "fcc", "square")


def reciprocal(lattice):
    """Reciprocal basis rows b_i (nm^-1), a_i . b_j = 2 pi delta_ij."""
    A = np.asarray(lattice, float)
    return 2 * np.pi * np.linalg.inv(A).T


def _egcd(a, b):
    """(g, x, y) with a x + b y = g = gcd(a, b) >= 0."""
    x0, y0, x1, y1 = 1, 0, 0, 1
    while b:
        q, a, b = a // b, b, a % b
        x0, x1 = x1, x0 - q * x1
        y0, y1 = y1, y0 - q * y1
    if a < 0:
        a, x0, y0 = -a, -x0, -y0
    return a, x0, y0


def unimodular_completion(c):
    """An integer matrix M with det M = 1 and first row c (gcd(c) = 1).

    Column operations reduce c to (1, 0, ..): c V = e_1 with V unimodular
    (each step an extended-Euclid 2x2 block); then M = V^-1 has e_1 M = c.
    """
    c = [int(v) for v in c]
    d = len(c)
    V = np.eye(d, dtype=object)
    row = list(c)
    for j in range(1, d):
        a, b = row[0], row[j]
        if b == 0:
            continue
        g, x, y = _egcd(a, b)
        # columns (0, j) -> (x col0 + y colj, -b/g col0 + a/g colj): det = (x a + y b)/g = 1
        T = np.eye(d, dtype=object)
        T[0, 0], T[j, 0], T[0, j], T[j, j] = x, y, -(b // g), a // g
        V = V.dot(T)
        row = [sum(row[i] * T[i, k] for i in range(d)) for k in range(d)]
    if row[0] == -1:
        T = np.eye(d, dtype=object)
        T[0, 0] = -1
        if d > 1:
            T[1, 1] = -1
        V = V.dot(T)
        row = [-row[0]] + [0] * (d - 1)
    if row[0] != 1 or any(row[1:]):
        raise ValueError(f"{c}: the integer coordinates of the normal must have gcd 1")
    M = _int_inverse(V)
    assert [int(x) for x in M[0]] == c
    return M


def _int_inverse(V):
    """Exact inverse of a unimodular integer matrix (checked in integer arithmetic)."""
    Vi = np.array(V, dtype=np.int64)
    Mi = np.rint(np.linalg.inv(Vi.astype(float))).astype(np.int64)
    if not (Mi @ Vi == np.eye(len(Vi), dtype=np.int64)).all():  # pragma: no cover
        raise ValueError("integer inverse failed")
    return Mi


def _integer_direction(c, key, value):
    """The primitive integer vector along c (real coordinates), or a CaseError."""
    c = np.asarray(c, float)
    big = np.abs(c).max()
    if big == 0 or not np.all(np.isfinite(c)):
        raise CaseError(key, value, "allowed: a non-zero direction")
    c = c / big
    for m in range(1, MAX_INDEX + 1):
        v = c * m
        r = np.rint(v)
        if np.abs(v - r).max() < 1e-8 * m:
            g = 0
            for x in r.astype(int):
                g = math.gcd(g, int(x))
            return (r.astype(int) // g).astype(int)
    raise CaseError(key, value, "not a lattice-plane normal: no reciprocal-lattice vector along "
                    f"it (integer coordinates up to {MAX_INDEX}); give Miller indices of a plane")


@dataclasses.dataclass
class FilmOrientation:
    """Film frame of a lattice.

    Attributes
    ----------
    rotation : ndarray (d, d)
        Proper rotation R, film vector = R crystal vector.
    miller : tuple of int
        Integer coordinates of b_0 in the primitive reciprocal basis (gcd 1).
    key, value
        The case key and value that fixed the normal (for error messages).
    unimodular : ndarray (d, d) int
        M: film reciprocal basis rows = M @ (primitive reciprocal basis), rotated.
    reciprocal : ndarray (d, d)
        Film-frame reciprocal basis rows (nm^-1), b_0 = (B, 0, ...).
    zone : Zone
    """

    rotation: np.ndarray
    miller: tuple
    key: str
    value: object
    unimodular: np.ndarray
    reciprocal: np.ndarray
    zone: Zone


def _default_rotation(n, inplane, key_inplane="film.inplane_axis"):
    d = len(n)
    n = n / np.linalg.norm(n)
    if d == 2:
        return np.array([n, [-n[1], n[0]]])
    if inplane is None:
        y = np.array([0.0, 1.0, 0.0])
        y = y - n * (n @ y)
        if np.linalg.norm(y) < 1e-8:
            y = np.array([0.0, 0.0, 1.0]) - n * n[2]
    else:
        y = np.asarray(inplane, float)
        if y.shape != (3,) or not np.all(np.isfinite(y)) or np.linalg.norm(y) == 0:
            raise CaseError(key_inplane, inplane, "allowed: a non-zero Cartesian 3-vector")
        if abs(n @ y) > 1e-9 * np.linalg.norm(y):
            raise CaseError(key_inplane, inplane, "allowed: a direction perpendicular to the "
                            "film normal (it becomes the film y axis)")
    y = y / np.linalg.norm(y)
    return np.array([n, y, np.cross(n, y)])


def _gauss_reduce(M, Bf):
    """Lagrange-Gauss reduce rows 1, 2 of M (integer) on their in-plane projections."""
    M = M.copy()
    if M.shape[0] != 3:
        return M
    for _ in range(100):
        q = (M[1:] @ Bf)[:, 1:]
        if q[0] @ q[0] > q[1] @ q[1]:
            M[[1, 2]] = M[[2, 1]]
            M[2] = -M[2]  # keep det = +1
            continue
        q = (M[1:] @ Bf)[:, 1:]
        mu = int(np.rint((q[0] @ q[1]) / (q[0] @ q[0])))
        if mu == 0:
            break
        M[2] = M[2] - mu * M[1]
    return M


def film_orientation(lattice, normal_miller=None, normal_cartesian=None, inplane=None,
                     conventional=False):
    """Film frame of a Bravais lattice (crystal-frame rows a_i, nm).

    Parameters
    ----------
    lattice : ndarray (d, d)
    normal_miller : sequence of int, optional
        Miller indices: conventional cubic basis if ``conventional`` (the
        lattice is cubic/square with Cartesian cubic axes), else primitive
        reciprocal basis.
    normal_cartesian : sequence of float, optional
        Crystal-frame Cartesian direction. Default (neither): x.
    inplane : sequence of float, optional
        Crystal-frame Cartesian in-plane axis (becomes film y), 3D only.

    Returns
    -------
    FilmOrientation
    """
    A = np.asarray(lattice, float)
    d = A.shape[0]
    B = reciprocal(A)
    if normal_miller is not None and normal_cartesian is not None:
        raise CaseError("film.normal_cartesian", normal_cartesian,
                        "give film.normal_miller or film.normal_cartesian, not both")
    if normal_miller is not None:
        key, value = "film.normal_miller", tuple(normal_miller) if isinstance(
            normal_miller, (list, tuple)) else normal_miller
        ok = (isinstance(normal_miller, (list, tuple)) and len(normal_miller) == d
              and all(isinstance(v, int) and not isinstance(v, bool) for v in normal_miller)
              and any(normal_miller))
        if not ok:
            raise CaseError(key, normal_miller, f"allowed: {d} integers, not all 0")
        hkl = np.array(normal_miller, float)
        if conventional:
            normal = hkl  # Cartesian direction of the cubic axes
            c = A @ normal  # coordinates in the reciprocal basis, up to 2 pi / a
        else:
            normal = hkl @ B
            c = hkl
    else:
        key = "film.normal_cartesian"
        v = [1.0] + [0.0] * (d - 1) if normal_cartesian is None else normal_cartesian
        value = tuple(x if isinstance(x, int) else float(x) for x in v) if isinstance(
            v, (list, tuple)) and all(isinstance(x, (int, float)) for x in v) else v
        ok = (isinstance(v, (list, tuple)) and len(v) == d and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) for x in v))
        if not ok or not any(v):
            raise CaseError(key, v, f"allowed: a non-zero Cartesian {d}-vector")
        normal = np.array(v, float)
        c = A @ normal
    ints = _integer_direction(c, key, value)
    G0 = ints @ B
    if G0 @ normal < 0:
        ints = -ints
        G0 = -G0
    R = _default_rotation(G0, inplane)
    M = unimodular_completion(ints)
    Bf = B @ R.T  # primitive reciprocal basis in the film frame
    M = _gauss_reduce(M, Bf)
    rec = M @ Bf
    rec[0, 1:] = 0.0  # exactly along x (it is, up to rounding)
    zone = Zone.from_reciprocal(rec)
    return FilmOrientation(R, tuple(int(x) for x in ints), key, value, M, rec, zone)


def check_specular(model, energy, window_eV=0.5, n=64, seed=0, tol=None):
    """Check eps_n(-k_x, k_par) = eps_n(k_x, k_par) for every band near ``energy``.

    Parameters
    ----------
    model : LatticeModel
    energy : float
        Energy (eV), e.g. the Fermi level.
    window_eV : float
        Bands within this distance of ``energy`` are compared.
    n : int
        Random points in the zone.
    tol : float, optional
        Allowed eigenvalue mismatch (eV); default 1e-8 (1 + spectral width).

    Raises
    ------
    CaseError
        On the key that fixed the normal, naming it.
    """
    zone = model.zone
    d = model.dimension
    rng = np.random.default_rng(seed)
    t = rng.random((n, d)) - 0.5
    k = zone.wrap(t @ zone.reciprocal)
    km = k.copy()
    km[:, 0] = -km[:, 0]
    e1 = np.linalg.eigvalsh(model.h(k))
    e2 = np.linalg.eigvalsh(model.h(km))
    if tol is None:
        lo, hi = model.energy_bounds()
        tol = 1e-8 * (1.0 + hi - lo)
    near = np.abs(e1 - energy) <= window_eV
    mismatch = np.abs(e1[:, :, None] - e2[:, None, :]).min(-1)
    near2 = np.abs(e2 - energy) <= window_eV
    mismatch2 = np.abs(e2[:, :, None] - e1[:, None, :]).min(-1)
    bad = max(np.where(near, mismatch, 0).max(initial=0), np.where(near2, mismatch2, 0).max(initial=0))
    if bad > tol:
        ori = getattr(model, "orientation", None)
        key, value = ("film.normal_miller", getattr(model, "miller", None)) if ori is None else (
            ori.key, ori.value)
        raise CaseError(key, value, "the band structure is not symmetric under k_x -> -k_x for "
                        "this normal: specular reflection is undefined (e.g. fcc (111), where "
                        "the specular partner is another root on the same k_par line; "
                        f"mismatch {bad:.3g} eV); choose a normal with a mirror plane or a "
                        "2-fold axis, e.g. (001) or (110)")
    return True
