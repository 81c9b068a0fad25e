"""The commands and environment docker-compose.yml gives its services, read from the file.

The deployment tests run exactly these commands as local processes, so the compose file and
what the tests prove cannot drift apart. Interpolation follows compose: `${VAR}`,
`${VAR:-default}`, `${VAR-default}`, `${VAR:?error}`, `${VAR?error}` and `$$` for `$`; a
string command is split like a shell would.
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yml"
DOCKERFILE = REPO / "Dockerfile"
ENV_EXAMPLE = REPO / ".env.example"

_VARIABLE = re.compile(r"\$\$|\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


def load_compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a .env file (comments and blank lines skipped)."""
    pairs = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def interpolate(text: str, env: dict[str, str]) -> str:
    def substitute(match: re.Match) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group("name", "op", "arg")
        value = env.get(name)
        unset = value is None or (op is not None and op.startswith(":") and value == "")
        if op is None:
            return value or ""
        if op.endswith("?"):
            if unset:
                raise KeyError(f"{name}: {arg}")
            return value
        return arg if unset else value

    return _VARIABLE.sub(substitute, text)


def service_argv(service: str, env: dict[str, str]) -> list[str]:
    """entrypoint + command of a service, interpolated with `env`, `python` made this one."""
    spec = load_compose()["services"][service]
    argv = [*_as_list(spec["entrypoint"], env), *_as_list(spec.get("command", []), env)]
    return [sys.executable if argv and i == 0 and part == "python" else part
            for i, part in enumerate(argv)]  # fmt: skip


def service_environment(service: str, env: dict[str, str]) -> dict[str, str]:
    """The environment block of a service, interpolated with `env`."""
    block = load_compose()["services"][service].get("environment", {})
    return {key: interpolate(str(value), env) for key, value in block.items()}


def with_option(argv: list[str], flag: str, value: str) -> list[str]:
    """`argv` with the value after `flag` replaced."""
    index = argv.index(flag)
    return [*argv[: index + 1], value, *argv[index + 2 :]]


def _as_list(value: str | list[str], env: dict[str, str]) -> list[str]:
    if isinstance(value, str):
        return shlex.split(interpolate(value, env))
    return [interpolate(str(part), env) for part in value]
