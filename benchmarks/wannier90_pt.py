"""Timing of the Wannier90 reader on the Pt file (10 MB, 18 bands, 617 R) and of h(k).

Usage: python benchmarks/wannier90_pt.py [path/to/shared/data/wannier90]
Prints the time to unpack-free load (read + build) and h(k), eigvalsh at 1e4 k points.
"""
import pathlib
import sys
import tarfile
import tempfile
import time

import numpy as np

from slabqkt.lattice import wannier90 as w90
from slabqkt.lattice.builders import build_lattice_model


def main(data):
    data = pathlib.Path(data)
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(data / "Pt" / "wannier90_hr.dat.tar.gz") as tar:
            tar.extract("wannier90_hr.dat", tmp, filter="data")
        hr = pathlib.Path(tmp) / "wannier90_hr.dat"
        t0 = time.perf_counter()
        w90.read_hr(hr)
        t1 = time.perf_counter()
        model = build_lattice_model({"kind": "wannier90", "hr_file": str(hr),
                                     "win_file": str(data / "Pt" / "wannier90.win"),
                                     "spin_order": "block", "energy_reference_eV": 11.3158},
                                    {"normal_cartesian": [0, 0, 1]}, 0.0)
        t2 = time.perf_counter()
    k = (np.random.default_rng(0).random((10000, 3)) - 0.5) @ model.zone.reciprocal
    t3 = time.perf_counter()
    h = model.h(k)
    t4 = time.perf_counter()
    np.linalg.eigvalsh(h)
    t5 = time.perf_counter()
    model.dh(k[:2000])
    t6 = time.perf_counter()
    print(f"read_hr {t1 - t0:.2f} s; build (read, checks, specular test) {t2 - t1:.2f} s; "
          f"h(k) at 1e4 k {t4 - t3:.2f} s; eigvalsh {t5 - t4:.2f} s; dh at 2e3 k {t6 - t5:.2f} s")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else
         pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "wannier90")
