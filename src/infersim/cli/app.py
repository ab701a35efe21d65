"""The `infersim` command line: one module per command, composed here.

Commands are registered by name and imported on first use (`LazyCommands`): importing all of
them pulls in the simulation, analysis and report stacks (~100 modules, ~0.7 CPU-s), which
`infersim --version` or `infersim validate` should not pay. Only the command that runs is
imported; `infersim --help` imports them all to list their help, as before.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, MutableMapping
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from infersim import __version__
from infersim.cli.common import GlobalOptions, stderr_console
from infersim.errors import one_of

#: click's UsageError, which Typer may vendor: the public BadParameter's base class.
USAGE_ERROR: type[Exception] = typer.BadParameter.__bases__[0]

#: Command name -> (module, attribute): a command function, or a Typer app for a group.
#: The order is the order of `infersim --help`.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("infersim.cli.run", "run"),
    "compare": ("infersim.cli.compare", "compare"),
    "validate": ("infersim.cli.validate", "validate"),
    "schema": ("infersim.cli.schema", "schema"),
    "perf": ("infersim.cli.perf", "perf"),
    "check": ("infersim.cli.check", "check"),
    "baseline": ("infersim.cli.baseline", "baseline"),
    "diff": ("infersim.cli.diff", "diff"),
    "sweep": ("infersim.cli.sweep", "sweep"),
    "plan": ("infersim.cli.plan", "plan"),
    "sensitivity": ("infersim.cli.sensitivity", "sensitivity"),
    "breakeven": ("infersim.cli.breakeven", "breakeven"),
    "catalog": ("infersim.cli.catalog", "catalog_app"),
    "trace": ("infersim.cli.trace", "trace_app"),
}

Command = Any  # typer's (possibly vendored) click Command


def load_command(name: str) -> Command:
    """Import the module of command `name` and build its click command exactly as registering
    it on the root app would (`app.command` / `app.add_typer`), in a throwaway group."""
    module, attribute = COMMANDS[name]
    target = getattr(importlib.import_module(module), attribute)
    holder = typer.Typer(add_completion=False)
    holder.callback()(_no_options)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    else:
        holder.command(name)(target)
    group = typer.main.get_command(holder)
    assert isinstance(group, TyperGroup)
    return group.commands[name]


def _no_options() -> None:
    """The throwaway group's callback (a group needs one to hold a single command)."""


class LazyCommandMap(MutableMapping[str, Command]):
    """The root group's commands: every name of `COMMANDS` is listed (help, typo
    suggestions); a command's module is imported when the command is first looked up."""

    def __init__(self, loaded: MutableMapping[str, Command]) -> None:
        self._loaded: dict[str, Command] = dict(loaded)

    def __getitem__(self, name: str) -> Command:
        if name not in self._loaded and name in COMMANDS:
            self._loaded[name] = load_command(name)
        return self._loaded[name]

    def __setitem__(self, name: str, command: Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        del self._loaded[name]

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._loaded if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS.keys() | self._loaded.keys())


class LazyCommands(TyperGroup):
    """Typer's group, with the commands of `COMMANDS` imported on first use."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = LazyCommandMap(self.commands)


app = typer.Typer(
    name="infersim",
    cls=LazyCommands,
    help="Simulate what LLM inference really costs, and what it earns.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"infersim {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[bool, typer.Option(help="Show tracebacks of internal errors.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No diagnostics on stderr.")] = False,
    catalog_dirs: Annotated[
        list[Path] | None,
        typer.Option("--catalog", help="Extra catalog directory (gpus/models/prices.yaml)."),
    ] = None,
) -> None:
    """infersim: from GPU physics to tokens to GPU-hours to margins."""
    del version
    ctx.obj = GlobalOptions(debug=debug, quiet=quiet, catalog_dirs=list(catalog_dirs or []))


def choice_message(exc: Exception) -> str | None:
    """`--format: 'jsn' is not a format; choose table, json, ... — did you mean 'json'?` for
    a value outside an option's choices (Typer's own words name its validator)."""
    from pydantic import ValidationError

    cause, param = exc.__cause__, getattr(exc, "param", None)
    if not isinstance(cause, ValidationError) or param is None:
        return None
    errors = cause.errors(include_url=False)
    runtime = getattr(param, "get_runtime_param", None)
    choices = getattr(runtime(), "annotation", None) if runtime is not None else None
    if len(errors) != 1 or not (isinstance(choices, type) and issubclass(choices, Enum)):
        return None
    flags = [str(o) for o in getattr(param, "opts", None) or () if str(o).startswith("--")]
    flag = flags[0] if flags else str(param.name)
    what = f"a {flag.lstrip('-').replace('-', ' ')}"
    values = [str(member.value) for member in choices]
    return f"{flag}: {one_of(errors[0].get('input'), what, values)}"


def main() -> None:
    """Console entry point: usage errors are one line too, like every other error."""
    try:
        code = app(standalone_mode=False)
    except USAGE_ERROR as exc:
        ctx = getattr(exc, "ctx", None)
        where = ctx.command_path if ctx is not None else "infersim"
        message = choice_message(exc) or exc.format_message()  # type: ignore[attr-defined]
        if message.strip():  # empty after `infersim` alone, which printed the help
            stderr_console().print(f"error: {message} (see '{where} --help')", markup=False)
        code = 2
    except typer.Abort:
        stderr_console().print("error: interrupted; nothing was written", markup=False)
        code = 130
    sys.exit(code if isinstance(code, int) else 0)
