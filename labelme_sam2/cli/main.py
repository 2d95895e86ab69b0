"""Entry point: a table of commands, each a module that owns its parser and its run; user
errors become one line.

Commands from other packages (the Label Studio backend's `serve` and `worker`) come through
the `labelme_sam2.commands` entry point group, so this package never imports them and a
broken optional install costs only its own commands.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Protocol

from labelme_sam2 import __version__
from labelme_sam2.cli import download, extract, gui, render, strobe, track
from labelme_sam2.cli.console import INTERRUPTED, USER_ERROR, exit_now_if_threads_left, warn
from labelme_sam2.cli.progress_json import warning_event, write_event
from labelme_sam2.errors import UserError

PLUGIN_GROUP = "labelme_sam2.commands"


class Command(Protocol):
    """A command module: its name, its parser, its run (an exit code)."""

    NAME: str

    def add_parser(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


BUILT_IN: tuple[Command, ...] = (track, render, strobe, extract, gui)
LAST: tuple[Command, ...] = (download,)  # after the plugins in --help


def build_parser(commands: Sequence[Command]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="labelme-sam2",
        description="Propagate LabelMe boxes and clicks through a video with SAM 2.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in commands:
        command.add_parser(subparsers)
    return parser


def all_commands(problems: list[str] | None = None) -> list[Command]:
    return [*BUILT_IN, *installed_plugins(problems), *LAST]


def installed_plugins(problems: list[str] | None = None) -> list[Command]:
    """Every installed command plugin; one that fails to load is named (printed, or added to
    `problems`) and left out, so the other commands still work."""
    plugins = []
    for entry in entry_points(group=PLUGIN_GROUP):
        try:
            plugins.append(entry.load())
        except (ImportError, AttributeError) as error:
            problem = f"command {entry.name!r} not loaded ({error})"
            if problems is None:
                warn(problem)
            else:
                problems.append(problem)
    return plugins


def main(argv: Sequence[str] | None = None) -> int:
    plugin_problems: list[str] = []
    commands = all_commands(plugin_problems)
    try:
        args = build_parser(commands).parse_args(argv)
    except SystemExit:  # --help, or a command line argparse refused (as text, exit code 2)
        for problem in plugin_problems:
            warn(problem)
        raise
    # Known only now: whether stderr is for a program (`track --progress json`)
    for problem in plugin_problems:
        if getattr(args, "progress", None) == "json":
            write_event(sys.stderr, warning_event(problem))
        else:
            warn(problem)
    by_name = {command.NAME: command for command in commands}
    try:
        return by_name[args.command].run(args)
    except UserError as error:
        print(f"labelme-sam2: error: {error}", file=sys.stderr)
        return USER_ERROR
    except KeyboardInterrupt:
        print("labelme-sam2: interrupted", file=sys.stderr)
        exit_now_if_threads_left(INTERRUPTED)
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
