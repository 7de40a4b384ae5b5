"""The scan specification: varied keys, their values, every point's resolved case.

Any case key can be varied (``slab.thickness_mfp``, ``boundaries.left.roughness_nm``,
``fermi_surface.fermi_level_eV``, ...); ``boundaries.both.<key>`` sets the same value on
both surfaces. Values are a TOML list (``[0.1, 1, 10]``), ``'start:stop:num'``
(``numpy.linspace``, both ends included) or ``'log:start:stop:num'``
(``numpy.geomspace``). Every point's case goes through :func:`slabqkt.case.resolve`,
so the usual validation applies to every value.
"""
import copy
import itertools
import os

import numpy as np
import tomli_w

from .. import case as case_mod
from ..case import SCHEMA, CaseError, parse_value, read_raw, resolve, set_key

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

#: keys that are a property of the run, not of the scan (may differ between reruns)
RUN_KEYS = {("solver", "backend"), ("solver", "petsc"), ("output", "file"), ("output", "plots")}
#: keys of which a case gives at most one: varying one drops the others from the base
EXCLUSIVE = (("slab.thickness_nm", "slab.thickness_mfp"),
             ("disorder.tau_fs", "disorder.mean_free_path_nm", "disorder.n_i_v0_sq"))
#: most values of one varied key, and most points of a scan (each point is a whole solve)
MAX_VALUES = 10000
MAX_POINTS = 100000

RANGE_HELP = ("allowed: a non-empty list of values, 'start:stop:num' or 'log:start:stop:num' "
              "(real start and stop, integer num >= 1; log: start, stop > 0)")
#: first line of every scan.toml slabqkt writes (a folder without it is not a scan folder)
IDENTITY_HEADER = "# slabqkt scan: base case and scan specification."


def dumps_toml(table):
    """TOML text of a nested dict (keys quoted and strings escaped by ``tomli_w``)."""
    return tomli_w.dumps(table)


