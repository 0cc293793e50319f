from __future__ import annotations
import time, collections, atexit
import hypothesis
from hypothesis import HealthCheck, given
from tests.director.isolation_model import *
from tests.support import TenantFactory, Operator

stats = collections.defaultdict(lambda: [0, 0.0])
orig = Operator.execute
async def timed(self, query, variables=None):
    t = time.perf_counter()
    try:
        return await orig(self, query, variables)
    finally:
        k = " ".join(query.split())[:60]
        stats[k][0] += 1; stats[k][1] += time.perf_counter() - t
Operator.execute = timed
def report():
    for k, (n, t) in sorted(stats.items(), key=lambda kv: -kv[1][1]):
        print(f"{t:7.2f}s {n:5d} {1000*t/n:6.1f}ms {k}")
atexit.register(report)

@hypothesis.settings(max_examples=150, deadline=None, database=None, derandomize=False, phases=[hypothesis.Phase.generate], suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=histories)
async def test_scratch(tenants: TenantFactory, steps) -> None:
    world = await World.start(tenants)
    for step in steps:
        await world.perform(step)
        await world.check_snapshot(world.other(step.actor))
    for actor in ACTORS:
        await world.check_snapshot(actor)
        await world.check_lookups(actor)
