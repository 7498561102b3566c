"""Tests of many-image runs (``zssr.batch`` and ``zssr upscale DIR --out-dir OUT``).

What they prove: a folder run records what it finished and a re-run redoes only the
rest (or everything with ``--overwrite``); one bad image is one line and the others
complete; a run killed by SIGINT or SIGKILL leaves no partial output and resumes to the
same bytes as a clean run; ``--jobs 2`` equals the serial run byte for byte (same
``--threads``); a worker process that dies costs only its image; and a real two-node
Ray cluster on 127.0.0.1 finishes a batch whose worker was killed mid-task, with the
serial run's bytes. Images are 24×24 (64×64 where thread counts matter), budgets a few
iterations; the kill tests run ``python -m zssr`` in a subprocess.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

import zssr.cli as cli
from zssr.batch import MANIFEST_NAME, BatchItem, Execution, TaskResult, run_batch
from zssr.batch.manifest import FolderLock
from zssr.io import read_image, write_image

SRC = Path(__file__).resolve().parents[1] / "src"
#: Every run here uses one torch thread per image: outputs depend on the thread count (see zssr.batch.runner).
BUDGET = ["-s", "2", "--preset", "fast", "--max-iterations", "2", "--device", "cpu", "--threads", "1", "-q"]
#: Long enough per image (about a second) that a kill lands mid-batch: float32, since bfloat16
#: (the default on CPUs that have it) is ~3x faster.
KILL_BUDGET = [*BUDGET[:5], "40", *BUDGET[6:], "--precision", "float32"]


# ----------------------------------------------------------------------------- helpers


def _image(h: int, w: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    planes = [np.cos(2 * np.pi * (rng.uniform(1, 4) * y + rng.uniform(1, 4) * x) + rng.uniform(0, 6)) for _ in range(3)]
    image = np.stack(planes, axis=-1)
    return ((image - image.min()) / (image.max() - image.min())).astype(np.float32)


def _folder(path: Path, n: int, size: int = 24) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        write_image(path / f"im{i}.png", _image(size, size, seed=i), bit_depth=8)
    return path


def _outputs(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}


def _manifest(folder: Path) -> dict:
    return json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))


def _done(folder: Path) -> dict[str, dict]:
    try:
        images = _manifest(folder)["images"]
    except (OSError, ValueError):
        return {}
    return {name: entry for name, entry in images.items() if entry["status"] == "done"}


def _temps(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")])))
    env.update(extra)
    return env


def _upscale(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = cli.main(["upscale", *map(str, argv)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def kill_inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    """Five 24×24 images and the outputs of a clean serial run with ``KILL_BUDGET``."""
    root = tmp_path_factory.mktemp("kill")
    inputs = _folder(root / "in", 5)
    assert cli.main(["upscale", str(inputs), "--out-dir", str(root / "clean"), *KILL_BUDGET]) == 0
    return inputs, _outputs(root / "clean")


# ----------------------------------------------------------------------------- resume rules


def test_rerun_skips_finished_images_and_redoes_changed_inputs_settings_and_overwrite(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, out = _folder(tmp_path / "in", 3), tmp_path / "out"
    code, stdout, _ = _upscale(capsys, inputs, "--out-dir", out, *BUDGET)
    assert code == 0 and stdout.count("\n") == 3
    first = _manifest(out)
    assert sorted(first["images"]) == ["im0.png", "im1.png", "im2.png"]
    entry = first["images"]["im0.png"]
    settings = first["settings"][entry["settings"]]
    assert settings["config"]["max_iterations"] == 2 and settings["seed"] == 0 and entry["seed"] == 0
    assert entry["input_size"] == (inputs / "im0.png").stat().st_size and len(entry["input_sha256"]) == 64
    assert entry["output"] == "im0.png" and entry["files"] == {"im0.png": entry["output_sha256"]}
    assert entry["threads"] == 1
    mtimes = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}

    code, stdout, err = _upscale(capsys, inputs, "--out-dir", out, *BUDGET)  # nothing to do
    assert code == 0 and stdout == "" and "3 of 3 images already done" in err
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")} == mtimes

    write_image(inputs / "im1.png", _image(24, 24, seed=9), bit_depth=8)  # a changed input is redone
    code, stdout, _ = _upscale(capsys, inputs, "--out-dir", out, *BUDGET)
    assert code == 0 and len(stdout.splitlines()) == 1 and "im1.png" in stdout
    assert out.joinpath("im0.png").stat().st_mtime_ns == mtimes["im0.png"]

    out.joinpath("im2.png").write_bytes(b"damaged")  # a damaged output is redone
    code, stdout, _ = _upscale(capsys, inputs, "--out-dir", out, *BUDGET)
    assert code == 0 and len(stdout.splitlines()) == 1 and "im2.png" in stdout
    assert read_image(out / "im2.png").color.shape == (48, 48, 3)

    code, stdout, _ = _upscale(capsys, inputs, "--out-dir", out, *BUDGET, "--seed", "1")  # other settings: all
    assert code == 0 and len(stdout.splitlines()) == 3
    code, stdout, _ = _upscale(capsys, inputs, "--out-dir", out, *BUDGET, "--seed", "1", "--overwrite")
    assert code == 0 and len(stdout.splitlines()) == 3
    assert {e["seed"] for e in _manifest(out)["images"].values()} == {1}
    assert len(_manifest(out)["settings"]) == 1  # settings no image uses are dropped


def test_corrupt_image_is_reported_in_one_line_and_the_others_complete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, out = _folder(tmp_path / "in", 2), tmp_path / "out"
    (inputs / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    write_image(inputs / "tiny.png", _image(4, 4, seed=3), bit_depth=8)
    code, stdout, err = _upscale(capsys, inputs, "--out-dir", out, *BUDGET)
    assert code == 2
    assert sorted(_outputs(out)) == ["im0.png", "im1.png"] and len(stdout.splitlines()) == 2
    lines = err.strip().splitlines()
    assert [line.split(":")[1].strip() for line in lines[:-1]] == ["failed", "failed"]
    assert any("bad.png" in line for line in lines[:-1]) and any("tiny.png" in line and "at least" in line for line in lines)
    assert lines[-1].startswith("zssr: error: 2 of 4 images failed:") and "Traceback" not in err
    images = _manifest(out)["images"]
    assert images["bad.png"]["status"] == "failed" and "cannot read" in images["bad.png"]["error"]
    assert images["im0.png"]["status"] == "done"
    code, stdout, err = _upscale(capsys, inputs, "--out-dir", out, *BUDGET)  # re-run: only the failed ones again
    assert code == 2 and stdout == "" and "2 of 4 images already done" in err


def test_stale_temp_files_of_a_killed_run_are_removed_and_others_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, out = _folder(tmp_path / "in", 1), tmp_path / "out"
    out.mkdir()
    (out / ".im0.png.0123456789ab.tmp").write_bytes(b"half")
    (out / f".{MANIFEST_NAME}.ba9876543210.tmp").write_bytes(b"{")
    (out / ".notes.txt.0123456789ab.tmp").write_bytes(b"not ours")
    code, _, _ = _upscale(capsys, inputs, "--out-dir", out, *BUDGET)
    assert code == 0 and _temps(out) == [".notes.txt.0123456789ab.tmp"]


def test_unreadable_manifest_is_a_warning_and_everything_is_redone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, out = _folder(tmp_path / "in", 1), tmp_path / "out"
    out.mkdir()
    (out / MANIFEST_NAME).write_text("{not json")
    code, stdout, err = _upscale(capsys, inputs, "--out-dir", out, *BUDGET)
    assert code == 0 and "im0.png" in stdout and "zssr: warning:" in err and MANIFEST_NAME in err
    assert _done(out).keys() == {"im0.png"}


def test_a_folder_another_run_is_writing_to_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("fcntl")
    inputs, out = _folder(tmp_path / "in", 1), tmp_path / "out"
    out.mkdir()
    with FolderLock(out):
        code, _, err = _upscale(capsys, inputs, "--out-dir", out, *BUDGET)
    assert code == 2 and err.strip().startswith("zssr: error: another zssr run is writing to")
    assert not (out / "im0.png").exists()


@pytest.mark.parametrize(
    "options, message",
    [
        (["--jobs", "0"], "--jobs"),
        (["--threads", "0"], "--threads"),
        (["--jobs", "2", "--devices", "cpu"], "disagrees"),
        (["--devices", ","], "--devices"),
        (["--devices", "cpu,tpu"], "device"),
        (["--ray-gpus", "1"], "--ray"),
        (["--ray", "--jobs", "2"], "--ray"),
    ],
)
def test_bad_batch_options_are_one_line_and_exit_2(
    options: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs = _folder(tmp_path / "in", 1)
    code, _, err = _upscale(capsys, inputs, "--out-dir", tmp_path / "out", *BUDGET, *options)
    assert code == 2 and len(err.strip().splitlines()) == 1 and message in err
    assert not (tmp_path / "out").exists()


def test_ray_without_the_extra_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray → ImportError
    inputs = _folder(tmp_path / "in", 1)
    code, _, err = _upscale(capsys, inputs, "--out-dir", tmp_path / "out", *BUDGET, "--ray")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert 'pip install "zssr[ray]"' in err and not (tmp_path / "out").exists()


def _closed_port() -> int:
    """A local TCP port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize("scheme", ["", "ray://"])
