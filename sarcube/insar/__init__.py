"""InSAR post-processing: from unwrapped phase to vertical motion checked against gauges.

The chain starts from an unwrapped, geocoded interferogram (ISCE2, HyP3,
MintPy-style products) and ends with numbers a gauge network can verify:

1. :func:`ionosphere_correction` (on the phase) and
   :func:`troposphere_correction` with :func:`read_gacos` (on the
   displacement) remove the delays that are not ground motion.
   :func:`phase_to_displacement` gives the line-of-sight (LOS) displacement in
   metres, ``d = −λ·φ / (4π)``, positive towards the satellite.
2. :func:`los_to_vertical`: referenced to the spatial median and projected
   to the vertical, ``u = d / cos θ``, assuming purely vertical motion.
3. :func:`clip_to_areas` and :func:`sample_at_points`: the field over areas
   of interest (with a coverage report) and at gauge locations.
4. :func:`fit_gain_offset`, :func:`idw`, :func:`farthest_point_splits`,
   :func:`accuracy_metrics` and :func:`gauge_density_experiment`: how many
   gauges are needed to calibrate the InSAR field, and how the calibrated
   field compares with interpolating the gauges alone; :func:`gauge_table`
   gives the gauges' side: the change in water height above the ground that
   an interferogram can see, per pair and per DEM or correction variant.

The raster functions are lazy on dask input and give the same result for any
chunking; the functions that return tables (coverage, samples) compute only
the pixels they need, in one ``dask.compute``.
"""

from ._calibration import (
    GainOffset,
    accuracy_metrics,
    farthest_point_splits,
    fit_gain_offset,
    gauge_density_experiment,
    idw,
)
from ._common import RADAR_WAVELENGTHS_M
from ._gauges import density_summary, gauge_table
from ._geometry import los_to_vertical
from ._ionosphere import ionosphere_correction
from ._phase import phase_to_displacement
from ._sampling import clip_to_areas, sample_at_points
from ._troposphere import read_gacos, troposphere_correction

__all__ = [
    "RADAR_WAVELENGTHS_M",
    "GainOffset",
    "accuracy_metrics",
    "clip_to_areas",
    "density_summary",
    "farthest_point_splits",
    "fit_gain_offset",
    "gauge_density_experiment",
    "gauge_table",
    "idw",
    "ionosphere_correction",
    "los_to_vertical",
    "phase_to_displacement",
    "read_gacos",
    "sample_at_points",
    "troposphere_correction",
]
