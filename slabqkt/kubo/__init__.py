"""Kubo-Bastin linear response with self-consistent Born disorder and ladder vertex
corrections: the independent bulk cross-check of the kinetic theory (``slabqkt kubo``,
docs/kubo.md).

Modules: :mod:`.sample` (k rules, :class:`KSample`), :mod:`.self_energy` (SCBA),
:mod:`.vertex` (Bethe-Salpeter ladder), :mod:`.bastin` (Fermi-surface and Fermi-sea
formulas), :mod:`.operators`, :mod:`.response` (:func:`kubo_response`), :mod:`.extrapolate`
(Gamma -> 0), :mod:`.driver` (case -> result file).
"""
from .response import PARTS, SPLIT_PARTS, KuboResponse, kubo_response  # noqa: F401
from .sample import KSample, continuum_sample  # noqa: F401
