"""Case files: TOML input, one section per concern, validated against a schema.

Every key has a type, a default, a unit and a range; :func:`load_case` and
:func:`resolve` reject unknown keys and out-of-range values with a one-line
:class:`~slabqkt.errors.CaseError` naming the key. ``docs/case_keys.md`` is
generated from :data:`SCHEMA` (``python -m slabqkt.case --markdown``).
"""
import copy
import math
import sys

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

from .errors import CaseError
from .keys import VECTOR_MAX, VECTOR_MIN_NORM, Key  # noqa: F401 (Key is part of this API)
from .lattice.builders import FILM_KEYS, KIND_DOC, LATTICE_KEYS, LATTICE_KINDS, anchor_paths
from .tools import get_logger

log = get_logger("case")

#: direction vectors: components bounded so that their squared norm is finite, and a length
#: that does not underflow when normalised
#: eigenspace size N of each model kind (custom matrices are N x N)
N_OF_KIND = {"parabolic": 1, "rashba": 2, "orbital_p": 3}
#: keys that replace each other: a key given with --set drops the others given in the file
ALTERNATIVES = (("slab.thickness_nm", "slab.thickness_mfp"),
                ("disorder.tau_fs", "disorder.mean_free_path_nm", "disorder.n_i_v0_sq"),
                ("boundaries.left.specularity", "boundaries.left.roughness_nm"),
                ("boundaries.right.specularity", "boundaries.right.roughness_nm"))
#: longest case name (it is a file stem: results/<name>.h5)
NAME_MAX = 100
#: range of the relaxation time however it is given (fs)
TAU_MIN, TAU_MAX = 1e-6, 1e9


_SURFACE = {
    "specularity": Key("float", None, "1", "Fuchs specularity p of this surface (probability of "
                       "specular reflection, the same for every state). Give this or roughness_nm; "
                       "neither means p = 0 (fully diffuse). A --set of one replaces the other.",
                       0.0, 1.0),
    "roughness_nm": Key("float", None, "nm", "rms roughness r: angle-dependent Ziman-Soffer "
                        "specularity p(s) = exp(-(2 k_x(s) r)^2). Excludes specularity.", 0.0, 1e6),
}

