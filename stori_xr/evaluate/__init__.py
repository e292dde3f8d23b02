"""Accuracy on real data: hide real clear values, reconstruct them, score the hidden ones.

The accuracy protocol of the design ("How we know it works") as library code, one room
per concern (each imports only the rooms listed before it):

- :mod:`~stori_xr.evaluate.masks` — which clear values are hidden: the hiding protocols
  (:data:`PROTOCOLS`: ``"partial"``, the default, and ``"whole"``, which also hides
  whole dates and whole-scene windows), :func:`hide_mask`, and the gap length of each
  hidden value (:func:`gap_days`: ``<=15d``, ``15-45d``, ``>45d``);
- :mod:`~stori_xr.evaluate.metrics` — :func:`score`: RMSE, MAE, bias, R², σ
  calibration (±1σ, ±2σ), spectral angle and NDVI error per band and gap class;
- :mod:`~stori_xr.evaluate.splits` — the other splits of every error (:data:`SPLITS`):
  a neighbour clear on that date or not (:func:`neighbour_clear`), and the kernel's
  ``stori_source`` flag;
- :mod:`~stori_xr.evaluate.patches` — :func:`load_worldcereal_patch`, the real scenes;
- :mod:`~stori_xr.evaluate.report` — :func:`summarise` over seeds, printed tables
  (:func:`format_table`, :func:`format_split`) and one method against the best other
  (:func:`format_against_best`);
- :mod:`~stori_xr.evaluate.plots` — the figures people look at, from the per-value
  errors that ``evaluate(..., keep_values=True)`` keeps (:data:`VALUE_COLUMNS`): RMSE
  against gap length (:func:`plot_gap_error`), predicted against observed
  (:func:`plot_predicted_observed`), the calibration of σ (:func:`plot_calibration`),
  and :func:`write_plots` / :func:`write_summary` (PNGs and a JSON summary);
- :mod:`~stori_xr.evaluate.run` — :func:`evaluate`, the driver: every method on the
  same masked copy, for several seeds, into one long table (and, when asked, the
  per-value errors and the plots).

This is the one place where library code computes eagerly: the user asked for an
evaluation. Inputs are never modified.
"""

from stori_xr.evaluate.masks import PROTOCOLS, Protocol, gap_days, hide_mask, resolve_protocol
from stori_xr.evaluate.metrics import ALL_BANDS, GAP_CLASSES, score
from stori_xr.evaluate.patches import load_worldcereal_patch
from stori_xr.evaluate.plots import (
    GAP_BINS,
    VALUE_COLUMNS,
    calibration_table,
    gap_error_table,
    plot_calibration,
    plot_gap_error,
    plot_predicted_observed,
    write_plots,
    write_summary,
)
from stori_xr.evaluate.report import format_against_best, format_split, format_table, summarise
from stori_xr.evaluate.run import evaluate
from stori_xr.evaluate.splits import SPLITS, neighbour_clear

__all__ = [
    "ALL_BANDS",
    "GAP_BINS",
    "GAP_CLASSES",
    "PROTOCOLS",
    "SPLITS",
    "VALUE_COLUMNS",
    "Protocol",
    "calibration_table",
    "evaluate",
    "format_against_best",
    "format_split",
    "format_table",
    "gap_days",
    "gap_error_table",
    "hide_mask",
    "load_worldcereal_patch",
    "neighbour_clear",
    "plot_calibration",
    "plot_gap_error",
    "plot_predicted_observed",
    "resolve_protocol",
    "score",
    "summarise",
    "write_plots",
    "write_summary",
]
