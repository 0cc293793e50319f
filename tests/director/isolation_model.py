"""Two tenants, random operations in both, and a model of what each one should see.

The property: nothing one tenant does reads or changes the other's objects, and an id of the other tenant
answers exactly like an id that never existed (same data, same error code, same message but for the id). A grant
(addTenantAccess, read only here) makes exactly the granted object visible to exactly the other tenant, with its
tree and labels but not its formations (each tenant's own) nor its system auths; removing it hides it again.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from hypothesis import currently_in_test_context, event
from hypothesis import strategies as st

from kernel.principal import ALL_SCOPES, Scope
from tests.support import Operator, TenantFactory

Actor = Literal["A", "B"]
Kind = Literal["application", "runtime", "runtime_context"]
Whose = Literal["own", "other", "nobody"]

ACTORS: tuple[Actor, ...] = ("A", "B")
KINDS: tuple[Kind, ...] = ("application", "runtime")
# Runtime contexts are registered on runtimes and assigned to formations, not labelled or given tokens.
ALL_KINDS: tuple[Kind, ...] = (*KINDS, "runtime_context")
CONTEXT_KEYS = ("subscription", "tenant")
SCENARIOS = "scenarios"

# Small alphabets, so that names collide inside a tenant and across both.
NAMES = ("alpha", "beta", "gamma")
FORMATIONS = ("DEFAULT", "red", "blue")
LABEL_KEYS = ("env", "team")
# Templates a tenant creates are its own; the only global one is the default, from the migrations.
FORMATION_TEMPLATES = ("red-type", "blue-type")
DEFAULT_TEMPLATE = "Side-by-Side Extensibility with Kyma"
LABEL_VALUES = ("dev", "prod")
BUNDLE_NAMES = ("orders", "stock")

REGISTER: dict[Kind, str] = {
    "application": """
        mutation ($name: String!, $labels: Labels) {
          result: registerApplication(in: {name: $name, labels: $labels}) { id name labels }
        }""",
    "runtime": """
        mutation ($name: String!, $labels: Labels) {
          result: registerRuntime(in: {name: $name, labels: $labels}) { id name labels }
        }""",
}
# Applications registered from one global template (created by World.start) with the operation's name and labels.
CREATE_TEMPLATE = """
    mutation ($name: String!) {
      result: createApplicationTemplate(
        in: {name: $name, accessLevel: GLOBAL, applicationInput: {name: "{{name}}"}, placeholders: [{name: "name"}]}
      ) { name }
    }"""
REGISTER_FROM_TEMPLATE = """
    mutation ($template: String!, $name: String!, $labels: Labels) {
      result: registerApplicationFromTemplate(
        in: {templateName: $template, values: [{placeholder: "name", value: $name}], labels: $labels}
      ) { id name labels }
    }"""
SET_LABEL: dict[Kind, str] = {
    "application": """
        mutation ($id: ID!, $key: String!, $value: Any!) {
          result: setApplicationLabel(applicationID: $id, key: $key, value: $value) { key value }
        }""",
    "runtime": """
        mutation ($id: ID!, $key: String!, $value: Any!) {
          result: setRuntimeLabel(runtimeID: $id, key: $key, value: $value) { key value }
        }""",
}
UNREGISTER: dict[Kind, str] = {
    "application": "mutation ($id: ID!) { result: unregisterApplication(id: $id) { id name } }",
    "runtime": "mutation ($id: ID!) { result: unregisterRuntime(id: $id) { id name } }",
    "runtime_context": "mutation ($id: ID!) { result: unregisterRuntimeContext(id: $id) { id name: key } }",
}
REGISTER_CONTEXT = """
    mutation ($id: ID!, $key: String!) {
      result: registerRuntimeContext(runtimeID: $id, in: {key: $key, value: "v"}) { id key labels }
    }"""
REQUEST_TOKEN: dict[Kind, str] = {
    "application": "mutation ($id: ID!) { result: requestOneTimeTokenForApplication(id: $id) { type used } }",
    "runtime": "mutation ($id: ID!) { result: requestOneTimeTokenForRuntime(id: $id) { type used } }",
}
REQUEST_CLIENT_CREDENTIALS: dict[Kind, str] = {
    "application": "mutation ($id: ID!) { result: requestClientCredentialsForApplication(id: $id) { type tenantId } }",
    "runtime": "mutation ($id: ID!) { result: requestClientCredentialsForRuntime(id: $id) { type tenantId } }",
}
ASSIGN_FORMATION = """
    mutation ($id: ID!, $type: FormationObjectType!, $name: String!) {
      result: assignFormation(objectID: $id, objectType: $type, formation: {name: $name}) { name }
    }"""
CREATE_FORMATION = "mutation ($name: String!) { result: createFormation(formation: {name: $name}) { name } }"
CREATE_FORMATION_TEMPLATE = """
    mutation ($name: String!) { result: createFormationTemplate(in: {name: $name, applicationTypes: ["t"]}) { name } }"""
CREATE_LABEL_DEFINITION = """
    mutation ($key: String!) { result: createLabelDefinition(in: {key: $key}) { key schema } }"""
ADD_BUNDLE = """
    mutation ($id: ID!, $name: String!) {
      result: addBundle(applicationID: $id, in: {name: $name}) { name }
    }"""
ADD_INTEGRATION_DEPENDENCY = """
    mutation ($id: ID!, $name: String!) {
      result: addIntegrationDependencyToApplication(
        appID: $id, in: {name: $name, ordID: ":integrationDependency:needs:v1", aspects: [{name: "a"}]}
      ) { name aspects { name } }
    }"""

GRANT = """
    mutation ($tenant: ID!, $id: ID!, $type: TenantAccessObjectType!) {
      result: addTenantAccess(in: {tenantID: $tenant, resourceType: $type, resourceID: $id, owner: false}) {
        tenantID resourceType resourceID owner
      }
    }"""
REVOKE = """
    mutation ($tenant: ID!, $id: ID!, $type: TenantAccessObjectType!) {
      result: removeTenantAccess(tenantID: $tenant, resourceID: $id, resourceType: $type) {
        tenantID resourceType resourceID owner
      }
    }"""

SNAPSHOT = """
    query {
      applications {
        totalCount
        data { id name labels bundles { totalCount data { name } } auths { id } integrationDependencies { data { name } } }
      }
      runtimes { totalCount data { id name labels auths { id } runtimeContexts { data { id key labels } } } }
      formations { totalCount data { name } }
      formationTemplates { totalCount data { name } }
      labelDefinitions { key schema }
      DEFAULT: formationByName(name: "DEFAULT") { name }
      red: formationByName(name: "red") { name }
      blue: formationByName(name: "blue") { name }
      env: labelDefinition(key: "env") { key }
      team: labelDefinition(key: "team") { key }
    }"""
APPLICATIONS_FOR_RUNTIME = """
    query ($id: ID!) { result: applicationsForRuntime(runtimeID: $id) { totalCount data { name } } }"""
SYSTEM_AUTH = "query ($id: ID!) { systemAuth(id: $id) { id } }"


@dataclass(frozen=True)
class Filter:
    """The label ``key`` with any value (``value`` None), with ``value``, or (scenarios) holding ``value``."""

    key: str
    value: str | None = None

    @property
    def wire(self) -> dict[str, str]:
        if self.value is None:
            return {"key": self.key}
        if self.key == SCENARIOS:
            return {"key": self.key, "query": f'$[*] ? (@ == "{self.value}")'}
        return {"key": self.key, "query": json.dumps(self.value)}

    def matches(self, labels: dict[str, Any]) -> bool:
        if self.key not in labels:
            return False
        if self.value is None:
            return True
        if self.key == SCENARIOS:
            return self.value in labels[self.key]
        return bool(labels[self.key] == self.value)


FILTERS = (
    *(Filter(key, value) for key in LABEL_KEYS for value in LABEL_VALUES),
    *(Filter(key) for key in LABEL_KEYS),
    *(Filter(SCENARIOS, name) for name in FORMATIONS),
)
# Every filter at once: applications and runtimes for $f0 as a0 and r0, and so on (18 of 30 aliases allowed).
FILTERED = (
    f"query ({', '.join(f'$f{i}: [LabelFilter!]' for i in range(len(FILTERS)))}) {{"
    + " ".join(
        f"a{i}: applications(filter: $f{i}) {{ totalCount data {{ id }} }}"
        f" r{i}: runtimes(filter: $f{i}) {{ totalCount data {{ id }} }}"
        for i in range(len(FILTERS))
    )
    + " }"
)
# Ids looked up per document: three aliases each, under the 30 allowed.
LOOKUP_BATCH = 9


def lookup_document(count: int) -> str:
    """application, runtime and formationsForObject of $id0 as a0, r0 and f0, and so on for ``count`` ids."""
    return (
        # formationsForObject takes a String! (Compass's type), the others an ID!: two variables of one value.
        f"query ({', '.join(f'$id{i}: ID!, $object{i}: String!' for i in range(count))}) {{"
        + " ".join(
            f"a{i}: application(id: $id{i}) {{ id name }} r{i}: runtime(id: $id{i}) {{ id name }}"
            f" f{i}: formationsForObject(objectID: $object{i}) {{ name }}"
            for i in range(count)
        )
        + " }"
    )


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


def without_id(body: dict[str, Any], object_id: str) -> Any:
    """The answer with ``object_id`` replaced by a placeholder, so answers about two ids can be compared."""
    return json.loads(json.dumps(body).replace(object_id, "<id>"))


async def assert_answers_like_a_missing_id(
    operator: Operator,
    document: str,
    variables: Callable[[str], dict[str, Any]],
    object_id: str,
    body: dict[str, Any],
) -> None:
    """``body``, the answer about ``object_id``, equals but for the id the answer about a missing id."""
    missing = str(uuid.uuid4())
    reference = await operator.execute(document, variables(missing))
    assert without_id(body, object_id) == without_id(reference, missing)


def _event(name: str) -> None:
    """Counted by --hypothesis-show-statistics: how often operations aim at each kind of id."""
    if currently_in_test_context():
        event(name)


# The model


@dataclass
class ObjectModel:
    name: str
    labels: dict[str, Any]
    bundles: list[str] = field(default_factory=list)
    dependencies: list[str] = field(default_factory=list)
    auths: int = 0
    # A runtime context's runtime (its name is its key).
    runtime_id: str = ""


@dataclass
class TenantModel:
    applications: dict[str, ObjectModel] = field(default_factory=dict)
    runtimes: dict[str, ObjectModel] = field(default_factory=dict)
    contexts: dict[str, ObjectModel] = field(default_factory=dict)
    formations: set[str] = field(default_factory=lambda: {"DEFAULT"})
    formation_templates: set[str] = field(default_factory=set)
    label_definitions: set[str] = field(default_factory=set)

    def objects(self, kind: Kind) -> dict[str, ObjectModel]:
        return {"application": self.applications, "runtime": self.runtimes, "runtime_context": self.contexts}[kind]

    def snapshot(self) -> dict[str, Any]:
        """What SNAPSHOT must answer, in the shape of ``snapshot_of``."""
        return {
            "applications": {
                object_id: {
                    "name": app.name,
                    "labels": app.labels,
                    "bundles": sorted(app.bundles),
                    "dependencies": sorted(app.dependencies),
                    "auths": app.auths,
                }
                for object_id, app in self.applications.items()
            },
            "applicationCount": len(self.applications),
            "runtimes": {
                object_id: {
                    "name": runtime.name,
                    "labels": runtime.labels,
                    "auths": runtime.auths,
                    "contexts": {
                        context_id: {"key": context.name, "labels": context.labels}
                        for context_id, context in self.contexts.items()
                        if context.runtime_id == object_id
                    },
                }
                for object_id, runtime in self.runtimes.items()
            },
            "runtimeCount": len(self.runtimes),
            "formations": sorted(self.formations),
            "formationCount": len(self.formations),
            "formationTemplates": sorted({DEFAULT_TEMPLATE, *self.formation_templates}),
            "labelDefinitions": sorted({SCENARIOS, *self.label_definitions}),
            "scenarioNames": sorted(self.formations),
            "formationByName": {
                name: {"name": name} if name in self.formations else None for name in FORMATIONS
            },
            "labelDefinition": {
                key: {"key": key} if key in self.label_definitions else None for key in LABEL_KEYS
            },
        }

    def lookup(self, object_id: str) -> dict[str, Any]:
        """What a lookup must answer: the application, the runtime and the formations of ``object_id``."""
        application = self.applications.get(object_id)
        runtime = self.runtimes.get(object_id)
        found = application or runtime or self.contexts.get(object_id)
        formations = sorted(found.labels.get(SCENARIOS, [])) if found else []
        return {
            "application": {"id": object_id, "name": application.name} if application else None,
            "runtime": {"id": object_id, "name": runtime.name} if runtime else None,
            "formationsForObject": [{"name": name} for name in formations],
        }

    def applications_for_runtime(self, runtime_id: str) -> list[str]:
        """Names of the applications sharing a formation with the runtime, normalized (runtimes are registered
        with isNormalized "true" and the names are lower-case letters)."""
        scenarios = set(self.runtimes[runtime_id].labels.get(SCENARIOS, []))
        return sorted(
            f"mp-{app.name}"
            for app in self.applications.values()
            if scenarios & set(app.labels.get(SCENARIOS, []))
        )

    def matching(self, kind: Kind, label_filter: Filter) -> list[str]:
        objects = self.objects(kind)
        return sorted(object_id for object_id, found in objects.items() if label_filter.matches(found.labels))


def snapshot_of(data: dict[str, Any]) -> dict[str, Any]:
    """SNAPSHOT's answer in the shape of ``TenantModel.snapshot``."""
    definitions = {definition["key"]: definition["schema"] for definition in data["labelDefinitions"]}
    scenarios_schema = json.loads(definitions[SCENARIOS]) if SCENARIOS in definitions else {}
    return {
        "applications": {
            row["id"]: {
                "name": row["name"],
                "labels": row["labels"],
                "bundles": sorted(bundle["name"] for bundle in row["bundles"]["data"]),
                "dependencies": sorted(dependency["name"] for dependency in row["integrationDependencies"]["data"]),
                "auths": len(row["auths"]),
            }
            for row in data["applications"]["data"]
        },
        "applicationCount": data["applications"]["totalCount"],
        "runtimes": {
            row["id"]: {
                "name": row["name"],
                "labels": row["labels"],
                "auths": len(row["auths"]),
                "contexts": {
                    context["id"]: {"key": context["key"], "labels": context["labels"]}
                    for context in row["runtimeContexts"]["data"]
                },
            }
            for row in data["runtimes"]["data"]
        },
        "runtimeCount": data["runtimes"]["totalCount"],
        "formations": sorted(formation["name"] for formation in data["formations"]["data"]),
        "formationCount": data["formations"]["totalCount"],
        "formationTemplates": sorted(template["name"] for template in data["formationTemplates"]["data"]),
        "labelDefinitions": sorted(definitions),
        "scenarioNames": sorted(scenarios_schema.get("items", {}).get("enum", [])),
        "formationByName": {name: data[name] for name in FORMATIONS},
        "labelDefinition": {key: data[key] for key in LABEL_KEYS},
    }


