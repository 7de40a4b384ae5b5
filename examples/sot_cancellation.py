"""Spin-orbit torque of the Rashba ferromagnet: intrinsic vs disorder, Eqs. (12)-(15).

The paper's Eq. (11) model, h = hbar^2 k^2/2m* + alpha_R (sigma_x k_y -
sigma_y k_x) + J_e m.sigma, with m along z and E along x
(``geometries/rashba_fm_bulk.toml``). The torque density is
T = J_e m x <sigma> (eV nm^-2 at the case's field; <sigma> per nm^2 is the
spin density in units hbar/2). Printed, part by part of Eq. (1):

- intrinsic (first term, a Fermi-sea integral): the damping-like torque,
  <sigma_x>_I = q E alpha Delta m* / (2 pi hbar (2 m* alpha^2 eps_F + Delta^2)),
  alpha = alpha_R/hbar, q = e < 0 (closed form printed beside it);
- disorder (third term, the vertex correction): cancels it, exactly when both
  bands are occupied (eps_F > J_e), at leading order in alpha_R k_F/J_e
  (the paper's Eqs. 14-15) when only the lower band is;
- intraband (Boltzmann): the field-like Edelstein torque, which survives.

Then the Fermi level is swept and the three torques plotted against eps_F.

Usage::

    python examples/sot_cancellation.py [--quick] [--outdir DIR] [--case FILE]

Writes DIR/sot_cancellation.png.
"""
import argparse
import os
import pathlib
import sys

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run from a checkout without installing
    sys.path.insert(0, str(ROOT))

from slabqkt import Simulation, load_case  # noqa: E402
from slabqkt.tools import get_logger  # noqa: E402
from slabqkt.units import E_CHARGE, HBAR, HBAR2_OVER_2ME  # noqa: E402

PARTS = ("intra", "intrinsic", "disorder", "total")


def spin_and_torque(case):
    """<sigma> per part (3-vectors, nm^-2) and T = J_e m x <sigma> (eV nm^-2)."""
    sim = Simulation(case)
    _, obs = sim.bulk()
    mc = case["model"]
    m = np.asarray(mc["magnetization"], float)
    m = m / np.linalg.norm(m)
    spin = {p: np.array([float(obs[f"spin_{a}"][p]) for a in "xyz"]) for p in PARTS}
    torque = {p: mc["exchange_eV"] * np.cross(m, s) for p, s in spin.items()}
    return sim, spin, torque


