"""Provenance flags of every output value (the ``stori_source`` variable)."""

import numpy as np

OBSERVED = np.int8(0)
TEMPORAL = np.int8(1)
SAR = np.int8(2)
SPATIAL = np.int8(3)
MODEL = np.int8(4)
EXTRAPOLATED = np.int8(5)
SCREENED = np.int8(6)
NODATA = np.int8(7)

#: CF ``flag_values`` and ``flag_meanings`` of ``stori_source``.
FLAG_VALUES = np.arange(8, dtype=np.int8)
FLAG_MEANINGS = "observed temporal sar spatial model extrapolated screened no_data"
