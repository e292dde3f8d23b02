"""Plots (stori_xr.plot), the accessor's plot methods, show_versions and the summary attribute."""

import inspect
import io
import pydoc
import subprocess
import sys

import dask.array as dsa
import matplotlib
import numpy as np
import pytest
import xarray as xr

import stori_xr
import stori_xr.plot
from stori_xr.datasets import make_scene
from stori_xr.exceptions import MissingVariableError, OptionError
from stori_xr.kernels import flags

matplotlib.use("Agg")
import matplotlib.pyplot as plt

BANDS = ("B02", "B03", "B04", "B08")
DATE = "2021-01-16"  # a date with clear and cloudy cells in the scene below


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def scene():
    sc = make_scene(24, 24, periods=20, bands=BANDS, seed=1, cloud_cover=0.3)
    opt = sc.optical.copy()
    # an outlier on a clear date, which the kernel screens out
    t, y, x = 4, 7, 5
    assert bool(opt.clear[t, y, x])
    opt["B08"][t, y, x] = 0.9
    return opt, sc.sar


@pytest.fixture(scope="module")
def out(scene):
    opt, sar = scene
    return opt.stori.interpolate(sar, method="kernel", radius=3)


def _value_images(fig):
    """The input and reconstruction images (titles start with input/observed and recon.)."""
    found = {}
    for ax in fig.axes:
        title = ax.get_title()
        for key in ("input", "observed", "reconstruction"):
            if title.startswith(key):
                found[key] = ax.images[0]
    return found


