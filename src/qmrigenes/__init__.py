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


def __getattr__(name):
    """``qmrigenes.associate`` is :func:`qmrigenes.association.associate` itself (imported on first use,
    so ``help(qmrigenes.associate)`` shows its real signature and docstring)."""
    if name == "associate":
        from .association import associate

        return associate
    raise AttributeError(f"module 'qmrigenes' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + ["associate"])