SCHEMA = {
    "model": {
        "kind": Key("str", "parabolic", "-", "Bloch Hamiltonian h(k). Continuum models: "
                    "'parabolic' (one band, N = 1), 'rashba' (2DEG with optional exchange, the "
                    "paper's Eq. 11, N = 2), 'orbital_p' (p-orbital l = 1 continuum model, "
                    "N = 3). " + KIND_DOC,
                    choices=("parabolic", "rashba", "orbital_p") + LATTICE_KINDS),
        "dimension": Key("int", 2, "-", "Dimension d of k-space: 2 (strip, k = (kx, ky)) or 3 "
                         "(film, k = (kx, ky, kz)). The slab normal is x.", choices=(2, 3)),
        "effective_mass": Key("float", 1.0, "m_e", "Effective mass m*/m_e of the parabolic part "
                              "(the range spans real materials, 0.01 to heavy fermions ~1e3).",
                              1e-4, 1e4),
        "alpha_R": Key("float", 0.0, "eV nm", "Rashba constant alpha_R: h += alpha_R "
                       "(sigma_x k_y - sigma_y k_x). Rashba model only (real materials: below "
                       "0.5 eV nm).", -10.0, 10.0),
        "exchange_eV": Key("float", 0.0, "eV", "Exchange splitting Delta = J_e: h += J_e m.sigma. "
                           "Rashba model only.", -100.0, 100.0),
        "magnetization": Key("vector", [0.0, 0.0, 1.0], "1", "Magnetization direction m "
                             "(normalised). Rashba model only: another model with a value other "
                             "than the default is an error.", length=3),
        "beta_eV_nm2": Key("float", 0.0, "eV nm^2", "Orbital texture beta: h += beta "
                           "(k^2 1 - k k^T) hbar^2-free form, i.e. beta (k.L)^2/hbar^2. "
                           "orbital_p model only.", -100.0, 100.0),
        "z_splitting_eV": Key("float", 0.0, "eV", "orbital_p model only: h += delta |p_z><p_z| "
                              "(delta in eV). In 2D it lifts the degeneracy of the transverse "
                              "eigenspace (in-plane transverse orbital and p_z, which the mirror "
                              "z -> -z keeps apart): delta -> 0 is the symmetry-resolved limit "
                              "of the matrix distribution (disorder.intraband_form).",
                              -100.0, 100.0),
        "unitary_seed": Key("int", None, "-", "If set, apply a random unitary basis change "
                            "h -> U h U^+ (and every observable O -> U O U^+) drawn with this "
                            "seed: results must not change (gauge test).", 0, 2 ** 63 - 1),
        **LATTICE_KEYS,
    },
    "film": dict(FILM_KEYS),
    "fermi_surface": {
        "fermi_level_eV": Key("float", 0.1, "eV", "Chemical potential mu (energy zero: the k = 0 "
                              "midpoint of the bands).", -100.0, 100.0),
        "n_angles": Key("int", 256, "-", "2D: number of rays on the circle (a multiple of 4: "
                        "mirror symmetric in kx and ky, no ray with kx = 0). 3D: azimuthal rays "
                        "about the x axis (multiple of 4).", 4, 2 ** 20),
        "angular_rule": Key("str", "gauss", "-", "2D ray rule: 'gauss' (Gauss-Legendre in theta "
                            "on each half circle k_x > 0, k_x < 0) or 'midpoint' (uniform).",
                            choices=("gauss", "midpoint")),
        "grazing_refinement": Key("str", "auto", "-", "Thin slabs (d/l < 0.1): 'auto' grades "
                                  "the angular rule geometrically towards v_x = 0 down to "
                                  "|v_x|/|v| ~ d/l (2D: in pi/2 - |theta|, 'gauss' rule only; "
                                  "3D: in mu = kx/|k|), where the grazing states carry the "
                                  "current; 'none' keeps the plain rule (a WARNING below d/l = "
                                  "0.01).", choices=("auto", "none")),
        "n_polar": Key("int", 16, "-", "3D only: Gauss-Legendre nodes in mu = kx/|k| on each "
                       "half (0,1) and (-1,0) (double-Gauss rule).", 1, 2 ** 16),
        "n_radial": Key("int", 64, "-", "Gauss-Legendre nodes per radial interval for Fermi-sea "
                        "(intrinsic) integrals.", 4, 2 ** 16),
        "degeneracy_tol_eV": Key("float", 1e-9, "eV", "Eigenvalues closer than this are one "
                                 "eigenspace (at most 0.01 eV). Merging is an approximation valid "
                                 "only for splittings below the disorder broadening: a tolerance "
                                 "that merges eigenvalues split on the Fermi surface by more than "
                                 "hbar/tau is an error (the largest merged splitting is logged).",
                                 0.0, 0.01, lo_open=True),
        "k_max": Key("float", None, "nm^-1", "Largest |k| searched for Fermi crossings "
                     "(default: from the model; at most 100 times the model's bound, or the "
                     "radial scan cannot resolve the crossings).", 0.0, 1e6, lo_open=True),
        "lattice_grid": Key("int", 64, "-", "Lattice models: k-grid points along each "
                            "reciprocal axis of the zone on which the Fermi contours (2D) or "
                            "isosurfaces (3D) are extracted before Newton refinement; it must "
                            "resolve every sheet (docs/fermi_surfaces.md).", 4, 4096),
        "n_points": Key("int", None, "-", "Lattice models: target number of Fermi points. 2D: "
                        "Gauss nodes shared among the contour pieces by length (default 256). "
                        "3D: the marching-cubes mesh is subdivided until it has at least this "
                        "many (default: no subdivision).", 8, 2 ** 26),
        "refine": Key("int", 1, "-", "Lattice models, 3D: the coarse cells of the lattice_grid "
                      "that the Fermi surface crosses (and a one-cell margin) are re-sampled on a "
                      "sub-grid this many times finer before marching cubes: the mesh of "
                      "lattice_grid x refine at about refine^3 lattice_grid^2 eigen-solves, for "
                      "sheets only a few grid steps across (the DOS error drops as 1/refine^2; "
                      "docs/wannier90.md, the Si pockets). 1: off.", 1, 64),
        "sea_grid": Key("int", 48, "-", "Lattice models: cells per reciprocal axis of the zone "
                        "grid of the Fermi-sea (intrinsic) part of Eq. (1); its error is "
                        "estimated with sea_grid/2 (docs/models.md).", 4, 4096),
        "sea_refine": Key("int", None, "-", "Lattice models: sub-cells per axis of the sea-grid "
                          "cells that the Fermi surface crosses (1: plain midpoint rule; default "
                          "4 in 2D, 2 in 3D).", 1, 64),
        "sea_tolerance": Key("float", 0.02, "1", "Lattice models: a WARNING is logged when the "
                             "two-grid error estimate of an intrinsic part exceeds this fraction "
                             "of the largest intrinsic part of that observable's scale.",
                             0.0, 1.0, lo_open=True),
    },
    "disorder": {
        "tau_fs": Key("float", None, "fs", "Relaxation time tau (DOS-averaged 1/tau). Give "
                      "exactly one of tau_fs, mean_free_path_nm, n_i_v0_sq (a --set of one "
                      "replaces the others). Whichever is given, tau must lie in "
                      "[1e-6, 1e9] fs.", TAU_MIN, TAU_MAX),
        "mean_free_path_nm": Key("float", None, "nm", "Mean free path l = <|v|> tau.",
                                 1e-6, 1e10),
        "n_i_v0_sq": Key("float", None, "eV^2 nm^d", "Scalar disorder strength n_i v_0^2 of "
                         "Eqs. (3)-(4).", 0.0, 1e10, lo_open=True),
        "intraband_form": Key("str", "auto", "-", "Intraband distribution of a "
                              "degenerate eigenspace (rank r_s > 1 on the Fermi surface): "
                              "'equal_occupation' (the paper's form: one occupation per state, "
                              "rho = sum_n f_n P_n), 'matrix' (an r_s x r_s Hermitian matrix per "
                              "state, its traceless part included: spin-orbit coupled doublets; "
                              "specular walls then need the model's mirror operator) or 'auto' "
                              "(the default: 'matrix' where a degenerate eigenspace has a "
                              "traceless part sourced by the scattering, else the scalar form, "
                              "exact there: no degeneracy, or P_s P_s' P_s proportional to P_s "
                              "as for Kramers doublets of T and I symmetric models). The result "
                              "attribute intraband_form records the form used. docs/theory.md, "
                              "'Degenerate eigenspaces'.", choices=("auto", "matrix",
                                                                    "equal_occupation")),
    },
    "slab": {
        "thickness_nm": Key("float", None, "nm", "Slab thickness d. Give this or "
                            "thickness_mfp (a --set of one replaces the other).", 1e-6, 1e10),
        "thickness_mfp": Key("float", None, "1", "Slab thickness in mean free paths, kappa = "
                             "d/l.", 1e-8, 1e8),
        "n_x": Key("int", 200, "-", "Number of cells of the x grid (nodes: n_x + 1). The "
                   "memory the run needs is estimated first: more than the machine has is an "
                   "error.", 2, 10 ** 7),
        "grid": Key("str", "auto", "-", "x grid: 'geometric' (cells growing by a constant "
                    "ratio from first_cell_mfp at each wall to the middle; uniform when the slab "
                    "is thin), 'cosine' (slab.grading), or 'auto': 'cosine' if slab.grading is "
                    "given, else 'geometric'. A WARNING says when the first cell exceeds l/2.",
                    choices=("auto", "geometric", "cosine")),
        "first_cell_mfp": Key("float", 0.1, "1", "Geometric grid: width of the cells at the "
                              "walls in mean free paths l.", 1e-8, 1e8),
        "grading": Key("float", None, "1", "Cosine grid (giving it selects slab.grid = "
                       "'cosine'; default 0.5): refinement near both surfaces, 0 (uniform) to 1 "
                       "(strongest): x = d (1 - cos(pi u))/2 blended with uniform.", 0.0, 1.0,
                       hi_open=True),
    },
    "boundaries": {
        "left": Key("table", {}, "-", "Surface at x = 0: keys specularity or roughness_nm."),
        "right": Key("table", {}, "-", "Surface at x = d: keys specularity or roughness_nm."),
    },
    "field": {
        "direction": Key("vector", [0.0, 1.0, 0.0], "1", "Direction of E (normalised). In-plane "
                         "for slab cases: its x component must be 0 (bulk-only cases, without "
                         "slab.thickness_*, take any direction).", length=3),
        "magnitude_V_per_m": Key("float", 1.0e5, "V/m", "|E|. Results are linear in it; "
                                 "the range keeps every number far from floating-point under- "
                                 "and overflow (1e12 V/m = 1 V/nm is beyond linear response "
                                 "anyway).", 1e-6, 1e12),
    },
    "temperature": {
        "kelvin": Key("float", 0.0, "K", "Temperature. T > 0 integrates independent energy "
                      "slices weighted by -df/de.", 0.0, 1e4),
        "n_energies": Key("int", 6, "-", "T > 0: energy slices per panel of the -df/de Gauss "
                          "rule over mu +- energy_window_kT kT; the window is split into panels "
                          "at band edges and clipped at the band bottom. A check rule with half "
                          "as many slices per panel (solved too) gives the error estimate.",
                          1, 10 ** 4),
        "energy_window_kT": Key("float", 12.0, "1", "T > 0: half width of the energy window "
                                "in units of kT.", 0.0, 100.0, lo_open=True),
        "tolerance": Key("float", 1e-4, "1", "T > 0: a WARNING when the relative error estimate "
                         "of the energy quadrature (current along E; result attribute "
                         "temperature_quadrature_error) exceeds this.", 0.0, 1.0, lo_open=True),
    },
    "observables": {
        "names": Key("list", ["density", "current_x", "current_y"], "-",
                     "Observables to evaluate: density, current_x/y/z, spin_x/y/z, orbital_x/y/z, "
                     "spin_current_<i><j> (hbar/4 {sigma_i, v_j}), orbital_current_<i><j> "
                     "({L_i, v_j}/2), or a name in [observables.custom].",
                     allowed_text="a list of observable names, e.g. [\"spin_z\"] (a scan "
                     "varies it with a list of such lists)"),
        "custom": Key("table", {}, "-", "User N x N Hermitian matrices: NAME = {real = [[..]], "
                      "imag = [[..]], unit = '...'} (real and/or imag, each exactly N x N finite "
                      "numbers; unit a string, default '1'; no other keys), in the model's basis. "
                      "NAME: not a built-in name, at most 64 printable characters without '/' or "
                      "'.'; every NAME must be listed in names."),
    },
    "solver": {
        "backend": Key("str", "scipy", "-", "'scipy' (embedded, one process) or 'petsc' "
                       "(petsc4py, any number of MPI ranks).", choices=("scipy", "petsc")),
        "rtol": Key("float", 1e-11, "1", "Relative residual tolerance of the Krylov solve.",
                    1e-16, 1.0, hi_open=True),
        "max_iterations": Key("int", 500, "-", "Maximum Krylov iterations (inner iterations, "
                              "all restart cycles together); not converging is an error.",
                              1, 10 ** 8),
        "restart": Key("int", 60, "-", "GMRES restart length.", 1, 10 ** 4),
        "preconditioner": Key("str", "dsa", "-", "'dsa' (diffusion synthetic acceleration of "
                              "the conserved density) or 'none'.", choices=("dsa", "none")),
        "petsc": Key("table", {}, "-", "PETSc options without the dash, e.g. "
                     "{ksp_type = 'gmres', ksp_monitor = true}. Command line options win."),
    },
    "output": {
        "file": Key("str", None, "-", "Result HDF5 path (default results/<case name>.h5)."),
        "plots": Key("bool", True, "-", "Write PNG plots beside the result file."),
    },
    "scan": {
        "vary": Key("table", {}, "-", "Scan only (`slabqkt scan`, docs/scans.md): quoted case "
                    "key = values, e.g. \"slab.thickness_mfp\" = [0.1, 1, 10], "
                    "\"boundaries.both.roughness_nm\" = 'log:0.02:1:7' (geometric), "
                    "'start:stop:num' (linear, ends included). boundaries.both.KEY sets both "
                    "surfaces. Each key is a dimension of the result; ignored by `slabqkt run`."),
        "mode": Key("str", "product", "-", "Scan only: 'product' (every combination, one "
                    "dimension per key) or 'zip' (i-th values together, equal lengths, one "
                    "dimension 'point').", choices=("product", "zip")),
        "directory": Key("str", None, "-", "Scan only: folder of the finished points, the "
                         "scan identity (scan.toml) and the combined scan.h5 (default "
                         "results/<case name>.scan, relative to the working directory)."),
    },
}


