from __future__ import annotations

from tests.support import Operator

VIEWER = "{ viewer { id type } }"


async def test_viewer_answers_with_the_operator_subject(operator: Operator) -> None:
    data = await operator.query(VIEWER)
    assert data == {"viewer": {"id": "operator", "type": "USER"}}
