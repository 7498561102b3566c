"""The napari plugin's parts that need no napari: its manifest, its packaging, and what the widget runs.

Why here and not in tests/test_napari_plugin.py: that file needs napari and Qt and runs in a
venv of its own in CI; these run in the main venv, so a manifest that names a moved callable,
an entry point that went missing, or a wrong scale for the new layer fails there too.
"""

from __future__ import annotations

import ast
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import yaml

from zssr.errors import ConfigError, KernelError, ScaleError, ShapeError
from zssr.napari_plugin._run import Cancelled, Progress, Update, WidgetOptions, enlarged_grid, layer_axes, run_layer

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "zssr"
#: A budget of seconds: 3 iterations on 16×16 crops, no ensemble, one back-projection.
TINY = {"iterations": 3, "config_overrides": {"crop_size": 16, "output_flip": False, "back_projection_iters": (1,)}}


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _manifest_path() -> Path:
    module, _, filename = _pyproject()["project"]["entry-points"]["napari.manifest"]["zssr"].partition(":")
    return PACKAGE.parent.joinpath(*module.split(".")) / filename


def test_napari_manifest_entry_point_names_a_packaged_file() -> None:
    """The ``napari.manifest`` entry point names napari.yaml inside the package, and package-data ships it."""
    path = _manifest_path()
    assert path == PACKAGE / "napari_plugin" / "napari.yaml"
    assert path.is_file()
    assert "napari_plugin/napari.yaml" in _pyproject()["tool"]["setuptools"]["package-data"]["zssr"]


def test_napari_manifest_commands_name_callables_that_exist() -> None:
    """Every command's ``python_name`` is a module file under src/ defining that name; every widget names a command."""
    manifest = yaml.safe_load(_manifest_path().read_text(encoding="utf-8"))
    assert manifest["name"] == _pyproject()["project"]["name"]
    commands = manifest["contributions"]["commands"]
    assert commands
    for command in commands:
        module, _, name = command["python_name"].partition(":")
        source = PACKAGE.parent.joinpath(*module.split(".")).with_suffix(".py")
        assert source.is_file(), f"{command['id']}: no module {module}"
        tree = ast.parse(source.read_text(encoding="utf-8"))
        defined = {node.name for node in tree.body if isinstance(node, (ast.ClassDef, ast.FunctionDef))}
        assert name in defined, f"{command['id']}: {module} defines no {name}"
    ids = {command["id"] for command in commands}
    assert manifest["contributions"]["widgets"]
    assert all(widget["command"] in ids for widget in manifest["contributions"]["widgets"])


def test_napari_extra_is_optional_and_nothing_else_imports_the_plugin() -> None:
    """The napari extra is optional: not a dependency; no zssr module outside napari_plugin imports it or napari."""
    project = _pyproject()["project"]
    assert not any(dep.lower().startswith(("napari", "npe2", "pyqt", "qtpy")) for dep in project["dependencies"])
    assert any(dep.startswith("napari") for dep in project["optional-dependencies"]["napari"])
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if "napari_plugin" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] in {"napari", "qtpy", "napari_plugin"} or "napari_plugin" in n for n in names):
                offenders.append(path.relative_to(PACKAGE).as_posix())
    assert not offenders


def test_run_module_imports_without_napari() -> None:
    """What the widget runs loads without napari or Qt (only _widget.py imports them)."""
    assert "zssr.napari_plugin._widget" not in sys.modules or "napari" in sys.modules
    source = (PACKAGE / "napari_plugin" / "_run.py").read_text(encoding="utf-8")
    assert "import napari" not in source and "qtpy" not in source


def test_layer_axes_reads_napari_layers_by_their_rank() -> None:
    """A 3-D layer is Z×Y×X, a 4-D one T×Z×Y×X; other ranks are refused with the reason."""
    assert layer_axes(2) == "YX" and layer_axes(3) == "ZYX" and layer_axes(4) == "TZYX"
    with pytest.raises(ShapeError, match="2 to 5"):
        layer_axes(6)


