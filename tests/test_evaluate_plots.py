"""The evaluation's plots and JSON: the kept values, the three figures, --plots / --json."""

from __future__ import annotations

import json
import math

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from stori_xr.cli import main
from stori_xr.datasets import make_scene
from stori_xr.evaluate import (
    ALL_BANDS,
    VALUE_COLUMNS,
    calibration_table,
    evaluate,
    gap_error_table,
    plot_calibration,
    plot_gap_error,
    plot_predicted_observed,
    write_plots,
)
from stori_xr.exceptions import MissingVariableError, OptionError

METHODS = ["linear", "kernel", "whittaker"]


@pytest.fixture(scope="module")
def scene():
    return make_scene(16, 16, periods=20, seed=0)


@pytest.fixture(scope="module")
def kept(scene):
    return evaluate(scene.optical, scene.sar, methods=METHODS, seeds=[0, 1], keep_values=True)


def test_kept_values_leave_the_table_unchanged_and_agree_with_it(scene, kept):
    table, values = kept
    plain = evaluate(scene.optical, scene.sar, methods=METHODS, seeds=[0, 1])
    cols = [c for c in plain.columns if c != "seconds"]
    assert plain[cols].equals(table[cols])
    assert tuple(values.columns) == VALUE_COLUMNS
    assert list(values["method"].cat.categories) == METHODS
    rows = table[(table.band != ALL_BANDS) & (table.band != "NDVI") & (table.gap == "all")]
    for row in rows.itertuples():
        one = values[
            (values.seed == row.seed) & (values.method == row.method) & (values.band == row.band)
        ]
        ok = np.isfinite(one.estimate)
        assert len(one) == row.n + row.n_missing
        rmse = np.sqrt(np.mean((one.estimate[ok] - one.truth[ok]) ** 2))
        assert rmse == pytest.approx(row.rmse, rel=1e-12)
    # σ only where the method gives one
    has_sigma = values.groupby("method", observed=True).sigma.apply(lambda s: s.notna().any())
    assert has_sigma.to_dict() == {"linear": False, "kernel": True, "whittaker": False}


def test_gap_error_figure_has_a_line_per_method_labels_and_counts(kept):
    _, values = kept
    fig = plot_gap_error(values)
    ax, counts = fig.axes
    assert [line.get_label() for line in ax.get_lines()] == METHODS
    assert "reflectance" in ax.get_ylabel()
    assert "days" in ax.get_xlabel()
    assert counts.get_ylabel() == "hidden values per bin"
    assert len(counts.patches) == len(ax.get_xticks())
    assert ax.get_title()
    assert fig.legends and {t.get_text() for t in fig.legends[0].get_texts()} >= set(METHODS)
    table = gap_error_table(values)
    assert (table.groupby("method", sort=False).n.sum() > 0).all()


def test_predicted_observed_has_a_panel_per_method_with_r2_and_the_1_to_1_line(kept):
    _, values = kept
    fig = plot_predicted_observed(values)
    panels = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title().splitlines()[0] for ax in panels] == METHODS
    for ax in panels:
        assert "R² = " in ax.get_title()
        assert "observed reflectance" in ax.get_xlabel()
        (line,) = ax.get_lines()
        assert np.array_equal(line.get_xdata(), line.get_ydata())  # the 1:1 line
    assert panels[0].get_ylabel() == "predicted reflectance"
    assert any(ax.get_ylabel() == "values per hexagon" for ax in fig.axes)  # the colour bar


def test_calibration_only_for_methods_with_sigma_with_the_gaussian_ideal(kept):
    _, values = kept
    fig = plot_calibration(values)
    (ax,) = fig.axes
    labels = [line.get_label() for line in ax.get_lines() if not line.get_label().startswith("_")]
    assert labels == ["Gaussian ideal", "kernel"]
    ideal = ax.get_lines()[0]
    k = np.asarray(ideal.get_xdata())
    assert np.allclose(ideal.get_ydata(), [math.erf(v / math.sqrt(2)) for v in k])
    assert "σ" in ax.get_xlabel() and "±kσ" in ax.get_ylabel()
    table = calibration_table(values, k=[1.0, 2.0])
    assert set(table.method) == {"kernel"}
    # the table's ±1σ / ±2σ coverage, pooled over seeds
    assert table.within.between(0, 1).all()
    with pytest.raises(MissingVariableError, match="none of the methods"):
        plot_calibration(values[values.method == "linear"])


