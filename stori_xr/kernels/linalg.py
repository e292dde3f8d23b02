"""Small dense linear algebra for the kernels (numba, no allocation)."""

import numpy as np

from stori_xr.kernels.jit import jit


@jit
def cholesky_solve(a, b, p, nrhs):  # pragma: no cover - numba
    """Solve ``a x = b`` in place for a p×p symmetric positive definite ``a``.

    ``b`` holds ``nrhs`` right-hand sides as rows ``(nrhs, p)`` and receives the
    solutions; the lower triangle of ``a`` receives its Cholesky factor. Returns
    False (and leaves ``b`` unspecified) when ``a`` is not positive definite.
    """
    for j in range(p):
        s = a[j, j]
        for q in range(j):
            s -= a[j, q] * a[j, q]
        if s <= 1e-12:
            return False
        a[j, j] = np.sqrt(s)
        for i in range(j + 1, p):
            s = a[i, j]
            for q in range(j):
                s -= a[i, q] * a[j, q]
            a[i, j] = s / a[j, j]
    for r in range(nrhs):
        for i in range(p):
            s = b[r, i]
            for q in range(i):
                s -= a[i, q] * b[r, q]
            b[r, i] = s / a[i, i]
        for i in range(p - 1, -1, -1):
            s = b[r, i]
            for q in range(i + 1, p):
                s -= a[q, i] * b[r, q]
            b[r, i] = s / a[i, i]
    return True