# Operations: each is done by one tenant, the actor; targets name objects relative to it.


@dataclass(frozen=True)
class Target:
    """The ``index``-th (modulo their number) object of ``kind`` the actor's own or the other tenant was
    given, maybe deleted since; an id that never existed if ``whose`` is "nobody" or there is none yet."""

    kind: Kind
    whose: Whose
    index: int


LabelValue = str | tuple[str, ...]


@dataclass(frozen=True)
class Register:
    actor: Actor
    kind: Kind
    name: str
    labels: tuple[tuple[str, LabelValue], ...]


@dataclass(frozen=True)
class RegisterFromTemplate:
    actor: Actor
    kind: Kind
    name: str
    labels: tuple[tuple[str, LabelValue], ...]


@dataclass(frozen=True)
class SetLabel:
    actor: Actor
    target: Target
    key: str
    value: LabelValue


@dataclass(frozen=True)
class AssignFormation:
    actor: Actor
    target: Target
    formation: str


@dataclass(frozen=True)
class CreateFormation:
    actor: Actor
    name: str


@dataclass(frozen=True)
class CreateFormationTemplate:
    actor: Actor
    name: str


@dataclass(frozen=True)
class CreateLabelDefinition:
    actor: Actor
    key: str


@dataclass(frozen=True)
class AddBundle:
    actor: Actor
    target: Target
    name: str


