"""Seeded synthetic scenes: optical reflectance with cloud gaps, SAR backscatter, and the truth.

:func:`make_scene` builds a small agricultural landscape and what Sentinel-2 and
Sentinel-1 would see of it, with no data file. It feeds ``stori demo``, the tests and
the benchmarks, so it is fast, deterministic and lazy:

* **Fields.** The ground is a Voronoi tessellation of jittered lattice points about
  800 m apart (about 40 px at 20 m), with 1-px field margins between parcels. Each
  parcel has a land-cover class (winter cereal, maize, potato, grassland with mowing
  cuts, fallow, forest; forest comes in clusters) and its own dates of emergence,
  green-up, senescence and harvest, jittered per parcel and per year.
* **Vegetation state.** Each class's green cover ``v(t)`` in [0, 1] is a sum of
  logistic steps (a double logistic per season, with sharp harvests and cuts). Within
  a parcel each pixel has a slightly different vigour and a few days' delay.
* **Reflectance.** Each band mixes a soil spectrum (darkened by soil moisture, brighter
  or darker per parcel) with a green-vegetation spectrum (a darker one for forest) by
  ``v``: red edge and NIR rise with ``v``, SWIR falls. Small per-date noise and a
  per-date atmospheric offset are added; values stay within 0-0.6.
* **SAR.** A water-cloud model on the same ``v``: canopy volume scattering rises with
  ``v`` (VH from about -21 dB over bare soil to -14 dB under a full canopy) and
  attenuates the soil term, which follows a seasonal soil moisture with rain events
  (the same moisture darkens the soil in the optical bands). Two ascending relative
  orbits (88 and 161) alternate; their incidence angles differ by 6 degrees, which
  shifts the backscatter by nearly 1 dB. Speckle is gamma-distributed in linear power
  (8 looks, about 1.6 dB).
* **Clouds.** A Gaussian random field of several scales (a synoptic one that drifts
  with a wind vector from date to date, finer ones new on every date) thresholded so
  that the clouded share of the scene follows a seasonal, persistent weather process:
  cloudy winters with runs of whole-scene-cloudy dates, clearer summers with fully
  clear dates. Cloud shadows are the thicker clouds cast on the ground along the sun
  direction. ``cloud_cover`` sets the mean share of unusable pixels.

Every random number is a function of the seed and of *where* it is used (a lattice
node, a parcel, a date, a fixed 64 x 64 px noise tile), never of the order in which
blocks are generated, so a dask-backed scene equals the numpy one whatever its
chunks, and any window can be generated alone.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import statistics
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr

from stori_xr.exceptions import ChunkingError, MissingVariableError, OptionError

__all__ = ["LAND_COVER_CLASSES", "Scene", "make_scene"]

# ---------------------------------------------------------------------------------------
# Constants of the synthetic world
# ---------------------------------------------------------------------------------------

#: Land-cover classes of the ``land_cover`` coordinate of ``Scene.truth``, by code.
LAND_COVER_CLASSES: tuple[str, ...] = (
    "field_margin",
    "winter_cereal",
    "maize",
    "potato",
    "grassland",
    "fallow",
    "forest",
)
_MARGIN, _CEREAL, _MAIZE, _POTATO, _GRASS, _FALLOW, _FOREST = range(7)

#: Upper-left corner of pixel (0, 0) in the CRS (UTM 31N, that of Sentinel-2 tile 31UFS).
_ORIGIN_X = 600_000.0
_ORIGIN_Y = 5_700_000.0
#: Mean distance between parcel seeds, metres.
_PARCEL_SPACING = 800.0
#: Side of the fixed noise tiles, pixels (also the row stripe of numpy scenes).
_TILE = 64
#: Equivalent number of looks of the SAR speckle.
_LOOKS = 8
_OPTICAL_TIME = pd.Timedelta(hours=10, minutes=50)

#: Sentinel-2 bands: centre wavelength (nm), then reflectance of bare soil, green crop
#: canopy, forest canopy and track/margin surface, and the soil-moisture darkening.
_BANDS: dict[str, tuple[float, float, float, float, float, float]] = {
    "B02": (490, 0.070, 0.030, 0.020, 0.100, 0.55),
    "B03": (560, 0.100, 0.070, 0.040, 0.120, 0.55),
    "B04": (665, 0.130, 0.030, 0.025, 0.140, 0.60),
    "B05": (705, 0.155, 0.100, 0.060, 0.150, 0.60),
    "B06": (740, 0.175, 0.300, 0.200, 0.160, 0.60),
    "B07": (783, 0.190, 0.400, 0.270, 0.170, 0.60),
    "B08": (842, 0.205, 0.450, 0.300, 0.180, 0.65),
    "B8A": (865, 0.215, 0.460, 0.310, 0.185, 0.65),
    "B11": (1610, 0.300, 0.220, 0.140, 0.220, 0.90),
    "B12": (2190, 0.250, 0.100, 0.060, 0.200, 1.00),
}
_BAND_INDEX = {name: i for i, name in enumerate(_BANDS)}

#: Phenology per class: base cover, then logistic steps (day of year, amplitude,
#: rate in days, jitter group, kind: 0 plain, 1 a mowing cut or its regrowth), and
#: the jitter (days) of each group. Steps of a season sum to zero, so seasons add up.
_PHENOLOGY: dict[int, tuple[float, tuple[tuple[float, float, float, int, int], ...], tuple]] = {
    _MARGIN: (0.30, ((95, 0.25, 15.0, 0, 0), (280, -0.25, 15.0, 1, 0)), (8, 10)),
    _CEREAL: (  # sown in October, green-up in March, ripening in late June, harvest in July
        0.05,
        (
            (-68, 0.20, 8.0, 0, 0),
            (82, 0.65, 9.0, 1, 0),
            (178, -0.55, 7.0, 2, 0),
            (206, -0.30, 1.5, 3, 0),
        ),
        (7, 9, 6, 6),
    ),
    _MAIZE: (  # sown in May, peak in August, harvest in October
        0.05,
        ((150, 0.88, 9.0, 0, 0), (255, -0.45, 9.0, 1, 0), (285, -0.43, 1.5, 2, 0)),
        (8, 8, 12),
    ),
    _POTATO: (  # planted in April, haulm killing in August, lifted in September
        0.05,
        ((130, 0.88, 7.0, 0, 0), (205, -0.60, 8.0, 1, 0), (240, -0.28, 1.5, 2, 0)),
        (7, 7, 10),
    ),
    _GRASS: (  # green all year, two or three mowing cuts (none on pastures)
        0.55,
        (
            (85, 0.35, 12.0, 0, 0),
            (140, -0.60, 1.0, 1, 1),
            (154, 0.60, 6.0, 1, 1),
            (192, -0.60, 1.0, 2, 1),
            (206, 0.60, 6.0, 2, 1),
            (245, -0.60, 1.0, 3, 1),
            (259, 0.60, 6.0, 3, 1),
            (300, -0.35, 20.0, 4, 0),
        ),
        (8, 8, 10, 10, 10),
    ),
    _FALLOW: (0.04, ((120, 0.25, 15.0, 0, 0), (260, -0.25, 20.0, 1, 0)), (15, 15)),
    _FOREST: (0.72, ((110, 0.20, 8.0, 0, 0), (295, -0.20, 12.0, 1, 0)), (6, 8)),
}

#: Land-cover probabilities of a parcel outside / inside a forest cluster.
_CLASS_P_OPEN = np.array([0.0, 0.30, 0.20, 0.12, 0.25, 0.08, 0.05])
_CLASS_P_FOREST = np.array([0.0, 0.04, 0.03, 0.0, 0.08, 0.0, 0.85])

#: Cloud field: (spacing m, weight) of the synoptic drifting scale, then per-date scales.
_CLOUD_SYNOPTIC = (16_000.0, 0.55)
_CLOUD_SCALES = ((5_000.0, 0.65), (2_000.0, 0.5), (800.0, 0.35), (300.0, 0.2))
_CLOUD_KNOT_DAYS = 8.0  # synoptic field renewal
_WEATHER_KNOT_DAYS = 6.0  # persistence of cloudy / clear spells
_WEATHER_SEASON = 1.3  # logit amplitude of the seasonal cycle of cloudiness
_WEATHER_SPREAD = 1.8  # logit spread of the weather process
_OVERCAST, _CLEAR_SKY = 0.92, 0.08  # shares snapped to a fully cloudy / clear scene
_SHADOW_SHARE = 0.3  # share of clouds thick enough to cast a shadow

#: Relative orbits (ascending) and their incidence angle at the scene's west edge, and
#: time of the pass (UTC).
_ORBITS = (
    (88, 35.0, pd.Timedelta(hours=17, minutes=32, seconds=30)),
    (161, 41.0, pd.Timedelta(hours=17, minutes=24, seconds=10)),
)
_THETA_REF = 38.0
_THETA_PER_KM = 0.06  # incidence increases eastward across the swath

# Random streams: one integer per use, so that uses never share numbers.
(
    _S_CELL,
    _S_CLASS,
    _S_FOREST,
    _S_PHEN,
    _S_PARCEL,
    _S_TEXTURE,
    _S_DELAY,
    _S_NOISE,
    _S_ATMOS,
    _S_RAIN,
    _S_WEATHER,
    _S_CLOUD,
    _S_SYNOPTIC,
    _S_WIND,
    _S_CLOUDTOP,
    _S_TIME,
    _S_SPECKLE,
    _S_SARTEX,
    _S_SOILTEX,
    _S_STATIC,
) = range(1, 21)


# ---------------------------------------------------------------------------------------
# Counter-based randomness
# ---------------------------------------------------------------------------------------

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(z: Any) -> Any:
    """SplitMix64 finaliser (wraps modulo 2**64)."""
    z = z ^ (z >> np.uint64(30))
    z = z * _M1
    z = z ^ (z >> np.uint64(27))
    z = z * _M2
    return z ^ (z >> np.uint64(31))


def _hash(*keys: Any) -> np.ndarray:
    """A 64-bit hash of integer keys, broadcast elementwise."""
    with np.errstate(over="ignore"):
        h = np.asarray(_GOLDEN)
        for k in keys:
            k = np.asarray(k).astype(np.int64).astype(np.uint64)
            h = _mix(h * _GOLDEN + _mix(k + _GOLDEN))
    return np.asarray(h)


def _uniform(*keys: Any) -> np.ndarray:
    """Uniform numbers in [0, 1) keyed by integers (float64, broadcast)."""
    return (_hash(*keys) >> np.uint64(11)).astype(np.float64) * 2.0**-53


def _normal(*keys: Any) -> np.ndarray:
    """Standard normal numbers keyed by integers (Box-Muller, float64, broadcast)."""
    u1 = _uniform(*keys, 0)
    u2 = _uniform(*keys, 1)
    return np.sqrt(-2.0 * np.log1p(-u1)) * np.cos(2.0 * np.pi * u2)


def _tile_noise(
    seed: int,
    stream: int,
    rows: tuple[int, int],
    cols: tuple[int, int],
    lead: tuple[int, ...],
    draw: Callable[[np.random.Generator, tuple[int, ...]], np.ndarray],
) -> np.ndarray:
    """Noise on a pixel window, cut from fixed tiles each drawn from its own generator."""
    r0, r1 = rows
    c0, c1 = cols
    out = np.empty((*lead, r1 - r0, c1 - c0), dtype=np.float32)
    for ti in range(r0 // _TILE, (r1 - 1) // _TILE + 1):
        for tj in range(c0 // _TILE, (c1 - 1) // _TILE + 1):
            rng = np.random.default_rng([seed, stream, ti, tj])
            tile = draw(rng, (*lead, _TILE, _TILE))
            ra, rb = max(r0, ti * _TILE), min(r1, (ti + 1) * _TILE)
            ca, cb = max(c0, tj * _TILE), min(c1, (tj + 1) * _TILE)
            out[..., ra - r0 : rb - r0, ca - c0 : cb - c0] = tile[
                ..., ra - ti * _TILE : rb - ti * _TILE, ca - tj * _TILE : cb - tj * _TILE
            ]
    return out


def _draw_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32)


def _draw_speckle(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.standard_gamma(float(_LOOKS), shape, dtype=np.float32)


def _smooth_weights(pos: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Lattice index and the two variance-preserving smoothstep weights of positions."""
    idx = np.floor(pos).astype(np.int64)
    f = pos - idx
    w1 = f * f * (3.0 - 2.0 * f)
    w0 = 1.0 - w1
    norm = 1.0 / np.sqrt(w0 * w0 + w1 * w1)
    return idx, (w0 * norm).astype(np.float32), (w1 * norm).astype(np.float32)


