"""The task layer (issue #29 item 5): one sequence under the CLI, the page, the napari widget and ``zssr.upscale``."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from skimage import data as skdata

import zssr.task as task
from zssr.config import resolve_config
from zssr.errors import StructureError

SRC = Path(task.__file__).parent
TINY = dict(max_iterations=2, crop_size=16, output_flip=False, back_projection_iters=(1,))


def _imports(module: Path) -> set[str]:
    """The absolute names of the zssr modules a source file imports (relative ones resolved)."""
    package = ".".join(module.relative_to(SRC.parent).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            names.add(f"{base}.{node.module}".strip(".") if node.module else base)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("front_end", ["web", "napari_plugin"])
def test_the_page_and_the_widget_import_nothing_from_the_cli(front_end: str) -> None:
    for module in (SRC / front_end).glob("*.py"):
        assert not {n for n in _imports(module) if n.startswith("zssr.cli")}, module.name


def test_the_task_layer_imports_no_front_end() -> None:
    front = {n for n in _imports(SRC / "task.py") if n.startswith(("zssr.cli", "zssr.web", "zssr.napari_plugin"))}
    assert not front


def _x() -> torch.Tensor:
    return torch.rand(1, 3, 24, 24, generator=torch.Generator().manual_seed(0))


def test_an_image_without_edges_falls_back_to_the_bicubic_kernel_with_one_warning_or_raises_when_strict() -> None:
    def no_edges(*args: object) -> object:
        raise StructureError("image has too few edges to estimate a kernel from")

    config = resolve_config("kernel", **TINY)
    fallback = resolve_config("ideal", **TINY)
    choice = task.upscale_choosing_kernel(_x(), [(2.0, 2.0)], config=config, kernels=[None], estimate=no_edges,
                                          fallback_config=fallback, seed=0, device=torch.device("cpu"), name="a.png")
    assert choice.estimate is None and choice.kernels == (None,) and choice.config is fallback
    assert choice.warnings == ("a.png: image has too few edges to estimate a kernel from; using the bicubic kernel instead",)
    with pytest.raises(StructureError):
        task.upscale_choosing_kernel(_x(), [(2.0, 2.0)], config=config, kernels=[None], estimate=no_edges,
                                     seed=0, device=torch.device("cpu"), strict=True)


def test_a_harmful_estimate_is_redone_with_the_bicubic_kernel_and_equals_the_fallback_run(monkeypatch) -> None:
    monkeypatch.setattr(task, "kernel_harm", lambda image, lr: "edges under 0.3 px")
    config, fallback = resolve_config("kernel", **TINY), resolve_config("ideal", **TINY)
    photo = skdata.astronaut()[:96, 160:256]  # a real photo: edges for the estimator (84×84 at least)
    x = torch.from_numpy(photo).permute(2, 0, 1)[None].float() / 255
    estimate = task.kernel_estimator("edges", iterations=None, restarts=None, width_correction=False,
                                     flags=("--a", "--b", "--c"))
    choice = task.upscale_choosing_kernel(x, [(2.0, 2.0)], config=config, kernels=[None], estimate=estimate,
                                          fallback_config=fallback, seed=0, device=torch.device("cpu"), name="b")
    plain = task.upscale_choosing_kernel(x, [(2.0, 2.0)], config=fallback, kernels=[None], seed=0,
                                         device=torch.device("cpu"))
    assert choice.kernels == (None,) and choice.config is fallback
    assert any("over-sharpened the output (edges under 0.3 px)" in w for w in choice.warnings)
    assert torch.equal(choice.result.image, plain.result.image)