def _defaults():
    out = {}
    for sec, keys in SCHEMA.items():
        out[sec] = {k: copy.deepcopy(key.default) for k, key in keys.items() if key.default is not None}
    return out


def parse_value(text):
    """Parse a ``--set`` value as a TOML value (bare words are strings)."""
    try:
        return tomllib.loads("v = " + text)["v"]
    except tomllib.TOMLDecodeError:
        return text


def set_key(raw, dotted, value):
    """Set ``section.key`` (or ``boundaries.left.specularity``, or ``name``) in a raw case dict."""
    if dotted == "name":
        raw["name"] = value
        return raw
    parts = dotted.split(".")
    if len(parts) < 2 or parts[0] not in SCHEMA:
        raise CaseError(dotted, value, "allowed: name, or section.key with section one of "
                        + ", ".join(SCHEMA))
    node = raw
    for p in parts[:-1]:
        node = node.setdefault(p, {})
        if not isinstance(node, dict):
            raise CaseError(dotted, value, "allowed: a key inside a table")
    node[parts[-1]] = value
    return raw


def check_case_name(value):
    """The case name is a file stem (results/<name>.h5): a non-empty printable string of at most
    100 characters, no path separator, no '..', no leading '-' or '.', no surrounding spaces."""
    if (not isinstance(value, str) or not value or len(value) > NAME_MAX
            or not value.isprintable() or "/" in value or "\\" in value or ".." in value
            or value[0] in "-." or value != value.strip()):
        raise CaseError("name", value, f"allowed: a non-empty printable string of at most "
                        f"{NAME_MAX} characters usable as a file name (no '/', '\\', '..', no "
                        "leading '-' or '.', no surrounding spaces); the default is the case "
                        "file's stem")
    return value


