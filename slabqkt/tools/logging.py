"""Rank-aware logging (as Dedalus's ``tools.logging``).

Every record carries the MPI rank. By default only rank 0 prints INFO; other
ranks print WARNING and above. ``SLABQKT_LOG_LEVEL`` sets the level
(``DEBUG``, ``INFO``, ``WARNING``), ``SLABQKT_LOG_ALL_RANKS=1`` lets all ranks
print INFO.
"""
import logging
import os
import sys

_CONFIGURED = False


def comm_rank():
    """MPI rank of this process in COMM_WORLD (0 without MPI)."""
    # Never import mpi4py just to ask: it would initialise MPI in serial runs.
    if "mpi4py.MPI" in sys.modules:
        return sys.modules["mpi4py.MPI"].COMM_WORLD.rank
    for var in ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK"):
        if var in os.environ:
            try:
                return int(os.environ[var])
            except ValueError:
                pass
    return 0


class _RankFilter(logging.Filter):
    def filter(self, record):
        record.rank = comm_rank()
        return True


def _configure():
    global _CONFIGURED
    if _CONFIGURED:
        return
    root = logging.getLogger("slabqkt")
    level = os.environ.get("SLABQKT_LOG_LEVEL", "INFO").upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RankFilter())
    handler.setFormatter(logging.Formatter(
        "%(asctime)s %(name)s %(levelname)s [rank %(rank)d] %(message)s", "%H:%M:%S"))
    root.addHandler(handler)
    quiet = comm_rank() != 0 and os.environ.get("SLABQKT_LOG_ALL_RANKS") != "1"
    root.setLevel(max(getattr(logging, level, logging.INFO), logging.WARNING if quiet else 0))
    root.propagate = False
    _CONFIGURED = True


def get_logger(name):
    """Logger ``slabqkt.<name>`` with rank-aware formatting."""
    _configure()
    return logging.getLogger(name if name.startswith("slabqkt") else "slabqkt." + name)