# --- plot_maps -------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["numpy", "dask"])
def test_maps_png_titles_labels_colourbar_legend(scene, out, backend, tmp_path):
    opt, _ = scene
    if backend == "dask":
        out, opt = out.chunk({"y": 12, "x": 12}), opt.chunk({"y": 12, "x": 12})
    fig = out.stori.plot_maps(time=DATE, input=opt, variable="B08")
    fig.savefig(tmp_path / "maps.png", dpi=50)
    assert (tmp_path / "maps.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith(f"input, {DATE}") and "gaps" in titles[0]
    assert titles[1:4] == [f"reconstruction, {DATE}", "σ (1 sigma)", "source (stori_source)"]
    assert fig.get_suptitle().startswith(f"B08 on {DATE}: input and reconstruction")
    assert "'kernel'" in fig.get_suptitle()
    maps = fig.axes[:4]
    assert {ax.get_xlabel() for ax in maps} == {"x [m]"}
    assert maps[0].get_ylabel() == "y [m]"
    # the tick labels are coordinates, not pixel positions
    left, right = maps[0].get_xlim()
    assert left == pytest.approx(float(out.x[0]) - 10) and right == pytest.approx(
        float(out.x[-1]) + 10
    )
    # one colour bar for input and reconstruction, one for σ
    images = _value_images(fig)
    bar = images["reconstruction"].colorbar
    assert bar is not None and bar.ax.get_ylabel() == "B08 [1]"
    assert maps[2].images[0].colorbar.ax.get_ylabel() == "σ of B08 [1]"
    # the flags: categorical, a legend with the share of each flag present
    legend = maps[3].get_legend()
    labels = [t.get_text() for t in legend.get_texts()]
    src = out.stori_source.sel(time=DATE, method="nearest").values
    present = [n for k, n in enumerate(flags.FLAG_MEANINGS.split()) if (src == k).any()]
    assert [label.split(" (")[0] for label in labels] == present
    assert all(label.endswith("%)") for label in labels)
    assert maps[3].images[0].norm.boundaries.tolist() == list(np.arange(9) - 0.5)


def test_maps_input_and_output_share_one_colour_scale(scene, out):
    opt, _ = scene
    fig = out.stori.plot_maps(time=DATE, input=opt, variable="B08")
    images = _value_images(fig)
    a, b = images["input"], images["reconstruction"]
    assert a.norm is b.norm
    assert (a.norm.vmin, a.norm.vmax) == (b.norm.vmin, b.norm.vmax)
    both = np.concatenate(
        [
            opt.B08.where(opt.clear).sel(time=DATE, method="nearest").values.ravel(),
            out.B08.sel(time=DATE, method="nearest").values.ravel(),
        ]
    )
    lo, hi = np.nanpercentile(both, [2, 98])
    assert a.norm.vmin == pytest.approx(lo) and a.norm.vmax == pytest.approx(hi)
    fixed = out.stori.plot_maps(time=DATE, input=opt, variable="B08", vmin=0.1, vmax=0.4)
    for image in _value_images(fixed).values():
        assert (image.norm.vmin, image.norm.vmax) == (0.1, 0.4)


def test_maps_show_gaps_as_gaps(scene, out):
    opt, _ = scene
    fig = out.stori.plot_maps(time=DATE, input=opt, variable="B08")
    images = _value_images(fig)
    shown = images["input"].get_array()
    expected = opt.B08.where(opt.clear).sel(time=DATE, method="nearest").values
    assert np.isnan(expected).any() and np.isfinite(expected).any()
    np.testing.assert_array_equal(np.ma.getmaskarray(shown), np.isnan(expected))
    np.testing.assert_array_equal(shown.compressed(), expected[np.isfinite(expected)])
    assert not np.ma.getmaskarray(images["reconstruction"].get_array()).any()
    # without input=: the values the result flags as observed
    fig = out.stori.plot_maps(time=DATE, variable="B08")
    at = out.sel(time=DATE, method="nearest")
    shown = _value_images(fig)["observed"].get_array()
    np.testing.assert_array_equal(
        np.ma.getmaskarray(shown), (at.stori_source != flags.OBSERVED).values
    )


def test_maps_true_colour_ndvi_and_several_dates(scene, out):
    opt, _ = scene
    fig = out.stori.plot_maps(time=DATE, input=opt)  # default: true colour
    assert "true colour (B04, B03, B02)" in fig.get_suptitle() and "stretch" in fig.get_suptitle()
    rgba = _value_images(fig)["input"].get_array()
    gaps = ~opt.clear.sel(time=DATE, method="nearest").values
    np.testing.assert_array_equal(rgba[..., 3] == 0, gaps)
    fig = out.stori.plot_maps(time=[DATE, 15], input=opt, variable="NDVI")
    assert fig.axes[0].get_gridspec().get_geometry() == (2, 4)
    bar = _value_images(fig)["reconstruction"].colorbar
    assert bar.ax.get_ylabel() == "NDVI (B08, B04) [1]"
    date15 = np.datetime_as_string(out.time.values[15], unit="D")
    assert any(ax.get_title() == f"reconstruction, {date15}" for ax in fig.axes)


def test_maps_of_a_dataarray_result_and_an_input(scene, out):
    opt, sar = scene
    da = (
        opt[["B04", "B08"]]
        .where(opt.clear)
        .to_dataarray("band")
        .stori.interpolate(sar, method="kernel")
    )
    fig = da.stori.plot_maps(time=DATE, variable="ndvi")
    titles = [ax.get_title() for ax in fig.axes[:4]]
    assert titles[0].startswith(f"observed, {DATE}")
    assert titles[1:] == [f"reconstruction, {DATE}", "σ (1 sigma)", "source (stori_source)"]
    fig = opt.stori.plot_maps(time=DATE, variable="B04")  # not a result: the map alone
    assert fig.axes[0].get_title() == DATE and fig.axes[0].images[0].colorbar is not None


def test_maps_errors(out):
    with pytest.raises(MissingVariableError, match="choose a band among"):
        out.stori.plot_maps(variable="B99")
    with pytest.raises(MissingVariableError, match="true colour needs the bands"):
        out[["B08", "B08_sigma", "stori_source"]].stori.plot_maps(variable="rgb")
    with pytest.raises(MissingVariableError, match="NDVI needs B04 and B08"):
        out[["B08", "B08_sigma", "stori_source"]].stori.plot_maps(variable="ndvi")
    with pytest.raises(OptionError, match="out of range: there are 20 dates"):
        out.stori.plot_maps(time=20)


# --- plot_pixel ------------------------------------------------------------------------


def _lines(ax, **props):
    return [
        line
        for line in ax.lines
        if all(np.all(getattr(line, f"get_{k}")() == v) for k, v in props.items())
    ]


@pytest.mark.parametrize("backend", ["numpy", "dask"])
def test_pixel_marks_observed_screened_and_filled(scene, out, backend, tmp_path):
    opt, sar = scene
    if backend == "dask":
        out, opt, sar = (o.chunk({"y": 12, "x": 12}) for o in (out, opt, sar))
    src = out.stori_source[:, 7, 5].values
    assert (src == flags.SCREENED).sum() == 1 and (src == flags.OBSERVED).any()
    fig = out.stori.plot_pixel(x=5, y=7, index=True, variables=["B08"], input=opt, sar=sar)
    fig.savefig(tmp_path / "pixel.png", dpi=50)
    assert (tmp_path / "pixel.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ax, ax_sar = fig.axes
    b08 = out.B08[:, 7, 5].values
    observed = _lines(ax, marker="o", markerfacecolor="#000000")
    assert len(observed) == 1
    np.testing.assert_array_equal(observed[0].get_ydata(), b08[src == flags.OBSERVED])
    filled = _lines(ax, marker="o", markerfacecolor="white")
    assert sum(len(line.get_ydata()) for line in filled) == (src != flags.OBSERVED).sum()
    colours = {line.get_markeredgecolor() for line in filled}
    assert "#d62728" in colours  # the screened date's fill, in the screened colour
    (crosses,) = _lines(ax, marker="x")
    assert crosses.get_ydata().tolist() == [pytest.approx(0.9)]  # the discarded value
    assert len(ax.collections) == 1  # the ±1σ band
    assert ax.get_ylabel() == "B08 [1]"
    assert ax_sar.get_ylabel() == "backscatter [dB]"
    assert ax_sar.get_xlabel() == "time"
    assert [t.get_text() for t in ax_sar.get_legend().get_texts()] == ["VV", "VH"]
    values, sources = fig.legends
    assert [t.get_text() for t in values.get_texts()] == [
        "reconstruction",
        "observed",
        "filled",
        "screened input",
        "±1σ",
    ]
    assert "screened" in [t.get_text() for t in sources.get_texts()]
    # the legends are outside the data: right of every axes
    fig.canvas.draw()
    right = max(a.get_window_extent().x1 for a in fig.axes)
    for legend in fig.legends:
        assert legend.get_window_extent().x0 >= right
    title = fig.get_suptitle()
    assert f"x={float(out.x[5]):.10g} m" in title and "(column 5, row 7)" in title


def test_pixel_by_coordinates_is_the_nearest_pixel(out):
    by_index = out.stori.plot_pixel(x=5, y=7, index=True, variables=["B04"])
    near = out.stori.plot_pixel(x=float(out.x[5]) + 4, y=float(out.y[7]) - 3, variables=["B04"])
    assert near.get_suptitle() == by_index.get_suptitle()
    middle = out.stori.plot_pixel(variables=["B04"])
    assert "(column 12, row 12)" in middle.get_suptitle()
    with pytest.raises(OptionError, match="'x' has 24 pixels"):
        out.stori.plot_pixel(x=24, y=0, index=True)


def test_pixel_of_an_input_draws_observed_values(scene):
    opt, _ = scene
    fig = opt.stori.plot_pixel(x=5, y=7, index=True, variables=["B04", "ndvi"])
    ax = fig.axes[0]
    (observed,) = _lines(ax, marker="o")
    expected = opt.B04[:, 7, 5].where(opt.clear[:, 7, 5]).values
    np.testing.assert_array_equal(observed.get_ydata(), expected[np.isfinite(expected)])
    assert fig.axes[1].get_ylabel() == "NDVI (B08, B04) [1]"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["series", "observed"]


# --- laziness: only what is drawn is computed --------------------------------------------


def _recorded(ds, names, chunks):
    """``ds`` chunked, each band's blocks recording their location when computed."""
    seen = []
    ds = ds.chunk(chunks)

    def record(block, name, block_info=None):
        seen.append((name, tuple(block_info[0]["chunk-location"])))
        return block

    for name in names:
        data = ds[name].data
        ds[name] = ds[name].copy(data=dsa.map_blocks(record, data, name, dtype=data.dtype))
    return ds, seen


def test_maps_compute_only_the_drawn_date_of_a_lazy_input(scene, out):
    opt, _ = scene
    lazy, seen = _recorded(opt, ["B08"], {"time": 1})
    out.stori.plot_maps(time=DATE, input=lazy, variable="B08")
    j = int(np.argmin(np.abs(opt.time.values - np.datetime64(DATE))))
    assert seen == [("B08", (j, 0, 0))]


def test_pixel_computes_only_its_tile_of_a_lazy_result(scene):
    opt, sar = scene
    lazy, seen = _recorded(opt, ["B04", "B08"], {"time": -1, "y": 12, "x": 12})
    result = lazy.stori.interpolate(sar, method="linear")  # no halo: one tile per pixel
    assert seen == []  # nothing computed yet
    result.stori.plot_pixel(x=5, y=7, index=True, variables=["ndvi"])
    assert sorted(seen) == [("B04", (0, 0, 0)), ("B08", (0, 0, 0))]  # once each
    seen.clear()
    result.stori.plot_maps(time=DATE, variable="ndvi")
    assert sorted(seen) == sorted(
        (b, (0, i, j)) for b in ("B04", "B08") for i in (0, 1) for j in (0, 1)
    )


# --- the accessor's methods are the functions ------------------------------------------


@pytest.mark.parametrize("name", ["plot_maps", "plot_pixel"])
def test_accessor_plot_methods_show_their_parameters(out, name):
    func = getattr(stori_xr.plot, name)
    method = getattr(out.stori, name)
    assert method.__doc__ == func.__doc__
    params = list(inspect.signature(func).parameters.values())[1:]
    assert list(inspect.signature(method).parameters.values()) == params
    text = pydoc.render_doc(method, renderer=pydoc.plaintext)
    for p in params:
        assert f"{p.name}:" in text  # in the signature
    assert "Parameters" in text and "Examples" in text


def test_importing_stori_xr_imports_neither_matplotlib_nor_torch():
    code = (
        "import sys, io, stori_xr; stori_xr.show_versions(file=io.StringIO()); "
        "print('matplotlib' in sys.modules, 'torch' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.split() == ["False", "False"]


# --- show_versions and the summary attribute --------------------------------------------


def test_show_versions_lists_the_packages(capsys):
    buffer = io.StringIO()
    stori_xr.show_versions(file=buffer)
    text = buffer.getvalue()
    for name in (
        "python",
        "OS",
        "machine",
        "stori_xr",
        "numpy",
        "xarray",
        "dask",
        "distributed",
        "numba",
        "zarr",
        "rioxarray",
        "rasterio",
        "netCDF4",
        "torch",
        "matplotlib",
    ):
        assert f"\n{name}:" in text
    assert "xarray:" in text and xr.__version__ in text
    stori_xr.show_versions()
    assert capsys.readouterr().out == text


def test_result_attributes_summarise_method_options_and_version(out):
    text = out.attrs["stori_summary"]
    assert text.startswith(f"stori_xr {stori_xr.__version__} interpolate, method 'kernel'")
    assert "(radius=3; other options at their defaults)" in text
    assert "4 bands (B02, B03, B04, B08) on 20 dates" in text
