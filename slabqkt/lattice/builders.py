"""Case keys and the builder of lattice models (docs/models.md).

:data:`LATTICE_KINDS` are the new values of ``model.kind``,
:data:`LATTICE_KEYS` the new ``[model]`` keys and :data:`FILM_KEYS` the
``[film]`` section (the film orientation); :func:`build_lattice_model` turns a
``[model]`` table (and a ``[film]`` table) into a
:class:`~slabqkt.lattice.tight_binding.LatticeModel` in the film frame,
validating every value with a one-line :class:`~slabqkt.errors.CaseError`.
"""
import math
import os
import pathlib

import numpy as np

from ..keys import Key
from ..errors import CaseError, ModelError
from ..units import HBAR2_OVER_2ME
from . import orbitals as orb
from .orientation import check_specular, film_orientation
from .slater_koster import LATTICES, SK_PARAMETERS, shells_of, slater_koster_hoppings
from .tight_binding import LatticeModel

LATTICE_KINDS = ("tight_binding", "slater_koster", "square", "cubic", "rashba_square",
                 "orbital_p_lattice", "wannier90")

#: Doc text of the lattice kinds (for the model.kind key).
KIND_DOC = ("Lattice models (docs/models.md): 'tight_binding' (inline hoppings), "
            "'slater_koster' (s, p, d two-centre model on sc/bcc/fcc/square), 'square' / 'cubic' "
            "(one band -2t sum cos k_i a + 2dt), 'rashba_square' (lattice Rashba with exchange, "
            "N = 2), 'orbital_p_lattice' (p orbitals, l = 1, N = 3, or 6 with soc_p_eV).")

#: Two-centre integrals of the default shells of 'orbital_p_lattice' (eV).
ORBITAL_P_SHELLS = [{"pp_sigma": 1.0, "pp_pi": -0.25}, {"pp_sigma": 0.25, "pp_pi": -0.0625}]
DEFAULT_A_NM = 0.3

_PRESETS = ("square", "cubic", "rashba_square", "orbital_p_lattice")