def test_one_band_and_bad_inputs(kept):
    _, values = kept
    assert plot_gap_error(values, band="B8A").axes[0].get_title().endswith("(band B8A)")
    with pytest.raises(MissingVariableError, match="not among the kept bands"):
        plot_gap_error(values, band="B02")
    with pytest.raises(MissingVariableError, match="keep_values=True"):
        plot_gap_error(kept[0])
    with pytest.raises(OptionError, match="increasing upper edges"):
        gap_error_table(values, bins=[10, 5])


def test_evaluate_plots_writes_three_pngs_and_the_json(scene, tmp_path):
    folder = tmp_path / "plots"
    table = evaluate(scene.optical, scene.sar, methods=METHODS, seeds=[0], plots=folder)
    assert not isinstance(table, tuple)
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["calibration.png", "gap_error.png", "predicted_observed.png", "summary.json"]
    for name in names[:3]:
        assert (folder / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    doc = json.loads((folder / "summary.json").read_text())
    assert doc["methods"] == METHODS and doc["protocol"] == "partial"
    pooled = [r for r in doc["summary"] if r["band"] == ALL_BANDS and r["gap"] == "all"]
    assert [r["method"] for r in pooled] == METHODS
    assert pooled[0]["within_1sigma"] is None  # NaN written as null
    assert {r["method"] for r in doc["calibration"]} == {"kernel"}
    assert {r["method"] for r in doc["gap_error"]} == set(METHODS)
    # without a method with σ: no calibration figure
    _, values = evaluate(scene.optical, methods=["linear"], seeds=[0], keep_values=True)
    assert sorted(write_plots(values, tmp_path / "no_sigma")) == [
        "gap_error",
        "predicted_observed",
    ]
    with pytest.raises(OptionError, match="is a file"):
        evaluate(scene.optical, methods=["linear"], seeds=[0], plots=folder / "summary.json")


def test_cli_evaluate_plots_on_a_patch(wc1, tmp_path, capsys):
    folder = tmp_path / "plots"
    argv = ["evaluate", str(wc1), "--methods", "linear", "kernel", "--seeds", "1"]
    argv += ["--plots", str(folder), "--json", str(tmp_path / "scores.json")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    stem = f"{wc1.name}-partial-"
    pngs = ["calibration.png", "gap_error.png", "predicted_observed.png"]
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [*(stem + n for n in pngs), "summary.json"]
    )
    for name in pngs:
        assert (folder / (stem + name)).stat().st_size > 10_000
        assert f"wrote {folder / (stem + name)}" in out
    doc = json.loads((tmp_path / "scores.json").read_text())
    assert doc == json.loads((folder / "summary.json").read_text())
    assert doc["scenes"] == [wc1.name] and doc["methods"] == ["linear", "kernel"]
    rows = [r for r in doc["summary"] if r["band"] == ALL_BANDS and r["gap"] == "all"]
    assert {r["split"] for r in rows} == {"all", "neighbour", "source"}  # the default splits
    rows = [r for r in rows if r["split"] == "all"]
    assert {r["method"] for r in rows} == {"linear", "kernel"}
    assert all(r["rmse"] > 0 for r in rows)


def test_cli_evaluate_refuses_a_file_for_plots(tmp_path, capsys):
    (tmp_path / "f").write_text("")
    with pytest.raises(SystemExit):
        main(["evaluate", str(tmp_path), "--plots", str(tmp_path / "f")])
    assert "argument --plots" in capsys.readouterr().err
