"""examples/quickstart.ipynb runs from top to bottom on the real WorldCereal patch, and is
committed without outputs.

The notebook runs in a fresh IPython kernel started with this interpreter
(``sys.executable``, through a kernel spec written for the test: no globally registered
kernel is used), in a temporary working directory (the notebook must not depend on it),
with ``STORI_DATA`` pointing at the real data, so that it never falls back on the
synthetic scene. Inside the kernel, as in this suite, warnings from stori_xr are errors.
"""

import json
import sys
import time
from pathlib import Path

import jupyter_client
import nbclient
import nbformat

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"

#: Run before the notebook's first cell, not saved in it: the suite's warning filters, and
#: a check that the kernel runs this interpreter.
STRICT = f"""\
import sys
import warnings
from stori_xr.exceptions import StoriWarning
warnings.filterwarnings("error", module="stori_xr")
warnings.filterwarnings("error", category=StoriWarning)
assert sys.executable == {sys.executable!r}, sys.executable
"""


def _kernel_manager(spec_dir: Path) -> jupyter_client.AsyncKernelManager:
    """A kernel manager whose only kernel runs ipykernel on this interpreter."""
    name = "stori-test"
    (spec_dir / name).mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": f"stori_xr tests ({sys.executable})",
        "language": "python",
    }
    (spec_dir / name / "kernel.json").write_text(json.dumps(spec))
    specs = jupyter_client.kernelspec.KernelSpecManager(kernel_dirs=[str(spec_dir)])
    return jupyter_client.AsyncKernelManager(kernel_name=name, kernel_spec_manager=specs)


def _code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def test_notebook_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert _code_cells(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"cell {i} has outputs: clear them before committing"
            assert cell.execution_count is None, f"cell {i} has an execution count"
        assert "attachments" not in cell, f"cell {i} has attachments"
    assert "widgets" not in nb.metadata


def test_notebook_runs_on_real_data(data_dir, tmp_path, monkeypatch):
    patch = data_dir / "worldcereal" / "00002806639B424A"
    assert patch.is_dir(), f"the notebook's patch is missing: {patch}"
    monkeypatch.setenv("STORI_DATA", str(data_dir))  # the kernel inherits the environment
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(STRICT))
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    client = nbclient.NotebookClient(
        nb,
        km=_kernel_manager(tmp_path / "kernels"),
        timeout=600,
        resources={"metadata": {"path": str(workdir)}},
    )
    start = time.perf_counter()
    client.execute()  # raises CellExecutionError, with the cell and its traceback
    seconds = time.perf_counter() - start
    print(f"examples/quickstart.ipynb ran in {seconds:.0f} s")

    cells = _code_cells(nb)[1:]
    outputs = [out for cell in cells for out in cell.outputs]
    text = "\n".join(out.get("text", "") for out in outputs if out.output_type == "stream")
    assert f"WorldCereal patch: {patch}" in text, "the notebook did not find the real patch"
    assert "synthetic" not in text
    assert "complete" in text  # the Zarr store's write status
    errors = "\n".join(out.text for out in outputs if out.get("name") == "stderr")
    assert "Warning" not in errors, f"the notebook warns:\n{errors}"
    for method in ("stori", "kernel", "whittaker"):
        assert any(line.startswith(method) for line in text.splitlines()), method
    images = [out for out in outputs if "image/png" in out.get("data", {})]
    assert len(images) >= 4  # the gap record, the maps, two pixel series
    assert not list(workdir.iterdir()), "the notebook wrote into its working directory"