LATTICE_KEYS = {
    "a_nm": Key("float", None, "nm", "Lattice constant a (conventional cubic or square cell) of "
                "the presets (default 0.3) and of slater_koster (required).", 0.0, lo_open=True),
    "t_eV": Key("float", None, "eV", "Nearest-neighbour hopping t of square, cubic, "
                "rashba_square: h = -2t sum_i cos(k_i a) + 2dt (band bottom 0). Default "
                "hbar^2/(2 m* a^2) from model.effective_mass (the continuum mass at small k).",
                0.0, lo_open=True),
    "lattice_vectors": Key("list", None, "nm", "tight_binding: rows a_i of the Bravais lattice "
                           "(d lists of d numbers, Cartesian crystal frame). wannier90: "
                           "overrides the cell of win_file / tb_file (3 lists of 3, nm)."),
    "positions": Key("list", None, "nm", "tight_binding: orbital positions tau_n (N lists of d "
                     "numbers, Cartesian), in the phase e^{ik.(R + tau_n - tau_m)}; default 0."),
    "hoppings": Key("list", None, "eV", "tight_binding: list of {R = [ints], real = [[..]], "
                    "imag = [[..]]} with H_mn(R) = <m,0|H|n,R> (N x N); an R whose -R is not "
                    "listed gets H(-R) = H(R)^dagger, a listed pair must satisfy it; H(0) "
                    "Hermitian."),
    "basis": Key("list", None, "-", "tight_binding, wannier90: optional descriptors of the N "
                 "states, "
                 "{site = i, orbital = 's'|'px'|..|'dxy', spin = 'up'|'down'} (site: a label, "
                 "the same for the two spin states of one orbital): spin and orbital operators "
                 "follow."),
    "lattice": Key("str", None, "-", "slater_koster: Bravais lattice, one atom per cell.",
                   choices=tuple(LATTICES)),
    "orbitals": Key("str", None, "-", "slater_koster: shells on the atom, 's', 'p', 'd' "
                    "combined in that order: 'sp', 'pd', 'spd', 'sp3', 'sp3d5', ... wannier90: "
                    "the shells of a one-atom model in Wannier90's order, e.g. 'spd' (default: "
                    "the win_file projections)."),
    "shells": Key("list", None, "eV", "slater_koster, orbital_p_lattice: two-centre integrals "
                  "per neighbour shell (nearest first), tables with keys "
                  + ", ".join(SK_PARAMETERS) + " (absent = 0). orbital_p_lattice default "
                  "[{pp_sigma = 1, pp_pi = -0.25}, {pp_sigma = 0.25, pp_pi = -0.0625}]."),
    "e_s_eV": Key("float", None, "eV", "slater_koster: on-site energy of s (default 0)."),
    "e_p_eV": Key("float", None, "eV", "slater_koster, orbital_p_lattice: on-site energy of p "
                  "(default 0)."),
    "e_d_eV": Key("float", None, "eV", "slater_koster: on-site energy of d (t2g, and eg unless "
                  "e_d_eg_eV is given; default 0)."),
    "e_d_eg_eV": Key("float", None, "eV", "slater_koster: on-site energy of the eg pair "
                     "(dz2, dx2-y2), default e_d_eV."),
    "soc_p_eV": Key("float", None, "eV", "On-site spin-orbit lambda_p L.S of p shells "
                    "(slater_koster, orbital_p_lattice); non-zero makes the model spinful."),
    "soc_d_eV": Key("float", None, "eV", "On-site spin-orbit lambda_d L.S of d shells "
                    "(slater_koster); non-zero makes the model spinful."),
    "spinful": Key("bool", None, "-", "slater_koster, orbital_p_lattice: two spin states per "
                   "orbital (default: true when a soc key is non-zero). wannier90: true doubles "
                   "a spinless file, H (x) 1 in spin (no spin-orbit coupling; order spin_order, "
                   "default 'interleaved'), so that spin observables exist (and vanish)."),
    "spin_order": Key("str", None, "-", "Spinful slater_koster, orbital_p_lattice: "
                      "'interleaved' (up, down per orbital, default) or 'block' (all up, then "
                      "all down). Spinful wannier90 (required): 'block' for VASP with Wannier90 "
                      "1.x (e.g. the Pt file), 'interleaved' for Wannier90 >= 2 spinor "
                      "projections.", choices=orb.SPIN_ORDERS),
    "hr_file": Key("str", None, "-", "wannier90: path of seedname_hr.dat, or of a tar archive "
                   "holding it (.tar.gz, read without unpacking). Absolute, or relative to the "
                   "folder of the case file (a --set value: to the working directory); the same "
                   "for every wannier90 path key. Excludes tb_file."),
    "tb_file": Key("str", None, "-", "wannier90: path of seedname_tb.dat (lattice inline; its "
                   "position matrix is kept as model.position_matrix). Excludes hr_file."),
    "wsvec": Key("str", None, "-", "wannier90: 'auto' (default: read seedname_wsvec.dat beside "
                 "the hoppings if it exists), 'none', or the path of the _wsvec.dat file."),
    "win_file": Key("str", None, "-", "wannier90: path of seedname.win (unit_cell_cart, "
                    "projections, spinors, atoms)."),
    "centres_file": Key("str", None, "-", "wannier90: path of seedname_centres.xyz: the "
                        "orbital positions tau (default: the atoms of the projections, else 0)."),
    "energy_reference_eV": Key("float", None, "eV", "wannier90: energy subtracted from the "
                               "(absolute) Wannier energies, so that fermi_surface.fermi_level_eV "
                               "is relative to it; default 0 (fermi_level_eV absolute). E.g. the "
                               "DFT Fermi energy with fermi_level_eV = 0."),
    "symmetrize": Key("list", None, "-", "wannier90: symmetries imposed on the hoppings, "
                      "from 'time_reversal', 'inversion', 'mirror' (a projection onto the "
                      "invariant part; needs orbital descriptors; inversion needs one site; "
                      "mirror is the plane perpendicular to the film normal, x -> -x, the "
                      "specular wall: needed by the mirror operator of degenerate eigenspaces, "
                      "docs/models.md). Default none."),
    "symmetry_tol_eV": Key("float", None, "eV", "wannier90: allowed eigenvalue mismatch of the "
                           "k_x -> -k_x check of the film normal (default 0.02: a Wannier model "
                           "keeps the crystal symmetry only to the accuracy of the "
                           "Wannierisation, e.g. 4-8 meV for the unsymmetrised Pt file at (001) "
                           "and (100), against 1.9 eV at (111)).", 0.0, lo_open=True),
    "p_order": Key("str", None, "-", "Order of a p shell: 'wannier90' (pz, px, py; default) or "
                   "'cartesian' (px, py, pz).", choices=tuple(orb.P_ORDERS)),
}

FILM_KEYS = {
    "normal_miller": Key("list", None, "-", "Film normal (becomes x) as Miller indices of a "
                         "lattice plane: conventional cubic basis for sc/bcc/fcc/square models, "
                         "primitive reciprocal basis for tight_binding. Default: crystal x."),
    "normal_cartesian": Key("list", None, "1", "Film normal as a Cartesian crystal-frame "
                            "direction (must be a lattice-plane normal). Excludes "
                            "normal_miller."),
    "inplane_axis": Key("list", None, "1", "3D: Cartesian crystal-frame direction "
                        "perpendicular to the normal that becomes film y. Default: the "
                        "projection of crystal y (crystal z if y is the normal)."),
}

