"""Memory estimate of a run, checked before anything large is allocated.

The estimate counts the arrays that dominate (float64 = 8 bytes, complex128 = 16 bytes), for
a case with N bands, R rays (2D: n_angles; 3D: n_angles x 2 n_polar), at most S = N R
Fermi points, r <= N^2 collision moments and n = n_x + 1 nodes:

- Fermi-surface search: the radial scan evaluates h on R x 256 points, ~3 N^2 complex each;
  lattice models: the eigenvalues on the half-zone grid of fermi_surface.lattice_grid and
  eigen-solves in batches of 4096 points;
- Fermi surface and eigensystem: per point U, P, dh (d + 1 copies) and the observable weights,
  ~ (8 + 2 d) N^2 complex and 2 r floats (collision coefficients);
- Fermi-sea (intrinsic) chunks of 20 000 points, ~(6 + 2 d) N^2 complex each;
- the slab sweep: about 12 arrays of n x S/ranks floats (transfer factors, sources,
  characteristics, phi and its gradient);
- GMRES: (restart + 2) vectors of n r + 2 unknowns;
- the matrix intraband distribution (``disorder.intraband_form`` 'matrix'): r_s^2
  components per point, counted as 2 S (doublets), each with its operator G_a (N^2 complex) and
  its N^2 basis coefficients before compression; the sweep runs over components. 'auto' is
  estimated as the scalar form first and checked again as 'matrix' once the Fermi surface shows
  that it resolves to the matrix form (:mod:`slabqkt.simulation`).

The estimate is an upper bound of the peak within a factor of about 2; more than the memory
the machine has available (``MemAvailable`` of /proc/meminfo) is an error before the run
starts. ``SLABQKT_NO_MEMORY_CHECK=1`` turns the refusal into a warning.
"""
import os

from .case import N_OF_KIND
from .errors import CaseError
from .tools import comm_rank, get_logger

log = get_logger("resources")

SCAN_POINTS = 256  # radial scan of fermi_surface.crossing_radii
SEA_CHUNK = 20000  # points per chunk of observables.intrinsic_all
LATTICE_CHUNK = 4096  # points per eigen-solve batch of lattice.fermi_surface.Runner
SWEEP_ARRAYS = 12
_last_line = [None]