def test_ray_at_an_address_where_nothing_listens_is_one_line_within_seconds(
    scheme: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Issue #30: Ray retried a dead address for 7+ minutes printing raw log lines; now one line, at once."""
    pytest.importorskip("ray", reason='needs the optional Ray extra: pip install "zssr[ray]"')
    address = f"{scheme}127.0.0.1:{_closed_port()}"
    inputs = _folder(tmp_path / "in", 1)
    started = time.monotonic()
    code, out, err = _upscale(capsys, inputs, "--out-dir", tmp_path / "out", *BUDGET, "--ray", address)
    assert time.monotonic() - started < 15
    assert code == 2 and not out and len(err.strip().splitlines()) == 1
    assert err.startswith(f"zssr: error: cannot reach the Ray cluster at {address} within 5 s")
    assert not (tmp_path / "out").exists()


def test_ray_map_refuses_a_dead_address_before_ray_init(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Python API is bounded too: ray.init (minutes of retries) is never reached for a closed port."""
    ray = pytest.importorskip("ray", reason='needs the optional Ray extra: pip install "zssr[ray]"')
    from zssr.batch.ray_backend import ray_map
    from zssr.errors import ZSSRError

    def no_init(*args: object, **kwargs: object) -> None:
        raise AssertionError("ray.init was called")

    monkeypatch.setattr(ray, "init", no_init)
    with pytest.raises(ZSSRError, match="cannot reach the Ray cluster"):
        next(ray_map(print, [()], address=f"127.0.0.1:{_closed_port()}"))


@pytest.mark.parametrize("address", ["127.0.0.1", "h:0", "h:99999", "h:x", ":6379"])
def test_a_malformed_ray_address_is_named_in_one_line(address: str) -> None:
    from zssr.batch.ray_backend import check_reachable
    from zssr.errors import ZSSRError

    with pytest.raises(ZSSRError, match="expected auto, local, HOST:PORT or ray://HOST:PORT"):
        check_reachable(address)


def test_ray_connect_is_quiet_and_bounded_and_restores_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Ray's C++ log lines (fd 2) are held back and its connect timeouts shortened only during ray.init."""
    ray = pytest.importorskip("ray", reason='needs the optional Ray extra: pip install "zssr[ray]"')
    from zssr.batch import ray_backend

    seen: dict[str, object] = {}

    def fake_init(**kwargs: object) -> None:
        os.write(2, b"[raw ray log line]\n")
        seen.update(kwargs, env=os.environ.get("RAY_gcs_rpc_server_connect_timeout_s"))
        raise ConnectionError("Failed to connect to Ray cluster at 10.0.0.1:6379")

    monkeypatch.setattr(ray, "init", fake_init)
    monkeypatch.setattr(ray_backend, "check_reachable", lambda address: None)
    monkeypatch.delenv("RAY_gcs_rpc_server_connect_timeout_s", raising=False)
    read, write = os.pipe()
    saved = os.dup(2)
    os.dup2(write, 2)
    try:
        with pytest.raises(ray_backend.ZSSRError, match="cannot reach the Ray cluster at 10.0.0.1:6379 .*no Ray handshake"):
            ray_backend._connect(ray, "10.0.0.1:6379")
        os.write(2, b"after\n")
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(write)
    with os.fdopen(read) as f:
        assert f.read() == "after\n"
    assert seen["env"] == "5" and seen["log_to_driver"] is False
    assert "RAY_gcs_rpc_server_connect_timeout_s" not in os.environ


def test_a_batch_stopped_before_any_manifest_names_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while the backend starts (e.g. Ray connecting): the message names no manifest that does not exist."""
    import io

    import zssr.batch.runner as runner

    def interrupted(*args: object, **kwargs: object) -> Iterator[object]:
        raise KeyboardInterrupt
        yield

    monkeypatch.setattr(runner, "_backend", interrupted)
    inputs = _folder(tmp_path / "in", 1)
    items = [BatchItem(inputs / "im0.png", tmp_path / "out" / "im0.png")]
    err = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        run_batch(items, object(), settings={}, folder=tmp_path / "out", err=err, progress=False)  # type: ignore[arg-type]
    assert not (tmp_path / "out" / MANIFEST_NAME).exists()
    assert "no manifest written yet" in err.getvalue() and MANIFEST_NAME not in err.getvalue()


def test_ray_tasks_take_a_gpu_only_when_they_reserve_one(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ray", reason='needs the optional Ray extra: pip install "zssr[ray]"')
    from zssr.cli.batch_options import execution_from_args

    def execution(*options: str) -> Execution:
        return execution_from_args(cli.build_parser().parse_args(["upscale", "in", "-s", "2", "--out-dir", "o", *options]))

    monkeypatch.setattr("zssr.batch.ray_backend.check_reachable", lambda address: None)  # no cluster here
    assert execution("--ray") == Execution("ray", ("cpu",), ray_address="auto", ray_cpus=1.0, ray_gpus=0.0)
    assert execution("--ray", "local", "--ray-gpus", "0.5").devices == ("cuda",)
    assert execution("--ray", "h:6379", "--device", "cuda:1").ray_gpus == 1.0
    assert execution("--ray", "h:6379", "--device", "cuda:1").devices == ("cuda:1",)


# ----------------------------------------------------------------------------- parallel = serial


def test_jobs_2_equals_the_serial_run_byte_for_byte(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 64×64 the thread count changes the bytes; equal ``--threads`` make every backend agree."""
    # Two workers even where this process may use one CPU (taskset), which would clamp --jobs to 1.
    monkeypatch.setattr("zssr.cli.batch_options.usable_cpus", lambda: 2)
    inputs = _folder(tmp_path / "in", 3, size=64)
    assert _upscale(capsys, inputs, "--out-dir", tmp_path / "serial", *BUDGET)[0] == 0
    code, stdout, _ = _upscale(capsys, inputs, "--out-dir", tmp_path / "jobs", *BUDGET, "--jobs", "2")
    assert code == 0 and len(stdout.splitlines()) == 3
    serial, parallel = _outputs(tmp_path / "serial"), _outputs(tmp_path / "jobs")
    assert sorted(serial) == ["im0.png", "im1.png", "im2.png"] and parallel == serial
    assert {e["threads"] for e in _done(tmp_path / "jobs").values()} == {1}


@dataclass(frozen=True)
class _DyingTask:
    """Writes a small file; kills its own worker process for ``always`` and, once, for ``once``."""

    once: str
    always: str
    marker: Path

    def __call__(self, item: BatchItem, device: torch.device, progress: object) -> TaskResult:
        if item.source.name == self.always:
            os._exit(3)
        if item.source.name == self.once and not self.marker.exists():
            self.marker.write_text("died once")
            os._exit(3)
        write_image(item.target, np.full((2, 2, 3), 0.5, np.float32))
        return TaskResult(files=(item.target,), line=f"{item.target}: ok")


def test_a_dying_worker_costs_only_its_image_retried_then_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    inputs, out = _folder(tmp_path / "in", 4), tmp_path / "out"
    items = [BatchItem(p, out / p.name) for p in sorted(inputs.glob("*.png"))]
    task = _DyingTask(once="im1.png", always="im3.png", marker=tmp_path / "marker")
    report = run_batch(items, task, settings={"test": 1}, folder=out, progress=False,
                       execution=Execution("processes", ("cpu",), threads=1, retries=1))
    assert sorted(i.source.name for i in report.done) == ["im0.png", "im1.png", "im2.png"]
    assert [i.source.name for i in report.failed] == ["im3.png"]
    assert "worker process died 2 times" in report.failed[items[3]]
    assert sorted(_outputs(out)) == ["im0.png", "im1.png", "im2.png"] and _temps(out) == []
    assert _manifest(out)["images"]["im3.png"]["status"] == "failed"


# ----------------------------------------------------------------------------- killed mid-batch


@pytest.mark.parametrize(
    "how, extra",
    [(signal.SIGINT, []), (signal.SIGKILL, []), (signal.SIGINT, ["--jobs", "2"]), (signal.SIGKILL, ["--jobs", "2"])],
    ids=["sigint", "sigkill", "sigint-jobs2", "sigkill-jobs2"],
)
def test_killed_batch_leaves_no_partial_file_and_resumes_to_the_clean_bytes(
    how: signal.Signals, extra: list[str], kill_inputs: tuple[Path, dict[str, bytes]], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    inputs, clean = kill_inputs
    out = tmp_path / "out"
    command = [sys.executable, "-m", "zssr", "upscale", str(inputs), "--out-dir", str(out), *KILL_BUDGET, *extra]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    deadline = time.monotonic() + 180
    while not _done(out) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    run.send_signal(how)
    _, err = run.communicate(timeout=60)
    finished = _done(out)
    assert 1 <= len(finished) < len(clean), f"not killed mid-batch: {len(finished)} done; {err}"
    if how == signal.SIGINT:
        assert run.returncode == 130 and "run the same command again to resume" in err and "Traceback" not in err
        assert _temps(out) == []  # the interrupted image's temp files are gone too
    else:
        assert run.returncode == -signal.SIGKILL
    time.sleep(1.0)  # orphaned workers (SIGKILL of their driver) notice within half a second and exit
    for name in _outputs(out):  # whatever is under a final name is a complete image
        assert read_image(out / name).color.shape == (48, 48, 3)
    mtimes = {name: (out / name).stat().st_mtime_ns for name in finished}

    code, _, err = _upscale(capsys, inputs, "--out-dir", out, *KILL_BUDGET)
    assert code == 0 and f"{len(finished)} of {len(clean)} images already done" in err
    assert {name: (out / name).stat().st_mtime_ns for name in finished} == mtimes  # finished ones not redone
    assert {name: _done(out)[name]["finished"] for name in finished} == {n: e["finished"] for n, e in finished.items()}
    assert _temps(out) == [] and _outputs(out) == clean


# ----------------------------------------------------------------------------- Ray


_CLUSTER = textwrap.dedent(
    """
    import sys
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
    cluster.add_node(num_cpus=1)
    print(cluster.address, len(cluster.list_all_nodes()), flush=True)
    sys.stdin.read()  # until the test closes our stdin
    cluster.shutdown()
    """
)


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[tuple[str, dict[str, str]]]:
    """A real two-node Ray cluster (head + one worker node, separate raylets) on 127.0.0.1, for this module.

    ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` keeps every node on the loopback address (Ray
    otherwise swaps 127.0.0.1 for the machine's routable IP); ``ray start`` refuses a second
    node in that mode, so the nodes come from Ray's own test helper
    (``ray.cluster_utils.Cluster``) in a subprocess, stopped (and its process group killed)
    by the finaliser. Token authentication stays on, with a throwaway token.
    """
    pytest.importorskip("ray", reason='needs the optional Ray extra: pip install "zssr[ray]"')
    env = _env(RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(16),
               RAY_USAGE_STATS_ENABLED="0")
    helper = subprocess.Popen([sys.executable, "-c", _CLUSTER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env=env, start_new_session=True)
    try:
        assert helper.stdout is not None and helper.stdin is not None
        address, nodes = helper.stdout.readline().split()
        assert address.startswith("127.0.0.1:") and nodes == "2"
        yield address, env
    finally:
        try:
            if helper.stdin is not None:
                helper.stdin.close()
            helper.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        finally:
            try:
                os.killpg(helper.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            helper.wait()


def _task_processes(name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and (entry / "cmdline").read_bytes().startswith(name.encode()):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the Ray task's process through /proc (Linux)")
def test_ray_cluster_finishes_a_batch_whose_worker_was_killed_with_the_serial_bytes(
    ray_cluster: tuple[str, dict[str, str]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    address, env = ray_cluster
    inputs = _folder(tmp_path / "in", 3)
    assert _upscale(capsys, inputs, "--out-dir", tmp_path / "serial", *KILL_BUDGET)[0] == 0
    out = tmp_path / "ray"
    command = [sys.executable, "-m", "zssr", "upscale", str(inputs), "--out-dir", str(out), *KILL_BUDGET,
               "--ray", address]
    run = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    killed = None
    deadline = time.monotonic() + 120
    while killed is None and run.poll() is None and time.monotonic() < deadline:
        running = _task_processes("ray::zssr_image")
        if running:
            killed = running[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.02)
    stdout, err = run.communicate(timeout=120)
    assert killed is not None, f"no task process seen: {err}"
    assert run.returncode == 0, err
    assert len([line for line in stdout.splitlines() if " → " in line]) == 3
    assert "will be retried" in stdout + err  # Ray's raylet reports the retry of the killed task
    assert _outputs(out) == _outputs(tmp_path / "serial")
    assert _done(out).keys() == {"im0.png", "im1.png", "im2.png"}


def test_bench_over_ray_gives_the_numbers_of_an_in_process_bench(
    ray_cluster: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    from zssr.bench import run_benchmark

    address, env = ray_cluster
    data = tmp_path / "hr"
    data.mkdir()
    for i in range(2):
        write_image(data / f"h{i}.png", _image(48, 48, seed=i), bit_depth=8)
    methods = ["bicubic", "zssr:preset=fast,max_iterations=2,crop_size=16"]
    torch.set_num_threads(1)  # as each Ray task (--ray-cpus 1)
    local = run_benchmark([data], out=tmp_path / "local", methods=methods, device="cpu")
    command = [sys.executable, "-m", "zssr", "bench", "--dataset", str(data), "--out", str(tmp_path / "ray"),
               "--device", "cpu", "--quiet", "--ray", address, *(f"--method={m}" for m in methods)]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=180)
    assert done.returncode == 0, done.stderr
    remote = json.loads((tmp_path / "ray" / "results.json").read_text())["records"]
    assert len(remote) == 4
    assert [(r["method"], r["image"], r["psnr"], r["ssim"]) for r in remote] == [
        (r.method, r.image, r.psnr, r.ssim) for r in local.records
    ]
