"""The fenced code blocks of the README and of docs/, each classified by how the tests
check it, so that no block goes unchecked without saying why.

- `python`: a complete program (the default) runs against a real `langstar serve`; a block
  under `<!-- file: PATH -->` is a file of the page's project (written out, then served
  when the page has a `langgraph.json`); `<!-- run: pytest -->` runs as a pytest file;
  `<!-- not-run: why -->` is only compiled (top-level `await` allowed).
- `bash` under `<!-- run: shell -->` runs with bash against a real `langstar serve`.
- `toml`: parsed and loaded as a settings file.
- `json`: parsed; a `langgraph.json` (a file block of that name, or any block with
  `graphs`) is applied as a project, as `langstar serve --langgraph-json` applies it.
- `bash`, `sh`: each command is checked (see `check_shell`): `langstar ...` parses with the
  CLI's own parser, `--help` included; a module or path it names exists.
- `yaml`: parsed. `text`: shown only (diagrams, output).
- `LANGSTAR_...=` anywhere on a page names a real setting.
Any other language, or none, fails.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.util
import io
import json
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import yaml

from langstar.settings import Settings, load_settings
from tests.support.reference import NOT_SETTINGS, setting_names

ROOT = Path(__file__).resolve().parents[2]
FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[^\s`]*)[ \t]*$")
MARKER = re.compile(r"^\s*<!--\s*(?P<kind>not-run|file|run):\s*(?P<value>.*?)\s*-->\s*$")
ASSIGNMENT = re.compile(r"\b(LANGSTAR_[A-Z0-9_]+)=")
LANGUAGES = {"python", "toml", "json", "bash", "sh", "yaml", "text"}
# `LANGSTAR_` variables that are not settings but are read by name: a secret a `*_env`
# setting names by default, and the bench's peers folder.
OTHER_VARIABLES = {*NOT_SETTINGS, "LANGSTAR_JWT_SECRET", "LANGSTAR_BENCH_PEERS"}
# Commands a page shows and the tests do not run, and why.
SHOWN_ONLY = {
    "curl": "an HTTP call to the server the reader started",
    "docker": "starts a container image from a registry",
    "cd": "moves the reader's shell",
}
DEV_TOOLS = {"ruff", "mypy", "lint-imports", "mkdocs", "alembic"}


@dataclass(frozen=True)
class Snippet:
    page: str  # relative to the repository
    line: int
    lang: str
    code: str
    marker: str  # "", "not-run: why", "file: PATH" or "run: pytest"

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"

    @property
    def kind(self) -> str:
        return self.marker.split(":", 1)[0]

    @property
    def value(self) -> str:
        return self.marker.split(":", 1)[1].strip() if ":" in self.marker else ""


def pages() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def snippets(path: Path) -> Iterator[Snippet]:
    lines = path.read_text().splitlines()
    page = str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)
    index = 0
    while index < len(lines):
        opened = FENCE.match(lines[index])
        if not opened:
            index += 1
            continue
        indent, end = opened["indent"], index + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        body = [line.removeprefix(indent) for line in lines[index + 1 : end]]
        before = next((line for line in reversed(lines[:index]) if line.strip()), "")
        marker = MARKER.match(before)
        yield Snippet(
            page,
            index + 1,
            opened["lang"],
            "\n".join(body) + "\n",
            f"{marker['kind']}: {marker['value']}" if marker else "",
        )
        index = end + 1


def all_snippets() -> list[Snippet]:
    return [snippet for path in pages() for snippet in snippets(path)]


def setting_variables() -> set[str]:
    return {env for _, env, _ in setting_names()} | {"LANGSTAR_DATABASE__URL"}


def check_assignments(text: str) -> list[str]:
    """The `LANGSTAR_X=` assignments in `text` that name no setting."""
    known = setting_variables() | OTHER_VARIABLES
    return sorted({name for name in ASSIGNMENT.findall(text) if name not in known})


def is_program(snippet: Snippet) -> bool:
    return snippet.lang == "python" and snippet.kind == ""


def check(snippet: Snippet, workdir: Path) -> str:
    """Check `snippet` without a server; the answer says how it was checked. Raises
    AssertionError (or the parser's error) when it is wrong."""
    if snippet.lang not in LANGUAGES:
        raise AssertionError(
            f"{snippet.where}: a ```{snippet.lang or '(no language)'} block: give it one of "
            f"{sorted(LANGUAGES)}, or mark it <!-- not-run: why -->"
        )
    unknown = check_assignments(snippet.code)
    assert not unknown, f"{snippet.where}: no such setting: {unknown}"
    return CHECKS[snippet.lang](snippet, workdir)


def check_python(snippet: Snippet, workdir: Path) -> str:
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT if snippet.kind == "not-run" else 0
    compile(snippet.code, snippet.where, "exec", flags=flags)
    if snippet.kind == "not-run":
        assert snippet.value, f"{snippet.where}: say why it is not run"
        return f"compiled, not run: {snippet.value}"
    if snippet.kind == "file":
        return f"compiled; the file {snippet.value} of the page's project"
    if snippet.kind == "run":
        assert snippet.value == "pytest", f"{snippet.where}: unknown run: {snippet.value}"
        return "run as a pytest file"
    assert "asyncio.run(" in snippet.code or "__main__" in snippet.code, (
        f"{snippet.where}: a Python block that is not a whole program: make it one "
        "(asyncio.run(main())), or mark it <!-- not-run: why --> or <!-- file: PATH -->"
    )
    return "run against langstar serve"


def check_toml(snippet: Snippet, workdir: Path) -> str:
    tomllib.loads(snippet.code)
    path = workdir / "settings.toml"
    path.write_text(snippet.code)
    load_settings(path, env={})
    return "loaded as a settings file"


def check_json(snippet: Snippet, workdir: Path) -> str:
    config = json.loads(snippet.code)
    if not snippet.value.endswith("langgraph.json") and "graphs" not in config:
        return "parsed"
    from langstar.project import apply_project

    path = workdir / "langgraph.json"
    path.write_text(json.dumps(config))
    apply_project(msgspec.structs.replace(Settings(), graphs_from=str(path)))
    return "applied as a langgraph.json"


def check_yaml(snippet: Snippet, workdir: Path) -> str:
    yaml.safe_load(snippet.code)
    return "parsed"


def check_text(snippet: Snippet, workdir: Path) -> str:
    return "shown only"


def check_shell(snippet: Snippet, workdir: Path) -> str:
    if snippet.kind == "not-run":
        return f"not run: {snippet.value}"
    if snippet.kind == "run":
        assert snippet.value == "shell", f"{snippet.where}: unknown run: {snippet.value}"
        subprocess.run(["bash", "-n", "-c", snippet.code], check=True)
        return "run with bash against langstar serve"
    checked = [check_command(command, snippet.where) for command in shell_commands(snippet.code)]
    return "; ".join(checked)


def shell_commands(code: str) -> Iterator[list[str]]:
    """Each command of a shell block as its words, continuation lines joined, comments
    and `export`, `&&`, `|` taken apart."""
    for line in code.replace("\\\n", " ").splitlines():
        words = shlex.split(line, comments=True)
        command: list[str] = []
        for word in [*words, "&&"]:
            if word in {"&&", "||", "|", ";"}:
                if command:
                    yield command
                command = []
            else:
                command.append(word)


def check_command(words: list[str], where: str) -> str:
    while words and (words[0] == "export" or re.fullmatch(r"[A-Z_][A-Z0-9_]*=.*", words[0])):
        words = words[1:]
    if not words:
        return "environment"
    if words[:2] == ["uv", "run"]:
        words = words[2:]
    program, args = words[0], words[1:]
    if program == "langstar":
        return parse_cli(args, where)
    if program == "pytest":
        paths = [arg.split("::")[0] for arg in args if not arg.startswith("-")]
        paths = [path for path in paths if "/" in path or path.endswith(".py")]
        missing = [path for path in paths if not (ROOT / path).exists()]
        assert not missing or paths == ["test_agent.py"], f"{where}: no such tests: {missing}"
        return "pytest paths exist"
    if program == "python" and args[:1] == ["-m"]:
        assert importlib.util.find_spec(args[1]) is not None, f"{where}: no module {args[1]}"
        return f"module {args[1]} exists"
    if program == "python":
        return f"runs {args[0]}, a program the page gives"
    if program == "bash":
        assert (ROOT / args[0]).is_file(), f"{where}: no such script: {args[0]}"
        return f"script {args[0]} exists"
    if program in DEV_TOOLS:
        installed = shutil.which(program) or (Path(sys.executable).parent / program).is_file()
        assert installed, f"{where}: {program} is not installed"
        return f"{program} is installed"
    assert program in SHOWN_ONLY, (
        f"{where}: the tests do not know `{program}`: check it in tests/support/snippets.py, "
        "or mark the block <!-- not-run: why -->"
    )
    return f"{program}: shown, not run ({SHOWN_ONLY[program]})"


def parse_cli(args: list[str], where: str) -> str:
    from langstar.cli import _parser

    parser = _parser()
    parser.exit_on_error = False
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            parser.parse_args(args)
        except SystemExit as exit_:
            code = exit_.code
        except argparse.ArgumentError as error:
            raise AssertionError(f"{where}: langstar {' '.join(args)}: {error}") from None
        else:
            return f"langstar {' '.join(args)}: parsed"
    assert code == 0, f"{where}: langstar {' '.join(args)}: refused by its parser"
    return f"langstar {' '.join(args)}: ran (--help)"


CHECKS = {
    "python": check_python,
    "toml": check_toml,
    "json": check_json,
    "bash": check_shell,
    "sh": check_shell,
    "yaml": check_yaml,
    "text": check_text,
}