def test_enlarged_grid_keeps_the_layer_over_its_input() -> None:
    """Voxel size divided by the factor; the first centre moves back by half the lost voxel, so edges align."""
    scale, translate = enlarged_grid((4.0, 0.5, 0.5), (10.0, 1.0, 2.0), {0: 4.0})
    assert scale == (1.0, 0.5, 0.5)
    assert translate == (10.0 - 1.5, 1.0, 2.0)
    # The outer edge of the input's first voxel (10 - 4/2 = 8) is the output's (8.5 - 1/2 = 8).
    assert translate[0] - scale[0] / 2 == 10.0 - 4.0 / 2


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"factor": 1.0}, ScaleError, "factor"),
        ({"factor": None}, ScaleError, "factor"),
        ({"axis": "w"}, ConfigError, "axis"),
        ({"preset": "nope"}, ConfigError, "preset"),
        ({"kernel": "file"}, KernelError, "kernel file"),
        ({"iterations": 0}, ConfigError, "iterations"),
    ],
)
def test_widget_options_refuse_a_bad_form_naming_the_field(kwargs: dict, error: type, match: str) -> None:
    """A wrong field is a typed ZSSRError that names it (the widget shows it as one line)."""
    with pytest.raises(error, match=match):
        WidgetOptions(**kwargs)


def test_run_layer_on_a_2d_layer_returns_its_dtype_and_halved_scale() -> None:
    """A uint16 Y×X layer ×2: twice the shape, same dtype and range, scale halved, progress reported."""
    rng = np.random.default_rng(0)
    data = (rng.random((20, 24)) * 4000 + 100).astype(np.uint16)
    updates: list[Update] = []
    result = run_layer(data, options=WidgetOptions(factor=2, **TINY), scale=(0.5, 0.5), translate=(0.0, 0.0),
                       progress=Progress(updates.append, every=1), device="cpu")
    assert result.data.shape == (40, 48) and result.data.dtype == np.uint16
    assert data.min() <= result.data.min() and result.data.max() <= data.max()
    assert result.scale == (0.25, 0.25)
    assert result.translate == (-0.125, -0.125)
    assert result.label == "×2"
    assert any(u.stage == "training" and u.done == 3 for u in updates)


def test_run_layer_through_plane_reads_the_factor_from_the_layer_scale() -> None:
    """A Z×Y×X layer with scale (2, 0.5, 0.5) and no factor: ×4 along z only, scale (0.5, 0.5, 0.5)."""
    data = np.random.default_rng(1).random((5, 20, 20)).astype(np.float32)
    updates: list[Update] = []
    result = run_layer(data, options=WidgetOptions(factor=None, axis="z", **TINY), scale=(2.0, 0.5, 0.5),
                       progress=Progress(updates.append), device="cpu")
    assert result.data.shape == (20, 20, 20) and result.data.dtype == np.float32
    assert result.scale == (0.5, 0.5, 0.5)
    assert result.factors == {0: 4.0} and result.label == "×4 z"
    assert updates[-1].stage == "planes" and updates[-1].done == updates[-1].total
    assert [u.done for u in updates if u.stage == "training"][-1] == 3  # upscale_volume(step_progress=) reports


def test_run_layer_refuses_a_kernel_on_a_stack_and_z_on_a_picture() -> None:
    """Kernels apply to 2-D layers, through-plane to stacks: each mix is a one-line error."""
    with pytest.raises(KernelError, match="2-D layers"):
        run_layer(np.zeros((3, 16, 16)), options=WidgetOptions(kernel="auto"))
    with pytest.raises(ConfigError, match="needs a stack"):
        run_layer(np.zeros((16, 16)), options=WidgetOptions(axis="z"))


def test_progress_raises_cancelled_once_cancel_is_set() -> None:
    """A set cancel event stops the run at its next iteration: run_layer raises Cancelled, not a result."""
    cancel = threading.Event()

    def report(update: Update) -> None:
        if update.stage == "training" and update.done >= 2:
            cancel.set()

    data = np.random.default_rng(2).random((20, 20)).astype(np.float32)
    with pytest.raises(Cancelled):
        run_layer(data, options=WidgetOptions(factor=2, iterations=10_000),
                  progress=Progress(report, cancel, every=1), device="cpu")
