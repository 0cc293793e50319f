from __future__ import annotations
import time
from tests.director.isolation_model import *
from tests.support import TenantFactory

DOCS = {
 "apps": "{ applications { totalCount data { id name labels bundles { totalCount data { name } } auths { id } } } }",
 "apps-plain": "{ applications { totalCount data { id name } } }",
 "runtimes": "{ runtimes { totalCount data { id name labels auths { id } } } }",
 "formations": "{ formations { totalCount data { name } } }",
 "labeldefs": "{ labelDefinitions { key schema } }",
 "byname": '{ DEFAULT: formationByName(name: "DEFAULT") { name } red: formationByName(name: "red") { name } }',
}
async def test_scratch(tenants: TenantFactory) -> None:
    world = await World.start(tenants)
    for step in [Register("A", "application", "alpha", ()), Register("A", "runtime", "alpha", ()), Register("A", "application", "beta", ())]:
        await world.perform(step)
    a = world.operators["A"]
    for name, doc in DOCS.items():
        t = time.perf_counter()
        for _ in range(30):
            await a.query(doc)
        print("T", name, (time.perf_counter() - t) / 30 * 1000)