def closed_form_spin_x(case, field):
    """<sigma_x>_I for m || z, E || x (nm^-2); None if the case is not of that form."""
    mc = case["model"]
    m = np.asarray(mc["magnetization"], float)
    eF = case["fermi_surface"]["fermi_level_eV"]
    delta = mc["exchange_eV"]
    e = np.asarray(field, float) / np.linalg.norm(field)
    if not np.allclose(m / np.linalg.norm(m), [0, 0, 1]) or not np.allclose(e, [1, 0, 0]) \
            or eF <= abs(delta):
        return None
    mstar = HBAR ** 2 * mc["effective_mass"] / (2 * HBAR2_OVER_2ME)
    a = mc["alpha_R"] / HBAR
    return (E_CHARGE * field[0] * a * delta * mstar
            / (2 * np.pi * HBAR * (2 * mstar * a ** 2 * eF + delta ** 2)))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few Fermi points and levels (tests)")
    ap.add_argument("--outdir", default="results/examples", help="where the figure goes")
    ap.add_argument("--case", default=str(ROOT / "geometries" / "rashba_fm_bulk.toml"))
    args = ap.parse_args(argv)
    get_logger("slabqkt").setLevel("WARNING")
    os.makedirs(args.outdir, exist_ok=True)
    quick = ["fermi_surface.n_angles=32"] if args.quick else []
    case = load_case(args.case, quick)
    sim, spin, torque = spin_and_torque(case)
    fld = np.linalg.norm(sim.field) * 1e9
    mc = case["model"]
    print(f"Rashba ferromagnet: m* = {mc['effective_mass']:g} m_e, alpha_R = {mc['alpha_R']:g} eV nm, "
          f"J_e = {mc['exchange_eV']:g} eV, m = {mc['magnetization']}, "
          f"eps_F = {case['fermi_surface']['fermi_level_eV']:g} eV, tau = {sim.tau:.4g} fs, "
          f"E = {fld:.4g} V/m along {case['field']['direction']}")
    print("T = J_e m x <sigma>; <sigma> in hbar/2 nm^-2, T in eV nm^-2")
    print(f"{'part':<10}" + "".join(f"{'<s_' + a + '>':>13}" for a in "xyz")
          + "".join(f"{'T_' + a:>13}" for a in "xyz"))
    for p in PARTS:
        print(f"{p:<10}" + "".join(f"{v:>13.5e}" for v in spin[p])
              + "".join(f"{v:>13.5e}" for v in torque[p]))
    ref = closed_form_spin_x(case, sim.field)
    if ref is not None:
        print(f"closed form <s_x>_I = q E alpha Delta m*/(2 pi hbar (2 m* alpha^2 eps_F + Delta^2)) "
              f"= {ref:.5e}   (intrinsic / closed form - 1 = {spin['intrinsic'][0] / ref - 1:.2e})")
    TI, TIII = torque["intrinsic"], torque["disorder"]
    print(f"intrinsic torque |T_I| = {np.linalg.norm(TI):.5e} eV nm^-2, disorder |T_III| = "
          f"{np.linalg.norm(TIII):.5e}, |T_I + T_III| / |T_I| = "
          f"{np.linalg.norm(TI + TIII) / np.linalg.norm(TI):.3e}")
    print(f"field-like (intraband, Edelstein) torque |T_intra| = {np.linalg.norm(torque['intra']):.5e}")

    # sweep of the Fermi level: one band occupied below eps_F = J_e, both above it
    delta = abs(mc["exchange_eV"])
    top = max(case["fermi_surface"]["fermi_level_eV"], 3 * delta)
    if args.quick:
        levels = np.array([-0.5 * delta, 0.5 * delta, 1.3 * delta, top])
    else:
        levels = np.linspace(-0.9 * delta, top, 25)
        levels = levels[np.abs(levels - delta) > 0.05 * delta]  # not at the upper band bottom
    rows = []
    print(f"\n{'eps_F (eV)':>10} {'T_I':>13} {'T_III':>13} {'T_I+T_III':>13} {'T_intra':>13} "
          f"{'closed form':>13}   (T_I, T_III along m x E; T_intra along m x (z x E); eV nm^-2)")
    for eF in levels:
        c = load_case(args.case, quick + [f"fermi_surface.fermi_level_eV={float(eF)!r}"])
        s, _, t = spin_and_torque(c)
        m = np.asarray(mc["magnetization"], float)
        m = m / np.linalg.norm(m)
        e = s.field / np.linalg.norm(s.field)
        dl = np.cross(m, e)  # intrinsic spin density along E: T_I along m x E
        dl = dl / np.linalg.norm(dl)
        fl = np.cross(m, np.cross([0, 0, 1.0], e))  # Edelstein spin along z x E
        fl = fl / max(np.linalg.norm(fl), 1e-300)
        cf = closed_form_spin_x(c, s.field)
        cf_t = mc["exchange_eV"] * cf if cf is not None else np.nan
        rows.append((eF, t["intrinsic"] @ dl, t["disorder"] @ dl, (t["intrinsic"] + t["disorder"]) @ dl,
                     t["intra"] @ fl, cf_t))
        print(" ".join(f"{v:>13.5e}" if i else f"{v:>10.4f}" for i, v in enumerate(rows[-1])))
    rows = np.array(rows)
    both = rows[:, 0] > delta
    worst = np.max(np.abs(rows[both, 3]) / np.abs(rows[both, 1]))
    print(f"max over eps_F > J_e (both bands occupied) of |T_I + T_III| / |T_I| = {worst:.3e}")
    if (~both).any():
        least = np.min(np.abs(rows[~both, 3]) / np.abs(rows[~both, 1]))
        print(f"min over eps_F < J_e (one band) of |T_I + T_III| / |T_I| = {least:.3e} "
              "(cancelled at leading order in alpha_R k_F/J_e only, Eqs. 13-15)")

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.plot(rows[:, 0], rows[:, 1], "o-", label="intrinsic T_I (damping-like)")
    ax.plot(rows[:, 0], rows[:, 2], "s-", label="disorder T_III")
    ax.plot(rows[:, 0], rows[:, 3], "k-", lw=2.2, label="T_I + T_III")
    ax.plot(rows[:, 0], rows[:, 5], "x", color="C3", ms=8,
            label="closed form J_e qEαΔm*/(2πħ(2m*α²ε_F+Δ²))")
    ax.plot(rows[:, 0], rows[:, 4], "--", color="0.4", label="intraband (field-like, Edelstein)")
    ax.axhline(0, color="0.6", lw=0.7)
    ax.axvline(delta, color="0.6", lw=0.7, ls=":")
    ax.text(delta, ax.get_ylim()[1], " upper band bottom", fontsize=7, va="top")
    ax.set_xlabel("Fermi level ε_F (eV)")
    ax.set_ylabel(f"torque density (eV nm$^{{-2}}$) at |E| = {fld:.3g} V/m")
    ax.set_title(f"Rashba ferromagnet, J_e = {mc['exchange_eV']:g} eV, α_R = {mc['alpha_R']:g} eV nm")
    ax.legend(fontsize=7.5)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = os.path.join(args.outdir, "sot_cancellation.png")
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"figure: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
