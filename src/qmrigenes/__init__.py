"""qmrigenes: quantitative MRI maps against brain gene expression (AHBA).

The one call for a researcher's own map is :func:`qmrigenes.associate`; the
command-line form is ``qmrigenes associate``. Modules, in the direction data
flows: :mod:`~qmrigenes.fetch` (registry, cache) -> :mod:`~qmrigenes.datasets`
(loaders) -> :mod:`~qmrigenes.surface`, :mod:`~qmrigenes.ahba`,
:mod:`~qmrigenes.mpm`, :mod:`~qmrigenes.relaxometry`, :mod:`~qmrigenes.qsm` (and its
solver-independent check :mod:`~qmrigenes.qsmcheck`),
:mod:`~qmrigenes.phantom`, :mod:`~qmrigenes.lesions` (measures and physics) ->
:mod:`~qmrigenes.stats` (gene sets, spatial nulls, regression, multiple testing)
-> :mod:`~qmrigenes.association` -> :mod:`~qmrigenes.figures`.
"""
__version__ = "0.2.0"

__all__ = ["associate", "__version__"]


def associate(map, **kwargs):
    """Gene-set association of a regional or surface map; see :func:`qmrigenes.association.associate`."""
    from .association import associate as _associate

    return _associate(map, **kwargs)
