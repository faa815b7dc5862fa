"""pyruntime.net: Go-style networking on the netpoller.

Status: the netpoller arrives with issue 4; until then ``listen``/``dial`` raise
NotImplementedError (an unknown network still raises ValueError, as the contract says)."""

from __future__ import annotations

from typing import Any

__all__ = ["listen", "dial", "listen_packet", "Timeout"]

_NETWORKS = ("tcp", "tcp4", "tcp6", "unix")


class Timeout(TimeoutError):
    """A deadline passed."""


def _check(network: Any, allowed: tuple[str, ...]) -> None:
    if network not in allowed:
        raise ValueError(f"unknown network {network!r}; use one of {', '.join(allowed)}")


def listen(network: str, address: str) -> Any:
    _check(network, _NETWORKS)
    raise NotImplementedError("pyruntime.net.listen: arrives with the netpoller (issue 4)")


def dial(network: str, address: str, timeout: float | None = None) -> Any:
    _check(network, _NETWORKS)
    raise NotImplementedError("pyruntime.net.dial: arrives with the netpoller (issue 4)")


def listen_packet(network: str, address: str) -> Any:
    _check(network, ("udp", "udp4", "udp6"))
    raise NotImplementedError("pyruntime.net.listen_packet: arrives with the netpoller (issue 4)")
