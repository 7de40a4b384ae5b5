"""Intrinsic spin Hall conductivity of the Pt Wannier90 model on the zone grid (issue 10, in progress).

Usage: python benchmarks/pt_spin_hall.py [N ...] [--symmetrize] [--data path/to/shared/data/wannier90]

The Fermi-sea (intrinsic) part of Eq. (1) for J = (hbar/4){sigma_z, v_y} with E along the film x
(the cubic (001) normal, so film (x, y, z) are crystal (z, x, y) up to the rotation of
docs/models.md), on N^3 zone grids with refined Fermi-surface cells, in (hbar/e) S/cm:
J/E in hbar/(fs nm V) times e/hbar (1 |e|/(fs nm V) = 1602.18 S/cm). The published values for
this file are 2166 (hbar/e) S/cm (WannierTools, 41^3, 0.05 eV smearing) and 2280 (PRB 98, 214402).
The component with the spin along the film y (spin_current_zx here: sigma^z with v_x) vanishes by
cubic symmetry and measures how well the grid and the model respect it.
"""
import argparse
import pathlib
import sys
import tarfile
import tempfile
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from slabqkt.lattice.builders import build_lattice_model  # noqa: E402
from slabqkt.lattice.fermi_sea import intrinsic_lattice  # noqa: E402
from slabqkt.observables import make_observable  # noqa: E402

#: |e|/(fs nm V) in S/cm
S_PER_CM = 1602.176634


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("grids", nargs="*", type=int, default=[16, 24])
    ap.add_argument("--symmetrize", action="store_true", help="average over T and I copies")
    ap.add_argument("--data", default=str(HERE.parents[1] / "shared" / "data" / "wannier90"))
    a = ap.parse_args(argv)
    data = pathlib.Path(a.data)
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(data / "Pt" / "wannier90_hr.dat.tar.gz") as tar:
            tar.extract("wannier90_hr.dat", tmp, filter="data")
        table = {"kind": "wannier90", "hr_file": str(pathlib.Path(tmp) / "wannier90_hr.dat"),
                 "win_file": str(data / "Pt" / "wannier90.win"), "spin_order": "block",
                 "energy_reference_eV": 11.3158}
        if a.symmetrize:
            table["symmetrize"] = ["time_reversal", "inversion"]
        model = build_lattice_model(table, {"normal_cartesian": [0, 0, 1]})
    obs = [make_observable("spin_current_zy", model), make_observable("spin_current_zx", model)]
    print(f"# Pt, symmetrize={a.symmetrize}; sigma in (hbar/e) S/cm, E along film x")
    print("| N | sigma^z_yx | its two-grid error | forbidden sigma^z_xx | seconds |")
    print("|---|---|---|---|---|")
    for n in a.grids:
        t0 = time.perf_counter()
        v, err = intrinsic_lattice(obs, model, 0.0, np.array([1.0, 0.0, 0.0]), n, 1e-6, refine=2)
        print(f"| {n} | {v[0] * S_PER_CM:.1f} | {err[0] * S_PER_CM:.1f} | {v[1] * S_PER_CM:.1f} "
              f"| {time.perf_counter() - t0:.1f} |", flush=True)


if __name__ == "__main__":
    main()