def resolve(raw):
    """Validate a raw case dict and fill defaults.

    Returns
    -------
    dict
        The resolved case (plain TOML-serialisable data).
    """
    if not isinstance(raw, dict):
        raise CaseError("case", raw, "allowed: a TOML table")
    case = _defaults()
    for sec, table in raw.items():
        if sec == "name":
            case["name"] = check_case_name(table)
            continue
        if sec not in SCHEMA:
            raise CaseError(sec, table, "unknown section; allowed: name, " + ", ".join(SCHEMA))
        if not isinstance(table, dict):
            raise CaseError(sec, table, "allowed: a table")
        for key, value in table.items():
            name = f"{sec}.{key}"
            if key not in SCHEMA[sec]:
                raise CaseError(name, value, "unknown key; allowed: " + ", ".join(SCHEMA[sec]))
            case[sec][key] = SCHEMA[sec][key].check(name, value)
    for side in ("left", "right"):
        surf = case["boundaries"].get(side, {})
        for key, value in surf.items():
            name = f"boundaries.{side}.{key}"
            if key not in _SURFACE:
                raise CaseError(name, value, "unknown key; allowed: " + ", ".join(_SURFACE))
            surf[key] = _SURFACE[key].check(name, value)
        if "specularity" in surf and "roughness_nm" in surf:
            raise CaseError(f"boundaries.{side}.roughness_nm", surf["roughness_nm"],
                            "give specularity or roughness_nm, not both")
        case["boundaries"][side] = surf
    _cross_checks(case)
    _check_observables(case)
    case.setdefault("name", "case")
    return case


