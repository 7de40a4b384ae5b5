"""k rule of lattice models for the Kubo sums: the zone grid, refined at the Fermi surface.

The Kubo-Bastin sums run over the whole Brillouin zone (the Fermi-sea part II) and
contain products of Green's functions G = (mu - h(k) - Sigma)^-1 of width Gamma
(= -Im Sigma) in energy, i.e. Lorentzians of width Gamma/|v| in k across the Fermi
surface. The rule is a midpoint rule on a hierarchy of cells:

- level 0: the uniform midpoint grid of the zone (``n_k`` cells per reciprocal axis,
  k = sum_i (j_i + 1/2)/n_k b_i, the grid of slabqkt.lattice.fermi_sea.zone_grid), every
  cell of weight V_BZ/(n_k^d (2 pi)^d);
- a cell of level l (side 1/(n_k r^l) in fractional coordinates, ``r = refine``) is split
  into r^d sub-cells (level l + 1) when some band at its centre lies within
  ``margin`` g h_l + ``window`` Gamma of mu and g h_l > Gamma/``resolution``, with h_l the
  largest distance from the centre to a corner (nm^-1) and
  g = (sum_i ||dh/dk_i||_2^2)^(1/2) at the centre (eV nm), a bound on every band's
  |grad eps_n| (|eps_n(k) - eps_n(k_c)| <= g h over the cell up to the variation of g);
- the leaves (cells not split) give the points: a leaf next to the Fermi surface (left
  unsplit because it is fine enough) its centre, a leaf left for its distance from mu the
  2^d points of the tensor 2-point Gauss rule (``far_rule``), each with its share of the
  cell's weight.

Every cell is thus either resolved (the energy varies by at most Gamma/resolution over
it: next to the Fermi surface the midpoint rule is the trapezoidal rule of an analytic
integrand whose poles lie Gamma/|v| away, error ~ exp(-2 pi resolution |v|/g)) or at a
distance from the Fermi surface at least ``margin`` times its own size (a graded mesh:
the local error of the midpoint rule there would be ~ (h/D)^2 of the integrand's share,
about 1/(12 pi margin^3) relative for a Lorentzian, e.g. 9e-4 at margin 4 for the 2D
density of states; the 2-point Gauss rule's (h/D)^4 brings it to ~1e-5). The base grid converges the smooth
Fermi-sea part; its error is exponential in n_k for analytic bands (the jump of the
occupations is smoothed to the width Gamma, which the refinement resolves).

``window`` covers the shift of the poles by the Hermitian part of Sigma (the default
real_part = 'full' for lattice models keeps it: of the order of Gamma).

The rule is deterministic and built in full on every rank (eigenvalues only); the ranks
then take contiguous shares of its points (KSample.local): the costly Green's-function
sums split evenly.
"""
import numpy as np

from ..errors import ModelError, SlabQKTError
from ..lattice.fermi_sea import zone_grid
from .sample import KSample

#: default base grid per dimension
DEFAULT_N_K = {2: 64, 3: 24}


def _band_data(model, k, slope="bound", chunk=8192):
    """Eigenvalues (Nk, N) and slopes (eV nm) at the points k: 'bound', g (Nk, 1) =
    (sum_i ||dh/dk_i||_2^2)^(1/2) for every band; 'band', |grad eps_n| (Nk, N) from
    Hellmann-Feynman (the velocity of each band, no bound across the cell)."""
    ev, g = [], []
    for lo in range(0, len(k), chunk):
        kk = k[lo:lo + chunk]
        dh = model.dh(kk)  # (n, d, N, N)
        if slope == "band":
            e, U = np.linalg.eigh(model.h(kk))
            v = np.einsum("kan,kiab,kbn->kin", U.conj(), dh, U).real  # (n, d, N)
            ev.append(e)
            g.append(np.sqrt(np.sum(v * v, axis=1)))
        else:
            ev.append(np.linalg.eigvalsh(model.h(kk)))
            s = np.abs(np.linalg.eigvalsh(dh)).max(axis=-1)  # (n, d): ||dh/dk_i||_2
            g.append(np.sqrt(np.sum(s * s, axis=-1))[:, None])
    if not ev:
        return np.zeros((0, model.N)), np.zeros((0, 1))
    return np.concatenate(ev), np.concatenate(g)


