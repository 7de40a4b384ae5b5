"""Reader and writer of Wannier90 tight-binding files (docs/wannier90.md).

Our own implementation of the formats of the Wannier90 user guide:

``seedname_hr.dat``
    A comment line, num_wann, nrpts, the nrpts degeneracies ndegen(R) 15 per
    line, then nrpts * num_wann^2 lines ``R1 R2 R3 m n Re Im`` (R outermost,
    n, then m fastest), each the matrix element H_mn(R) = <m, 0|H|n, R> in eV
    *times* ndegen(R) (the file is not yet divided by it).
``seedname_wsvec.dat``
    With ``use_ws_distance``: per (R, m, n) block a line ``R1 R2 R3 m n``, a
    count N_T and N_T integer lattice-vector shifts T. The element then enters
    as H_mn(R) / ndegen(R) * (1/N_T) sum_T e^{i k.(R + T)}. The blocks are
    keyed by (R, m, n), never matched by line order.
``seedname_centres.xyz``
    XYZ file: the Wannier centres (lines ``X x y z``, Angstrom) and the atoms.
``seedname.win``
    The input file: ``unit_cell_cart`` (Angstrom, or Bohr when the block's
    first line says ``bohr``), ``projections``, ``spinors``, ``num_wann``,
    atoms. Keys are case-insensitive, separated from values by ``=``, ``:``
    or blanks; ``!`` and ``#`` start comments.
``seedname_tb.dat``
    A comment line, the three lattice vectors (Angstrom), num_wann, nrpts,
    ndegen, then per R a line ``R1 R2 R3`` and num_wann^2 lines
    ``m n Re Im`` (H times ndegen, as in _hr.dat), then per R the position
    matrix, lines ``m n Re x Im x Re y Im y Re z Im z`` (<m, 0|r|n, R>,
    Angstrom, times ndegen).

Every length returned is in nm, every energy in eV. The bodies are parsed
with one :func:`numpy.fromstring` each (no Python loop per line).
"""
import dataclasses
import pathlib
import re

import numpy as np

from ..errors import SlabQKTError

ANGSTROM_NM = 0.1
BOHR_NM = 0.0529177210903


class Wannier90Error(SlabQKTError):
    """A Wannier90 file that cannot be read (names the file and what is wrong)."""


@dataclasses.dataclass
class HoppingData:
    """Hoppings of a _hr.dat / _tb.dat file.

    Attributes
    ----------
    R : ndarray (nR, 3) int
        Lattice vectors in integer coordinates, in file order.
    H : ndarray (nR, N, N) complex
        H_mn(R) = <m, 0|H|n, R> divided by ndegen(R), eV.
    ndegen : ndarray (nR,) int
    header : str
        The comment line.
    lattice : ndarray (3, 3) or None
        Rows a_i, nm (_tb.dat only).
    r : ndarray (nR, 3, N, N) complex or None
        Position matrix <m, 0|r_j|n, R> / ndegen(R), nm (_tb.dat only).
    """

    R: np.ndarray
    H: np.ndarray
    ndegen: np.ndarray
    header: str = ""
    lattice: np.ndarray = None
    r: np.ndarray = None

    @property
    def num_wann(self):
        return self.H.shape[-1]


#: Name endings of the tar archives the reader opens (``tar czf seed_hr.dat.tar.gz seed_hr.dat``).
ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")


def is_archive(path):
    """True if ``path`` names a tar archive (by its ending, :data:`ARCHIVE_SUFFIXES`)."""
    return str(path).lower().endswith(ARCHIVE_SUFFIXES)


