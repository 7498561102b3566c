"""Property-based fuzzing of folder runs (issue #30): mutated manifests and special files among the inputs.

* Any JSON value, any mutation of a real manifest's tree or bytes, garbage and JSON nested past
  Python's limits, written as ``zssr-manifest.json``: the re-run exits 0 or 2, prints only
  ``zssr:`` lines, never a traceback, and leaves a manifest that loads without a warning.
* Named pipes, links to ``/dev/zero``, folders named like images and dangling links among the
  inputs (as a folder or named one by one): one ``zssr: failed:`` line each, within seconds
  (nothing is read from them), and nothing written but the manifest.

Each property stays under ~20 s on one core in the ``ci`` profile: one 12×12 image, one
iteration, a tenth of the profile's examples.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from fuzzing import check_outcome, fresh_root, mutations, run_cli, snapshot
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from zssr.batch import MANIFEST_NAME
from zssr.batch.manifest import Manifest
from zssr.io import write_image

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo") or not os.path.exists("/dev/zero"),
                                reason="needs named pipes and /dev/zero (POSIX)")

SLOW_OK = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]
TINY = ["-s", "2", "--preset", "fast", "--max-iterations", "1", "--set", "crop_size=8", "--device", "cpu",
        "--threads", "1", "--quiet"]
#: Special files are refused before any read: a run of them takes well under this (imports aside).
SPECIAL_RUN_S = 10.0


def examples(fraction: float) -> int:
    """``fraction`` of the active profile's ``max_examples``."""
    return max(1, int(settings.default.max_examples * fraction))


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder run of one 12×12 image, finished: ``in/a.png``, ``out/a.png`` and its manifest."""
    root = tmp_path_factory.mktemp("finished")
    (root / "in").mkdir()
    rng = np.random.default_rng(0)
    write_image(root / "in" / "a.png", rng.random((12, 12, 3)).astype(np.float32), bit_depth=8)
    run = run_cli(["upscale", root / "in", "--out-dir", root / "out", *TINY])
    assert run.code == 0, run.describe()
    return root


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=16,
)


@st.composite
def mutated_trees(draw: Any, base: dict[str, Any]) -> Any:
    """``base`` with one value somewhere in its tree replaced, removed or given a new sibling."""
    tree = copy.deepcopy(base)
    node: Any = tree
    for _ in range(draw(st.integers(0, 4))):
        children = [k for k, v in (node.items() if isinstance(node, dict) else enumerate(node)) if v and isinstance(v, (dict, list))]
        if not children:
            break
        node = node[draw(st.sampled_from(children))]
    if isinstance(node, dict) and node:
        key = draw(st.sampled_from(sorted(node)))
        op = draw(st.sampled_from(["replace", "remove", "add"]))
        if op == "replace":
            node[key] = draw(json_values)
        elif op == "remove":
            del node[key]
        else:
            node[draw(st.text(max_size=8))] = draw(json_values)
    elif isinstance(node, list) and node:
        node[draw(st.integers(0, len(node) - 1))] = draw(json_values)
    return tree


@st.composite
def manifest_bytes(draw: Any, base: bytes) -> bytes:
    """What may lie in a manifest's place: a mutated tree, mutated bytes, any JSON, garbage, deep nesting."""
    kind = draw(st.sampled_from(["deep", "tree", "bytes", "json", "garbage", "tree"]))
    event(f"manifest: {kind}")
    if kind == "tree":
        return json.dumps(draw(mutated_trees(json.loads(base)))).encode("utf-8")
    if kind == "bytes":
        return bytes(draw(mutations(base)))
    if kind == "json":
        return json.dumps(draw(json_values)).encode("utf-8")
    if kind == "garbage":
        return bytes(draw(st.binary(max_size=256)))
    opener = draw(st.sampled_from(["[", '{"images":', '{"a":[']))
    return (opener * draw(st.integers(500, 100_000))).encode("utf-8")


@settings(max_examples=examples(0.1), deadline=None, suppress_health_check=SLOW_OK)
@given(data=st.data())
def test_any_manifest_content_gives_exit_0_or_2_only_zssr_lines_and_a_valid_manifest_after(
    finished: Path, data: Any
) -> None:
    torch.set_num_threads(1)
    base = (finished / "out" / MANIFEST_NAME).read_bytes()
    content = data.draw(manifest_bytes(base), label="manifest")
    with fresh_root() as root:
        folder = Path(root)
        shutil.copytree(finished / "in", folder / "in")
        shutil.copytree(finished / "out", folder / "out")
        (folder / "out" / MANIFEST_NAME).write_bytes(content)
        run = run_cli(["upscale", folder / "in", "--out-dir", folder / "out", *TINY])
        event(f"exit {run.code}")
        assert run.code in (0, 2), run.describe()
        assert "Traceback" not in run.err + run.out, run.describe()
        assert all(line.startswith("zssr: ") for line in run.err.splitlines() if line.strip()), run.describe()
        manifest, warning = Manifest.load(folder / "out")
        assert warning is None, f"{warning}\n{run.describe()}"
        if run.code == 0:
            assert manifest.images["a.png"]["status"] == "done", run.describe()


SPECIAL_KINDS = ("fifo", "zero", "folder", "dangling")


def _make_special(path: Path, kind: str) -> None:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "zero":
        path.symlink_to("/dev/zero")
    elif kind == "folder":
        path.mkdir()
    else:
        path.symlink_to(path.with_name(path.name + ".gone"))


@settings(max_examples=examples(0.1), deadline=None, suppress_health_check=SLOW_OK)
@given(
    kinds=st.lists(st.sampled_from(SPECIAL_KINDS), min_size=1, max_size=4),
    suffixes=st.lists(st.sampled_from([".png", ".jpg", ".tif", ".bmp", ".webp", ".PNG"]), min_size=4, max_size=4),
    how=st.sampled_from(["folder", "files", "-o"]),
)
def test_special_files_among_the_inputs_fail_one_line_each_within_seconds(
    kinds: list[str], suffixes: list[str], how: str
) -> None:
    with fresh_root() as root:
        folder = Path(root)
        (folder / "in").mkdir()
        if how != "folder":  # a folder named as an input is an input folder, a dangling one a command-line error
            kinds = [kind for kind in kinds if kind in ("fifo", "zero")] or ["fifo"]
        paths = [folder / "in" / f"s{i}{suffixes[i]}" for i in range(len(kinds))]
        for path, kind in zip(paths, kinds):
            _make_special(path, kind)
        if how == "-o":
            paths = paths[:1]
            where = ["-o", str(folder / "x.png")]
        else:
            where = ["--out-dir", str(folder / "out")]
        inputs = [folder / "in"] if how == "folder" else paths
        before = snapshot(folder)
        run = run_cli(["upscale", *inputs, *where, *TINY], timeout=60)
        event(f"{how}: exit {run.code}")
        check_outcome(run, codes=(2,))
        assert run.seconds < SPECIAL_RUN_S, run.describe()
        failed = [line for line in run.err.splitlines() if line.startswith("zssr: failed: ")]
        distinct = {path.resolve() for path in paths}  # two links to /dev/zero are one input (collect_inputs)
        assert len(failed) == (0 if how == "-o" else len(distinct)), run.describe()
        written = [p for p in snapshot(folder) if p not in before and p.name != MANIFEST_NAME]
        assert not written, written
