"""Connection profiles (~/.config/adhoc/profiles.toml) and where the client keeps its files.

[profiles.prod]
host = "adhoc.example.com"
port = 10009
user = "alice"
password_env = "ADHOC_PASSWORD"
http_url = "https://adhoc.example.com"
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path


def config_dir() -> Path:
    return Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config") / "adhoc"


def data_dir() -> Path:
    path = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "adhoc-sql"
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class Profile:
    host: str = "127.0.0.1"
    port: int = 10009
    user: str = ""
    password_env: str = ""
    http_url: str = ""


class ProfileError(Exception):
    pass


def load_profile(name: str, path: Path | None = None) -> Profile:
    path = path or config_dir() / "profiles.toml"
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise ProfileError(f"no profiles file at {path}") from None
    except tomllib.TOMLDecodeError as e:
        raise ProfileError(f"{path}: not valid TOML: {e}") from None
    profile = raw.get("profiles", {}).get(name)
    if not isinstance(profile, dict):
        raise ProfileError(f"{path}: no [profiles.{name}]")
    unknown = set(profile) - {"host", "port", "user", "password_env", "http_url"}
    if unknown:
        raise ProfileError(f"{path}: profiles.{name}.{sorted(unknown)[0]}: unknown key")
    try:
        return Profile(**profile)
    except TypeError as e:
        raise ProfileError(f"{path}: profiles.{name}: {e}") from None
