"""Tests of the frozen run configuration's limits (zssr.config)."""

from __future__ import annotations

import pytest

from zssr.config import MAX_NETWORK_WEIGHTS, Config, network_weights, resolve_config
from zssr.errors import ConfigError
from zssr.network import ZSSRNet


@pytest.mark.parametrize(("channels", "width", "depth"), [(3, 64, 8), (1, 7, 3), (3, 5, 2)])
def test_network_weights_counts_the_parameters_of_the_net(channels: int, width: int, depth: int) -> None:
    net = ZSSRNet(channels, width, depth)
    assert network_weights(width, depth, channels) == sum(p.numel() for p in net.parameters())


@pytest.mark.parametrize("fields", [{"width": 10**8}, {"depth": 10**5}, {"width": 2048}])
def test_a_network_too_large_to_hold_is_refused_at_once(fields: dict[str, int]) -> None:
    """Found by the fuzzer: width=10**8 spent a minute before a failed 360-PB allocation (a
    RuntimeError traceback), depth=10**5 ran for more than ten minutes."""
    with pytest.raises(ConfigError, match="weights, more than"):
        resolve_config("ideal", **fields)
    assert network_weights(1024, 8) <= MAX_NETWORK_WEIGHTS  # a 16× wider net than the authors' is still allowed
    Config(width=1024)


@pytest.mark.parametrize("rate", [1e300, 1e38, 1.5])
def test_a_learning_rate_above_one_is_refused(rate: float) -> None:
    """Found by the fuzzer: 1e300 overflowed float32 in Adam's step (a RuntimeError mid-run)."""
    with pytest.raises(ConfigError, match="learning_rate must be at most 1"):
        Config(learning_rate=rate)
    Config(learning_rate=1.0)
