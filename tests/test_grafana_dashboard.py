"""The example Grafana dashboard only charts metrics the server actually exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path

from kernel.observability.metrics import REGISTRY

DASHBOARD = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "pycompass-dashboard.json"


def test_every_metric_the_dashboard_queries_is_exposed() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"\b(compass_[a-z_]+)", target["expr"])
    }
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}
    exposed = {
        metric.name + suffix for metric in REGISTRY.collect() for suffix in suffixes.get(metric.type, ("",))
    }

    assert queried, "the dashboard queries nothing"
    assert queried <= exposed, queried - exposed
