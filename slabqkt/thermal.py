"""The T > 0 energy quadrature: integrals of g(eps) against -df/d eps.

Elastic scattering makes every energy a T = 0 problem, and an observable at
T > 0 is O(T) = int (-df/de) O(e) de. The weight -df/de is analytic with
poles at mu +- i pi kT, while O(e) is smooth except at band edges (energies
where a band has an extremum, there a Fermi sheet appears or leaves): there
O(e) has a kink, a jump or a square-root onset. The rule therefore

- splits the window mu +- W at every band edge inside it, and clips it at
  the band bottom (no states below: the integrand is exactly zero there);
- on each panel uses the Gauss rule *of the weight -df/de itself*
  (nodes and weights from the discretized Stieltjes procedure and the
  Golub-Welsch eigenproblem): exact for O(e) polynomial of degree 2n - 1
  on the panel, whatever kT;
- on a panel next to a band edge e_b uses the variable s = sqrt(|e - e_b|)
  (weight -f'(e) 2 s): a square-root onset O ~ (e - e_b)^(1/2) (3D band
  bottoms) is then smooth too.

Weights are normalised by the mass of the full window, f(mu - W) - f(mu + W),
so that a constant is integrated exactly (the clipped part has no states).
The error estimate compares with the same rule with half the nodes.
"""
import numpy as np


def _fermi_weight(x):
    """-df/dx for x = (e - mu)/kT (dimensionless)."""
    return 0.25 / np.cosh(0.5 * x) ** 2


def weighted_gauss(weight, a, b, n, n_sub=200, n_pts=20):
    """n-point Gauss rule of the measure weight(s) ds on [a, b].

    Discretized Stieltjes procedure on a composite Gauss-Legendre
    discretization (n_sub panels of n_pts points), then Golub-Welsch.

    Returns
    -------
    nodes, weights : (n,) arrays (weights sum to the mass of the measure)
    """
    xg, wg = np.polynomial.legendre.leggauss(n_pts)
    edges = np.linspace(a, b, n_sub + 1)
    h = np.diff(edges)
    s = (0.5 * (edges[:-1] + edges[1:])[:, None] + 0.5 * h[:, None] * xg).ravel()
    wd = (0.5 * h[:, None] * wg).ravel() * weight(s)
    mass = wd.sum()
    alpha, beta = np.zeros(n), np.zeros(n)
    p_prev, p = np.zeros_like(s), np.full_like(s, 1.0 / np.sqrt(mass))
    for k in range(n):  # n recurrence steps, each vectorized over the discretization
        alpha[k] = np.sum(wd * s * p * p)
        q = (s - alpha[k]) * p - (np.sqrt(beta[k]) * p_prev if k else 0.0)
        if k + 1 < n:
            beta[k + 1] = np.sum(wd * q * q)
            p_prev, p = p, q / np.sqrt(beta[k + 1])
    off = np.sqrt(beta[1:])
    ev, vec = np.linalg.eigh(np.diag(alpha) + np.diag(off, 1) + np.diag(off, -1))
    return ev, mass * vec[0] ** 2


def fermi_window_rule(n, window, edges=(), lo=None, min_mass=1e-14):
    """Nodes x = (e - mu)/kT and weights of the -df/de rule on the window.

    Parameters
    ----------
    n : int
        Nodes per panel.
    window : float
        Half width W of the window in kT.
    edges : sequence of float
        Band-edge energies (in kT from mu); those inside the window split it.
    lo : float, optional
        Lower end (in kT from mu) if the window is clipped at the band bottom
        (a band edge itself).
    min_mass : float
        Panels whose share of -df/de is below this are dropped.

    Returns
    -------
    x, w : arrays; w sums to 1 for an unclipped window.
    """
    a0 = -window if lo is None else max(-window, lo)
    inner = sorted(e for e in edges if a0 < e < window)
    pts = [a0] + inner + [window]
    is_edge = [lo is not None and lo > -window] + [True] * len(inner) + [False]
    panels = []  # (a, b, edge at a, edge at b)
    for i in range(len(pts) - 1):
        a, b, ea, eb = pts[i], pts[i + 1], is_edge[i], is_edge[i + 1]
        if ea and eb:
            m = 0.5 * (a + b)
            panels += [(a, m, True, False), (m, b, False, True)]
        else:
            panels.append((a, b, ea, eb))
    total = np.tanh(0.5 * window)  # f(-W) - f(W)
    xs, ws = [], []
    for a, b, ea, eb in panels:
        mass = 0.5 * (np.tanh(0.5 * b) - np.tanh(0.5 * a))
        if mass < min_mass or b <= a:
            continue
        if ea or eb:
            # s = sqrt(|x - edge|), the measure -f'(x) dx = -f'(edge +- s^2) 2 s ds
            e0, sg = (a, 1.0) if ea else (b, -1.0)
            s, w = weighted_gauss(lambda s: 2 * s * _fermi_weight(e0 + sg * s * s), 0.0,
                                  np.sqrt(b - a), n)
            x = e0 + sg * s * s
        else:
            x, w = weighted_gauss(_fermi_weight, a, b, n)
        xs.append(x)
        ws.append(w)
    x, w = np.concatenate(xs), np.concatenate(ws) / total
    order = np.argsort(x)
    return x[order], w[order]


def merge_edges(edges, tol):
    """Sorted edges with those closer than ``tol`` merged (their mean)."""
    e = np.sort(np.asarray(list(edges), float))
    if e.size == 0:
        return e
    groups = np.concatenate([[0], np.cumsum(np.diff(e) > tol)])
    return np.array([e[groups == g].mean() for g in range(groups[-1] + 1)])