_USED_BY = {
    "a_nm": _PRESETS + ("slater_koster",),
    "t_eV": ("square", "cubic", "rashba_square"),
    "lattice_vectors": ("tight_binding", "wannier90"), "positions": ("tight_binding",),
    "hoppings": ("tight_binding",), "basis": ("tight_binding", "wannier90"),
    "lattice": ("slater_koster",), "orbitals": ("slater_koster", "wannier90"),
    "shells": ("slater_koster", "orbital_p_lattice"),
    "e_s_eV": ("slater_koster",), "e_p_eV": ("slater_koster", "orbital_p_lattice"),
    "e_d_eV": ("slater_koster",), "e_d_eg_eV": ("slater_koster",),
    "soc_p_eV": ("slater_koster", "orbital_p_lattice"), "soc_d_eV": ("slater_koster",),
    "spinful": ("slater_koster", "orbital_p_lattice", "wannier90"),
    "spin_order": ("slater_koster", "orbital_p_lattice", "wannier90"),
    "hr_file": ("wannier90",), "tb_file": ("wannier90",), "wsvec": ("wannier90",),
    "win_file": ("wannier90",), "centres_file": ("wannier90",),
    "energy_reference_eV": ("wannier90",), "symmetry_tol_eV": ("wannier90",),
    "symmetrize": ("wannier90",),
    "p_order": ("slater_koster", "orbital_p_lattice"),
}
#: keys of the continuum schema a lattice model tolerates (with their default values).
_BASE_KEYS = {"kind", "dimension", "effective_mass", "alpha_R", "exchange_eV", "magnetization",
              "beta_eV_nm2", "z_splitting_eV", "unitary_seed"}