def _cross_checks(case):
    dis = case["disorder"]
    given = [k for k in ("tau_fs", "mean_free_path_nm", "n_i_v0_sq") if k in dis]
    if len(given) != 1:
        raise CaseError("disorder", {k: dis[k] for k in given},
                        "give exactly one of tau_fs, mean_free_path_nm, n_i_v0_sq")
    slab = case["slab"]
    given = [k for k in ("thickness_nm", "thickness_mfp") if k in slab]
    if len(given) > 1:
        raise CaseError("slab.thickness_mfp", slab["thickness_mfp"],
                        "give thickness_nm or thickness_mfp, not both")
    fdir = case["field"]["direction"]
    norm = math.sqrt(sum(v * v for v in fdir))  # > 0: Key.check bounds the components
    if abs(fdir[0]) > 1e-12 * norm and given:
        raise CaseError("field.direction", fdir, "allowed: in-plane fields only (x component 0; "
                        "x is the slab normal) when the case has a slab thickness; a field "
                        "along x needs a bulk-only case (no slab.thickness_*)")
    if case["model"]["dimension"] == 2 and abs(fdir[2]) > 1e-12 * norm:
        raise CaseError("field.direction", fdir, "allowed: z component 0 in a 2D model")
    fs = case["fermi_surface"]
    if fs["n_angles"] % 4:
        raise CaseError("fermi_surface.n_angles", fs["n_angles"],
                        "allowed: a multiple of 4 (mirror-symmetric sampling)")