@dataclass(frozen=True)
class AddIntegrationDependency:
    actor: Actor
    target: Target
    name: str


@dataclass(frozen=True)
class Unregister:
    actor: Actor
    target: Target


@dataclass(frozen=True)
class RequestOneTimeToken:
    actor: Actor
    target: Target


@dataclass(frozen=True)
class RequestClientCredentials:
    actor: Actor
    target: Target


@dataclass(frozen=True)
class RegisterRuntimeContext:
    actor: Actor
    target: Target
    key: str


@dataclass(frozen=True)
class Grant:
    """The actor gives the other tenant read access to the target."""

    actor: Actor
    target: Target


@dataclass(frozen=True)
class Revoke:
    actor: Actor
    target: Target


Operation = (
    Register
    | RegisterFromTemplate
    | SetLabel
    | AssignFormation
    | CreateFormation
    | CreateFormationTemplate
    | CreateLabelDefinition
    | AddBundle
    | AddIntegrationDependency
    | Unregister
    | RequestOneTimeToken
    | RequestClientCredentials
    | RegisterRuntimeContext
    | Grant
    | Revoke
)


def _wire(value: LabelValue) -> str | list[str]:
    return list(value) if isinstance(value, tuple) else value


_actors = st.sampled_from(ACTORS)
_kinds = st.sampled_from(KINDS)
_contexts: st.SearchStrategy[Kind] = st.just("runtime_context")


