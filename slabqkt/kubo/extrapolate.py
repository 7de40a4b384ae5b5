"""Gamma -> 0: separate the 1/Gamma and the finite parts of a response.

At weak disorder a Kubo response at disorder strength s n_i v0^2 (broadening ~ s Gamma)
behaves as

    chi(s) = a / s + b + c_1 s + c_2 s^2 + ...

a: the Boltzmann (intraband) part at the reference strength s = 1 (it scales as tau);
b: the clean-limit-finite part (intrinsic + vertex-corrected interband terms). The kinetic
theory gives exactly chi_QKT = a_QKT/s + b_QKT: the leading-order correspondence is
a = a_QKT and b = b_QKT. Both come from one linear least-squares fit of s chi(s) by a
polynomial in s, i.e. chi on the basis {1/s, 1, s, ..., s^order} (order + 2 <= number of
strengths; with exactly order + 2 strengths it is Richardson extrapolation). The error
estimate is the change of (a, b) when the fit order is lowered by one (or, with the
minimum number of points, when the largest strength is dropped).
"""
import numpy as np


def _fit(s, y, order):
    A = np.stack([1 / s] + [s ** j for j in range(order + 1)], axis=-1)
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    return coef[0], coef[1]


def extrapolate(scales, values, order=None):
    """Fit chi(s) = a/s + b + sum_j c_j s^j.

    Parameters
    ----------
    scales : (M,) float
        Disorder strengths relative to the reference (s = 1: the case's disorder).
    values : (M,) float
        chi at those strengths.
    order : int, optional
        Highest power of s (default: M - 2, at most 3).

    Returns
    -------
    dict with a (the 1/Gamma part at s = 1), b (the finite part), a_error, b_error, order.
    """
    s = np.asarray(scales, float)
    y = np.asarray(values, float)
    M = len(s)
    if M == 1:
        return {"a": float("nan"), "b": float("nan"), "a_error": float("nan"),
                "b_error": float("nan"), "order": -1}
    if M == 2:
        a, b = _fit(s, y, 0)
        return {"a": float(a), "b": float(b), "a_error": float("nan"), "b_error": float("nan"),
                "order": 0}
    order = min(M - 2, 3) if order is None else order
    a, b = _fit(s, y, order)
    if order >= 1 and M > order + 2:
        a2, b2 = _fit(s, y, order - 1)
    else:
        keep = np.argsort(s)[:-1]  # drop the strongest disorder
        a2, b2 = _fit(s[keep], y[keep], min(order, len(keep) - 2))
    return {"a": float(a), "b": float(b), "a_error": float(abs(a - a2)),
            "b_error": float(abs(b - b2)), "order": int(order)}
