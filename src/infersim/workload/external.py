"""What the data files a scenario names hold (traces, empirical lengths), keyed by the path as
written in the scenario: `workload.trace` reads them, the run and the preflight receive them.

Its own module, free of numpy at import, so the preflight (`infersim validate`) passes an
empty one on without importing the readers when the scenario names no file."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

    from infersim.workload.trace import TraceData


@dataclass(frozen=True)
class ExternalData:
    """File contents a scenario refers to, keyed by the path as written in the scenario."""

    traces: Mapping[str, TraceData] = field(default_factory=dict)
    empirical: Mapping[str, NDArray[np.int64]] = field(default_factory=dict)