def _archive_member(tar, path, what):
    """The one regular-file member of a tar archive that holds the file (or a Wannier90Error).

    One regular member: that one. Several: the one whose name ends like the file asked for
    (``_hr.dat``, ``_tb.dat``, ``_wsvec.dat``, ``.win``, ``_centres.xyz``) or, failing that, the
    one named like the archive without its ending.
    """
    members = [m for m in tar.getmembers() if m.isfile()]
    if len(members) == 1:
        return members[0]
    ending = {"_hr.dat": "_hr.dat", "_tb.dat": "_tb.dat", "_wsvec.dat": "_wsvec.dat",
              ".win": ".win", "_centres.xyz": "_centres.xyz"}
    want = next((e for key, e in ending.items() if key in what), None)
    stem = pathlib.Path(path).name
    for suffix in ARCHIVE_SUFFIXES:
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    for pick in (lambda m: want is not None and m.name.endswith(want),
                 lambda m: pathlib.PurePosixPath(m.name).name == stem):
        hits = [m for m in members if pick(m)]
        if len(hits) == 1:
            return hits[0]
    names = ", ".join(m.name for m in members) or "none"
    raise Wannier90Error(f"{what} {path}: the archive holds {len(members)} files ({names}), "
                         "not one that is clearly the file: unpack it and give the member's path")


def _read_text(path, what):
    """The text of a file, or of the file inside a tar archive (:data:`ARCHIVE_SUFFIXES`)."""
    path = pathlib.Path(path)
    if is_archive(path):
        import tarfile
        try:
            with tarfile.open(path) as tar:
                member = _archive_member(tar, path, what)
                return tar.extractfile(member).read().decode(errors="replace")
        except OSError as exc:
            raise Wannier90Error(f"{what} {path}: cannot be read "
                                 f"({exc.strerror or exc})") from None
        except tarfile.TarError as exc:
            raise Wannier90Error(f"{what} {path}: not a readable tar archive ({exc}): unpack it "
                                 "(tar xzf) and give the file's path") from None
    try:
        return path.read_text(errors="replace")
    except OSError as exc:
        raise Wannier90Error(f"{what} {path}: cannot be read ({exc.strerror})") from None


