"""A fake Kubernetes API server on loopback that the real `kubernetes` client talks to.

It keeps namespaced v1 objects in memory, by resource plural, and answers the way the API server
does: lists are `<Kind>List` objects with `metadata.resourceVersion`, every object carries
`apiVersion`, `kind`, `metadata.{name, namespace, uid, resourceVersion, creationTimestamp}`, and
errors are `kind: Status` objects (404 NotFound, 403 Forbidden, 410 Gone, ...).

    with FakeKubeApi() as api:
        api.put("resourcequotas", "spark", resource_quota("compute", hard={"requests.cpu": "10"},
                                                          used={"requests.cpu": "2500m"}))
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        # kubernetes.config.new_client_from_config(str(kubeconfig)) now reaches it

Faults come from LoopbackServer (refuse, hang, fail(status) -> a Status body). Extend it by
adding handlers in a subclass's `add_routes` (pods, watch streams, logs) on the same store.
"""

from __future__ import annotations

import copy
import itertools
import json
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiohttp import web

from tests.fakes.loopback import LoopbackServer

# plural -> Kind, for the v1 resources tests use; anything else is capitalised from its plural.
KINDS = {
    "resourcequotas": "ResourceQuota",
    "pods": "Pod",
    "configmaps": "ConfigMap",
    "services": "Service",
    "events": "Event",
    "limitranges": "LimitRange",
    "secrets": "Secret",
}

REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "AlreadyExists",
    410: "Gone",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
}


def kind_of(plural: str) -> str:
    return KINDS.get(plural, plural[:-1].capitalize() if plural.endswith("s") else plural.capitalize())


