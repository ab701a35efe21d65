"""Errors of the performance model: each names the value and, where one exists, the fix."""

from __future__ import annotations

from infersim.errors import InfersimError


class DoesNotFit(InfersimError):  # noqa: N818 (name fixed by the engine contract)
    """The weights (plus a minimum of KV cache) do not fit in the replica's GPU memory."""


class InvalidDeploymentError(InfersimError):
    """A deployment the performance model cannot run as stated (e.g. an impossible split)."""
