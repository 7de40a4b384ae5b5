"""Observable and velocity operators of the Kubo path, built from the model alone.

The names, operators and units are those of docs/observables.md (so that the numbers
compare with the kinetic theory), but this module is an independent implementation: it
uses only ``model.dh``, ``model.spin_operators`` and ``model.orbital_operators``.

- ``density``: 1;  ``current_i``: e v_i, v_i = (dh/dk_i)/hbar (nm/fs), e = -1 (|e|);
- ``spin_i``: sigma_i (hbar/2);  ``orbital_i``: L_i (hbar);
- ``spin_current_ij``: (hbar/4){sigma_i, v_j} = {s_i, v_j}/2 (hbar nm/fs);
- ``orbital_current_ij``: {L_i, v_j}/2 (hbar nm/fs);
- a custom name: the constant matrix real + i imag of ``[observables.custom]``.
"""
import dataclasses
import re

import numpy as np

from ..errors import CaseError
from ..units import E_CHARGE, HBAR

_AX = {"x": 0, "y": 1, "z": 2}


@dataclasses.dataclass
class Operator:
    """An N x N operator O(k).

    Attributes
    ----------
    name : str
    unit : str
        Unit of O (the response density has unit O nm^-d per V/nm).
    matrix : (N, N) complex or None
        The constant part.
    velocity : int or None
        If set, O(k) = {A, v_velocity}/2 * factor with A = matrix (A None: O = factor * v).
    factor : float
    """

    name: str
    unit: str
    matrix: np.ndarray = None
    velocity: int = None
    factor: float = 1.0

    def __call__(self, dh):
        """O at the k points whose dh (Nk, d, N, N) is given: (Nk, N, N)."""
        nk, d, N = dh.shape[0], dh.shape[1], dh.shape[-1]
        if self.velocity is None:
            return np.broadcast_to(self.matrix, (nk, N, N))
        if self.velocity >= d:
            return np.zeros((nk, N, N), complex)
        v = dh[:, self.velocity] / HBAR
        if self.matrix is None:
            return self.factor * v
        A = self.matrix
        return self.factor * 0.5 * (A @ v + v @ A)


def velocity_along(dh, direction):
    """v . n (Nk, N, N) in nm/fs for a unit vector n (length 3; components beyond d ignored)."""
    d = dh.shape[1]
    n = np.asarray(direction, float)[:d]
    return np.einsum("i,kiab->kab", n, dh) / HBAR


def make_operator(name, model, custom=None):
    """The operator of an observable name (docs/observables.md)."""
    custom = custom or {}
    N = model.N
    if name in custom:
        spec = custom[name]
        M = np.asarray(spec.get("real", np.zeros((N, N))), float) \
            + 1j * np.asarray(spec.get("imag", np.zeros((N, N))), float)
        if M.shape != (N, N) or not np.allclose(M, M.conj().T):
            raise CaseError(f"observables.custom.{name}", "matrix",
                            f"allowed: a Hermitian {N} x {N} matrix")
        if hasattr(model, "rotate"):
            M = model.rotate(M)
        return Operator(name, spec.get("unit", "1"), M)
    if name == "density":
        return Operator(name, "1", np.eye(N, dtype=complex))
    m = re.fullmatch(r"current_([xyz])", name)
    if m:
        return Operator(name, "|e| nm/fs", None, _AX[m.group(1)], E_CHARGE)
    m = re.fullmatch(r"(spin|orbital)_([xyz])", name)
    if m:
        ops, unit = _ops(model, m.group(1), name)
        return Operator(name, unit, ops[_AX[m.group(2)]])
    m = re.fullmatch(r"(spin|orbital)_current_([xyz])([xyz])", name)
    if m:
        ops, _ = _ops(model, m.group(1), name)
        A = ops[_AX[m.group(2)]]
        factor = 0.5 if m.group(1) == "spin" else 1.0  # (hbar/4){sigma, v}: sigma/2 = s/hbar
        return Operator(name, "hbar nm/fs", A, _AX[m.group(3)], factor)
    raise CaseError("observables.names", name,
                    "unknown observable; allowed: density, current_x/y/z, spin_x/y/z, "
                    "orbital_x/y/z, spin_current_ij, orbital_current_ij, or a custom name")


def _ops(model, kind, name):
    ops = model.spin_operators() if kind == "spin" else model.orbital_operators()
    if ops is None:
        raise CaseError("observables.names", name,
                        f"the model '{type(model).__name__}' has no {kind} operators")
    return np.asarray(ops, complex), ("hbar/2" if kind == "spin" else "hbar")