def available_bytes():
    """Memory available to a new process (bytes): MemAvailable of /proc/meminfo, else the
    free physical pages (os.sysconf), else None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def sizes(case, bands=None):
    """Problem sizes of a resolved case (upper bounds before the Fermi surface is known).

    ``bands`` is N for lattice models (known once the model is built); their Fermi points
    are estimated from fermi_surface.n_points (2D) or the isosurface grid (3D).

    Returns
    -------
    dict
        bands N, rays, fermi_points (<= N rays), moments (<= N^2), nodes (None for a bulk-only
        case) and unknowns (nodes moments + 2, or None).
    """
    fs = case["fermi_surface"]
    d = case["model"]["dimension"]
    N = N_OF_KIND.get(case["model"]["kind"], bands)
    if N is None:
        raise ValueError("sizes() of a lattice case needs bands=N")
    if case["model"]["kind"] in N_OF_KIND:
        rays = fs["n_angles"] * (2 * fs["n_polar"] if d == 3 else 1)
    else:  # lattice: "rays" counts Fermi points per band; at most 6 sheets (3 Kramers pairs)
        # are assumed to cross, marching cubes gives ~ 8 n^2 nodes per sheet on an n^3 grid
        n = fs["lattice_grid"]
        sheets = min(N, 6)
        per_sheet = max((fs.get("n_points") or 256) // sheets, 8 * n * n if d == 3 else 0)
        rays = per_sheet * sheets // N
    slab = case["slab"]
    has_slab = "thickness_nm" in slab or "thickness_mfp" in slab
    nodes = slab["n_x"] + 1 if has_slab else None
    r = N * N
    return {"bands": N, "dimension": d, "rays": rays, "fermi_points": N * rays, "moments": r,
            "nodes": nodes, "unknowns": nodes * r + 2 if has_slab else None}


def estimate(case, ranks=1, bands=None):
    """Peak memory (bytes) of one process of a run, by part; see the module docstring.

    Returns
    -------
    dict
        'fermi_search', 'fermi_surface', 'fermi_sea', 'sweep', 'krylov' and 'total' in bytes.
    """
    z = sizes(case, bands)
    N, d, S, r = z["bands"], z["dimension"], z["fermi_points"], z["moments"]
    N2 = N * N
    if case["model"]["kind"] in N_OF_KIND:
        search = z["rays"] * SCAN_POINTS * (3 * N2 * 16 + 8 * (N + d))
    else:
        # lattice sampler: eigenvalues on the half-zone grid, then eigen-solves in chunks of
        # LATTICE_CHUNK points (h, U, dh, dh U: (2 + 2d) N^2 complex each), never the grid at once
        n = case["fermi_surface"]["lattice_grid"]
        grid = (n // 2 + 1) * (n + 1) ** (d - 1)
        search = 2 * grid * N * 8 + LATTICE_CHUNK * ((2 + 2 * d) * N2 * 16 + 8 * (N + d))
    out = {
        "fermi_search": search,
        "fermi_surface": S * ((8 + 2 * d) * N2 * 16 + 2 * r * 8),
        "fermi_sea": min(S * case["fermi_surface"]["n_radial"], SEA_CHUNK) * (6 + 2 * d) * N2 * 16,
        "sweep": 0,
        "krylov": 0,
    }
    units = S
    if case["disorder"].get("intraband_form", "auto") == "matrix":
        units = 2 * S  # components of doublets (distribution.Components)
        out["fermi_surface"] += units * (N2 * (16 + 8) + r * 8)
    if z["nodes"] is not None:
        out["sweep"] = SWEEP_ARRAYS * 8 * z["nodes"] * -(-units // max(1, ranks))
        out["krylov"] = (case["solver"]["restart"] + 4) * 8 * z["unknowns"]
    out["total"] = max(out["fermi_search"], out["fermi_sea"]) + out["fermi_surface"] \
        + out["sweep"] + out["krylov"]
    return out


def _gib(b):
    return f"{b / 2 ** 30:.3g} GiB"


def check_memory(case, ranks=1, available=None, bands=None):
    """Log the problem size and the memory estimate; refuse a run that cannot fit.

    Parameters
    ----------
    case : dict
        A resolved case.
    ranks : int
        MPI ranks sharing the Fermi points of the slab sweep.
    available : int, optional
        Bytes available (default :func:`available_bytes`).

    Raises
    ------
    CaseError
        Naming the key of the largest part (slab.n_x, fermi_surface.n_angles, ...) when the
        estimate exceeds the available memory.
    """
    z, est = sizes(case, bands), estimate(case, ranks, bands)
    avail = available_bytes() if available is None else available
    line = (f"problem size: up to {z['fermi_points']} Fermi points ({z['bands']} band(s) x "
            f"{z['rays']} rays)" + (f", {z['nodes']} nodes, up to {z['unknowns']} unknowns"
                                    if z["nodes"] else " (bulk only)")
            + f"; memory estimate {_gib(est['total'])} per process"
            + (f" of {_gib(avail)} available" if avail else ""))
    if comm_rank() == 0 and line != _last_line[0]:
        log.info("%s", line)
        _last_line[0] = line
    if avail is None or est["total"] <= avail:
        return est
    fs = case["fermi_surface"]
    parts = {k: v for k, v in est.items() if k != "total"}
    big = max(parts, key=parts.get)
    if big in ("sweep", "krylov") and z["nodes"] is not None and \
            est["sweep"] < est["krylov"] and case["solver"]["restart"] > 60:
        key, value = "solver.restart", case["solver"]["restart"]
    elif big in ("sweep", "krylov"):
        key, value = "slab.n_x", case["slab"]["n_x"]
    elif big == "fermi_sea":
        key, value = "fermi_surface.n_radial", fs["n_radial"]
    elif case["model"]["kind"] not in N_OF_KIND:
        key, value = ("fermi_surface.n_points", fs.get("n_points")) if fs.get("n_points") else \
            ("fermi_surface.lattice_grid", fs["lattice_grid"])
    elif z["dimension"] == 3 and fs["n_polar"] > fs["n_angles"] // 2:
        key, value = "fermi_surface.n_polar", fs["n_polar"]
    else:
        key, value = "fermi_surface.n_angles", fs["n_angles"]
    detail = ", ".join(f"{k.replace('_', ' ')} {_gib(v)}" for k, v in parts.items() if v)
    msg = (f"the run needs about {_gib(est['total'])} of memory ({detail}), more than the "
           f"{_gib(avail)} available; allowed: a smaller value (or more memory, more MPI ranks "
           "for the slab sweep)")
    if os.environ.get("SLABQKT_NO_MEMORY_CHECK", "") not in ("", "0"):
        log.warning("%s = %r: %s (SLABQKT_NO_MEMORY_CHECK set: going on)", key, value, msg)
        return est
    raise CaseError(key, value, msg)