def inline_toml(value):
    """One-line TOML text of a value (used as a coordinate label)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{tomli_w.dumps({str(k): 0})[:-5]} = {inline_toml(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(inline_toml(v) for v in value) + "]"
    return tomli_w.dumps({"v": value})[4:].rstrip("\n")


# ---------------------------------------------------------------------------------------------
# keys and values
# ---------------------------------------------------------------------------------------------
def check_key(key, value=None):
    """Raise a :class:`CaseError` unless ``key`` is a case key that a scan may vary.

    Allowed: ``section.key`` of :data:`slabqkt.case.SCHEMA` (except ``scan.*``, ``output.*``,
    ``solver.backend``, ``solver.petsc``) and ``boundaries.left|right|both.<surface key>``.
    """
    shown = value if value is not None else "..."
    parts = key.split(".")
    if parts[0] == "boundaries":
        sides = ("left", "right", "both")
        if len(parts) != 3 or parts[1] not in sides or parts[2] not in case_mod._SURFACE:
            raise CaseError(key, shown, "unknown key; allowed: boundaries.left|right|both."
                            + "|".join(case_mod._SURFACE))
        return
    if len(parts) != 2 or parts[0] not in SCHEMA:
        raise CaseError(key, shown, "unknown key; allowed: section.key with section one of "
                        + ", ".join(s for s in SCHEMA if s != "scan"))
    sec, name = parts
    if sec == "scan" or sec == "output" or (sec, name) in RUN_KEYS:
        raise CaseError(key, shown, "cannot be varied; allowed: keys of the physics and numerics "
                        "(not scan.*, output.*, solver.backend, solver.petsc)")
    if name not in SCHEMA[sec]:
        raise CaseError(key, shown, f"unknown key; allowed in [{sec}]: " + ", ".join(SCHEMA[sec]))


def key_schema(key):
    """The :class:`slabqkt.case.Key` of a (checked) varied key."""
    parts = key.split(".")
    if parts[0] == "boundaries":
        return case_mod._SURFACE[parts[2]]
    return SCHEMA[parts[0]][parts[1]]


def targets(key):
    """The case keys a varied key sets (``boundaries.both.k`` sets left and right)."""
    parts = key.split(".")
    if parts[0] == "boundaries" and parts[1] == "both":
        return [f"boundaries.left.{parts[2]}", f"boundaries.right.{parts[2]}"]
    return [key]


_COMPOUND_EXAMPLE = {
    "observables.names": '[["spin_z"], ["spin_x", "spin_z"]]',
    "field.direction": "[[0, 1, 0], [0, 0.6, 0.8]]",
    "model.magnetization": "[[0, 0, 1], [0, 1, 0]]",
}


def _check_compound(key, spec):
    """A list-, vector- or table-valued key: every scanned value is itself a list (table)."""
    kind = key_schema(key).kind
    if kind not in ("list", "vector", "table"):
        return
    elem = dict if kind == "table" else (list, tuple)
    if isinstance(spec, (list, tuple)) and spec and all(isinstance(v, elem) for v in spec):
        return
    what = {"list": "a list", "table": "a table",
            "vector": f"a list of {key_schema(key).length} real numbers"}[kind]
    example = _COMPOUND_EXAMPLE.get(key, "[[...], [...]]" if kind != "table" else "[{...}, {...}]")
    raise CaseError(key, spec, f"allowed: a list of the scanned values, each itself {what} "
                    f"({key} is {'a table' if kind == 'table' else 'a list'}), e.g. "
                    f"{key}={example}; for one value at every point use --set instead")


def expand_values(key, spec):
    """The list of values of one varied key.

    Parameters
    ----------
    key : str
    spec : list, scalar or str
        A list (a scalar is a one-value list), ``'start:stop:num'`` (linear, ends included)
        or ``'log:start:stop:num'`` (geometric). For a list-valued key (``observables.names``,
        ``field.direction``, ...) a list of lists.
    """
    try:
        key_schema(key)
        known = True
    except (KeyError, IndexError):
        known = False
    if known:
        _check_compound(key, spec)
    if isinstance(spec, dict):
        raise CaseError(key, spec, RANGE_HELP)
    if isinstance(spec, (list, tuple)):
        if len(spec) == 0:
            raise CaseError(key, list(spec), RANGE_HELP)
        return list(spec)
    if isinstance(spec, str) and spec.lstrip().startswith("["):
        # not a valid TOML array (e.g. unquoted strings)
        raise CaseError(key, spec, RANGE_HELP + "; strings in a list need quotes")
    if isinstance(spec, str) and "," in spec and ":" not in spec:
        # a bare comma-separated list from the command line: --vary slab.n_x=100,200
        return [parse_value(v.strip()) for v in spec.split(",")]
    if isinstance(spec, str) and ":" in spec:
        fields = [f.strip() for f in spec.split(":")]
        is_log = fields[0].lower() == "log"
        if is_log:
            fields = fields[1:]
        if len(fields) != 3:
            raise CaseError(key, spec, RANGE_HELP)
        try:
            start, stop, num = float(fields[0]), float(fields[1]), float(fields[2])
        except ValueError:
            raise CaseError(key, spec, RANGE_HELP) from None
        if not (np.isfinite(start) and np.isfinite(stop) and np.isfinite(num)) \
                or not num.is_integer() or num < 1 or (is_log and (start <= 0 or stop <= 0)):
            raise CaseError(key, spec, RANGE_HELP)
        num = int(num)
        if num > MAX_VALUES:
            raise CaseError(key, spec, f"allowed: at most {MAX_VALUES} values per key (num = "
                            f"{num}; every value is a solve per point of the other keys)")
        vals = np.geomspace(start, stop, num) if is_log else np.linspace(start, stop, num)
        return [float(v) for v in vals]
    return [spec]


def _hashable(v):
    if isinstance(v, dict):
        return ("{}",) + tuple(sorted((str(k), _hashable(x)) for k, x in v.items()))
    if isinstance(v, (list, tuple)):
        return ("[]",) + tuple(_hashable(x) for x in v)
    return v


def _first_repeat(items):
    """(first index, repeated index) of the first value given twice, or None (== equality)."""
    seen = {}
    for j, v in enumerate(items):
        h = _hashable(v)
        try:
            if h in seen:
                return seen[h], j
            seen[h] = j
        except TypeError:  # pragma: no cover - unhashable leftovers
            continue
    return None


def _exclusive_group(t):
    """Case keys of which a case holds at most one, ``t`` among them."""
    parts = t.split(".")
    if parts[0] == "boundaries":
        return tuple(f"boundaries.{parts[1]}.{k}" for k in case_mod._SURFACE)
    return next((g for g in EXCLUSIVE if t in g), (t,))


def _flatten(table, prefix=""):
    """``{"slab": {"n_x": [..]}}`` and ``{"slab.n_x": [..]}`` both give ``{"slab.n_x": [..]}``."""
    out = {}
    for k, v in table.items():
        name = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(_flatten(v, name))
        else:
            out[name] = v
    return out


class ScanSpec:
    """Varied keys, their values and how they combine.

    Parameters
    ----------
    vary : dict
        key -> list of values (already expanded), in order: the dimensions of the result.
    mode : {"product", "zip"}
        ``product``: every combination (C order, the last key varies fastest), one result
        dimension per key; the values of each key must differ. ``zip``: the i-th values of
        all keys together (equal lengths, no two points equal), one result dimension
        ``point`` with every key as a coordinate along it.
    """

    def __init__(self, vary, mode="product"):
        if not vary:
            raise CaseError("scan.vary", {}, "allowed: at least one key = values ([scan.vary] "
                            "in the case file or --vary KEY=VALUES)")
        if mode not in ("product", "zip"):
            raise CaseError("scan.mode", mode, "allowed: 'product', 'zip'")
        self.keys = list(vary)
        self.values = [list(vary[k]) for k in self.keys]
        self.mode = mode
        n_points = (int(np.prod([float(len(v)) for v in self.values])) if mode == "product"
                    else max(len(v) for v in self.values))
        if n_points > MAX_POINTS or any(len(v) > MAX_VALUES for v in self.values):
            raise CaseError("scan.vary", {k: f"{len(v)} values" for k, v in zip(self.keys, self.values)},
                            f"allowed: at most {MAX_VALUES} values per key and {MAX_POINTS} points "
                            f"in all ({n_points} asked; split the scan)")
        seen = {}
        for key in self.keys:
            for t in targets(key):
                group = _exclusive_group(t)
                for g in group:
                    if g in seen:
                        raise CaseError(key, vary[key], f"conflicts with varied key {seen[g]} "
                                        "(both set the same case value)")
                for g in group:
                    seen[g] = key
        if mode == "zip":
            lens = {k: len(v) for k, v in zip(self.keys, self.values)}
            if len(set(lens.values())) != 1:
                raise CaseError("scan.mode", "zip", "allowed: equal numbers of values for every "
                                "varied key (got " + ", ".join(f"{k}: {n}" for k, n in lens.items())
                                + ")")
            rep = _first_repeat(list(zip(*self.values)))
            if rep is not None:
                i, j = rep
                same = ", ".join(f"{k} = {inline_toml(v[i])}" for k, v in zip(self.keys, self.values))
                raise CaseError("scan.vary", {k: v for k, v in zip(self.keys, self.values)},
                                f"allowed: distinct zipped points (points {i} and {j} are both "
                                f"{same})")
        else:
            for k, v in zip(self.keys, self.values):
                rep = _first_repeat(v)
                if rep is not None:
                    i, j = rep
                    raise CaseError(k, v, f"allowed: distinct values ({inline_toml(v[i])} is "
                                    f"given twice: values {i} and {j})")

    @property
    def dims(self):
        return list(self.keys) if self.mode == "product" else ["point"]

    @property
    def shape(self):
        if self.mode == "product":
            return tuple(len(v) for v in self.values)
        return (len(self.values[0]),)

    @property
    def size(self):
        return int(np.prod(self.shape))

    def assignments(self):
        """List over points (flat C order) of ``[(key, value), ...]``."""
        if self.mode == "product":
            combos = itertools.product(*self.values)
        else:
            combos = zip(*self.values)
        return [list(zip(self.keys, c)) for c in combos]

    def describe(self):
        sep = " x " if self.mode == "product" else " zipped with "
        return self.mode + " of " + sep.join(f"{k}[{len(v)}]" for k, v in zip(self.keys, self.values))

    def to_dict(self):
        return {"mode": self.mode, "vary": {k: v for k, v in zip(self.keys, self.values)}}

    def to_toml(self):
        return dumps_toml({"scan": self.to_dict()})


def apply_point(raw_base, assignment):
    """A raw case dict with the varied values set (alternatives of each key dropped)."""
    raw = copy.deepcopy(raw_base)
    for key, value in assignment:
        for t in targets(key):
            parts = t.split(".")
            if parts[0] == "boundaries":
                surf = raw.get("boundaries", {}).get(parts[1])
                if isinstance(surf, dict):
                    for other in case_mod._SURFACE:
                        if other != parts[2]:
                            surf.pop(other, None)
            for group in EXCLUSIVE:
                if t in group:
                    for other in group:
                        sec, name = other.split(".")
                        if other != t and isinstance(raw.get(sec), dict):
                            raw[sec].pop(name, None)
            set_key(raw, t, copy.deepcopy(value))
    return raw


def _strip_run_keys(case):
    out = copy.deepcopy(case)
    out.pop("name", None)
    for sec, name in RUN_KEYS:
        if isinstance(out.get(sec), dict):
            out[sec].pop(name, None)
    out.pop("scan", None)
    return out


def _first_difference(a, b, prefix=""):
    """Dotted name of the first differing entry of two nested dicts, or None."""
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a or k not in b:
                return (f"{prefix}{k}", a.get(k, "(absent)"), b.get(k, "(absent)"))
            d = _first_difference(a[k], b[k], f"{prefix}{k}.")
            if d:
                return d
        return None
    if a != b:
        return (prefix.rstrip("."), a, b)
    return None


class Scan:
    """A fully specified scan: base case, spec, every point's resolved case.

    Build it with :func:`build_scan` (case file + command line) or directly from a raw case
    dict with a ``[scan]`` table.
    """

    def __init__(self, raw_case, vary=None, mode=None, directory=None):
        raw = copy.deepcopy(raw_case)
        scan_tab = raw.pop("scan", {}) or {}
        if not isinstance(scan_tab, dict):
            raise CaseError("scan", scan_tab, "allowed: a table")
        for k, v in scan_tab.items():
            if k not in SCHEMA["scan"]:
                raise CaseError(f"scan.{k}", v, "unknown key; allowed: " + ", ".join(SCHEMA["scan"]))
        file_vary = scan_tab.get("vary", {})
        if not isinstance(file_vary, dict):
            raise CaseError("scan.vary", file_vary, "allowed: a table key = values")
        vary_raw = _flatten(file_vary) if vary is None else dict(vary)
        mode = mode or scan_tab.get("mode", "product")
        self.directory = directory or scan_tab.get("directory")
        if self.directory is not None and not isinstance(self.directory, str):
            raise CaseError("scan.directory", self.directory, "allowed: a string (a folder path)")
        expanded = {}
        for key, spec in vary_raw.items():
            check_key(key, spec)
            expanded[key] = expand_values(key, spec)
        self.spec = ScanSpec(expanded, mode)
        self.raw_base = raw
        self.name = str(raw.get("name", "case"))
        self.cases = [resolve(apply_point(raw, a)) for a in self.spec.assignments()]
        for c in self.cases:
            if "thickness_nm" not in c["slab"] and "thickness_mfp" not in c["slab"]:
                raise CaseError("slab.thickness_nm", None, "a scan solves slabs: give "
                                "slab.thickness_nm or slab.thickness_mfp (in the case or varied)")
        try:
            self.base = resolve(raw)
        except CaseError:
            # the file alone is incomplete (a varied key supplies a required value)
            self.base = copy.deepcopy(self.cases[0])
        self.base.pop("scan", None)
        for c in self.cases:
            c.pop("scan", None)
        if self.directory is None:
            self.directory = os.path.join("results", self.name + ".scan")

    @property
    def size(self):
        return self.spec.size

    def identity_toml(self):
        """Text of DIR/scan.toml: the resolved base case and the expanded scan spec."""
        table = {k: v for k, v in self.base.items() if k != "scan"}
        table["scan"] = self.spec.to_dict()
        return (IDENTITY_HEADER + " A rerun in this folder\n"
                "# must match it (solver.backend, solver.petsc, output.* and name may differ).\n"
                + dumps_toml(table))

    def check_identity(self, text):
        """Raise if the scan.toml ``text`` of a folder describes another scan."""
        if not text.startswith(IDENTITY_HEADER):
            raise CaseError("scan.directory", self.directory,
                            "holds a scan.toml that slabqkt did not write (not a scan folder); "
                            "use another --dir")
        try:
            old = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CaseError("scan.directory", self.directory,
                            f"its scan.toml is not valid TOML ({exc}); delete the folder or use "
                            "another --dir") from None
        new = tomllib.loads(self.identity_toml())
        old_spec, new_spec = old.pop("scan", {}), new.pop("scan", {})
        diff = (_first_difference(_strip_run_keys(old), _strip_run_keys(new))
                or _first_difference({"scan": old_spec}, {"scan": new_spec}))
        if diff:
            key, there, now = diff
            raise CaseError("scan.directory", self.directory,
                            f"holds a different scan ({key} = {there!r} there, {now!r} now); "
                            "use another --dir or delete the folder")


def build_scan(case_path, vary=(), mode=None, sets=(), directory=None, backend=None):
    """A :class:`Scan` from a case file and command-line options.

    Parameters
    ----------
    case_path : str
    vary : sequence of str
        ``KEY=VALUES``; if given they replace the file's ``[scan.vary]``.
    mode, directory : str, optional
        Override ``scan.mode`` / ``scan.directory``.
    sets : sequence of str
        ``KEY=VALUE`` overrides of the base case (``--set``).
    backend : str, optional
        Overrides ``solver.backend``.
    """
    raw = read_raw(case_path, list(sets) + ([f"solver.backend={backend}"] if backend else []))
    cli_vary = None
    if vary:
        cli_vary = {}
        for item in vary:
            if "=" not in item:
                raise CaseError("--vary", item, "allowed: KEY=VALUES, e.g. slab.thickness_mfp=log:0.1:10:5")
            key, val = item.split("=", 1)
            key = key.strip()
            if key in cli_vary:
                raise CaseError(key, val, "given twice with --vary")
            cli_vary[key] = parse_value(val.strip())
    return Scan(raw, cli_vary, mode, directory)