def _num(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _matrix(value, key, shape, what):
    """A real matrix of the given shape from nested lists, or a CaseError."""
    ok = isinstance(value, (list, tuple)) and len(value) == shape[0] and all(
        isinstance(r, (list, tuple)) and (shape[1] is None or len(r) == shape[1])
        and all(_num(x) for x in r) for r in value)
    if ok:
        arr = np.array(value, float) if value else np.zeros((0, shape[1] or 0))
        if arr.ndim == 2 and (shape[1] is None or arr.shape[1] == shape[1]):
            return arr
    rows, cols = shape
    raise CaseError(key, value, f"allowed: {what}: {rows} lists of {cols if cols else 'N'} "
                    "finite real numbers")


def _parse_hoppings(items, d):
    key = "model.hoppings"
    allowed = (f"allowed: a non-empty list of {{R = [{d} integers], real = [[..]], imag = [[..]]}} "
               "with N x N matrices (real or imag may be omitted)")
    if not isinstance(items, (list, tuple)) or not items:
        raise CaseError(key, items, allowed)
    Rs, Hs, N = [], [], None
    for it in items:
        if not isinstance(it, dict) or set(it) - {"R", "real", "imag"} or "R" not in it \
                or not ({"real", "imag"} & set(it)):
            raise CaseError(key, it, allowed)
        R = it["R"]
        if not isinstance(R, (list, tuple)) or len(R) != d or not all(
                isinstance(x, int) and not isinstance(x, bool) for x in R):
            raise CaseError(key, it, f"R must be {d} integers (lattice-vector coordinates)")
        n = len(it.get("real", it.get("imag")) or [])
        if N is None:
            N = n
        if n == 0 or n != N:
            raise CaseError(key, it, f"every matrix must be N x N with the same N (here N = {N})")
        re_ = _matrix(it["real"], key, (N, N), "real") if "real" in it else np.zeros((N, N))
        im_ = _matrix(it["imag"], key, (N, N), "imag") if "imag" in it else np.zeros((N, N))
        Rs.append(tuple(R))
        Hs.append(re_ + 1j * im_)
    if len(set(Rs)) != len(Rs):
        dup = next(r for r in Rs if Rs.count(r) > 1)
        raise CaseError(key, list(dup), "each R may be listed once")
    index = {r: i for i, r in enumerate(Rs)}
    scale = max(1.0, max(np.abs(h).max() for h in Hs))
    for r, i in list(index.items()):
        mr = tuple(-x for x in r)
        if mr not in index:
            Rs.append(mr)
            Hs.append(Hs[i].conj().T)
            index[mr] = len(Rs) - 1
        elif np.abs(Hs[index[mr]] - Hs[i].conj().T).max() > 1e-12 * scale:
            what = "H(0) must be Hermitian" if not any(r) else f"H({list(mr)}) must equal H({list(r)})^dagger"
            raise CaseError(key, list(r), f"{what} (the Hamiltonian must be Hermitian)")
    return np.array(Rs, dtype=np.int64), np.array(Hs), N


def _check_known(mt, kind):
    for k, v in mt.items():
        if k in _BASE_KEYS:
            continue
        if k not in LATTICE_KEYS:
            raise CaseError(f"model.{k}", v, "unknown key; allowed: "
                            + ", ".join(sorted(_BASE_KEYS | set(LATTICE_KEYS))))
        if kind not in _USED_BY[k]:
            raise CaseError(f"model.{k}", v, "only used by model.kind = "
                            + " or ".join(repr(x) for x in _USED_BY[k]))
        mt[k] = LATTICE_KEYS[k].check(f"model.{k}", v)
    for k in ("alpha_R", "exchange_eV"):
        if mt.get(k, 0.0) != 0.0 and kind != "rashba_square":
            raise CaseError(f"model.{k}", mt[k], "only used by model.kind = 'rashba' or "
                            "'rashba_square'")
    if mt.get("beta_eV_nm2", 0.0) != 0.0:
        raise CaseError("model.beta_eV_nm2", mt["beta_eV_nm2"], "only used by model.kind = "
                        "'orbital_p' (orbital_p_lattice takes model.shells)")
    if mt.get("z_splitting_eV", 0.0) != 0.0:
        raise CaseError("model.z_splitting_eV", mt["z_splitting_eV"], "only used by model.kind "
                        "= 'orbital_p'")
    if mt.get("unitary_seed") is not None:
        raise CaseError("model.unitary_seed", mt["unitary_seed"], "not available for lattice "
                        "models (relabel or rotate the basis in the hoppings instead)")


def _dimension(mt, natural, kind):
    d = mt.get("dimension")
    if d is not None and natural is not None and d != natural:
        raise CaseError("model.dimension", d, f"model.kind = '{kind}' here is {natural}D: "
                        f"set model.dimension = {natural}")
    return natural if natural is not None else (d if d is not None else 2)


def _hopping_t(mt, a):
    if "t_eV" in mt:
        return mt["t_eV"]
    m = mt.get("effective_mass", 1.0)
    return HBAR2_OVER_2ME / (m * a * a)


def _nearest(d):
    return np.concatenate([np.eye(d, dtype=np.int64), -np.eye(d, dtype=np.int64)])


def _preset(mt, kind):
    a = mt.get("a_nm", DEFAULT_A_NM)
    if kind == "square":
        d = _dimension(mt, 2, kind)
    elif kind == "cubic":
        d = _dimension(mt, 3, kind)
    else:
        d = _dimension(mt, None, kind)
        if d not in (2, 3):
            raise CaseError("model.dimension", d, "allowed: 2, 3")
    A = a * np.eye(d)
    if kind in ("square", "cubic"):
        t = _hopping_t(mt, a)
        R = np.concatenate([np.zeros((1, d), np.int64), _nearest(d)])
        H = np.concatenate([[[[2 * d * t]]], np.full((2 * d, 1, 1), -t)]).astype(complex)
        return A, R, H, None, [orb.Orbital(0, "s")]
    if kind == "rashba_square":
        t = _hopping_t(mt, a)
        alpha, J = mt.get("alpha_R", 0.0), mt.get("exchange_eV", 0.0)
        m = np.asarray(mt.get("magnetization", [0.0, 0.0, 1.0]), float)
        nm = np.linalg.norm(m)
        if nm == 0:
            raise CaseError("model.magnetization", list(m), "allowed: a non-zero vector")
        m = m / nm
        S = orb.PAULI
        R = np.concatenate([np.zeros((1, d), np.int64), _nearest(d)])
        H = np.zeros((1 + 2 * d, 2, 2), complex)
        H[0] = 2 * d * t * np.eye(2) + J * np.einsum("i,iab->ab", m, S)
        H[1:] = -t * np.eye(2)
        # alpha/a (sigma_x sin k_y a - sigma_y sin k_x a), sin q = (e^{iq} - e^{-iq})/2i
        c = alpha / (2j * a)
        H[1] += -c * S[1]         # +x
        H[1 + d] += c * S[1]      # -x
        H[2] += c * S[0]          # +y
        H[2 + d] += -c * S[0]     # -y
        return A, R, H, None, [orb.Orbital(0, "s", "up"), orb.Orbital(0, "s", "down")]
    raise AssertionError(kind)  # pragma: no cover


def _shell_params(items, key="model.shells"):
    allowed = ("allowed: a non-empty list of tables (nearest shell first) with keys "
               + ", ".join(SK_PARAMETERS) + " (finite numbers, eV)")
    if not isinstance(items, (list, tuple)) or not items:
        raise CaseError(key, items, allowed)
    for it in items:
        if not isinstance(it, dict) or set(it) - set(SK_PARAMETERS) or not all(
                _num(v) for v in it.values()):
            raise CaseError(key, it, allowed)
    return [{k: float(v) for k, v in it.items()} for it in items]


def _slater_koster(mt, kind):
    if kind == "orbital_p_lattice":
        d = _dimension(mt, None, kind)
        if d not in (2, 3):
            raise CaseError("model.dimension", d, "allowed: 2, 3")
        lattice, shells, a = ("square" if d == 2 else "sc"), (1,), mt.get("a_nm", DEFAULT_A_NM)
        params = _shell_params(mt.get("shells", ORBITAL_P_SHELLS))
    else:
        for k in ("lattice", "a_nm", "orbitals", "shells"):
            if k not in mt:
                raise CaseError(f"model.{k}", None, "required by model.kind = 'slater_koster'")
        lattice, a = mt["lattice"], mt["a_nm"]
        _dimension(mt, LATTICES[lattice].shape[0], f"slater_koster' on '{lattice}")
        shells = shells_of(mt["orbitals"])
        if shells is None:
            raise CaseError("model.orbitals", mt["orbitals"], "allowed: 's', 'p', 'd' combined in "
                            "that order, e.g. 'sp', 'spd', 'sp3', 'sp3d5'")
        params = _shell_params(mt["shells"])
    ed = mt.get("e_d_eV", 0.0)
    eg = mt.get("e_d_eg_eV", ed)
    onsite = {"s": mt.get("e_s_eV", 0.0), "px": mt.get("e_p_eV", 0.0), "py": mt.get("e_p_eV", 0.0),
              "pz": mt.get("e_p_eV", 0.0), "dxz": ed, "dyz": ed, "dxy": ed, "dz2": eg,
              "dx2-y2": eg}
    soc = {1: mt.get("soc_p_eV", 0.0), 2: mt.get("soc_d_eV", 0.0)}
    for l, k in ((1, "soc_p_eV"), (2, "soc_d_eV")):
        if soc[l] != 0.0 and l not in shells:
            raise CaseError(f"model.{k}", soc[l], f"needs {'p' if l == 1 else 'd'} orbitals "
                            "in model.orbitals")
    has_soc = any(v != 0.0 for v in soc.values())
    spin = mt.get("spinful")
    if spin is None:
        spin = has_soc
    elif has_soc and not spin:
        raise CaseError("model.spinful", spin, "spin-orbit coupling needs spinful = true")
    if "spin_order" in mt and not spin:
        raise CaseError("model.spin_order", mt["spin_order"], "only for spinful models "
                        "(soc_p_eV, soc_d_eV or spinful = true)")
    A, R, H, orbs = slater_koster_hoppings(lattice, a, shells, params, onsite, soc, spin,
                                           mt.get("p_order", "wannier90"),
                                           mt.get("spin_order", "interleaved"))
    return A, R, H, None, orbs


def _tight_binding(mt):
    for k in ("lattice_vectors", "hoppings"):
        if k not in mt:
            raise CaseError(f"model.{k}", None, "required by model.kind = 'tight_binding'")
    lv = mt["lattice_vectors"]
    d = len(lv) if isinstance(lv, (list, tuple)) else 0
    if d not in (2, 3):
        raise CaseError("model.lattice_vectors", lv, "allowed: 2 or 3 lists of 2 or 3 numbers "
                        "(nm)")
    _dimension(mt, d, "tight_binding")
    A = _matrix(lv, "model.lattice_vectors", (d, d), f"a {d} x {d} matrix (nm)")
    if abs(np.linalg.det(A)) < 1e-12 * np.abs(A).max() ** d:
        raise CaseError("model.lattice_vectors", lv, "allowed: linearly independent vectors")
    R, H, N = _parse_hoppings(mt["hoppings"], d)
    tau = None
    if "positions" in mt:
        tau = _matrix(mt["positions"], "model.positions", (N, d), f"one position per state "
                      f"(N = {N}) of {d} numbers (nm)")
    orbitals = None
    if "basis" in mt:
        orbitals = orb.parse_basis(mt["basis"], N)
        if len(orbitals) != N:
            raise CaseError("model.basis", mt["basis"], f"allowed: one entry per state (N = {N})")
    return A, R, H, tau, orbitals

#: Default of model.symmetry_tol_eV (eV).
W90_SYMMETRY_TOL_EV = 0.02
_W90_WHERE = ("write it with Wannier90 (write_hr = .true. / write_tb = .true.) or put the file "
              "(or its .tar.gz) there; relative paths in a case file are taken from the case "
              "file's folder (docs/wannier90.md)")
#: The [model] keys of 'wannier90' that name files (anchored by :func:`anchor_paths`).
W90_PATH_KEYS = ("hr_file", "tb_file", "wsvec", "win_file", "centres_file")


def anchor_paths(model_table, folder):
    """Make the relative wannier90 file paths of a case file's ``[model]`` absolute.

    A relative path written in a case file means relative to the folder of that file (so a
    case runs from any working directory); :func:`slabqkt.case.read_raw` calls this before
    the ``--set`` overrides, whose paths stay relative to the working directory.

    Parameters
    ----------
    model_table : dict
        The raw ``[model]`` table, changed in place (other kinds and keys are left alone).
    folder : pathlib.Path
        The folder of the case file.
    """
    if not isinstance(model_table, dict) or model_table.get("kind") != "wannier90":
        return
    for key in W90_PATH_KEYS:
        value = model_table.get(key)
        if not isinstance(value, str) or not value or (key == "wsvec" and value in ("auto",
                                                                                      "none")):
            continue
        p = pathlib.Path(value).expanduser()
        if not p.is_absolute():
            model_table[key] = os.path.normpath(os.path.abspath(pathlib.Path(folder) / p))


def _missing_hint(p):
    """What to say about an absent file p: its archive or its unpacked member may be there."""
    from .wannier90 import ARCHIVE_SUFFIXES, is_archive
    name = str(p)
    if is_archive(name):
        for suffix in ARCHIVE_SUFFIXES:
            if name.lower().endswith(suffix) and os.path.isfile(name[: -len(suffix)]):
                return f"the unpacked {name[: -len(suffix)]} exists: give its path"
        return None
    for suffix in (".tar.gz", ".tgz"):
        if os.path.isfile(name + suffix):
            return f"the archive {name + suffix} exists: give its path (it is read without unpacking)"
    return None


def _w90_path(mt, key, base_dir, required=False):
    """The resolved path of a wannier90 file key (None if absent), or a one-line CaseError."""
    value = mt.get(key)
    if value is None:
        if required:
            raise CaseError(f"model.{key}", None, "required by model.kind = 'wannier90'")
        return None
    p = pathlib.Path(value).expanduser()
    if not p.is_absolute():
        p = pathlib.Path(base_dir or ".").resolve() / p
    if not p.is_file():
        hint = _missing_hint(p)
        raise CaseError(f"model.{key}", value, f"file not found (tried {p}); "
                        + (hint if hint else _W90_WHERE))
    return p


def _wannier90(mt, base_dir=None):
    """Lattice, hoppings, positions and orbitals of a Wannier90 run (docs/wannier90.md)."""
    from . import wannier90 as w90
    if ("hr_file" in mt) == ("tb_file" in mt):
        raise CaseError("model.hr_file", mt.get("hr_file"), "give exactly one of model.hr_file "
                        "and model.tb_file for model.kind = 'wannier90'")
    _dimension(mt, 3, "wannier90")
    hkey = "hr_file" if "hr_file" in mt else "tb_file"
    hpath = _w90_path(mt, hkey, base_dir, True)
    ws = mt.get("wsvec", "auto")
    if ws not in ("auto", "none"):
        ws = _w90_path(mt, "wsvec", base_dir)
    win_p = _w90_path(mt, "win_file", base_dir)
    cen_p = _w90_path(mt, "centres_file", base_dir)
    key = hkey
    try:
        R, H, data, ws_used = w90.load_hoppings(hpath if hkey == "hr_file" else None,
                                                hpath if hkey == "tb_file" else None, ws)
        key = "win_file"
        win = w90.read_win(win_p) if win_p is not None else None
        key = "centres_file"
        centres = w90.read_centres(cen_p)[0] if cen_p is not None else None
    except w90.Wannier90Error as exc:
        raise CaseError(f"model.{key}", mt.get(key), str(exc)) from None
    N = H.shape[-1]
    if "lattice_vectors" in mt:
        A = _matrix(mt["lattice_vectors"], "model.lattice_vectors", (3, 3), "a 3 x 3 matrix (nm)")
        if abs(np.linalg.det(A)) < 1e-12 * np.abs(A).max() ** 3:
            raise CaseError("model.lattice_vectors", mt["lattice_vectors"],
                            "allowed: linearly independent vectors")
    elif data.lattice is not None:
        A = data.lattice
    elif win is not None and win["unit_cell"] is not None:
        A = win["unit_cell"]
    else:
        raise CaseError("model.win_file", mt.get("win_file"), "the lattice is needed: give "
                        "model.win_file (with unit_cell_cart), model.tb_file or "
                        "model.lattice_vectors (nm)")
    if win is not None and win["num_wann"] is not None and win["num_wann"] != N:
        raise CaseError("model.win_file", mt["win_file"], f"num_wann = {win['num_wann']} but "
                        f"the hoppings have N = {N}: files of different runs?")
    # spatial orbitals: the case (basis, orbitals) or the .win projections
    orbitals, sites, names = None, None, None
    if "basis" in mt and "orbitals" in mt:
        raise CaseError("model.orbitals", mt["orbitals"], "give model.basis or model.orbitals, "
                        "not both")
    if "basis" in mt:
        orbitals = orb.parse_basis(mt["basis"], N)
        if len(orbitals) != N:
            raise CaseError("model.basis", mt["basis"], f"allowed: one entry per Wannier "
                            f"function (N = {N})")
    elif "orbitals" in mt:
        shells = shells_of(mt["orbitals"])
        if shells is None:
            raise CaseError("model.orbitals", mt["orbitals"], "allowed: 's', 'p', 'd' combined "
                            "in that order, e.g. 'spd'")
        names = [n for l in shells for n in orb.shell_names(l)]
        sites = [0] * len(names)
    elif win is not None and win["projections"]:
        try:
            sites, names = w90.parse_projections(win["projections"], win["atoms"], win_p)
        except w90.Wannier90Error as exc:
            raise CaseError("model.win_file", mt["win_file"], str(exc)) from None
    spinful = None
    if orbitals is not None:
        spinful = orbitals[0].spin is not None
    elif names is not None:
        if len(names) == N:
            spinful = False
        elif 2 * len(names) == N:
            spinful = True
        else:
            src = "model.orbitals" if "orbitals" in mt else "model.win_file"
            raise CaseError(src, mt.get(src.split(".")[1]), f"{len(names)} orbitals for N = {N} "
                            "Wannier functions (allowed: N or N/2 with spin)")
    if win is not None and spinful is not None and win["spinors"] != spinful:
        raise CaseError("model.win_file", mt["win_file"], f"spinors = {win['spinors']} but the "
                        f"orbitals give a {'spinful' if spinful else 'spinless'} basis of N = {N}")
    if spinful is None and win is not None:
        spinful = win["spinors"]
    order = mt.get("spin_order")
    double = bool(mt.get("spinful", False))  # a spinless file, two spin states per orbital
    if double and spinful:
        raise CaseError("model.spinful", mt["spinful"], "the Wannier functions are already "
                        "spinors (spinors in win_file, or N = 2 x the number of orbitals): remove "
                        "it")
    if double and not (orbitals is not None or (names is not None and None not in names)):
        raise CaseError("model.spinful", mt["spinful"], "needs orbital descriptors "
                        "(model.orbitals, model.basis or win_file projections of real orbitals)")
    if double and order is None:
        order = "interleaved"
    if spinful and orbitals is None and order is None:
        raise CaseError("model.spin_order", None, "required for a spinful Wannier90 model: "
                        "'block' (all up, then all down: VASP with Wannier90 1.x, e.g. the Pt "
                        "file) or 'interleaved' (up, down per orbital: Wannier90 >= 2 spinors)")
    if order is not None and not (spinful or double):
        raise CaseError("model.spin_order", order, "only for spinful models (spinors = .true. "
                        "in win_file, N = 2 x the number of orbitals, or model.spinful = true)")
    if orbitals is None and names is not None and all(n is not None for n in names):
        spatial = [orb.Orbital(s, n) for s, n in zip(sites, names)]
        if spinful:
            orbitals = ([orb.Orbital(o.site, o.name, sp) for o in spatial for sp in ("up", "down")]
                        if order == "interleaved" else
                        [orb.Orbital(o.site, o.name, sp) for sp in ("up", "down") for o in spatial])
        else:
            orbitals = spatial
    # positions: the centres, else the projection atoms, else 0
    atom_tau = None  # the atom of every state (the sites of the mirror operator)
    if sites is not None and win is not None and all(0 <= s < len(win["atoms"]) for s in sites):
        pos = np.array([win["atoms"][s][1] for s in sites])
        atom_tau = (pos if not spinful else
                    np.concatenate([pos, pos]) if order == "block" else np.repeat(pos, 2, axis=0))
    if centres is not None:
        if len(centres) != N:
            raise CaseError("model.centres_file", mt["centres_file"], f"{len(centres)} centres "
                            f"for N = {N} Wannier functions")
        tau = centres
    else:
        tau = atom_tau
    if double:  # H (x) 1 in spin: no spin-orbit coupling, every band twice
        orbitals, H, tau = _double_spin(orbitals, H, tau, order)
        N = H.shape[-1]
        if atom_tau is not None:
            atom_tau = _double_spin(None, H[:0], atom_tau, order)[2]
        if data.r is not None:
            data.r = _double_spin(None, data.r, None, order)[1]
    sym = mt.get("symmetrize", [])
    if sym:
        if not isinstance(sym, (list, tuple)) or len(set(sym)) != len(sym) or any(
                x not in W90_SYMMETRIES for x in sym):
            raise CaseError("model.symmetrize", sym, "allowed: a list of distinct names from "
                            + ", ".join(map(repr, W90_SYMMETRIES)))
        if orbitals is None:
            raise CaseError("model.symmetrize", sym, "needs orbital descriptors (model.orbitals, "
                            "model.basis or win_file projections of real orbitals)")
        try:
            # the mirror needs the film normal: imposed by build_lattice_model
            H, changes = w90.impose_symmetries(R, H, orbitals, tau,
                                               [x for x in sym if x != "mirror"])
        except ValueError as exc:
            raise CaseError("model.symmetrize", sym, str(exc)) from None
    else:
        changes = {}
    ref = mt.get("energy_reference_eV", 0.0)
    if ref:
        H = H.copy()
        H[np.all(R == 0, axis=1)] -= ref * np.eye(N)
    if orbitals is not None:
        no_mirror = None
    elif names is not None and any(n is None for n in names):
        no_mirror = ("hybrid projections (sp3, ...) have no real-orbital characters; give "
                     "model.basis")
    else:
        no_mirror = ("no orbital characters: give model.orbitals, model.basis or a win_file "
                     "with real-orbital projections")
    extra = {"source": str(hpath), "no_mirror": no_mirror, "site_positions": atom_tau, "wsvec": None if ws_used is None else str(ws_used),
             "energy_reference_eV": ref, "ndegen": data.ndegen, "symmetrized": changes,
             "position_matrix": None}
    if data.r is not None:
        # kept on the file's own R list (not the wsvec replicas): <m0|r|nR>, nm
        extra["position_matrix"] = data.r
        extra["position_R"] = data.R
    return A, R, H, tau, orbitals, extra


def _double_spin(orbitals, X, tau, order):
    """A spinless basis doubled with the two spin states: X (..., N, N) -> (..., 2N, 2N).

    ``order`` 'interleaved' gives X (x) 1_2 (up, down per orbital), 'block' 1_2 (x) X.
    """
    I2 = np.eye(2)
    if order == "interleaved":
        Xd = np.einsum("...mn,st->...msnt", X, I2)
    else:
        Xd = np.einsum("st,...mn->...smtn", I2, X)
    N2 = 2 * X.shape[-1]
    Xd = Xd.reshape(X.shape[:-2] + (N2, N2))
    spins = ("up", "down")
    if orbitals is not None:
        orbitals = ([orb.Orbital(o.site, o.name, sp) for o in orbitals for sp in spins]
                    if order == "interleaved" else
                    [orb.Orbital(o.site, o.name, sp) for sp in spins for o in orbitals])
    if tau is not None:
        tau = np.repeat(tau, 2, axis=0) if order == "interleaved" else np.concatenate([tau, tau])
    return orbitals, Xd, tau


#: Symmetries model.symmetrize can impose on a Wannier90 model.
W90_SYMMETRIES = ("time_reversal", "inversion", "mirror")


def _impose_mirror(model, sym):
    """The model with its hoppings projected onto the part invariant under the film mirror."""
    from ..mirror import symmetrize_mirror
    try:
        R, H, change = symmetrize_mirror(model)
    except ModelError as exc:
        raise CaseError("model.symmetrize", sym, f"mirror: {exc}") from None
    new = LatticeModel(model.lattice, R, H, model.positions, model.orbitals, model.zone,
                       orientation=model.orientation)
    new.crystal_rotation, new.kind = model.crystal_rotation, model.kind
    new.site_positions = model.site_positions
    return new, change


def build_lattice_model(model_table, film_table=None, fermi_level_eV=None, window_eV=0.5,
                        base_dir=None):
    """The lattice model of a ``[model]`` table, in the film frame of ``[film]``.

    Parameters
    ----------
    model_table : dict
        ``[model]`` with ``kind`` in :data:`LATTICE_KINDS` and the keys of
        :data:`LATTICE_KEYS` (continuum keys with their default values are
        tolerated).
    film_table : dict, optional
        ``[film]`` keys of :data:`FILM_KEYS`.
    fermi_level_eV : float, optional
        If given, :func:`~slabqkt.lattice.orientation.check_specular` at it.
    base_dir : path, optional
        Folder of the relative file paths of 'wannier90' (default: the
        working directory; a case file's relative paths were already
        anchored at its folder by :func:`anchor_paths`).

    Returns
    -------
    LatticeModel
        With ``orientation`` (the FilmOrientation) set.
    """
    mt = dict(model_table)
    kind = mt.get("kind")
    if kind not in LATTICE_KINDS:
        raise CaseError("model.kind", kind, "allowed: " + ", ".join(map(repr, LATTICE_KINDS)))
    _check_known(mt, kind)
    if kind in ("square", "cubic", "rashba_square"):
        A, R, H, tau, orbitals = _preset(mt, kind)
        conventional = True
    elif kind in ("slater_koster", "orbital_p_lattice"):
        A, R, H, tau, orbitals = _slater_koster(mt, kind)
        conventional = True
    elif kind == "wannier90":
        A, R, H, tau, orbitals, extra = _wannier90(mt, base_dir)
        conventional = False
    else:
        A, R, H, tau, orbitals = _tight_binding(mt)
        conventional = False
    ft = dict(film_table or {})
    for k, v in ft.items():
        if k not in FILM_KEYS:
            raise CaseError(f"film.{k}", v, "unknown key; allowed: " + ", ".join(FILM_KEYS))
        FILM_KEYS[k].check(f"film.{k}", v)
    d = A.shape[0]
    if d == 2 and "inplane_axis" in ft:
        raise CaseError("film.inplane_axis", ft["inplane_axis"], "3D only (in 2D the in-plane "
                        "axis is z x normal)")
    f = film_orientation(A, ft.get("normal_miller"), ft.get("normal_cartesian"),
                         ft.get("inplane_axis"), conventional)
    Rot = f.rotation
    tau_f = None if tau is None else tau @ Rot.T
    try:
        model = LatticeModel(A @ Rot.T, R, H, tau_f, orbitals, f.zone, orientation=f)
    except ModelError as exc:  # pragma: no cover - the parsers already guarantee it
        raise CaseError("model.hoppings", "...", str(exc)) from None
    model.crystal_rotation = Rot
    model.kind = kind
    if kind == "wannier90" and extra["site_positions"] is not None:
        model.site_positions = extra["site_positions"] @ Rot.T  # the atoms (film frame)
    if kind == "wannier90" and "mirror" in (mt.get("symmetrize") or []):
        model, extra["symmetrized"]["mirror"] = _impose_mirror(model, mt["symmetrize"])
    if kind == "wannier90":
        model.wannier90 = extra
        model.mirror_missing = extra["no_mirror"]
        # a Wannier model keeps the mirror only to the accuracy of the Wannierisation
        model.mirror_tol_eV = mt.get("symmetry_tol_eV", W90_SYMMETRY_TOL_EV)
        model.mirror_hint = ("a Wannier model keeps the mirror only to the accuracy of the "
                             "Wannierisation: add 'mirror' to model.symmetrize (or raise "
                             "model.symmetry_tol_eV)")
        if extra.get("position_matrix") is not None:  # <m0|r|nR> rotated into the film frame
            model.position_matrix = np.einsum("ij,rjmn->rimn", Rot, extra["position_matrix"])
    if fermi_level_eV is not None:
        tol = mt.get("symmetry_tol_eV", W90_SYMMETRY_TOL_EV) if kind == "wannier90" else None
        check_specular(model, fermi_level_eV, window_eV, tol=tol)
    return model