def _value_noise(keys: tuple[int, ...], rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Smooth Gaussian field (unit variance everywhere) on the grid ``rows x cols``.

    ``rows`` and ``cols`` are positions in lattice units. Each value depends only on
    its own position and the keys (separable interpolation of hashed lattice nodes,
    computed elementwise), never on the extent of the grid asked for.
    """
    iy, wy0, wy1 = _smooth_weights(rows)
    ix, wx0, wx1 = _smooth_weights(cols)
    ni = np.arange(iy.min(), iy.max() + 2)
    nj = np.arange(ix.min(), ix.max() + 2)
    nodes = _normal(*keys, ni[:, None], nj[None, :]).astype(np.float32)
    jx = ix - nj[0]
    along_x = nodes[:, jx] * wx0 + nodes[:, jx + 1] * wx1
    jy = iy - ni[0]
    return along_x[jy] * wy0[:, None] + along_x[jy + 1] * wy1[:, None]


def _time_noise(keys: tuple[int, ...], t: np.ndarray, spacing: float) -> np.ndarray:
    """Smooth unit-variance Gaussian process in time (days), hashed knots."""
    i, w0, w1 = _smooth_weights(np.asarray(t, dtype=np.float64) / spacing)
    return _normal(*keys, i) * w0 + _normal(*keys, i + 1) * w1


# ---------------------------------------------------------------------------------------
# The scene specification (small, hashable by dask's tokenize, travels in the graph)
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class _Spec:
    ny: int
    nx: int
    bands: tuple[str, ...]
    seed: int
    resolution: float
    t_opt: np.ndarray  # days since 1970-01-01, float64
    t_sar: np.ndarray
    orbit: np.ndarray  # index into _ORBITS per SAR date
    cloud_cover: float
    cloud_bias: float


def _days(times: pd.DatetimeIndex) -> np.ndarray:
    return (times - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)


def _day_of_year(t: Any) -> Any:
    """Day of the (mean) year of days since 1970-01-01, close enough for seasons."""
    return t % 365.2425


# ---------------------------------------------------------------------------------------
# Ground: parcels, land cover, phenology
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Ground:
    cell: np.ndarray  # (ny, nx) int: row into the parcel tables (last row: margins)
    land_cover: np.ndarray  # (ny, nx) int8
    cells_a: np.ndarray  # (ncell,) lattice row of each parcel
    cells_b: np.ndarray  # (ncell,) lattice column
    classes: np.ndarray  # (ncell + 1,) class per table row


def _parcel_classes(seed: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Land-cover class of the parcels with lattice indices ``a, b`` (broadcast)."""
    forest = _value_noise((seed, _S_FOREST), a / 5.0, b / 5.0)
    u = _uniform(seed, _S_CLASS, a[:, None], b[None, :])
    cum_open = np.cumsum(_CLASS_P_OPEN)
    cum_forest = np.cumsum(_CLASS_P_FOREST)
    cls_open = np.searchsorted(cum_open, u * cum_open[-1], side="right")
    cls_forest = np.searchsorted(cum_forest, u * cum_forest[-1], side="right")
    return np.where(forest > 0.8, cls_forest, cls_open).astype(np.int8)


def _ground(spec: _Spec, rows: tuple[int, int], cols: tuple[int, int]) -> _Ground:
    """Parcels (a jittered-lattice Voronoi tessellation) and land cover of a window."""
    seed, res = spec.seed, spec.resolution
    gy = (np.arange(*rows) + 0.5) * res / _PARCEL_SPACING
    gx = (np.arange(*cols) + 0.5) * res / _PARCEL_SPACING
    ay = np.floor(gy).astype(np.int64)
    ax = np.floor(gx).astype(np.int64)
    a = np.arange(ay.min() - 1, ay.max() + 2)
    b = np.arange(ax.min() - 1, ax.max() + 2)
    py = a[:, None] + 0.1 + 0.8 * _uniform(seed, _S_CELL, a[:, None], b[None, :], 0)
    px = b[None, :] + 0.1 + 0.8 * _uniform(seed, _S_CELL, a[:, None], b[None, :], 1)
    classes = _parcel_classes(seed, a, b)
    shape = (gy.size, gx.size)
    d1 = np.full(shape, np.inf)
    d2 = np.full(shape, np.inf)
    id1 = np.zeros(shape, dtype=np.int64)
    id2 = np.zeros(shape, dtype=np.int64)
    for di in (-1, 0, 1):
        ia = ay - a[0] + di
        for dj in (-1, 0, 1):
            ib = ax - b[0] + dj
            ix = np.ix_(ia, ib)
            d = (gy[:, None] - py[ix]) ** 2 + (gx[None, :] - px[ix]) ** 2
            flat = ia[:, None] * b.size + ib[None, :]
            first = d < d1
            second = ~first & (d < d2)
            d2 = np.where(first, d1, np.where(second, d, d2))
            id2 = np.where(first, id1, np.where(second, flat, id2))
            d1 = np.where(first, d, d1)
            id1 = np.where(first, flat, id1)
    # distance (metres) to the bisector of the two nearest seeds
    pyf, pxf = py.ravel(), px.ravel()
    sep = np.hypot(pyf[id2] - pyf[id1], pxf[id2] - pxf[id1])
    to_edge = (d2 - d1) / (2.0 * sep) * _PARCEL_SPACING
    cls_flat = classes.ravel()
    edge = (to_edge < max(0.5 * res, 8.0)) & ~(
        (cls_flat[id1] == _FOREST) & (cls_flat[id2] == _FOREST)
    )
    ncell = a.size * b.size
    cell = np.where(edge, ncell, id1)
    table_classes = np.append(cls_flat, np.int8(_MARGIN)).astype(np.int8)
    return _Ground(
        cell=cell,
        land_cover=table_classes[cell],
        cells_a=np.repeat(a, b.size),
        cells_b=np.tile(b, a.size),
        classes=table_classes,
    )


def _phenology(spec: _Spec, ground: _Ground, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Green cover ``v`` and its rate ``dv/dt`` per parcel-table row and date, (nt, nrow)."""
    seed = spec.seed
    nrow = ground.classes.size
    # the margin row is keyed by a lattice index no parcel has
    ka = np.append(ground.cells_a, -(2**40))
    kb = np.append(ground.cells_b, -(2**40))
    years = np.arange(
        pd.Timestamp(t.min(), unit="D").year - 1, pd.Timestamp(t.max(), unit="D").year + 2
    )
    v = np.zeros((t.size, nrow))
    dv = np.zeros((t.size, nrow))
    for cls, (base, steps, group_sd) in _PHENOLOGY.items():
        rows = np.flatnonzero(ground.classes == cls)
        if rows.size == 0:
            continue
        a, b = ka[rows], kb[rows]
        vigour = 0.85 + 0.2 * _uniform(seed, _S_PARCEL, a, b, 0)
        pasture = _uniform(seed, _S_PARCEL, a, b, 1) < 0.3
        vc = np.full((t.size, rows.size), base)
        dc = np.zeros((t.size, rows.size))
        for year in years:
            t0 = (pd.Timestamp(year=int(year), month=1, day=1) - pd.Timestamp(0)).days
            shift = _normal(seed, _S_PHEN, a, b, year, 99) * 4.0  # early / late year
            for doy, amp, rate, group, kind in steps:
                jitter = shift + group_sd[group] * _normal(seed, _S_PHEN, a, b, year, group)
                scale = vigour
                if kind == 1:
                    cut = 0.7 + 0.5 * _uniform(seed, _S_PHEN, a, b, year, group, 7)
                    third = _uniform(seed, _S_PHEN, a, b, year, 8) < 0.6
                    active = ~pasture & ((group != 3) | third)
                    scale = vigour * cut * active
                x = (t[:, None] - (t0 + doy + jitter)[None, :]) / rate
                logistic = 1.0 / (1.0 + np.exp(-np.clip(x, -60.0, 60.0)))
                vc += amp * scale * logistic
                dc += amp * scale * logistic * (1.0 - logistic) / rate
        v[:, rows] = vc
        dv[:, rows] = dc
    return v, dv


def _soil_moisture(spec: _Spec, t: np.ndarray) -> np.ndarray:
    """Scene-wide volumetric soil moisture: seasonal cycle plus decaying rain events."""
    doy = _day_of_year(t)
    mv = 0.23 + 0.06 * np.cos(2.0 * np.pi * (doy - 20.0) / 365.2425)
    day = np.floor(t).astype(np.int64)
    for lag in range(21):
        d = day - lag
        rains = _uniform(spec.seed, _S_RAIN, d, 0) < 0.35
        amount = -0.035 * np.log1p(-_uniform(spec.seed, _S_RAIN, d, 1))
        age = np.maximum(t - (d + 0.6), 0.0)
        mv = mv + np.where(rains & (t >= d + 0.6), amount * np.exp(-age / 4.0), 0.0)
    return np.clip(mv, 0.05, 0.45)


#: Pixels x dates processed at once by the block generators (a slab that stays in cache).
_SLAB = 1 << 16


def _slabs(nt: int, npix: int) -> list[slice]:
    step = max(1, _SLAB // max(npix, 1))
    return [slice(t0, min(nt, t0 + step)) for t0 in range(0, nt, step)]


@dataclasses.dataclass
class _Surface:
    """Per-pixel state of a window; ``green``/``moisture`` evaluate it on a slab of dates."""

    ground: _Ground
    table_v: np.ndarray  # (nt, nrow) float32 parcel green cover
    table_dv: np.ndarray  # (nt, nrow) float32 its rate, per day
    delay: np.ndarray  # (ny, nx) float32 days of lag of each pixel behind its parcel
    vigour: np.ndarray  # (ny, nx) float32
    soil_moisture: np.ndarray  # (nt,) float32 scene-wide
    wetness: np.ndarray  # (ny, nx) float32 pixel offset of soil moisture
    soil_brightness: np.ndarray  # (ny, nx) float32

    def green(self, sl: slice) -> np.ndarray:
        """Green cover ``v`` in [0, 1] of every pixel on the dates ``sl``."""
        cell = self.ground.cell
        v = self.table_v[sl][:, cell]
        lag = self.table_dv[sl][:, cell]
        lag *= self.delay
        np.clip(lag, -0.12, 0.12, out=lag)
        v -= lag
        v *= self.vigour
        return np.clip(v, 0.0, 1.0, out=v)

    def moisture(self, sl: slice) -> np.ndarray:
        """Volumetric soil moisture of every pixel on the dates ``sl``."""
        return self.soil_moisture[sl, None, None] + self.wetness


def _surface(spec: _Spec, rows: tuple[int, int], cols: tuple[int, int], t: np.ndarray) -> _Surface:
    """Vegetation and soil of every pixel of a window, for the dates ``t``."""
    seed, res = spec.seed, spec.resolution
    ground = _ground(spec, rows, cols)
    table_v, table_dv = _phenology(spec, ground, t)
    ym = (np.arange(*rows) + 0.5) * res
    xm = (np.arange(*cols) + 0.5) * res
    white = _tile_noise(seed, _S_STATIC, rows, cols, (3,), _draw_normal)
    vigour = 1.0 + 0.05 * _value_noise((seed, _S_TEXTURE), ym / 60.0, xm / 60.0) + 0.02 * white[0]
    delay = 5.0 * _value_noise((seed, _S_DELAY), ym / 150.0, xm / 150.0)
    cell = ground.cell
    a = np.append(ground.cells_a, -(2**40))
    b = np.append(ground.cells_b, -(2**40))
    parcel_wet = (0.03 * _normal(seed, _S_PARCEL, a, b, 2)).astype(np.float32)
    parcel_bright = (0.8 + 0.4 * _uniform(seed, _S_PARCEL, a, b, 3)).astype(np.float32)
    soil_tex = _value_noise((seed, _S_SOILTEX), ym / 100.0, xm / 100.0)
    brightness = parcel_bright[cell] * (1.0 + 0.04 * soil_tex + 0.015 * white[1])
    return _Surface(
        ground=ground,
        table_v=table_v.astype(np.float32),
        table_dv=table_dv.astype(np.float32),
        delay=delay.astype(np.float32),
        vigour=vigour.astype(np.float32),
        soil_moisture=_soil_moisture(spec, t).astype(np.float32),
        wetness=(parcel_wet[cell] + 0.01 * white[2]).astype(np.float32),
        soil_brightness=brightness.astype(np.float32),
    )


# ---------------------------------------------------------------------------------------
# Block generators (numpy in, numpy out; the dask graph calls these per chunk)
# ---------------------------------------------------------------------------------------


def _truth_block(
    spec: _Spec, rows: tuple[int, int], cols: tuple[int, int], out: np.ndarray | None = None
) -> np.ndarray:
    """Cloud-free reflectance of a window, shape (band, time, y, x), float32."""
    seed = spec.seed
    nt = spec.t_opt.size
    surf = _surface(spec, rows, cols, spec.t_opt)
    lc = surf.ground.land_cover
    margin = lc == _MARGIN
    forest = lc == _FOREST
    if out is None:
        out = np.empty((len(spec.bands), nt, *lc.shape), dtype=np.float32)
    noise = _tile_noise(seed, _S_NOISE, rows, cols, (nt,), _draw_normal)
    day = np.floor(spec.t_opt).astype(np.int64)
    per_band = []
    for name in spec.bands:
        _, soil, crop, wood, track, wet = _BANDS[name]
        per_band.append(
            (
                np.where(margin, track, soil * surf.soil_brightness).astype(np.float32),
                np.where(forest, wood, crop).astype(np.float32),
                np.float32(wet),
                np.float32(0.002 + 0.01 * max(soil, crop)),
                (0.003 * _normal(seed, _S_ATMOS, day, _BAND_INDEX[name])).astype(np.float32),
            )
        )
    for sl in _slabs(nt, lc.size):
        v = surf.green(sl)
        bare = 1.0 - v
        wet_bare = surf.moisture(sl)
        wet_bare -= np.float32(0.23)
        wet_bare *= bare
        tmp = np.empty_like(v)
        for k, (soil_px, canopy, wet, sigma, atmos) in enumerate(per_band):
            # soil darkened by moisture, mixed with the canopy by the green cover
            r = out[k, sl]
            np.multiply(wet_bare, wet, out=tmp)
            np.subtract(bare, tmp, out=tmp)
            np.multiply(tmp, soil_px, out=r)
            np.multiply(v, canopy, out=tmp)
            r += tmp
            np.multiply(noise[sl], sigma, out=tmp)
            r += tmp
            r += atmos[sl, None, None]
            np.clip(r, 0.001, 0.6, out=r)
    return out


def _gap_share(spec: _Spec, t: np.ndarray) -> np.ndarray:
    """Share of the scene that each date's clouds and shadows cover (before realisation)."""
    if spec.cloud_cover <= 0.0:
        return np.zeros(t.size)
    if spec.cloud_cover >= 1.0:
        return np.ones(t.size)
    w = _time_noise((spec.seed, _S_WEATHER), t, _WEATHER_KNOT_DAYS)
    return _weather(spec.cloud_bias, _day_of_year(t), w)


def _weather(bias: float, doy: np.ndarray, w: np.ndarray) -> np.ndarray:
    season = _WEATHER_SEASON * np.cos(2.0 * np.pi * (doy - 15.0) / 365.2425)
    share = 1.0 / (1.0 + np.exp(-(bias + season + _WEATHER_SPREAD * w)))
    return np.where(share >= _OVERCAST, 1.0, np.where(share <= _CLEAR_SKY, 0.0, share))


def _calibrate_cloud_bias(cloud_cover: float) -> float:
    """Logit offset of the weather process whose climatological mean is ``cloud_cover``."""
    if not 0.0 < cloud_cover < 1.0:
        return 0.0
    doy = np.arange(0.0, 365.0, 1.0)[:, None]
    q = np.array([statistics.NormalDist().inv_cdf((i + 0.5) / 64) for i in range(64)])
    lo, hi = -15.0, 15.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if _weather(mid, doy, q[None, :]).mean() < cloud_cover:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def _cloud_field(spec: _Spec, t: float, ym: np.ndarray, xm: np.ndarray) -> np.ndarray:
    """Unit-variance cloud-water field at ground positions (metres from the origin)."""
    seed = spec.seed
    day = math.floor(t)
    spacing, weight = _CLOUD_SYNOPTIC
    angle = 2.0 * np.pi * float(_uniform(seed, _S_WIND, 0))
    speed = 2_000.0 + 3_000.0 * float(_uniform(seed, _S_WIND, 1))  # metres per day
    wind_y, wind_x = speed * math.cos(angle), speed * math.sin(angle)
    knot = math.floor(t / _CLOUD_KNOT_DAYS)
    frac = t / _CLOUD_KNOT_DAYS - knot
    lam1 = frac * frac * (3.0 - 2.0 * frac)
    lam0 = 1.0 - lam1
    norm = math.hypot(lam0, lam1)
    field = np.zeros((ym.size, xm.size), dtype=np.float32)
    for k, lam in ((knot, lam0), (knot + 1, lam1)):
        dt = t - k * _CLOUD_KNOT_DAYS
        n = _value_noise(
            (seed, _S_SYNOPTIC, k), (ym - wind_y * dt) / spacing, (xm - wind_x * dt) / spacing
        )
        field += np.float32(weight * lam / norm) * n
    total = weight**2
    for octave, (spacing, weight) in enumerate(_CLOUD_SCALES):
        n = _value_noise((seed, _S_CLOUD, day, octave), ym / spacing, xm / spacing)
        field += np.float32(weight) * n
        total += weight**2
    field *= np.float32(1.0 / math.sqrt(total))
    return field


def _clear_block(spec: _Spec, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
    """Clear-sky mask of a window, shape (time, y, x), True where usable."""
    seed, res = spec.seed, spec.resolution
    t_all = spec.t_opt
    share = _gap_share(spec, t_all)
    out = np.ones((t_all.size, rows[1] - rows[0], cols[1] - cols[0]), dtype=bool)
    # clouds live on a fixed global grid of about 60 m (cloud masks are coarse too)
    step = max(1, round(60.0 / res))
    gr = np.arange(rows[0] // step, (rows[1] - 1) // step + 1)
    gc = np.arange(cols[0] // step, (cols[1] - 1) // step + 1)
    ym = (gr * step + 0.5 * step) * res
    xm = (gc * step + 0.5 * step) * res
    ir = np.arange(*rows) // step - gr[0]
    ic = np.arange(*cols) // step - gc[0]
    inv = statistics.NormalDist().inv_cdf
    for i, t in enumerate(t_all):
        c = float(share[i])
        if c <= 0.0:
            continue
        if c >= 1.0:
            out[i] = False
            continue
        # cloud share c' so that clouds plus the shadows of the thick ones cover c
        # (shadows fall partly under other clouds: about 60 % of them add to the gap)
        a = 0.6 * _SHADOW_SHARE
        cloud = ((1.0 + a) - math.sqrt((1.0 + a) ** 2 - 4.0 * a * c)) / (2.0 * a)
        z_cloud = inv(1.0 - cloud)
        z_thick = inv(1.0 - _SHADOW_SHARE * cloud)
        gap = _cloud_field(spec, t, ym, xm) > z_cloud
        # shadows: sun in the south-east at 10:50 UTC, shadows fall to the north-north-west
        doy = _day_of_year(t)
        decl = 23.44 * math.sin(2.0 * math.pi * (doy - 81.0) / 365.2425)
        zenith = math.radians(min(51.0 - decl + 5.0, 80.0))
        height = 800.0 + 2_200.0 * float(_uniform(seed, _S_CLOUDTOP, math.floor(t)))
        length = height * math.tan(zenith)
        caster = _cloud_field(spec, t, ym + 0.866 * length, xm + 0.5 * length)
        gap |= caster > z_thick
        out[i] = ~gap[np.ix_(ir, ic)]
    return out


def _sar_block(
    spec: _Spec, rows: tuple[int, int], cols: tuple[int, int], out: np.ndarray | None = None
) -> np.ndarray:
    """VV and VH backscatter (dB) of a window, shape (2, time, y, x), float32."""
    seed, res = spec.seed, spec.resolution
    t = spec.t_sar
    surf = _surface(spec, rows, cols, t)
    lc = surf.ground.land_cover
    forest = lc == _FOREST
    if out is None:
        out = np.empty((2, t.size, *lc.shape), dtype=np.float32)
    cos_ref = math.cos(math.radians(_THETA_REF))
    # canopy: volume scattering and two-way attenuation (water-cloud model)
    gain = np.where(forest, 1.4 * cos_ref, cos_ref).astype(np.float32)
    extinction = np.where(forest, -2.4 / cos_ref, -1.8 / cos_ref).astype(np.float32)
    # soil: per-parcel roughness (dB)
    cell = surf.ground.cell
    a = np.append(surf.ground.cells_a, -(2**40))
    b = np.append(surf.ground.cells_b, -(2**40))
    rough = (1.2 * _normal(seed, _S_PARCEL, a, b, 4)).astype(np.float32)[cell]
    rough = np.where(lc == _MARGIN, np.float32(1.5), rough) - np.float32(12.0)
    # incidence angle per orbit and across the swath: sigma0 ~ cos(theta)^n
    xkm = (np.arange(*cols) + 0.5) * res / 1000.0
    theta0 = np.array([_ORBITS[o][1] for o in spec.orbit])
    theta = np.radians(theta0[:, None] + _THETA_PER_KM * xkm[None, :])
    geom = np.log10(np.cos(theta) / math.cos(math.radians(_THETA_REF)))
    texture = 0.4 * _tile_noise(seed, _S_SARTEX, rows, cols, (), _draw_normal)
    speckle = _tile_noise(seed, _S_SPECKLE, rows, cols, (2, t.size), _draw_speckle)
    speckle *= np.float32(1.0 / _LOOKS)  # unit mean
    pols = (  # volume gain, soil gain, noise floor (linear), cosine exponent
        (0.14, 1.0, 0.0, 3.0),
        (0.055, 10.0**-1.05, 10.0**-2.6, 2.5),
    )
    geometry = [(10.0 * p[3] * geom).astype(np.float32)[:, None, :] for p in pols]
    to_power = np.float32(math.log(10.0) / 10.0)
    for sl in _slabs(t.size, lc.size):
        v = surf.green(sl)
        tau2 = np.multiply(v, extinction)
        np.exp(tau2, out=tau2)
        volume = np.subtract(1.0, tau2)
        volume *= v
        volume *= gain
        soil = surf.moisture(sl)
        soil -= np.float32(0.25)
        soil *= np.float32(30.0)
        soil += rough
        soil *= to_power
        np.exp(soil, out=soil)
        soil *= tau2
        power = np.empty_like(v)
        tmp = tau2  # no longer needed
        for k, (a_vol, soil_gain, floor, _) in enumerate(pols):
            np.multiply(volume, np.float32(a_vol), out=power)
            np.multiply(soil, np.float32(soil_gain), out=tmp)
            power += tmp
            power += np.float32(floor)
            power *= speckle[k, sl]
            r = out[k, sl]
            np.log10(power, out=r)
            r *= np.float32(10.0)
            r += geometry[k][sl]
            r += texture
    return out


def _land_cover_block(spec: _Spec, rows: tuple[int, int], cols: tuple[int, int]) -> np.ndarray:
    return _ground(spec, rows, cols).land_cover


def _numpy_scene(spec: _Spec) -> tuple[np.ndarray, ...]:
    """The whole scene as numpy arrays, generated in row stripes to bound temporaries."""
    nb, nt, ns = len(spec.bands), spec.t_opt.size, spec.t_sar.size
    ny, nx = spec.ny, spec.nx
    everything = ((0, ny), (0, nx))
    clear = _clear_block(spec, *everything)
    land_cover = _land_cover_block(spec, *everything)
    truth = np.empty((nb, nt, ny, nx), dtype=np.float32)
    optical = np.empty_like(truth)
    sar = np.empty((2, ns, ny, nx), dtype=np.float32)
    for r0 in range(0, ny, _TILE):
        rows = slice(r0, min(ny, r0 + _TILE))
        window = ((rows.start, rows.stop), everything[1])
        _truth_block(spec, *window, out=truth[:, :, rows])
        np.copyto(optical[:, :, rows], truth[:, :, rows])
        np.copyto(optical[:, :, rows], np.float32(np.nan), where=~clear[None, :, rows])
        _sar_block(spec, *window, out=sar[:, :, rows])
    return truth, optical, clear, sar, land_cover


# dask tasks: each block finds its window from its block index and the chunk starts


Starts = tuple[tuple[int, ...], tuple[int, ...]]


def _window(starts: Starts, block_id: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    (ys, xs), i, j = starts, block_id[-2], block_id[-1]
    return (ys[i], ys[i + 1]), (xs[j], xs[j + 1])


def _truth_task(spec: _Spec, starts: Starts, block_id: tuple[int, ...] = ()) -> np.ndarray:
    return _truth_block(spec, *_window(starts, block_id))


def _optical_task(
    truth: np.ndarray, spec: _Spec, starts: Starts, block_id: tuple[int, ...] = ()
) -> np.ndarray:
    clear = _clear_block(spec, *_window(starts, block_id))
    return np.where(clear[None], truth, np.float32(np.nan))


def _clear_task(optical: np.ndarray) -> np.ndarray:
    return ~np.isnan(optical[0])


def _sar_task(spec: _Spec, starts: Starts, block_id: tuple[int, ...] = ()) -> np.ndarray:
    return _sar_block(spec, *_window(starts, block_id))


def _land_cover_task(spec: _Spec, starts: Starts, block_id: tuple[int, ...] = ()) -> np.ndarray:
    return _land_cover_block(spec, *_window(starts, block_id))


def _pick(stack: np.ndarray, index: int) -> np.ndarray:
    return stack[index]


def _dask_scene(spec: _Spec, ych: tuple[int, ...], xch: tuple[int, ...]) -> tuple[Any, ...]:
    """The scene as dask arrays: one task per block and per generator, nothing computed."""
    import dask.array as da
    from dask.base import tokenize

    nb, nt, ns = len(spec.bands), spec.t_opt.size, spec.t_sar.size
    starts = (tuple(np.cumsum((0, *ych)).tolist()), tuple(np.cumsum((0, *xch)).tolist()))
    token = tokenize(spec, starts)
    f32_4d = np.empty((0, 0, 0, 0), dtype=np.float32)
    f32_3d = np.empty((0, 0, 0), dtype=np.float32)

    def generate(func: Callable, lead: tuple[tuple[int, ...], ...], kind: str, dtype: Any) -> Any:
        return da.map_blocks(
            func,
            chunks=(*lead, ych, xch),
            dtype=dtype,
            meta=np.empty((0,) * (len(lead) + 2), dtype=dtype),
            name=f"stori-scene-{kind}-{token}",
            spec=spec,
            starts=starts,
        )

    def pick(stack: Any, index: int, name: str) -> Any:
        return da.map_blocks(
            _pick,
            stack,
            index=index,
            drop_axis=0,
            dtype=stack.dtype,
            meta=f32_3d,
            name=f"{name}-{index}-{token}",
        )

    truth_stack = generate(_truth_task, ((nb,), (nt,)), "truth", np.float32)
    optical_stack = da.map_blocks(
        _optical_task,
        truth_stack,
        dtype=np.float32,
        meta=f32_4d,
        name=f"stori-scene-optical-{token}",
        spec=spec,
        starts=starts,
    )
    clear = da.map_blocks(
        _clear_task,
        optical_stack,
        drop_axis=0,
        dtype=bool,
        meta=np.empty((0, 0, 0), dtype=bool),
        name=f"stori-scene-clear-{token}",
    )
    sar_stack = generate(_sar_task, ((2,), (ns,)), "sar", np.float32)
    land_cover = generate(_land_cover_task, (), "land-cover", np.int8)
    truth = [pick(truth_stack, k, "stori-scene-truth-band") for k in range(nb)]
    optical = [pick(optical_stack, k, "stori-scene-optical-band") for k in range(nb)]
    sar = [pick(sar_stack, k, "stori-scene-sar-pol") for k in range(2)]
    return truth, optical, clear, sar, land_cover


# ---------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Scene:
    """A synthetic scene: what the satellites saw, and the truth behind it.

    Attributes
    ----------
    optical : xarray.Dataset
        Sentinel-2-like surface reflectance, dims ``(time, y, x)``: one float32
        variable per band, NaN where clouds or their shadows hide the ground, and the
        boolean ``clear`` (True where the value is usable).
    sar : xarray.Dataset
        Sentinel-1-like ``VV`` and ``VH`` backscatter in dB on their own dates, with a
        ``relative_orbit`` coordinate along ``time``.
    truth : xarray.Dataset
        The cloud-free reflectance of every band on the optical dates, and a
        ``land_cover`` coordinate ``(y, x)`` (codes of :data:`LAND_COVER_CLASSES`).
    """

    optical: xr.Dataset
    sar: xr.Dataset
    truth: xr.Dataset


def _check_int(name: str, value: Any, minimum: int) -> int:
    try:
        number = operator.index(value)
    except TypeError:
        number = None
    if number is None or number < minimum:
        raise OptionError(f"{name}={value!r}: give a whole number of {minimum} or more.")
    return number


def _check_float(name: str, value: Any, need: str, ok: Callable[[float], bool]) -> float:
    """``value`` as a float; OptionError, saying what to ``need``, unless ``ok``."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not ok(number):
        raise OptionError(f"{name}={value!r}: give {need}.")
    return number


def _check_bands(bands: Any) -> tuple[str, ...]:
    """The bands as a tuple: OptionError when none or repeated, MissingVariableError unknown."""
    bands = tuple(bands) if not isinstance(bands, str) else (bands,)
    if not bands:
        raise OptionError("bands=(): name at least one band, e.g. bands=('B04', 'B08').")
    unknown = [b for b in bands if b not in _BANDS]
    if unknown:
        raise MissingVariableError(f"unknown band(s) {unknown}; choose among {', '.join(_BANDS)}")
    repeated = sorted({b for b in bands if bands.count(b) > 1})
    if repeated:
        raise OptionError(f"bands={bands!r} names {repeated} more than once; name each band once.")
    return bands


def _spatial_chunks(
    chunks: Any, shape: tuple[int, int, int, int]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Normalise ``chunks`` to the y and x chunk sizes; time is always one chunk."""
    from stori_xr.io.chunks import normalize

    nt = shape[1]
    if isinstance(chunks, Mapping):
        unknown = set(chunks) - {"time", "y", "x"}
        if unknown:
            raise ChunkingError(
                f"chunks={dict(chunks)!r} names {sorted(unknown)}, which the scene does not "
                "have: chunk 'y' and 'x', e.g. chunks={'y': 256, 'x': 256}."
            )
        tchunk = chunks.get("time", -1)
        if tchunk not in (-1, None) and tchunk < nt:
            raise ChunkingError(
                f"time must be one chunk, got chunks['time']={tchunk}; pass "
                "chunks={'y': ..., 'x': ...} and, if needed later, .chunk({'time': -1})"
            )
        cy, cx = chunks.get("y", -1), chunks.get("x", -1)
    elif isinstance(chunks, tuple | list):
        if len(chunks) != 2:
            raise ChunkingError(
                f"chunks={chunks!r}: a sequence gives the (y, x) sizes, e.g. (256, 256)."
            )
        cy, cx = chunks
    else:
        cy = cx = chunks
    spec = {"band": -1, "time": -1, "y": -1 if cy is None else cy, "x": -1 if cx is None else cx}
    sizes = dict(zip(spec, shape, strict=True))
    norm = normalize(spec, sizes, chunks, "the scene")
    return norm["y"], norm["x"]


def _jitter(days: pd.DatetimeIndex, seed: int, sensor: int, seconds: float) -> pd.TimedeltaIndex:
    """Seeded acquisition-time jitter per day, small enough to keep the dates in order."""
    if days.size > 1:
        seconds = min(seconds, 0.25 * np.diff(days.asi8).min() / 1e9)
    u = _uniform(seed, _S_TIME, _days(days).astype(np.int64), sensor)
    return pd.to_timedelta(np.round((2.0 * u - 1.0) * seconds, 3), unit="s")


def _grid_coords(spec: _Spec) -> dict[Hashable, Any]:
    res = spec.resolution
    x = _ORIGIN_X + (np.arange(spec.nx) + 0.5) * res
    y = _ORIGIN_Y - (np.arange(spec.ny) + 0.5) * res
    return {
        "y": ("y", y, {"units": "m", "standard_name": "projection_y_coordinate", "axis": "Y"}),
        "x": ("x", x, {"units": "m", "standard_name": "projection_x_coordinate", "axis": "X"}),
    }


def make_scene(
    ny: int = 64,
    nx: int = 64,
    *,
    start: str | pd.Timestamp = "2021-01-01",
    periods: int = 73,
    freq: str = "5D",
    bands: tuple[str, ...] = ("B05", "B06", "B07", "B8A", "B11", "B12"),
    sar_freq: str = "6D",
    cloud_cover: float = 0.55,
    seed: int = 0,
    chunks: int | tuple[int, int] | Mapping[str, int] | str | None = None,
    resolution: float = 20.0,
    crs: Any = "EPSG:32631",
) -> Scene:
    """Make a seeded synthetic optical + SAR scene with cloud gaps, and its truth.

    The landscape is a tessellation of agricultural parcels (winter cereal, maize,
    potato, grassland with mowing cuts, fallow, clustered forest) with field margins,
    each with its own crop calendar. Reflectance mixes soil and canopy spectra by the
    green cover; SAR backscatter follows the same cover through a water-cloud model
    plus soil moisture, two alternating orbits and speckle; clouds and their shadows
    come and go with seasonal, persistent weather. See the module docstring.

    Parameters
    ----------
    ny, nx : int, default 64
        Scene size in pixels.
    start : str or Timestamp, default "2021-01-01"
        Day of the first optical acquisition.
    periods : int, default 73
        Number of optical acquisitions.
    freq : str, default "5D"
        Revisit of the optical sensor (a pandas frequency).
    bands : tuple of str, default ("B05", "B06", "B07", "B8A", "B11", "B12")
        Sentinel-2 bands to simulate, among B02-B08, B8A, B11, B12.
    sar_freq : str, default "6D"
        Revisit of the SAR sensor; acquisitions alternate between two relative orbits.
    cloud_cover : float, default 0.55
        Mean share of optical values lost to clouds and shadows, in [0, 1].
    seed : int, default 0
        Seed; the same arguments always give the same values.
    chunks : int, (int, int), dict or "auto", optional
        Spatial chunks (``{"y": 256, "x": 256}``) for a lazy, dask-backed scene whose
        chunks are generated only when computed; time is always one chunk. Values do
        not depend on the chunks. ``None`` (default) gives numpy-backed data.
    resolution : float, default 20.0
        Pixel size in metres.
    crs : str or CRS, default "EPSG:32631"
        CRS written on every dataset (the grid is placed in central Belgium, UTM 31N).

    Returns
    -------
    Scene
        ``optical`` (bands with NaN gaps and ``clear``), ``sar`` (``VV``, ``VH`` in dB,
        ``relative_orbit``) and ``truth`` (cloud-free bands, ``land_cover``), all with
        dims ``(time, y, x)`` (the SAR on its own times), x/y pixel-centre coordinates
        and the CRS.

    Raises
    ------
    MissingVariableError
        A band is not a known Sentinel-2 band.
    ChunkingError
        ``chunks`` splits time, names other dimensions, or does not fit the scene.
    OptionError
        A size, ``periods``, ``seed``, ``cloud_cover`` or ``resolution`` is out of range
        or not a number, or ``bands`` is empty or repeats a band.

    Notes
    -----
    With ``chunks`` every variable is a :func:`dask.array.map_blocks` graph with one
    task per block (named from a ``tokenize`` of the arguments): building even a
    20000 x 20000 px scene takes milliseconds, and each block is generated from the
    seed and its own window only. Spatial chunks that are multiples of 64 px avoid
    drawing noise tiles twice. A numpy scene of 512 x 512 px, 73 dates and 6 bands
    takes a few seconds on one core.

    Examples
    --------
    >>> from stori_xr.datasets import make_scene
    >>> scene = make_scene(32, 32, periods=24, seed=1)
    >>> dict(scene.optical.sizes)
    {'time': 24, 'y': 32, 'x': 32}
    >>> list(scene.optical.data_vars)
    ['B05', 'B06', 'B07', 'B8A', 'B11', 'B12', 'clear']
    >>> bool((scene.optical["B8A"].notnull() == scene.optical["clear"]).all())
    True
    >>> same = scene.optical["B8A"] == scene.truth["B8A"]  # observed where clear
    >>> bool((same == scene.optical["clear"]).all())
    True
    >>> scene.sar["VH"].attrs["units"], sorted(set(scene.sar["relative_orbit"].values.tolist()))
    ('dB', [88, 161])
    >>> lazy = make_scene(32, 32, periods=24, seed=1, chunks={"y": 16, "x": 16})
    >>> lazy.optical["B8A"].chunks
    ((24,), (16, 16), (16, 16))
    >>> bool(lazy.optical["B8A"].equals(scene.optical["B8A"]))
    True
    """
    ny = _check_int("ny", ny, 1)
    nx = _check_int("nx", nx, 1)
    periods = _check_int("periods", periods, 1)
    seed = _check_int("seed", seed, 0)
    bands = _check_bands(bands)
    cloud_cover = _check_float(
        "cloud_cover", cloud_cover, "a share from 0 to 1, e.g. 0.55", lambda v: 0.0 <= v <= 1.0
    )
    resolution = _check_float(
        "resolution",
        resolution,
        "a pixel size in metres above 0, e.g. 20.0",
        lambda v: 0.0 < v < math.inf,
    )

    # optical dates: 10:50 UTC within a minute; SAR: evening ascending passes from the
    # next day to the eve of the last optical date (at least one), alternating orbits,
    # within ten seconds of each orbit's time
    days = pd.date_range(pd.Timestamp(start).normalize(), periods=periods, freq=freq)
    t_opt_index = days + _OPTICAL_TIME + _jitter(days, seed, 0, 60.0)
    sar_days = pd.date_range(
        days[0] + pd.Timedelta(days=1),
        max(days[-1] - pd.Timedelta(days=1), days[0] + pd.Timedelta(days=1)),
        freq=sar_freq,
    )
    orbit = np.arange(sar_days.size) % 2
    pass_time = pd.to_timedelta([_ORBITS[o][2] for o in orbit])
    t_sar_index = sar_days + pass_time + _jitter(sar_days, seed, 1, 10.0)

    spec = _Spec(
        ny=ny,
        nx=nx,
        bands=bands,
        seed=seed,
        resolution=resolution,
        t_opt=np.asarray(_days(t_opt_index), dtype=np.float64),
        t_sar=np.asarray(_days(t_sar_index), dtype=np.float64),
        orbit=orbit,
        cloud_cover=cloud_cover,
        cloud_bias=_calibrate_cloud_bias(cloud_cover),
    )
    nb, nt = len(bands), periods

    if chunks is None:
        truth_stack, optical_stack, clear, sar_stack, land_cover = _numpy_scene(spec)
    else:
        ych, xch = _spatial_chunks(chunks, (nb, nt, ny, nx))
        truth_stack, optical_stack, clear, sar_stack, land_cover = _dask_scene(spec, ych, xch)

    grid = _grid_coords(spec)
    dims = ("time", "y", "x")
    time_attrs = {"standard_name": "time", "long_name": "acquisition time (UTC)"}
    common = {"seed": seed, "source": "stori_xr.datasets.make_scene", "Conventions": "CF-1.8"}

    def band_attrs(name: str, what: str) -> dict[str, Any]:
        wavelength = _BANDS[name][0]
        return {
            "units": "1",
            "long_name": f"{what} surface reflectance, Sentinel-2 {name} ({wavelength:g} nm)",
            "standard_name": "surface_bidirectional_reflectance",
            "wavelength_nm": wavelength,
        }

    opt_coords = {"time": ("time", t_opt_index.values, time_attrs), **grid}
    optical = xr.Dataset(
        {
            name: (dims, optical_stack[k], band_attrs(name, "observed"))
            for k, name in enumerate(bands)
        },
        coords=opt_coords,
        attrs={
            "title": "Synthetic Sentinel-2 L2A scene with cloud gaps (stori_xr)",
            **common,
            "platform": "Sentinel-2 (synthetic)",
            "cloud_cover": cloud_cover,
        },
    )
    optical["clear"] = (
        dims,
        clear,
        {"long_name": "clear-sky mask: True where the optical value is usable"},
    )
    truth = xr.Dataset(
        {
            name: (dims, truth_stack[k], band_attrs(name, "cloud-free true"))
            for k, name in enumerate(bands)
        },
        coords={
            **opt_coords,
            "land_cover": (
                ("y", "x"),
                land_cover,
                {
                    "long_name": "land cover class",
                    "flag_values": np.arange(len(LAND_COVER_CLASSES), dtype=np.int8),
                    "flag_meanings": " ".join(LAND_COVER_CLASSES),
                },
            ),
        },
        attrs={
            "title": "Cloud-free truth of the synthetic Sentinel-2 scene (stori_xr)",
            **common,
        },
    )
    sar_attrs = {
        "VV": "VV backscatter coefficient sigma0",
        "VH": "VH backscatter coefficient sigma0",
    }
    sar = xr.Dataset(
        {
            pol: (
                dims,
                sar_stack[k],
                {"units": "dB", "long_name": sar_attrs[pol], "equivalent_number_of_looks": _LOOKS},
            )
            for k, pol in enumerate(("VV", "VH"))
        },
        coords={
            "time": ("time", t_sar_index.values, time_attrs),
            **grid,
            "relative_orbit": (
                "time",
                np.array([_ORBITS[o][0] for o in orbit], dtype=np.int32),
                {"long_name": "Sentinel-1 relative orbit number"},
            ),
        },
        attrs={
            "title": "Synthetic Sentinel-1 GRD backscatter scene (stori_xr)",
            **common,
            "platform": "Sentinel-1 (synthetic)",
            "orbit_direction": "ascending",
        },
    )
    for ds in (optical, sar, truth):
        ds.rio.write_crs(crs, inplace=True)  # inplace: these are new objects, no copy
    return Scene(optical=optical, sar=sar, truth=truth)
