"""SAR backscatter series: orbit normalisation and merging of same-time acquisitions.

Works on arrays ``(..., nt)`` of backscatter in dB (three-dimensional ones with any
strides: the xarray glue passes time-last views of time-first data); returns
float32 ``(..., ngroups)``. Sums run in float64 over the dates in order, so a pixel's result does
not depend on the block it is computed in.
"""

from __future__ import annotations

import numpy as np

from stori_xr.kernels.jit import jit


@jit
def _normalise_merge(v, tracks, ntracks, groups, ngroups, normalise, out):  # pragma: no cover
    ny, nx, nt = v.shape
    tsum = np.zeros(ntracks)
    tcount = np.zeros(ntracks, dtype=np.int64)
    level = np.zeros(ntracks)
    gsum = np.zeros(ngroups)
    gcount = np.zeros(ngroups, dtype=np.int64)
    gsize = np.zeros(ngroups, dtype=np.int64)
    for i in range(nt):
        gsize[groups[i]] += 1
    for y in range(ny):
        for x in range(nx):
            overall = 0.0
            if normalise:
                total = 0.0
                count = 0
                for k in range(ntracks):
                    tsum[k] = 0.0
                    tcount[k] = 0
                for i in range(nt):
                    a = np.float64(v[y, x, i])
                    if np.isfinite(a):
                        total += a
                        count += 1
                        tsum[tracks[i]] += a
                        tcount[tracks[i]] += 1
                overall = total / count if count > 0 else np.nan
                for k in range(ntracks):
                    # no finite value on a track: its dates are NaN anyway
                    level[k] = tsum[k] / tcount[k] if tcount[k] > 0 else np.nan
            for g in range(ngroups):
                gsum[g] = 0.0
                gcount[g] = 0
            for i in range(nt):
                a = np.float64(v[y, x, i])
                if normalise:
                    a = (a - level[tracks[i]]) + overall
                g = groups[i]
                if gsize[g] == 1:
                    out[y, x, g] = a
                elif np.isfinite(a):  # mean in linear power
                    gsum[g] += 10.0 ** (a / 10.0)
                    gcount[g] += 1
            for g in range(ngroups):
                if gsize[g] > 1:
                    if gcount[g] > 0 and gsum[g] > 0.0:
                        out[y, x, g] = 10.0 * np.log10(gsum[g] / gcount[g])
                    else:
                        out[y, x, g] = np.nan


def normalise_merge(
    v: np.ndarray, tracks: np.ndarray, groups: np.ndarray, normalise: bool
) -> np.ndarray:
    """Orbit-normalise a backscatter series and merge acquisitions of one time group.

    Parameters
    ----------
    v : ndarray, shape (..., nt)
        Backscatter in dB, NaN where missing (three dimensions are used as they
        are, whatever their strides; others are reshaped).
    tracks : ndarray of int, shape (nt,)
        Orbit label of each acquisition, 0 … ntracks - 1.
    groups : ndarray of int, shape (nt,)
        Time group of each acquisition, 0 … ngroups - 1, non-decreasing.
    normalise : bool
        With more than one track: remove each track's per-pixel mean level and add
        back the pixel's mean over all acquisitions.

    Returns
    -------
    ndarray of float32, shape (..., ngroups)
        The series, one value per group: the mean in linear power of the group's
        finite values (in dB), NaN where there is none.
    """
    tracks = np.asarray(tracks, dtype=np.int64)
    groups = np.asarray(groups, dtype=np.int64)
    ntracks = int(tracks.max()) + 1 if tracks.size else 1
    ngroups = int(groups.max()) + 1 if groups.size else 0
    lead = v.shape[:-1]
    v3 = v if v.ndim == 3 else v.reshape(1, -1, v.shape[-1])
    out = np.full((*v3.shape[:2], ngroups), np.nan, dtype=np.float32)  # a group without dates
    _normalise_merge(v3, tracks, ntracks, groups, ngroups, normalise and ntracks > 1, out)
    return out.reshape(*lead, ngroups)


def normalise_merge_reference(
    v: np.ndarray, tracks: np.ndarray, groups: np.ndarray, normalise: bool
) -> np.ndarray:
    """Plain numpy version of :func:`normalise_merge` (for the tests)."""
    v = np.array(v, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        if normalise and np.unique(tracks).size > 1:
            ok = np.isfinite(v)
            overall = np.where(ok, v, 0.0).sum(-1, keepdims=True) / ok.sum(-1, keepdims=True)
            out = v.copy()
            for k in np.unique(tracks):
                sel = tracks == k
                part = v[..., sel]
                level = np.nansum(part, axis=-1, keepdims=True) / np.isfinite(part).sum(
                    axis=-1, keepdims=True
                )
                out[..., sel] = part - level + overall
            v = out
        ngroups = int(np.max(groups)) + 1 if len(groups) else 0
        merged = np.full((*v.shape[:-1], ngroups), np.nan)
        for g in range(ngroups):
            sel = np.asarray(groups) == g
            if sel.sum() == 1:
                merged[..., g] = v[..., sel][..., 0]
            else:
                lin = 10.0 ** (v[..., sel] / 10.0)
                ok = np.isfinite(lin)
                mean = np.where(ok, lin, 0.0).sum(-1) / ok.sum(-1)
                merged[..., g] = 10.0 * np.log10(np.where(mean > 0, mean, np.nan))
    return merged.astype(np.float32)
