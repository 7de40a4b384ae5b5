"""Parameter scans: MPI ensembles, resumable, one labelled result, summary plots.

``slabqkt scan CASE.toml [--vary KEY=VALUES ...] [--mode product|zip] [--set KEY=VALUE ...]
[--dir DIR] [--out FILE] [--group-size G] [--backend scipy|petsc] [--no-plots]``
(parsed in :mod:`slabqkt.cli`; ``slabqkt scan --help``). See ``docs/scans.md``.

Modules, by concern:

- :mod:`~slabqkt.scans.spec`: varied keys and values, :class:`Scan`, :func:`build_scan`;
- :mod:`~slabqkt.scans.store`: the scan folder, point files, claims and locks;
- :mod:`~slabqkt.scans.driver`: running the points (one process or MPI groups);
- :mod:`~slabqkt.scans.dataset`: the combined result, :func:`read_scan`, :func:`load_scan`;
- :mod:`~slabqkt.scans.plots`: the summary PNGs, :func:`plot_scan_path`.
"""
from .dataset import (EDGE_KEYS, FORMAT, PARTS, POINT_ATTRS, SIDES, ScanData,  # noqa: F401
                      combine, fuchs_reference, load_scan, read_scan)
from .driver import ScanOptions, run_command, run_scan, world_comm  # noqa: F401
from .plots import plot_scan, plot_scan_path  # noqa: F401
from .spec import (EXCLUSIVE, RANGE_HELP, RUN_KEYS, Scan, ScanSpec, apply_point,  # noqa: F401
                   build_scan, check_key, expand_values, targets)
from .store import finished_points, point_path, prepare_directory, read_point  # noqa: F401

__all__ = ["Scan", "ScanSpec", "ScanData", "ScanOptions", "build_scan", "run_scan", "run_command",
           "combine", "read_scan", "load_scan", "plot_scan", "plot_scan_path", "check_key",
           "expand_values", "targets", "apply_point", "fuchs_reference", "point_path",
           "finished_points", "prepare_directory", "read_point", "world_comm", "PARTS",
           "EDGE_KEYS", "SIDES", "POINT_ATTRS", "FORMAT", "RUN_KEYS", "EXCLUSIVE", "RANGE_HELP"]
