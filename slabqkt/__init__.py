"""slabqkt: quantum kinetic theory of linear response in finite slabs.

Valet & Raimondi's Boltzmann equation (2) with scalar disorder (3)-(4) on
slab coordinate x times Fermi-surface momenta, Fuchs-Sondheimer and rough
surfaces, and the interband density matrix of their Eq. (1).
"""
from .case import load_case, resolve  # noqa: F401
from .errors import CaseError, ConvergenceError, ModelError, SlabQKTError  # noqa: F401
from .result import Result, load_result  # noqa: F401
from .scans import load_scan  # noqa: F401
from .simulation import Simulation, run_case  # noqa: F401

__version__ = "0.1.0"
