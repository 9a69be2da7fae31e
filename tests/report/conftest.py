"""Fixtures of the report tests: a synthetic run built through the real model code."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import report_synthetic  # noqa: E402


@pytest.fixture
def synthetic() -> Callable[..., dict[str, Any]]:
    """`synthetic(run_id=..., started=..., seed=...)` -> a fresh results document."""
    return report_synthetic.build_results
