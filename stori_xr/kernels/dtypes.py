"""The working precision of the kernels."""

import numpy as np


def work_dtype(values: np.ndarray) -> type:
    """float32 (of any byte order) stays float32; anything else is computed in float64.

    Keeping float32 as float32 lets observed values come back bit for bit.
    """
    return np.float32 if values.dtype.kind == "f" and values.dtype.itemsize == 4 else np.float64