def _check_observables(case):
    """Names are HDF5 group names; custom matrices are checked (size N of the model kind);
    a custom name may not shadow a built-in one and must be listed in names."""
    from .observables import check_name, is_builtin, validate_custom
    obs = case["observables"]
    names = obs["names"]
    for n in names:
        if not isinstance(n, str):
            raise CaseError("observables.names", names, SCHEMA["observables"]["names"].allowed())
        check_name("observables.names", n)
    custom = obs.get("custom", {})
    N = N_OF_KIND.get(case["model"]["kind"])  # lattice models: checked when the model is built
    clean = {}
    for cname, spec in custom.items():
        validate_custom(cname, spec, N)
        clean[cname] = {k: ([[float(v) for v in row] for row in val] if k != "unit" else val)
                        for k, val in spec.items()}
    obs["custom"] = clean
    for n in names:
        if n not in custom and not is_builtin(n):
            raise CaseError("observables.names", n,
                            "unknown observable; allowed: density, current_x/y/z, spin_x/y/z, "
                            "orbital_x/y/z, spin_current_ij, orbital_current_ij, or a name "
                            "defined in [observables.custom]")
    unused = [c for c in custom if c not in names]
    if unused:
        raise CaseError("observables.custom", unused, "defined but not evaluated: add them to "
                        "observables.names (or remove them)")