def _header_counts(text, path, what, n_before):
    """Parse comment line, n_before lines (e.g. lattice), num_wann, nrpts, ndegen."""
    lines = text.split("\n")
    try:
        head = lines[0].strip()
        pre = [lines[1 + i] for i in range(n_before)]
        num_wann = int(lines[1 + n_before].split()[0])
        nrpts = int(lines[2 + n_before].split()[0])
    except (IndexError, ValueError):
        raise Wannier90Error(f"{what} {path}: not a Wannier90 file (expected a comment line, "
                             "num_wann and nrpts on lines of their own)") from None
    if num_wann < 1 or nrpts < 1:
        raise Wannier90Error(f"{what} {path}: num_wann = {num_wann}, nrpts = {nrpts} must be >= 1")
    n_deg_lines = -(-nrpts // 15)
    start = 3 + n_before
    deg_text = " ".join(lines[start:start + n_deg_lines])
    ndegen = np.fromstring(deg_text, sep=" ")
    if ndegen.size != nrpts or np.any(ndegen < 1) or np.any(ndegen != np.rint(ndegen)):
        raise Wannier90Error(f"{what} {path}: expected {nrpts} positive integer degeneracies "
                             f"15 per line, found {ndegen.size} values")
    body = "\n".join(lines[start + n_deg_lines:])
    return head, pre, num_wann, nrpts, ndegen.astype(np.int64), body


def _place(rows, nrpts, N, path, what, ncol_val):
    """Matrices from rows (R1 R2 R3 m n values...) keyed by their (R, m, n) columns.

    Returns R (nR, 3) in first-appearance order and M (nR, N, N, ncol_val/2) complex.
    """
    Rcol = np.rint(rows[:, :3]).astype(np.int64)
    m = np.rint(rows[:, 3]).astype(np.int64) - 1
    n = np.rint(rows[:, 4]).astype(np.int64) - 1
    if m.min() < 0 or n.min() < 0 or m.max() >= N or n.max() >= N:
        raise Wannier90Error(f"{what} {path}: orbital indices outside 1..{N}")
    uniq, first, inv = np.unique(Rcol, axis=0, return_index=True, return_inverse=True)
    inv = inv.ravel()
    if len(uniq) != nrpts:
        raise Wannier90Error(f"{what} {path}: {len(uniq)} distinct R vectors, nrpts = {nrpts}")
    order = np.argsort(first)  # file order of the R vectors
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    iR = rank[inv]
    flat = (iR * N + m) * N + n
    if len(np.unique(flat)) != len(flat):
        raise Wannier90Error(f"{what} {path}: some (R, m, n) element is listed twice")
    vals = rows[:, 5:5 + ncol_val]
    M = np.zeros((nrpts * N * N, ncol_val // 2), complex)
    M[flat] = vals[:, 0::2] + 1j * vals[:, 1::2]
    return uniq[order], M.reshape(nrpts, N, N, ncol_val // 2)


def read_hr(path):
    """Read ``seedname_hr.dat``.

    Parameters
    ----------
    path : str or pathlib.Path

    Returns
    -------
    HoppingData
        H divided by ndegen(R) (eV); no lattice.
    """
    what = "Wannier90 _hr.dat file"
    text = _read_text(path, what)
    head, _, N, nrpts, ndegen, body = _header_counts(text, path, what, 0)
    vals = np.fromstring(body, sep=" ")
    if vals.size != nrpts * N * N * 7:
        raise Wannier90Error(f"{what} {path}: expected {nrpts} x {N}^2 lines of 7 numbers "
                             f"(R1 R2 R3 m n Re Im), found {vals.size} numbers")
    R, M = _place(vals.reshape(-1, 7), nrpts, N, path, what, 2)
    return HoppingData(R, M[..., 0] / ndegen[:, None, None], ndegen, head)


def read_tb(path):
    """Read ``seedname_tb.dat`` (lattice, hoppings and the position matrix).

    Returns
    -------
    HoppingData
        With ``lattice`` (nm) and ``r`` (nm), both H and r divided by ndegen(R).
    """
    what = "Wannier90 _tb.dat file"
    text = _read_text(path, what)
    head, pre, N, nrpts, ndegen, body = _header_counts(text, path, what, 3)
    try:
        lattice = np.array([[float(x) for x in ln.split()[:3]] for ln in pre]) * ANGSTROM_NM
    except ValueError:
        lattice = None
    if lattice is None or lattice.shape != (3, 3):
        raise Wannier90Error(f"{what} {path}: lines 2-4 must hold the lattice vectors (Angstrom)")
    vals = np.fromstring(body, sep=" ")
    nh, nr = nrpts * (3 + 4 * N * N), nrpts * (3 + 8 * N * N)
    if vals.size not in (nh, nh + nr):
        raise Wannier90Error(f"{what} {path}: expected {nrpts} blocks of R and {N}^2 lines "
                             "(m n Re Im), then optionally the position blocks "
                             "(m n and 6 numbers)")

    def blocks(v, ncol):
        v = v.reshape(nrpts, 3 + (2 + ncol) * N * N)
        Rb = v[:, :3]
        rest = v[:, 3:].reshape(nrpts, N * N, 2 + ncol)
        rows = np.concatenate([np.repeat(Rb, N * N, axis=0), rest.reshape(-1, 2 + ncol)], 1)
        return _place(rows, nrpts, N, path, what, ncol)

    R, M = blocks(vals[:nh], 2)
    H = M[..., 0] / ndegen[:, None, None]
    r = None
    if vals.size > nh:
        R2, P = blocks(vals[nh:], 6)
        if not np.array_equal(R2, R):
            raise Wannier90Error(f"{what} {path}: the position blocks list other R vectors "
                                 "than the Hamiltonian blocks")
        r = np.moveaxis(P, -1, 1) * ANGSTROM_NM / ndegen[:, None, None, None]
    return HoppingData(R, H, ndegen, head, lattice, r)


def read_wsvec(path):
    """Read ``seedname_wsvec.dat``.

    Returns
    -------
    keys : ndarray (nb, 5) int
        (R1, R2, R3, m, n) of every block, m and n from 0.
    counts : ndarray (nb,) int
        N_T of every block.
    shifts : ndarray (sum N_T, 3) int
        The shifts T, block after block.
    """
    what = "Wannier90 _wsvec.dat file"
    text = _read_text(path, what)
    first, _, rest = text.partition("\n")
    if not first.lstrip().startswith("#") and first.split() and len(first.split()) == 5:
        rest = text  # no comment line
    a = np.fromstring(rest, sep=" ")
    if a.size == 0 or np.any(a != np.rint(a)):
        raise Wannier90Error(f"{what} {path}: expected integer blocks 'R1 R2 R3 m n', N, "
                             "N shifts")
    a = a.astype(np.int64)
    heads = []
    p, n = 0, a.size
    while p < n:  # one step per (R, m, n) block: the block lengths chain the positions
        if p + 6 > n or a[p + 5] < 1:
            raise Wannier90Error(f"{what} {path}: block {len(heads) + 1} is truncated or has "
                                 "no shift")
        heads.append(p)
        p += 6 + 3 * a[p + 5]
    if p != n:
        raise Wannier90Error(f"{what} {path}: the last block is truncated")
    heads = np.array(heads)
    keys = a[heads[:, None] + np.arange(5)]
    keys[:, 3:] -= 1
    counts = a[heads + 5]
    start = np.repeat(heads + 6, counts) + 3 * (np.arange(counts.sum())
                                                - np.repeat(np.cumsum(counts) - counts, counts))
    shifts = a[start[:, None] + np.arange(3)]
    return keys, counts, shifts


def apply_wsvec(hop, keys, counts, shifts, path="_wsvec.dat"):
    """Expand hoppings over the replicas R + T: returns (R', H') for :class:`LatticeModel`.

    Each element H_mn(R) (already divided by ndegen) is split equally over its
    N_T vectors R' = R + T; different elements of one R may go to different R'.
    """
    R, H = hop.R, hop.H
    nR, N = H.shape[0], H.shape[-1]
    index = {tuple(r): i for i, r in enumerate(R)}
    try:
        iR = np.array([index[tuple(r)] for r in keys[:, :3]])
    except KeyError as exc:
        raise Wannier90Error(f"Wannier90 _wsvec.dat file {path}: R = {list(exc.args[0])} is not "
                             "in the _hr.dat file (files of different runs?)") from None
    flat = (iR * N + keys[:, 3]) * N + keys[:, 4]
    if len(np.unique(flat)) != nR * N * N or keys[:, 3:].max() >= N:
        raise Wannier90Error(f"Wannier90 _wsvec.dat file {path}: expected one block per "
                             f"(R, m, n), i.e. {nR} x {N}^2 blocks, found {len(flat)}")
    block = np.repeat(np.arange(len(flat)), counts)
    Rp = R[iR[block]] + shifts
    value = H.reshape(-1)[flat[block]] / counts[block]
    uniq, inv = np.unique(Rp, axis=0, return_inverse=True)
    Hp = np.zeros((len(uniq), N * N), complex)
    np.add.at(Hp, (inv.ravel(), (keys[block, 3] * N + keys[block, 4])), value)
    return uniq, Hp.reshape(-1, N, N)


def read_centres(path):
    """Read ``seedname_centres.xyz``: (Wannier centres (N, 3), atoms [(symbol, (3,))]) in nm."""
    what = "Wannier90 _centres.xyz file"
    lines = _read_text(path, what).split("\n")
    centres, atoms = [], []
    for ln in lines[2:]:
        parts = ln.split()
        if len(parts) < 4:
            continue
        try:
            xyz = np.array([float(x) for x in parts[1:4]]) * ANGSTROM_NM
        except ValueError:
            raise Wannier90Error(f"{what} {path}: bad line {ln.strip()!r}") from None
        (centres if parts[0].upper() == "X" else atoms).append((parts[0], xyz))
    if not centres:
        raise Wannier90Error(f"{what} {path}: no Wannier centre (lines 'X x y z') found")
    return np.array([c for _, c in centres]), atoms


_BLOCK = re.compile(r"^\s*begin\s*[:=]?\s*([a-z_]+)", re.I)
_END = re.compile(r"^\s*end\s*[:=]?\s*([a-z_]+)", re.I)


def _win_number(s):
    return float(s.lower().replace("d", "e"))


def read_win(path):
    """Read the parts of ``seedname.win`` that define the model.

    Returns
    -------
    dict
        ``keys`` (lower-case key -> raw string value), ``blocks`` (lower-case
        name -> list of lines), ``unit_cell`` ((3, 3) nm or None), ``spinors``
        (bool), ``num_wann`` (int or None), ``atoms`` (list of (symbol,
        position nm)), ``projections`` (list of lines).
    """
    what = "Wannier90 .win file"
    text = _read_text(path, what)
    keys, blocks, cur = {}, {}, None
    for raw in text.split("\n"):
        ln = re.split(r"[!#]", raw, 1)[0].strip()
        if not ln:
            continue
        if cur is None:
            mb = _BLOCK.match(ln)
            if mb:
                cur = mb.group(1).lower()
                blocks[cur] = []
                continue
            mk = re.match(r"^([a-z_0-9]+)\s*[=:\s]\s*(.*)$", ln, re.I)
            if mk:
                keys[mk.group(1).lower()] = mk.group(2).strip()
            continue
        me = _END.match(ln)
        if me and me.group(1).lower() == cur:
            cur = None
            continue
        blocks[cur].append(ln)
    if cur is not None:
        raise Wannier90Error(f"{what} {path}: block '{cur}' has no 'end {cur}'")
    out = {"keys": keys, "blocks": blocks}
    out["unit_cell"] = None
    if "unit_cell_cart" in blocks:
        lines = blocks["unit_cell_cart"]
        unit = ANGSTROM_NM
        if lines and lines[0].split()[0].lower() in ("bohr", "ang", "angstrom"):
            unit = BOHR_NM if lines[0].split()[0].lower() == "bohr" else ANGSTROM_NM
            lines = lines[1:]
        try:
            cell = np.array([[_win_number(x) for x in ln.split()[:3]] for ln in lines]) * unit
        except ValueError:
            cell = None
        if cell is None or cell.shape != (3, 3):
            raise Wannier90Error(f"{what} {path}: unit_cell_cart must hold 3 rows of 3 numbers")
        out["unit_cell"] = cell
    sp = keys.get("spinors", "f").strip().lower().strip(".")
    out["spinors"] = sp.startswith("t")
    out["num_wann"] = int(keys["num_wann"].split()[0]) if "num_wann" in keys else None
    atoms = []
    if "atoms_cart" in blocks:
        lines = blocks["atoms_cart"]
        unit = ANGSTROM_NM
        if lines and lines[0].split()[0].lower() in ("bohr", "ang", "angstrom"):
            unit = BOHR_NM if lines[0].split()[0].lower() == "bohr" else ANGSTROM_NM
            lines = lines[1:]
        atoms = [(ln.split()[0], np.array([_win_number(x) for x in ln.split()[1:4]]) * unit)
                 for ln in lines]
    elif "atoms_frac" in blocks and out["unit_cell"] is not None:
        atoms = [(ln.split()[0], np.array([_win_number(x) for x in ln.split()[1:4]])
                  @ out["unit_cell"]) for ln in blocks["atoms_frac"]]
    out["atoms"] = atoms
    out["projections"] = blocks.get("projections", [])
    return out


#: Real orbitals of the projection names (Wannier90's order within a shell).
_SHELLS = {"s": ("s",), "p": ("pz", "px", "py"), "d": ("dz2", "dxz", "dyz", "dx2-y2", "dxy")}
_SINGLE = {"s", "pz", "px", "py", "dz2", "dxz", "dyz", "dx2-y2", "dxy"}
_MR = {0: ("s",), 1: ("pz", "px", "py"), 2: ("dz2", "dxz", "dyz", "dx2-y2", "dxy")}
_HYBRID = {"sp": 2, "sp2": 3, "sp3": 4, "sp3d": 5, "sp3d2": 6, "f": 7, "l=3": 7}


def parse_projections(lines, atoms, path="the .win file"):
    """Orbitals of the ``projections`` block, in Wannier90's order.

    Parameters
    ----------
    lines : list of str
        Lines like ``Pt : s;p;d``, ``Si : sp3``, ``f=0,0,0 : l=1``.
    atoms : list of (symbol, position nm)

    Returns
    -------
    sites : list of int
        Atom index of every spatial orbital (a projection at explicit
        coordinates, f= or c=, gets the label len(atoms) + its line number).
    names : list of str or None
        Real-orbital names, or None for an orbital without one (hybrids).
    """
    sites, names = [], []
    for line_no, ln in enumerate(lines):
        if ":" not in ln:
            raise Wannier90Error(f"projections in {path}: line {ln!r} has no ':'")
        where, orbs = ln.split(":", 1)
        orbs = orbs.split(":")[0]  # drop z=, x=, zona= parts
        where = where.strip()
        if re.match(r"^[fc]\s*=", where, re.I):
            idx = [len(atoms) + line_no]
        else:
            idx = [i for i, (s, _) in enumerate(atoms) if s.lower() == where.lower()]
            if not idx:
                raise Wannier90Error(f"projections in {path}: no atom {where!r} in the atoms "
                                     "block")
        shell = []
        for tok in orbs.split(";"):
            t = tok.strip().lower().replace(" ", "")
            if not t:
                continue
            if t in _SHELLS:
                shell += list(_SHELLS[t])
            elif t in _SINGLE:
                shell.append(t)
            elif t in _HYBRID:
                shell += [None] * _HYBRID[t]
            elif t.startswith("l="):
                m = re.match(r"^l=(-?\d)(?:,mr=([\d,]+))?$", t)
                if not m:
                    raise Wannier90Error(f"projections in {path}: cannot read {tok.strip()!r}")
                l = int(m.group(1))
                if l in _MR:
                    mr = [int(x) for x in m.group(2).split(",")] if m.group(2) else \
                        list(range(1, 2 * l + 2))
                    shell += [_MR[l][i - 1] for i in mr]
                else:
                    n_h = {-1: 2, -2: 3, -3: 4, -4: 5, -5: 6, 3: 7}.get(l)
                    if n_h is None:
                        raise Wannier90Error(f"projections in {path}: l = {l} unknown")
                    shell += [None] * n_h
            else:
                raise Wannier90Error(f"projections in {path}: cannot read {tok.strip()!r} "
                                     "(allowed: s, p, d, px.., sp3.., l=.., l=..,mr=..)")
        for i in idx:
            sites += [i] * len(shell)
            names += shell
    return sites, names


# ---------------------------------------------------------------------------- writers
def _fmt_header(f, header, N, ndegen):
    f.write(f" {header.strip() or 'written by slabqkt'}\n")
    f.write(f"{N:12d}\n{len(ndegen):12d}\n")
    nd = np.asarray(ndegen, np.int64)
    for i in range(0, len(nd), 15):
        f.write("".join(f"{x:5d}" for x in nd[i:i + 15]) + "\n")


def _index_grid(nR, N):
    iR, n, m = np.meshgrid(np.arange(nR), np.arange(N), np.arange(N), indexing="ij")
    return iR.ravel(), m.ravel(), n.ravel()  # m fastest


def write_hr(path, R, H, ndegen=None, header="written by slabqkt"):
    """Write ``seedname_hr.dat``: H (nR, N, N) eV, divided by ndegen, is multiplied back.

    Values are written with 17 significant digits (the round trip is exact
    to rounding).
    """
    R = np.asarray(R, np.int64)
    H = np.asarray(H, complex)
    nR, N = H.shape[0], H.shape[-1]
    nd = np.ones(nR, np.int64) if ndegen is None else np.asarray(ndegen, np.int64)
    iR, m, n = _index_grid(nR, N)
    Hn = H * nd[:, None, None]
    v = Hn[iR, m, n]
    data = np.column_stack([R[iR], m + 1, n + 1])
    with open(path, "w") as f:
        _fmt_header(f, header, N, nd)
        np.savetxt(f, np.column_stack([data, v.real, v.imag]),
                   fmt=["%5d"] * 5 + ["%25.17e", "%25.17e"])


def write_tb(path, lattice, R, H, ndegen=None, r=None, header="written by slabqkt"):
    """Write ``seedname_tb.dat``: lattice (3, 3) nm, H (nR, N, N) eV, r (nR, 3, N, N) nm."""
    R = np.asarray(R, np.int64)
    H = np.asarray(H, complex)
    nR, N = H.shape[0], H.shape[-1]
    nd = np.ones(nR, np.int64) if ndegen is None else np.asarray(ndegen, np.int64)
    iR, m, n = _index_grid(nR, N)
    with open(path, "w") as f:
        f.write(f" {header.strip() or 'written by slabqkt'}\n")
        for a in np.asarray(lattice, float) / ANGSTROM_NM:
            f.write("".join(f"{x:25.17e}" for x in a) + "\n")
        f.write(f"{N:12d}\n{nR:12d}\n")
        for i in range(0, nR, 15):
            f.write("".join(f"{x:5d}" for x in nd[i:i + 15]) + "\n")
        Hn = (H * nd[:, None, None])
        for i in range(nR):
            f.write("\n" + "".join(f"{x:5d}" for x in R[i]) + "\n")
            v = Hn[i][m[:N * N], n[:N * N]]
            np.savetxt(f, np.column_stack([m[:N * N] + 1, n[:N * N] + 1, v.real, v.imag]),
                       fmt=["%5d", "%5d", "%25.17e", "%25.17e"])
        if r is not None:
            rn = np.asarray(r, complex) / ANGSTROM_NM * nd[:, None, None, None]
            for i in range(nR):
                f.write("\n" + "".join(f"{x:5d}" for x in R[i]) + "\n")
                v = rn[i][:, m[:N * N], n[:N * N]]  # (3, N^2)
                cols = [m[:N * N] + 1, n[:N * N] + 1]
                for j in range(3):
                    cols += [v[j].real, v[j].imag]
                np.savetxt(f, np.column_stack(cols), fmt=["%5d", "%5d"] + ["%25.17e"] * 6)


def write_centres(path, centres, atoms=()):
    """Write ``seedname_centres.xyz``: centres (N, 3) nm, atoms [(symbol, (3,) nm)]."""
    centres = np.asarray(centres, float)
    with open(path, "w") as f:
        f.write(f"{len(centres) + len(atoms):6d}\n Wannier centres, written by slabqkt\n")
        for c in centres / ANGSTROM_NM:
            f.write("X " + "".join(f"{x:25.17e}" for x in c) + "\n")
        for s, c in atoms:
            f.write(f"{s} " + "".join(f"{x:25.17e}" for x in np.asarray(c) / ANGSTROM_NM) + "\n")


# ---------------------------------------------------------------------------- model assembly
def symmetrize(R, H, tol_eV=1e-4, path="the file"):
    """Make the hoppings exactly Hermitian, H(-R) = H(R)^dagger.

    Wannier90 prints H(R) with 6 decimals, after a floating-point Fourier
    transform: the pairs agree only to ~1e-6 eV. Missing -R partners or a
    mismatch above ``tol_eV`` raise :class:`Wannier90Error`.
    """
    R = np.asarray(R, np.int64)
    index = {tuple(r): i for i, r in enumerate(R)}
    partner = np.array([index.get(tuple(-r), -1) for r in R])
    if (partner < 0).any():
        bad = R[np.argmax(partner < 0)]
        raise Wannier90Error(f"{path}: R = {list(bad)} has no partner -R (the hoppings must be "
                             "Hermitian)")
    Hd = H[partner].conj().swapaxes(-1, -2)
    err = float(np.abs(H - Hd).max(initial=0.0))
    if err > tol_eV:
        raise Wannier90Error(f"{path}: H(-R) differs from H(R)^dagger by {err:.3g} eV "
                             f"(> {tol_eV:g} eV): not a Hermitian Wannier Hamiltonian")
    return 0.5 * (H + Hd), err


def _seed_file(path, suffix):
    """seedname<suffix> beside a seedname_hr.dat / _tb.dat path, or None."""
    p = pathlib.Path(path)
    for end in ("_hr.dat", "_tb.dat"):
        if p.name.endswith(end):
            return p.with_name(p.name[: -len(end)] + suffix)
    return None


def load_hoppings(hr_file=None, tb_file=None, wsvec="auto"):
    """Hoppings of a Wannier90 run, the replicas of _wsvec.dat applied.

    Parameters
    ----------
    hr_file, tb_file : path, one of them
    wsvec : 'auto', 'none' or a path
        'auto' reads ``seedname_wsvec.dat`` beside the hoppings when it exists.

    Returns
    -------
    R (nR, 3) int, H (nR, N, N) complex eV (exactly Hermitian), data (HoppingData),
    wsvec_path (pathlib.Path or None)
    """
    src = hr_file if hr_file is not None else tb_file
    data = read_hr(hr_file) if hr_file is not None else read_tb(tb_file)
    ws = None
    if wsvec == "auto":
        cand = _seed_file(src, "_wsvec.dat")
        ws = cand if cand is not None and cand.is_file() else None
    elif wsvec not in (None, "none"):
        ws = pathlib.Path(wsvec)
    R, H = data.R, data.H
    if ws is not None:
        R, H = apply_wsvec(data, *read_wsvec(ws), path=ws)
    H, _ = symmetrize(R, H, path=str(src))
    return R, H, data, ws


SYMMETRIES = ("time_reversal", "inversion")


def impose_symmetries(R, H, orbitals, positions, which):
    """Project the hoppings onto the part invariant under time reversal and/or inversion.

    A Wannier Hamiltonian keeps the crystal symmetries only to the accuracy
    of the Wannierisation (the Pt file of the tests breaks time reversal and
    inversion by up to 0.05 eV on site, which splits the Kramers doublets by up
    to 0.3 eV at some k). The projection is the nearest (Frobenius) symmetric
    model:

    * time reversal, Theta = (-i sigma_y) K on real orbitals: H(R) -> (H(R) +
      U H(R)^* U^dagger)/2 with U = -i sigma_y on the spin labels (spinless:
      U = 1, i.e. H(R) -> Re H(R));
    * inversion through the common site of all orbitals: H(R) -> (H(R) +
      P H(-R) P)/2, P = (-1)^l.

    Parameters
    ----------
    R : ndarray (nR, 3) int
    H : ndarray (nR, N, N) complex, eV
    orbitals : list of Orbital (real-orbital names and spins are needed)
    positions : ndarray (N, 3) nm or None
    which : sequence of str, from :data:`SYMMETRIES`

    Returns
    -------
    H : ndarray (nR, N, N) complex
        The projected hoppings (R unchanged; every -R is present).
    changes : dict
        Largest change of a matrix element (eV) per symmetry.
    """
    from . import orbitals as orb
    H = np.array(H, complex)
    N = H.shape[-1]
    changes = {}
    index = {tuple(r): i for i, r in enumerate(R)}
    partner = np.array([index[tuple(-r)] for r in R])
    for s in which:
        if s == "time_reversal":
            S = orb.spin_operators(orbitals)
            U = np.eye(N, dtype=complex) if S is None else -1j * S[1]
            Hn = 0.5 * (H + U @ H.conj() @ U.conj().T)
        else:
            if positions is not None and np.ptp(np.asarray(positions), axis=0).max() > 1e-9:
                raise ValueError("inversion: all orbitals must sit on one site (the inversion "
                                 "centre)")
            P = np.diag([(-1.0) ** o.l for o in orbitals]).astype(complex)
            Hn = 0.5 * (H + P @ H[partner] @ P)
        changes[s] = float(np.abs(Hn - H).max(initial=0.0))
        H = Hn
    # the two projections commute (U acts on spin, P on the orbitals and R): applied in
    # sequence they project onto the part invariant under both
    return H, changes
