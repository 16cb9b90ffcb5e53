"""The k8s/ folder as kubectl would apply it: kustomize-built objects, the pod templates, the shipped configs."""

from __future__ import annotations

import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
OVERLAYS = sorted(p for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").exists())
POD_TEMPLATES = sorted((K8S / "spark").glob("*-pod-template.yaml"))


def tool(name: str) -> str:
    """kubectl and kubernetes-validate come with the test extras (PyPI wheels), beside this Python."""
    found = shutil.which(name) or str(Path(sys.executable).parent / name)
    assert Path(found).exists(), f"{name} is missing: pip install -e '.[test]'"
    return found


@cache
def build(kustomization: Path) -> tuple[dict[str, Any], ...]:
    out = subprocess.run([tool("kubectl"), "kustomize", str(kustomization)], capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr
    return tuple(doc for doc in yaml.safe_load_all(out.stdout) if doc)


def objects(kustomization: Path, kind: str) -> list[dict[str, Any]]:
    return [o for o in build(kustomization) if o["kind"] == kind]


def validate(docs: list[dict[str, Any]], tmp: Path) -> subprocess.CompletedProcess[str]:
    """`kubernetes-validate --strict`: every field known to the Kubernetes schema, nothing extra."""
    files = []
    for i, doc in enumerate(docs):
        path = tmp / f"{i:03d}-{doc['kind']}.yaml"
        path.write_text(yaml.safe_dump(doc))
        files.append(str(path))
    return subprocess.run([tool("kubernetes-validate"), "--strict", "--no-warn", *files], capture_output=True,
                          text=True, timeout=300)  # fmt: skip