def _decode(path, data):
    """Text of a case file: UTF-8 (a UTF-8 byte-order mark is skipped); anything else is a
    one-line CaseError."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        raise CaseError("case file", str(path), "is UTF-16 (or UTF-32) text, not UTF-8: save it "
                        "as UTF-8 (TOML files are UTF-8)")
    if b"\x00" in data:
        raise CaseError("case file", str(path), "holds NUL bytes: not a UTF-8 text file (TOML "
                        "files are UTF-8 text)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CaseError("case file", str(path), f"is not UTF-8 text (byte "
                        f"0x{data[exc.start]:02x} at offset {exc.start}): save it as UTF-8 "
                        "(TOML files are UTF-8)") from None
    if not text.strip():
        raise CaseError("case file", str(path), "is empty: a case needs at least [disorder] "
                        "(see docs/case_keys.md and geometries/)")
    return text


def read_raw(path, overrides=()):
    """Read a case file as a raw dict (not validated) and apply ``--set`` overrides.

    A key set here replaces its alternatives (:data:`ALTERNATIVES`, e.g. thickness_nm and
    thickness_mfp) given in the file, with a log line saying so; two alternatives both set by
    overrides stay a conflict (an error of :func:`resolve`).

    Parameters
    ----------
    path : str or pathlib.Path
    overrides : iterable of str
        ``section.key=value`` strings, values parsed as TOML.
    """
    import pathlib
    path = pathlib.Path(path)
    if path.is_dir():
        raise CaseError("case file", str(path), "is a directory; give a case file (TOML)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CaseError("case file", str(path), f"cannot be read ({exc.strerror})") from None
    text = _decode(path, data)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CaseError("case file", str(path), f"is not valid TOML ({exc})") from None
    raw.setdefault("name", path.stem)
    anchor_paths(raw.get("model"), path.parent)  # file paths of the case: from its folder
    set_here = set()
    for item in overrides:
        if "=" not in item:
            raise CaseError("--set", item, "allowed: section.key=value")
        key, text_value = item.split("=", 1)
        key = key.strip()
        _drop_alternatives(raw, key, set_here)
        set_key(raw, key, parse_value(text_value.strip()))
        set_here.add(key)
    return raw


def _drop_alternatives(raw, key, keep=()):
    """Remove from ``raw`` the alternatives of ``key`` (except those in ``keep``), logged."""
    for group in ALTERNATIVES:
        if key not in group:
            continue
        for other in group:
            if other == key or other in keep:
                continue
            *sec, name = other.split(".")
            node = raw
            for p in sec:
                node = node.get(p) if isinstance(node, dict) else None
            if isinstance(node, dict) and name in node:
                value = node.pop(name)
                log.info("%s given: it replaces %s = %r of the case file", key, other, value)


def load_case(path, overrides=()):
    """Load and validate a case file (see :func:`read_raw`); returns the resolved case."""
    return resolve(read_raw(path, overrides))


def to_toml(case):
    """Serialise a resolved case to TOML text (for the result file), with a real TOML writer
    (keys quoted and strings escaped as needed): ``resolve(tomllib.loads(to_toml(case)))``
    gives ``case`` back."""
    import tomli_w
    out = {"name": case.get("name", "case")}
    for sec in SCHEMA:
        if sec in case:
            out[sec] = case[sec]
    return tomli_w.dumps(out)


def markdown():
    """The key reference of docs/case_keys.md, generated from SCHEMA."""
    out = ["# Case file keys", "",
           "Generated from `slabqkt/case.py` (`python -m slabqkt.case --markdown`). "
           "Unknown keys and out-of-range values are errors naming the key.", ""]
    for sec, keys in SCHEMA.items():
        out += [f"## [{sec}]", "", "| key | unit | default | allowed | meaning |", "|---|---|---|---|---|"]
        for k, key in keys.items():
            dflt = "—" if key.default is None else f"`{key.default!r}`"
            out.append(f"| `{k}` | {key.unit} | {dflt} | {key.allowed()[9:]} | {key.doc} |")
        if sec == "boundaries":
            out += ["", "Keys inside `[boundaries.left]` and `[boundaries.right]`:", "",
                    "| key | unit | allowed | meaning |", "|---|---|---|---|"]
            for k, key in _SURFACE.items():
                out.append(f"| `{k}` | {key.unit} | {key.allowed()[9:]} | {key.doc} |")
        out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    if "--markdown" in sys.argv:
        print(markdown())
