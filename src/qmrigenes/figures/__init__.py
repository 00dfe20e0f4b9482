"""Figure builders, organised by what they draw. Each returns a :class:`matplotlib.figure.Figure`.

===========================================  ===================================================
module                                       draws
===========================================  ===================================================
:mod:`~qmrigenes.figures.surfaces`           regional maps on the cortical surface
:mod:`~qmrigenes.figures.slices`             slices of volumes (phantoms, maps, QSM, fields, lesions)
:mod:`~qmrigenes.figures.regression`         scatter plots with fitted lines, estimates vs truth, coefficients
:mod:`~qmrigenes.figures.distributions`      null distributions with the observed statistic
:mod:`~qmrigenes.figures.matrices`           heat maps (genes x regions, correlations, counts, directions)
:mod:`~qmrigenes.figures.curves`             bars and curves against a parameter, sweeps, profiles
:mod:`~qmrigenes.figures.style`              the shared width, minimum font and colour-blind-safe palette
===========================================  ===================================================

Every function is also available here: ``from qmrigenes import figures; figures.plot_phantom(...)``.
"""
from .curves import (plot_accuracy, plot_atrophy, plot_flip_angle_noise, plot_lesion_profiles, plot_power_curves,
                     plot_r1_bias, plot_roi_bars, plot_tkd_sweep)
from .distributions import plot_association, plot_null_distributions, plot_null_histogram
from .matrices import plot_correlation_matrix, plot_expression_heatmap, plot_review_heatmap, plot_sampling_heatmap
from .regression import plot_beta_comparison, plot_per_donor_panels, plot_regression_panels, plot_roi_means
from .slices import (deep_nuclei_slice, plot_denoising, plot_lesion_stages, plot_mpm_maps, plot_phantom, plot_qsm,
                     plot_sharp)
from .style import CATEGORICAL, CATEGORICAL_MARKERS, COLUMN_WIDTH_IN, MIN_FONT_PT
from .surfaces import plot_dk_surface_maps, plot_maps_with_gene_sets, plot_simulation_recovery

__all__ = [
    "CATEGORICAL", "CATEGORICAL_MARKERS", "COLUMN_WIDTH_IN", "MIN_FONT_PT",
    "plot_dk_surface_maps", "plot_maps_with_gene_sets", "plot_simulation_recovery",
    "deep_nuclei_slice", "plot_phantom", "plot_mpm_maps", "plot_denoising", "plot_qsm", "plot_sharp",
    "plot_lesion_stages",
    "plot_regression_panels", "plot_per_donor_panels", "plot_roi_means", "plot_beta_comparison",
    "plot_association", "plot_null_distributions", "plot_null_histogram",
    "plot_expression_heatmap", "plot_correlation_matrix", "plot_sampling_heatmap", "plot_review_heatmap",
    "plot_roi_bars", "plot_power_curves", "plot_accuracy", "plot_r1_bias", "plot_flip_angle_noise",
    "plot_tkd_sweep", "plot_lesion_profiles", "plot_atrophy",
]
