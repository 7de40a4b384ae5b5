"""One case key: its type, default, unit, documentation and allowed range.

:class:`Key` is shared by the case schema (:mod:`slabqkt.case`) and the modules
that contribute keys to it (e.g. :mod:`slabqkt.lattice.builders`).
"""
import math

from .errors import CaseError

#: largest magnitude of a vector component, and smallest vector length (overflow-safe norms)
VECTOR_MAX = 1e100
VECTOR_MIN_NORM = 1e-100


class Key:
    """One case key.

    Parameters
    ----------
    kind : {"float", "int", "str", "bool", "vector", "list", "table"}
    default : object or None
        ``None`` means optional with no default (absent from the resolved case).
    unit : str
    doc : str
    lo, hi : float, optional
        Allowed closed range (``lo_open``/``hi_open`` make it open).
    choices : tuple, optional
    """

    def __init__(self, kind, default, unit, doc, lo=None, hi=None, lo_open=False, hi_open=False,
                 choices=None, length=None, allowed_text=None):
        self.kind, self.default, self.unit, self.doc = kind, default, unit, doc
        self.lo, self.hi, self.lo_open, self.hi_open = lo, hi, lo_open, hi_open
        self.choices, self.length = choices, length
        self.allowed_text = allowed_text

    def allowed(self):
        if self.allowed_text:
            return "allowed: " + self.allowed_text
        if self.choices:
            return "allowed: " + ", ".join(repr(c) for c in self.choices)
        if self.kind == "vector":
            return (f"allowed: a direction: a list of {self.length} real numbers, each |x| <= "
                    f"{VECTOR_MAX:g}, of length >= {VECTOR_MIN_NORM:g}")
        parts = []
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {self.lo:g}")
        if self.hi is not None:
            parts.append(f"{'<' if self.hi_open else '<='} {self.hi:g}")
        what = {"float": "a real number", "int": "an integer", "str": "a string",
                "bool": "true or false", "list": "a list", "table": "a table"}[self.kind]
        return "allowed: " + what + ((" " + " and ".join(parts)) if parts else "")

    def check(self, name, value):
        k = self.kind
        bad = CaseError(name, value, self.allowed())
        if k == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise bad
            value = float(value)
            if not math.isfinite(value):
                raise bad
        elif k == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                else:
                    raise bad
        elif k == "str":
            if not isinstance(value, str):
                raise bad
        elif k == "bool":
            if not isinstance(value, bool):
                raise bad
        elif k == "vector":
            if not isinstance(value, (list, tuple)) or len(value) != self.length or not all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                    and abs(v) <= VECTOR_MAX for v in value):
                raise bad
            value = [float(v) for v in value]
            # |x| <= 1e100: the squares cannot overflow; the length must not underflow
            if math.sqrt(sum(v * v for v in value)) < VECTOR_MIN_NORM:
                raise bad
        elif k == "list":
            if not isinstance(value, (list, tuple)):
                raise bad
            value = list(value)
        elif k == "table":
            if not isinstance(value, dict):
                raise bad
        if self.choices and value not in self.choices:
            raise bad
        if k in ("float", "int"):
            if self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo)):
                raise bad
            if self.hi is not None and (value > self.hi or (self.hi_open and value == self.hi)):
                raise bad
        return value