def _targets(kinds: st.SearchStrategy[Kind] = _kinds) -> st.SearchStrategy[Target]:
    whose = st.sampled_from(("own", "own", "other", "other", "nobody"))
    return st.builds(Target, kind=kinds, whose=whose, index=st.integers(0, 3))


_scenarios = st.lists(st.sampled_from(FORMATIONS), min_size=1, max_size=2, unique=True).map(tuple)
_labels: st.SearchStrategy[tuple[str, LabelValue]] = st.one_of(
    st.tuples(st.sampled_from(LABEL_KEYS), st.sampled_from(LABEL_VALUES)),
    st.tuples(st.just(SCENARIOS), _scenarios),
)
# Often straight into DEFAULT, which every tenant has: formation names of both tenants collide from the start.
_register_labels = st.builds(
    lambda plain, scenarios: (*sorted(plain.items()), *([(SCENARIOS, scenarios)] if scenarios else [])),
    st.dictionaries(st.sampled_from(LABEL_KEYS), st.sampled_from(LABEL_VALUES), max_size=2),
    st.one_of(st.none(), st.just(("DEFAULT",)), _scenarios),
)
operations: st.SearchStrategy[Operation] = st.one_of(
    st.builds(Register, actor=_actors, kind=_kinds, name=st.sampled_from(NAMES), labels=_register_labels),
    st.builds(
        RegisterFromTemplate,
        actor=_actors,
        kind=st.just("application"),
        name=st.sampled_from(NAMES),
        labels=_register_labels,
    ),
    st.builds(lambda actor, target, label: SetLabel(actor, target, *label), _actors, _targets(), _labels),
    st.builds(AssignFormation, actor=_actors, target=_targets(), formation=st.sampled_from(FORMATIONS)),
    st.builds(CreateFormation, actor=_actors, name=st.sampled_from(FORMATIONS)),
    st.builds(CreateFormationTemplate, actor=_actors, name=st.sampled_from(FORMATION_TEMPLATES)),
    st.builds(CreateLabelDefinition, actor=_actors, key=st.sampled_from(LABEL_KEYS)),
    st.builds(
        AddBundle, actor=_actors, target=_targets(st.just("application")), name=st.sampled_from(BUNDLE_NAMES)
    ),
    st.builds(
        AddIntegrationDependency,
        actor=_actors,
        target=_targets(st.just("application")),
        name=st.sampled_from(BUNDLE_NAMES),
    ),
    st.builds(Unregister, actor=_actors, target=_targets()),
    st.builds(Grant, actor=_actors, target=_targets()),
    st.builds(Revoke, actor=_actors, target=_targets()),
    st.builds(RequestOneTimeToken, actor=_actors, target=_targets()),
    st.builds(RequestClientCredentials, actor=_actors, target=_targets()),
    st.builds(
        RegisterRuntimeContext, actor=_actors, target=_targets(st.just("runtime")), key=st.sampled_from(CONTEXT_KEYS)
    ),
    st.builds(AssignFormation, actor=_actors, target=_targets(_contexts), formation=st.sampled_from(FORMATIONS)),
    st.builds(Unregister, actor=_actors, target=_targets(_contexts)),
)
# Each tenant first registers an application and a runtime, so that operations find objects of both to aim at.
_prologue = st.tuples(
    *(
        st.builds(
            Register,
            actor=st.just(actor),
            kind=st.just(kind),
            name=st.sampled_from(NAMES),
            labels=st.sampled_from(((), ((SCENARIOS, ("DEFAULT",)),))),
        )
        for actor in ACTORS
        for kind in KINDS
    )
)
# Then one tenant shares one of its objects with the other, so that every history has a grant to check.
_first_grant = st.builds(Grant, actor=_actors, target=st.builds(Target, kind=_kinds, whose=st.just("own"), index=st.just(0)))
histories: st.SearchStrategy[list[Operation]] = st.builds(
    lambda first, grant, then: [*first, grant, *then],
    _prologue,
    _first_grant,
    st.lists(operations, min_size=6, max_size=15),
)


