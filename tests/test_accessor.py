"""The .stori accessor is its free functions: same signatures and docstrings, by construction."""

import inspect
import pydoc

import pytest

import stori_xr
from stori_xr import fill, output, plot
from stori_xr.accessor import StoriAccessor
from stori_xr.align import align
from stori_xr.datasets import make_scene
from stori_xr.evaluate import evaluate
from stori_xr.exceptions import MethodError
from stori_xr.kernels import stori as kernel
from stori_xr.ranker import rank_method

FUNCTIONS = {
    "align": align,
    "interpolate": fill.interpolate,
    "fit": fill.fit,
    "evaluate": evaluate,
    "to_zarr": output.to_zarr,
    "plot_maps": plot.plot_maps,
    "plot_pixel": plot.plot_pixel,
}

METHOD_OPTIONS = set(kernel.DEFAULTS) | set(rank_method.DEFAULTS)


@pytest.fixture(scope="module")
def scene():
    return make_scene(16, 16, periods=12, seed=1)


def test_every_public_method_is_listed():
    public = {n for n in vars(StoriAccessor) if not n.startswith("_")}
    assert public == set(FUNCTIONS)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_method_is_its_function(scene, name):
    func, method = FUNCTIONS[name], getattr(scene.optical.stori, name)
    assert method.__doc__ is func.__doc__  # the same object: cannot drift
    assert method.__name__ == func.__name__
    assert method.__wrapped__ is func
    params = list(inspect.signature(func).parameters.values())
    assert list(inspect.signature(method).parameters.values()) == params[1:]
    assert "Examples\n    --------\n    >>> " in func.__doc__
    assert "Parameters\n    ----------" in func.__doc__


def documented(doc):
    """The parameter names of a numpydoc docstring's Parameters section."""
    section = doc.split("Parameters\n    ----------\n")[1].split("\n\n    Returns")[0]
    names = set()
    for line in section.splitlines():
        if line.startswith("    ") and not line.startswith("     "):
            names.update(n.strip().lstrip("*") for n in line.split(" : ")[0].split(","))
    return names


@pytest.mark.parametrize("name", FUNCTIONS)
def test_every_parameter_is_documented(name):
    func = FUNCTIONS[name]
    assert set(inspect.signature(func).parameters) <= documented(func.__doc__)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_help_shows_the_parameters(scene, name):
    text = pydoc.render_doc(getattr(scene.optical.stori, name), renderer=pydoc.plaintext)
    for param in list(inspect.signature(FUNCTIONS[name]).parameters)[1:]:
        if param not in ("options", "kwargs"):
            assert f"{param}" in text


def test_interpolate_names_every_documented_option(scene):
    sig = inspect.signature(scene.optical.stori.interpolate)
    for name in ("radius", "max_gap", "tolerance", "epochs", "valid_range", "seed", "model"):
        assert name in sig.parameters
    named = {n for n, p in sig.parameters.items() if p.kind is p.KEYWORD_ONLY}
    assert METHOD_OPTIONS <= named  # no drift from the methods' own defaults
    for name in METHOD_OPTIONS:
        assert repr(sig.parameters[name].default) == repr(
            {**kernel.DEFAULTS, **rank_method.DEFAULTS}[name]
        )
    assert "radius: 'int' = 8" in str(sig)
    fit_sig = inspect.signature(scene.optical.stori.fit)
    assert METHOD_OPTIONS - {"fit"} <= set(fit_sig.parameters)


def test_only_the_options_given_reach_the_method(scene):
    out = scene.optical.stori.interpolate(method="linear")  # no kernel default passed on
    assert "radius" not in out.attrs["stori_options"]
    with pytest.raises(MethodError, match=r"method='linear' takes no option \['radius'\]"):
        scene.optical.stori.interpolate(method="linear", radius=8)
    with pytest.raises(MethodError, match=r"takes no option \['lmbda'\]"):
        scene.optical.stori.interpolate(method="linear", lmbda=1e3)
    out = scene.optical.stori.interpolate(scene.sar, method="kernel", radius=3)
    assert '"radius": 3' in out.attrs["stori_options"]
    out = scene.optical.stori.interpolate(method="whittaker", lmbda=1e3)  # still **options
    assert '"lmbda": 1000.0' in out.attrs["stori_options"]


def test_accessor_is_registered_on_both_types(scene):
    assert isinstance(scene.optical.stori, StoriAccessor)
    assert isinstance(scene.optical.B05.stori, StoriAccessor)
    assert stori_xr.set_options is not None