def status_object(
    code: int, message: str, *, reason: str = "", details: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A v1 Status, the body of every API error."""
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason or REASONS.get(code, "Unknown"),
        "code": code,
    }
    if details is not None:
        body["details"] = dict(details)
    return body


def status_response(code: int, message: str, **kw: Any) -> web.Response:
    return web.json_response(status_object(code, message, **kw), status=code)


def resource_quota(name: str, *, hard: Mapping[str, str], used: Mapping[str, str] | None = None) -> dict[str, Any]:
    """A v1 ResourceQuota as the API returns it: spec.hard, status.hard and status.used."""
    used = dict(used or {})
    return {
        "metadata": {"name": name},
        "spec": {"hard": dict(hard)},
        "status": {"hard": dict(hard), "used": {key: used.get(key, "0") for key in hard}},
    }


class FakeKubeApi(LoopbackServer):
    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self._objects: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}  # (plural, ns) -> name -> object
        self._versions = itertools.count(1000)
        self.resource_version = "1000"
        self.forbidden_namespaces: set[str] = set()  # answer 403 Forbidden there (RBAC says no)

    # -- the store ------------------------------------------------------------------------------

    def put(self, plural: str, namespace: str, obj: Mapping[str, Any]) -> dict[str, Any]:
        """Create or replace an object; fills in what the API server would and returns it."""
        stored = copy.deepcopy(dict(obj))
        meta = stored.setdefault("metadata", {})
        name = meta["name"]
        with self.lock:
            previous = self._objects.get((plural, namespace), {}).get(name)
            meta["namespace"] = namespace
            meta.setdefault("uid", previous["metadata"]["uid"] if previous else str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"))
            meta["resourceVersion"] = self._next_version()
            stored["apiVersion"] = "v1"
            stored["kind"] = kind_of(plural)
            self._objects.setdefault((plural, namespace), {})[name] = stored
            return copy.deepcopy(stored)

    def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            obj = self._objects.get((plural, namespace), {}).get(name)
            return copy.deepcopy(obj) if obj is not None else None

    def delete(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self.lock:
            obj = self._objects.get((plural, namespace), {}).pop(name, None)
            if obj is not None:
                self._next_version()
            return obj

    def list(self, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [
                copy.deepcopy(obj)
                for (p, ns), objects in sorted(self._objects.items())
                if p == plural and namespace in (None, ns)
                for obj in objects.values()
            ]

    def _next_version(self) -> str:
        self.resource_version = str(next(self._versions))
        return self.resource_version

    # -- kubeconfig -----------------------------------------------------------------------------

    def write_kubeconfig(self, path: str | Path, *, namespace: str = "default") -> Path:
        """A kubeconfig (JSON is YAML) whose current context points at this server."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [{"name": "fake", "cluster": {"server": self.url}}],
            "users": [{"name": "fake", "user": {"token": "fake-token"}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake", "namespace": namespace}}],
            "current-context": "fake",
        }
        target = Path(path)
        target.write_text(json.dumps(config, indent=2))
        return target

    # -- HTTP -----------------------------------------------------------------------------------

    def error_response(self, request: web.Request, status: int) -> web.StreamResponse:
        return status_response(status, f"the server could not handle the request ({request.method} {request.path})")

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/v1/namespaces/{namespace}/{plural}", self.handle_list)
        app.router.add_get("/api/v1/namespaces/{namespace}/{plural}/{name}", self.handle_get)
        app.router.add_delete("/api/v1/namespaces/{namespace}/{plural}/{name}", self.handle_delete)
        app.router.add_post("/api/v1/namespaces/{namespace}/{plural}", self.handle_create)
        app.router.add_get("/api/v1/{plural}", self.handle_list)

    def forbidden(self, request: web.Request) -> web.Response | None:
        namespace = request.match_info.get("namespace")
        if namespace in self.forbidden_namespaces:
            plural = request.match_info["plural"]
            return status_response(
                403,
                f'{plural} is forbidden: User "system:serviceaccount:adhoc:adhoc" cannot list resource '
                f'"{plural}" in API group "" in the namespace "{namespace}"',
                details={"kind": plural},
            )
        return None

    async def handle_list(self, request: web.Request) -> web.StreamResponse:
        denied = self.forbidden(request)
        if denied is not None:
            return denied
        plural = request.match_info["plural"]
        items = self.list(plural, request.match_info.get("namespace"))
        selector = request.query.get("labelSelector", "")
        if selector:
            items = [obj for obj in items if matches_labels(obj, selector)]
        return web.json_response(
            {
                "kind": f"{kind_of(plural)}List",
                "apiVersion": "v1",
                "metadata": {"resourceVersion": self.resource_version},
                "items": items,
            }
        )

    async def handle_get(self, request: web.Request) -> web.StreamResponse:
        denied = self.forbidden(request)
        if denied is not None:
            return denied
        plural, namespace, name = (request.match_info[k] for k in ("plural", "namespace", "name"))
        obj = self.get(plural, namespace, name)
        if obj is None:
            return status_response(404, f'{plural} "{name}" not found', details={"name": name, "kind": plural})
        return web.json_response(obj)

    async def handle_delete(self, request: web.Request) -> web.StreamResponse:
        plural, namespace, name = (request.match_info[k] for k in ("plural", "namespace", "name"))
        obj = self.delete(plural, namespace, name)
        if obj is None:
            return status_response(404, f'{plural} "{name}" not found', details={"name": name, "kind": plural})
        return web.json_response(obj)

    async def handle_create(self, request: web.Request) -> web.StreamResponse:
        plural, namespace = request.match_info["plural"], request.match_info["namespace"]
        obj = await request.json()
        name = obj.get("metadata", {}).get("name")
        if not name:
            return status_response(422, f"{kind_of(plural)} is invalid: metadata.name: Required value")
        if self.get(plural, namespace, name) is not None:
            return status_response(409, f'{plural} "{name}" already exists', details={"name": name, "kind": plural})
        return web.json_response(self.put(plural, namespace, obj), status=201)


def matches_labels(obj: Mapping[str, Any], selector: str) -> bool:
    """Equality-based label selectors (`a=b,c=d`, `a!=b`, bare `a` for existence)."""
    labels = obj.get("metadata", {}).get("labels") or {}
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key) != value:
                return False
        elif term not in labels:
            return False
    return True