# The world: both tenants, their models, and the checks.


@dataclass
class World:
    operators: dict[Actor, Operator]
    models: dict[Actor, TenantModel] = field(
        default_factory=lambda: {actor: TenantModel() for actor in ACTORS}
    )
    # Every id each tenant was ever given, deleted ones included.
    created: dict[Actor, dict[Kind, list[str]]] = field(
        default_factory=lambda: {actor: {kind: [] for kind in ALL_KINDS} for actor in ACTORS}
    )
    # System auth ids of each tenant: all ever seen, and those of its latest snapshot.
    auths_seen: dict[Actor, set[str]] = field(default_factory=lambda: {actor: set() for actor in ACTORS})
    auths_now: dict[Actor, set[str]] = field(default_factory=lambda: {actor: set() for actor in ACTORS})
    # The global template both tenants register applications from.
    template: str = ""
    # Ids of the other tenant's objects granted to each tenant (read only), deleted ones included.
    granted: dict[Actor, set[str]] = field(default_factory=lambda: {actor: set() for actor in ACTORS})

    @classmethod
    async def start(cls, tenants: TenantFactory) -> World:
        scopes = sorted(str(scope) for scope in ALL_SCOPES | {Scope.TENANT_ACCESS_WRITE})
        world = cls({actor: await tenants.operator(scopes=scopes) for actor in ACTORS})
        created = await world.operators["A"].query(CREATE_TEMPLATE, {"name": f"template-{uuid.uuid4().hex[:12]}"})
        world.template = created["result"]["name"]
        return world

    @staticmethod
    def other(actor: Actor) -> Actor:
        return "B" if actor == "A" else "A"

    def resolve(self, actor: Actor, target: Target) -> str:
        owner = {"own": actor, "other": self.other(actor), "nobody": None}[target.whose]
        ids = self.created[owner][target.kind] if owner else []
        return ids[target.index % len(ids)] if ids else str(uuid.uuid4())

    def _describe(self, actor: Actor, object_id: str) -> str:
        for owner in ACTORS:
            whose = "its own tenant's" if owner == actor else "the other tenant's"
            for kind in ALL_KINDS:
                if object_id in self.models[owner].objects(kind):
                    return f"{whose} {kind}"
                if object_id in self.created[owner][kind]:
                    return f"{whose} deleted {kind}"
        return "an id that never existed"

    async def _on_target(
        self,
        operation: Operation,
        target: Target,
        document: str,
        variables: Callable[[str], dict[str, Any]],
    ) -> tuple[str, dict[str, Any] | None]:
        """The target's id, and the answer when the target is a live object of the actor's tenant. For any
        other id the answer must be NOT_FOUND exactly as for an id that never existed, and the other tenant
        unchanged."""
        actor = operation.actor
        target_id = self.resolve(actor, target)
        operator = self.operators[actor]
        body = await operator.execute(document, variables(target_id))
        _event(f"{type(operation).__name__} on {self._describe(actor, target_id)}")
        if target_id in self.models[actor].objects(target.kind):
            return target_id, body
        assert error_codes(body) == ["NOT_FOUND"], body
        await assert_answers_like_a_missing_id(operator, document, variables, target_id, body)
        if any(target_id in self.created[self.other(actor)][kind] for kind in ALL_KINDS):
            await self.check_snapshot(self.other(actor))
        return target_id, None

    async def perform(self, operation: Operation) -> None:  # noqa: C901, PLR0912, PLR0915 - a case per operation
        """Does the operation as its actor, checks the answer against the model and updates the model."""
        model = self.models[operation.actor]
        operator = self.operators[operation.actor]
        match operation:
            case Register(actor, kind, name, labels) | RegisterFromTemplate(actor, kind, name, labels):
                wire_labels = {key: _wire(value) for key, value in labels}
                if isinstance(operation, RegisterFromTemplate):
                    variables = {"template": self.template, "name": name, "labels": wire_labels}
                    body = await operator.execute(REGISTER_FROM_TEMPLATE, variables)
                    # What the template adds (Compass's applicationType and managed labels).
                    wire_labels = {"applicationType": self.template, "managed": "false", **wire_labels}
                else:
                    body = await operator.execute(REGISTER[kind], {"name": name, "labels": wire_labels})
                if any(found.name == name for found in model.objects(kind).values()):
                    assert error_codes(body) == ["CONFLICT"], body
                    return
                if not set(wire_labels.get(SCENARIOS, [])) <= model.formations:
                    assert error_codes(body) == ["INVALID_INPUT"], body
                    return
                expected_labels = ({"isNormalized": "true"} if kind == "runtime" else {}) | wire_labels
                result = body["data"]["result"]
                assert (result["name"], result["labels"]) == (name, expected_labels), body
                self.created[actor][kind].append(result["id"])
                model.objects(kind)[result["id"]] = ObjectModel(name, expected_labels)
            case SetLabel(_, target, key, value):
                target_id, answer = await self._on_target(
                    operation,
                    target,
                    SET_LABEL[target.kind],
                    lambda object_id: {"id": object_id, "key": key, "value": _wire(value)},
                )
                if answer is None:
                    return
                if key == SCENARIOS and not set(value) <= model.formations:
                    assert error_codes(answer) == ["INVALID_INPUT"], answer
                    return
                assert answer == {"data": {"result": {"key": key, "value": _wire(value)}}}
                model.objects(target.kind)[target_id].labels[key] = _wire(value)
            case AssignFormation(_, target, formation):
                target_id, answer = await self._on_target(
                    operation,
                    target,
                    ASSIGN_FORMATION,
                    lambda object_id: {"id": object_id, "type": target.kind.upper(), "name": formation},
                )
                if answer is None:
                    return
                if formation not in model.formations:
                    assert error_codes(answer) == ["NOT_FOUND"], answer
                    return
                assert answer == {"data": {"result": {"name": formation}}}
                scenarios = model.objects(target.kind)[target_id].labels.setdefault(SCENARIOS, [])
                if formation not in scenarios:
                    scenarios.append(formation)
            case CreateFormation(_, name):
                body = await operator.execute(CREATE_FORMATION, {"name": name})
                if name in model.formations:
                    assert error_codes(body) == ["CONFLICT"], body
                    return
                assert body == {"data": {"result": {"name": name}}}
                model.formations.add(name)
            case CreateFormationTemplate(_, name):
                body = await operator.execute(CREATE_FORMATION_TEMPLATE, {"name": name})
                if name in model.formation_templates:
                    assert error_codes(body) == ["CONFLICT"], body
                    return
                assert body == {"data": {"result": {"name": name}}}
                model.formation_templates.add(name)
            case CreateLabelDefinition(_, key):
                body = await operator.execute(CREATE_LABEL_DEFINITION, {"key": key})
                if key in model.label_definitions:
                    assert error_codes(body) == ["CONFLICT"], body
                    return
                assert body == {"data": {"result": {"key": key, "schema": None}}}
                model.label_definitions.add(key)
            case AddBundle(_, target, name):
                target_id, answer = await self._on_target(
                    operation, target, ADD_BUNDLE, lambda object_id: {"id": object_id, "name": name}
                )
                if answer is None:
                    return
                assert answer == {"data": {"result": {"name": name}}}
                model.applications[target_id].bundles.append(name)
            case AddIntegrationDependency(_, target, name):
                target_id, answer = await self._on_target(
                    operation, target, ADD_INTEGRATION_DEPENDENCY, lambda object_id: {"id": object_id, "name": name}
                )
                if answer is None:
                    return
                assert answer == {"data": {"result": {"name": name, "aspects": [{"name": "a"}]}}}
                model.applications[target_id].dependencies.append(name)
            case Unregister(_, target):
                target_id, answer = await self._on_target(
                    operation, target, UNREGISTER[target.kind], lambda object_id: {"id": object_id}
                )
                if answer is None:
                    return
                removed = model.objects(target.kind).pop(target_id)
                assert answer == {"data": {"result": {"id": target_id, "name": removed.name}}}
                if target.kind == "runtime":  # its contexts go with it
                    model.contexts = {key: c for key, c in model.contexts.items() if c.runtime_id != target_id}
            case RequestOneTimeToken(_, target):
                target_id, answer = await self._on_target(
                    operation, target, REQUEST_TOKEN[target.kind], lambda object_id: {"id": object_id}
                )
                if answer is None:
                    return
                assert answer == {"data": {"result": {"type": target.kind.capitalize(), "used": False}}}
                model.objects(target.kind)[target_id].auths += 1
            case RequestClientCredentials(actor, target):
                target_id, answer = await self._on_target(
                    operation, target, REQUEST_CLIENT_CREDENTIALS[target.kind], lambda object_id: {"id": object_id}
                )
                if answer is None:
                    return
                tenant_id = self.operators[actor].tenant_id
                assert answer == {"data": {"result": {"type": target.kind.upper(), "tenantId": tenant_id}}}
                model.objects(target.kind)[target_id].auths += 1
            case RegisterRuntimeContext(actor, target, key):
                target_id, answer = await self._on_target(
                    operation, target, REGISTER_CONTEXT, lambda object_id: {"id": object_id, "key": key}
                )
                if answer is None:
                    return
                result = answer["data"]["result"]
                assert (result["key"], result["labels"]) == (key, {}), answer
                self.created[actor]["runtime_context"].append(result["id"])
                model.contexts[result["id"]] = ObjectModel(key, {}, runtime_id=target_id)
            case Grant(actor, target) | Revoke(actor, target):
                grantee = self.other(actor)
                tenant_id = self.operators[grantee].tenant_id
                target_id, answer = await self._on_target(
                    operation,
                    target,
                    GRANT if isinstance(operation, Grant) else REVOKE,
                    lambda object_id: {"tenant": tenant_id, "id": object_id, "type": target.kind.upper()},
                )
                if answer is None:
                    return
                if isinstance(operation, Revoke) and target_id not in self.granted[grantee]:
                    assert error_codes(answer) == ["NOT_FOUND"], answer
                    return
                access = {"tenantID": tenant_id, "resourceType": target.kind.upper(), "resourceID": target_id, "owner": False}
                assert answer == {"data": {"result": access}}
                if isinstance(operation, Grant):
                    self.granted[grantee].add(target_id)
                else:
                    self.granted[grantee].discard(target_id)

    def seen_by(self, actor: Actor) -> TenantModel:
        """The actor's model and the live objects the other tenant granted it: each with its tree and labels, but
        neither its formations (scenarios are each tenant's own) nor its system auths."""
        own, other = self.models[actor], self.models[self.other(actor)]
        view = replace(own, applications=dict(own.applications), runtimes=dict(own.runtimes))
        for kind in KINDS:
            for object_id, found in other.objects(kind).items():
                if object_id in self.granted[actor]:
                    labels = {key: value for key, value in found.labels.items() if key != SCENARIOS}
                    view.objects(kind)[object_id] = replace(found, labels=labels, auths=0)
        return view

    async def check_snapshot(self, actor: Actor) -> None:
        """Lists, labels, nested bundles and auths, formations and label definitions: the tenant's model."""
        data = await self.operators[actor].query(SNAPSHOT)
        assert snapshot_of(data) == self.seen_by(actor).snapshot(), f"tenant {actor}"
        rows = [*data["applications"]["data"], *data["runtimes"]["data"]]
        self.auths_now[actor] = {auth["id"] for row in rows for auth in row["auths"]}
        self.auths_seen[actor] |= self.auths_now[actor]

    async def check_lookups(self, actor: Actor) -> None:
        """By id, by runtime, by label filter and by system auth the tenant finds exactly its live objects.

        Reads the system auths of the latest snapshots: check both tenants' snapshots first."""
        model = self.seen_by(actor)
        operator = self.operators[actor]
        every_id = [
            object_id for owner in ACTORS for kind in ALL_KINDS for object_id in self.created[owner][kind]
        ]
        every_id.append(str(uuid.uuid4()))
        for start in range(0, len(every_id), LOOKUP_BATCH):
            batch = every_id[start : start + LOOKUP_BATCH]
            variables = {
                name: object_id for i, object_id in enumerate(batch) for name in (f"id{i}", f"object{i}")
            }
            data = await operator.query(lookup_document(len(batch)), variables)
            for i, object_id in enumerate(batch):
                found = {
                    "application": data[f"a{i}"],
                    "runtime": data[f"r{i}"],
                    "formationsForObject": sorted(data[f"f{i}"], key=lambda formation: formation["name"]),
                }
                assert found == model.lookup(object_id), (actor, object_id)

        for runtime_id in [object_id for owner in ACTORS for object_id in self.created[owner]["runtime"]]:
            body = await operator.execute(APPLICATIONS_FOR_RUNTIME, {"id": runtime_id})
            if runtime_id in model.runtimes:
                expected = model.applications_for_runtime(runtime_id)
                result = body["data"]["result"]
                assert sorted(app["name"] for app in result["data"]) == expected, (actor, runtime_id)
                assert result["totalCount"] == len(expected)
            else:
                assert error_codes(body) == ["NOT_FOUND"], body
                await assert_answers_like_a_missing_id(
                    operator, APPLICATIONS_FOR_RUNTIME, lambda object_id: {"id": object_id}, runtime_id, body
                )

        filters = {f"f{i}": [label_filter.wire] for i, label_filter in enumerate(FILTERS)}
        data = await operator.query(FILTERED, filters)
        for i, label_filter in enumerate(FILTERS):
            aliases: tuple[tuple[Kind, str], ...] = (("application", f"a{i}"), ("runtime", f"r{i}"))
            for kind, alias in aliases:
                matched = sorted(row["id"] for row in data[alias]["data"])
                assert matched == model.matching(kind, label_filter), (actor, kind, label_filter)
                assert data[alias]["totalCount"] == len(matched)

        for auth_id in self.auths_now[actor]:
            assert await operator.query(SYSTEM_AUTH, {"id": auth_id}) == {"systemAuth": {"id": auth_id}}
        for auth_id in self.auths_seen[self.other(actor)]:
            assert await operator.query(SYSTEM_AUTH, {"id": auth_id}) == {"systemAuth": None}
