"""Flooding /metrics with label values: 3,000 unauthenticated requests, each with a new operation name (and a new
path), grew /metrics from 6 KB to 11.4 MB. Names beyond a fixed allowance, names of invalid documents and unknown
paths are counted under "other": once a flood has offered more new names than the allowance, the series no longer
grow, however many more come."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from kernel.settings import Settings
from tests.hostile.support import CONNECTOR

HALF_FLOOD_PER_ALLOWED_NAME = 3
"""Each half of the flood sends three times as many requests as the allowance has names; half of them are valid
documents, so each half offers 1.5 allowances of new names. The first half fills the allowance whatever earlier
tests of the shared app left in it, so every name of the second half comes after it is full: what the test proves
does not depend on the flood being larger (the allowance is the only size in the code)."""
OPERATION_FAMILIES = ("compass_graphql_operations", "compass_graphql_operation_duration_seconds")


async def _flood(client: httpx.AsyncClient, numbers: range) -> None:
    for number in numbers:
        # A valid document (the Connector answers it without credentials), an invalid one, and a new path.
        document = (
            f"query Probe{number} {{ __typename }}"
            if number % 2
            else f"query Probe{number} {{ noSuchField }}"
        )
        response = await client.post(CONNECTOR, json={"query": document, "operationName": f"Probe{number}"})
        assert response.status_code == 200, response.text
        await client.get(f"/scan/{number}")


async def _series(client: httpx.AsyncClient) -> tuple[set[tuple[str, tuple[tuple[str, str], ...]]], int]:
    """Every (sample name, labels) /metrics answers, and its size in bytes."""
    response = await client.get("/metrics")
    series = {
        (sample.name, tuple(sorted(sample.labels.items())))
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }
    return series, len(response.content)


@pytest.mark.backend_independent("the series are labels the process keeps in memory; no request reads a row")
async def test_thousands_of_new_operation_names_and_paths_do_not_grow_metrics(
    hostile_client: httpx.AsyncClient, hostile_settings: Settings
) -> None:
    # given: half of the flood, and a scrape (that counts itself)
    half = HALF_FLOOD_PER_ALLOWED_NAME * hostile_settings.metrics_max_operation_names
    await _series(hostile_client)
    await _flood(hostile_client, range(half))
    series_at_half, bytes_at_half = await _series(hostile_client)

    # when: the other half, every name and path new again
    await _flood(hostile_client, range(half, 2 * half))
    series_at_end, bytes_at_end = await _series(hostile_client)

    # then
    assert series_at_end == series_at_half
    assert bytes_at_end - bytes_at_half < 1024  # counters grow a digit here and there
    probes = {
        dict(labels)["operation"]
        for name, labels in series_at_end
        if name.startswith(OPERATION_FAMILIES) and dict(labels).get("operation", "").startswith("Probe")
    }
    assert len(probes) <= hostile_settings.metrics_max_operation_names
    assert all(int(probe.removeprefix("Probe")) % 2 for probe in probes)  # no invalid document got a name