#: the slabqkt kubo options of the controls
_FLAGS = {"n_k": "--n-k", "margin": "--k-margin", "resolution": "--k-resolution",
          "window": "--k-window"}


def _check(name, value, lo, integer=False):
    try:
        ok = value is not None and bool(np.isfinite(value)) and value >= lo
    except TypeError:
        ok = False
    if integer:
        ok = ok and float(value) == int(value)
    if not ok:
        kind = "an integer" if integer else "a number"
        flag = f" ({_FLAGS[name]})" if name in _FLAGS else ""
        raise SlabQKTError(f"kubo lattice sample {name}{flag} = {value!r}: allowed {kind} "
                           f">= {lo}")


def lattice_sample(model, n_k=None, energy_eV=None, broadening_eV=None, margin=2.0,
                   resolution=2.0, window=6.0, refine=2, max_levels=16, far_rule="gauss2",
                   slope="bound", max_points=20_000_000):
    """Zone-grid k rule of a lattice model, refined around the Fermi surface.

    Parameters
    ----------
    model : lattice model with ``zone`` (slabqkt.lattice.tight_binding.LatticeModel)
    n_k : int, optional
        Base midpoint grid: cells per reciprocal axis (default 64 in 2D, 24 in 3D).
    energy_eV : float or (2,) float, optional
        Fermi level mu (eV) around which to refine, or an energy interval (lo, hi) (T > 0:
        one rule for every energy of the -df/deps window; the distance to the interval
        replaces |eps - mu|); None: the uniform base grid only.
    broadening_eV : float, optional
        Gamma (eV), the Lorentzian half width to resolve; None: no refinement.
    margin : float
        Cells within margin x (their energy spread g h) of mu are split.
    resolution : float
        Refinement stops when g h <= Gamma/resolution (the energy varies by at most that
        much over a finest cell).
    window : float
        Cells within window x Gamma of mu are split too (the shift by Re Sigma).
    refine : int
        Sub-cells per axis of a split cell (2: dyadic).
    max_levels : int
        Bound on the number of refinement levels.
    far_rule : str
        Rule of the cells left unsplit for their distance from mu (not those at the finest
        resolution): 'gauss2', the tensor 2-point Gauss rule (2^d points, error ~ (h/D)^4
        of the local integrand at a distance D, D >= margin h), or 'midpoint' (one point,
        error ~ (h/D)^2).
    slope : str
        The energy spread of a cell: 'bound' (default), g h with g the bound on every band's
        slope (safe); 'band', |grad eps_n| h per band at the centre (Hellmann-Feynman;
        fewer points in multiband models whose fast bands lie far from mu, but no bound
        where a band curves strongly within a cell).
    max_points : int
        A rule growing beyond this many points is an error (raise Gamma or lower the
        controls) rather than a memory exhaustion.

    Returns
    -------
    KSample
        k (nm^-1) in the zone's fundamental domain (fractional coordinates in [0, 1)),
        w (nm^-d), sum w = V_BZ/(2 pi)^d; info with the controls, the number of points
        per level and the finest cell size.
    """
    zone = getattr(model, "zone", None)
    if zone is None:
        raise ModelError("lattice_sample needs a lattice model (with a Brillouin zone)")
    d = zone.dimension
    n_k = DEFAULT_N_K.get(d, 16) if n_k is None else n_k
    _check("n_k", n_k, 1, integer=True)
    _check("refine", refine, 2, integer=True)
    _check("max_levels", max_levels, 0, integer=True)
    for name, val in (("margin", margin), ("window", window)):
        _check(name, val, 0.0)
    _check("resolution", resolution, 1e-3)
    if slope not in ("bound", "band"):
        raise SlabQKTError(f"kubo lattice sample slope = {slope!r}: allowed 'bound', 'band'")
    n_k, refine, max_levels = int(n_k), int(refine), int(max_levels)
    B = np.asarray(zone.reciprocal, float)
    k0, w0 = zone_grid(zone, n_k)
    frac0 = (np.arange(n_k) + 0.5) / n_k
    frac = np.stack(np.meshgrid(*([frac0] * d), indexing="ij"), axis=-1).reshape(-1, d)
    # half diagonal of a cell of side 1 (fractional): max over corners of |sum_i +-b_i/2|
    corners = np.stack(np.meshgrid(*([[-0.5, 0.5]] * d), indexing="ij"), -1).reshape(-1, d)
    half_diag = float(np.max(np.linalg.norm(corners @ B, axis=-1)))
    refining = energy_eV is not None and broadening_eV is not None
    if refining:
        e_lo, e_hi = np.broadcast_to(np.asarray(energy_eV, float), (2,)) if np.ndim(
            energy_eV) == 0 else np.asarray(energy_eV, float)
        if not e_lo <= e_hi:
            raise SlabQKTError(f"kubo lattice sample energy_eV = {energy_eV!r}: allowed a "
                               "number or an interval (lo, hi) with lo <= hi")
        gam = float(broadening_eV)
        _check("broadening_eV", gam, 1e-300)
    sub = gauss = None
    if far_rule not in ("gauss2", "midpoint"):
        raise SlabQKTError(f"kubo lattice sample far_rule = {far_rule!r}: allowed 'gauss2', "
                           "'midpoint'")
    if refining and far_rule == "gauss2" and refine > 1:
        x = np.array([-0.5, 0.5]) / np.sqrt(3.0)
        gauss = np.stack(np.meshgrid(*([x] * d), indexing="ij"), -1).reshape(-1, d)
    if refining:
        t = (np.arange(refine) + 0.5) / refine - 0.5
        sub = np.stack(np.meshgrid(*([t] * d), indexing="ij"), -1).reshape(-1, d)
    ks, ws, counts = [], [], []
    side = 1.0 / n_k
    weight = w0
    level = 0
    finest = side * half_diag
    total = 0
    while True:
        kk = frac @ B
        if refining and level < max_levels and len(frac):
            ev, g = _band_data(model, kk, slope)
            h = side * half_diag
            dist = np.maximum(np.maximum(e_lo - ev, ev - e_hi), 0.0)  # (n, N)
            near_n = dist < margin * g * h + window * gam
            near = near_n.any(axis=-1)
            split = (near_n & (g * h > gam / resolution)).any(axis=-1)
        else:
            split = near = np.zeros(len(frac), bool)
        keep = ~split
        far = keep & ~near if gauss is not None else np.zeros(len(frac), bool)
        mid = keep & ~far
        ks.append(kk[mid])
        ws.append(np.full(int(mid.sum()), weight))
        if far.any():
            # cells left for their distance from mu: the tensor 2-point Gauss rule
            kf = (frac[far][:, None, :] + (side * gauss)[None]).reshape(-1, d) @ B
            ks.append(kf)
            ws.append(np.full(len(kf), weight / len(gauss)))
        counts.append(int(mid.sum()) + int(far.sum()) * (len(gauss) if gauss is not None else 1))
        total += counts[-1]
        if counts[-1]:
            finest = side * half_diag
        if not split.any():
            break
        n_next = int(split.sum()) * refine ** d
        if total + n_next > max_points:
            raise SlabQKTError(
                f"kubo lattice sample: more than max_points = {max_points} k points at "
                f"Gamma = {gam:.3g} eV (level {level + 1}, cell {side / refine * half_diag:.3g} "
                "nm^-1): raise the disorder strength or lower resolution/margin/n_k")
        frac = (frac[split][:, None, :] + (side * sub)[None]).reshape(-1, d)
        side /= refine
        weight /= refine ** d
        level += 1
    k = np.concatenate(ks)
    w = np.concatenate(ws)
    info = dict(kind="lattice", n_k=n_k,
                energy_eV=None if energy_eV is None else np.asarray(energy_eV, float).tolist(),
                broadening_eV=None if broadening_eV is None else float(broadening_eV),
                margin=float(margin), resolution=float(resolution), window=float(window),
                refine=refine, far_rule=far_rule, slope=slope, levels=len(counts) - 1, points_per_level=counts,
                finest_cell_nm_inv=float(finest), zone_volume=float(zone.volume))
    return KSample(k, w, d, info)
