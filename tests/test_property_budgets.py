"""Every property test in tests/ has an explicit budget, so that the suite's time stays bounded on a busy
machine.

A budget is ``max_examples`` and ``deadline=None`` written at the test:
``@settings(max_examples=N, deadline=None)``, or a call of a module's own helper that returns such settings
with ``max_examples`` made of its argument (``@fuzz_settings(N)``). Hypothesis' default of 100 examples is no
budget: its cost depends on what one example does, which is why it is chosen where the test is written.
``deadline=None``: a per-example deadline fails a test on a loaded machine for no fault of the code. The check
reads the source (ast), so property tests defined inside a test function count too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

TESTS = Path(__file__).parent


def _called_name(node: ast.expr) -> str | None:
    """``name`` for ``name``, ``module.name``, ``name(...)`` and ``module.name(...)``."""
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    return None


def _sets_a_budget(call: ast.Call) -> bool:
    """``settings(...)`` with ``max_examples`` and ``deadline=None``."""
    keywords = {keyword.arg: keyword.value for keyword in call.keywords}
    deadline = keywords.get("deadline")
    return (
        _called_name(call) == "settings"
        and "max_examples" in keywords
        and isinstance(deadline, ast.Constant)
        and deadline.value is None
    )


def _budget_helpers(tree: ast.Module) -> set[str]:
    """Module functions that return a budget whose ``max_examples`` is made of one of their parameters."""
    helpers = set()
    for function in tree.body:
        if not isinstance(function, ast.FunctionDef):
            continue
        parameters = {argument.arg for argument in function.args.args + function.args.kwonlyargs}
        for node in ast.walk(function):
            if (
                isinstance(node, ast.Return)
                and isinstance(node.value, ast.Call)
                and _sets_a_budget(node.value)
            ):
                max_examples = next(k.value for k in node.value.keywords if k.arg == "max_examples")
                names = {name.id for name in ast.walk(max_examples) if isinstance(name, ast.Name)}
                if names & parameters:
                    helpers.add(function.name)
    return helpers


def unbudgeted_property_tests(source: str, filename: str) -> list[str]:
    """``file:line name`` of each ``@given`` function in ``source`` without an explicit budget."""
    tree = ast.parse(source, filename)
    helpers = _budget_helpers(tree)

    def is_budget(decorator: ast.expr) -> bool:
        if not isinstance(decorator, ast.Call):
            return False
        return _sets_a_budget(decorator) or (_called_name(decorator) in helpers and bool(decorator.args))

    return [
        f"{filename}:{node.lineno} {node.name}"
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and any(_called_name(decorator) == "given" for decorator in node.decorator_list)
        and not any(is_budget(decorator) for decorator in node.decorator_list)
    ]


def test_every_property_test_in_tests_has_an_explicit_budget() -> None:
    missing = [
        entry
        for path in sorted(TESTS.rglob("*.py"))
        for entry in unbudgeted_property_tests(path.read_text(), str(path.relative_to(TESTS.parent)))
    ]

    assert missing == []


@pytest.mark.parametrize(
    "decorators",
    [
        "",
        "@settings(deadline=None)\n",
        "@settings(max_examples=50)\n",
        "@settings(max_examples=50, deadline=200)\n",
        "@settings(derandomize=True)\n",
    ],
    ids=["no settings", "no max_examples", "no deadline", "a deadline", "neither"],
)
def test_a_property_test_without_max_examples_and_deadline_none_is_reported(decorators: str) -> None:
    source = f"{decorators}@given(st.integers())\ndef test_it(value):\n    pass\n"
    def_line = len(source.splitlines()) - 1

    assert unbudgeted_property_tests(source, "t.py") == [f"t.py:{def_line} test_it"]


def test_a_property_test_defined_inside_a_test_is_reported() -> None:
    source = (
        "def test_outer():\n    @given(st.integers())\n    def inner(value):\n        pass\n    inner()\n"
    )

    assert unbudgeted_property_tests(source, "t.py") == ["t.py:3 inner"]


@pytest.mark.parametrize(
    "source",
    [
        "@settings(max_examples=5, deadline=None)\n@given(st.integers())\nasync def test_it(value): ...\n",
        "@given(st.integers())\n@hypothesis.settings(max_examples=5, deadline=None)\ndef test_it(v): ...\n",
        (
            "def budget(n):\n    return settings(max_examples=n, deadline=None, database=None)\n\n\n"
            "@budget(5)\n@given(st.integers())\ndef test_it(value): ...\n"
        ),
        (
            "def budget(n):\n    return settings(max_examples=n * SCALE, deadline=None)\n\n\n"
            "@budget(5)\n@given(st.integers())\ndef test_it(value): ...\n"
        ),
        (
            "class TestIt:\n    @settings(max_examples=5, deadline=None)\n    @given(st.integers())\n"
            "    def test_it(self, value): ...\n"
        ),
    ],
    ids=[
        "settings",
        "hypothesis.settings below given",
        "a helper of the module",
        "a scaling helper",
        "a method",
    ],
)
def test_a_property_test_with_an_explicit_budget_is_accepted(source: str) -> None:
    assert unbudgeted_property_tests(source, "t.py") == []
