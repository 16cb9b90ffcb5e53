"""The Roles grant exactly what adhoc's code calls in an engine namespace: derived from the code.

Every call of a `kubernetes` client method named `<verb>_namespaced_<resource>` in adhoc/ becomes
(verb, resource) — a `list` call passing `watch=True` is the `watch` verb — and the Role bound in each
engine namespace must grant that set: no more (nothing on secrets, no `*`, no ClusterRole), no less.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.k8s.manifests import OVERLAYS, ROOT, objects

CALL = re.compile(r"^(list|read|delete|create|patch|replace|watch)_namespaced_([a-z_]+)$")
RESOURCES = {"pod": "pods", "pod_log": "pods/log", "resource_quota": "resourcequotas"}
VERBS = {"read": "get"}


def rights_the_code_uses() -> set[tuple[str, str]]:
    rights = set()
    for path in (ROOT / "adhoc").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                name = node.func.attr
            elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Attribute):
                name = node.args[0].attr  # handed to a worker thread: to_thread(api.list_namespaced_pod, ...)
            else:
                continue
            match = CALL.match(name)
            if not match:
                continue
            verb, resource = match.groups()
            assert resource in RESOURCES, f"{path}: {name}: add its resource to this test and the Roles"
            watches = any(k.arg == "watch" and isinstance(k.value, ast.Constant) and k.value.value
                          for k in node.keywords)  # fmt: skip
            rights.add(("watch" if watches else VERBS.get(verb, verb), RESOURCES[resource]))
    return rights


def test_the_code_scan_finds_the_calls_we_know_of() -> None:
    rights = rights_the_code_uses()
    assert {("watch", "pods"), ("get", "pods/log"), ("delete", "pods"), ("get", "resourcequotas")} <= rights


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: p.name)
def test_each_engine_namespace_role_grants_exactly_what_the_code_calls(overlay: Path) -> None:
    assert not objects(overlay, "ClusterRole") and not objects(overlay, "ClusterRoleBinding")
    roles = objects(overlay, "Role")
    bindings = objects(overlay, "RoleBinding")
    assert roles, "no Role in the overlay"
    used = rights_the_code_uses()
    for role in roles:
        granted = set()
        for rule in role["rules"]:
            assert rule["apiGroups"] == [""], rule
            for verb in rule["verbs"]:
                for resource in rule["resources"]:
                    assert "*" not in (verb, resource) and resource != "secrets", rule
                    granted.add((verb, resource))
        # list on quotas only where an engine names none (the probe then lists them); the example names one
        needed = used - {("list", "resourcequotas")} if any(r.get("resourceNames") for r in role["rules"]) else used
        assert granted == needed, f"{role['metadata']['namespace']}: grants {granted ^ needed} differently"
        ns = role["metadata"]["namespace"]
        assert any(b["metadata"]["namespace"] == ns and b["roleRef"]["name"] == role["metadata"]["name"]
                   and b["subjects"] == [{"kind": "ServiceAccount", "name": "adhoc", "namespace": "adhoc"}]
                   for b in bindings), ns  # fmt: skip
