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
from labelme_sam2.cli import download, extract, render, strobe, track
from labelme_sam2.errors import UserError

PLUGIN_GROUP = "labelme_sam2.commands"


class Command(Protocol):
    """A command module: its name, its parser, its run (an exit code)."""

    NAME: str

    def add_parser(self, commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None: ...

    def run(self, args: argparse.Namespace) -> int: ...


BUILT_IN: tuple[Command, ...] = (track, render, strobe, extract)
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


def all_commands() -> list[Command]:
    return [*BUILT_IN, *installed_plugins(), *LAST]


def installed_plugins() -> list[Command]:
    """Every installed command plugin; one that fails to load is named and left out, so the
    other commands still work."""
    plugins = []
    for entry in entry_points(group=PLUGIN_GROUP):
        try:
            plugins.append(entry.load())
        except (ImportError, AttributeError) as error:
            print(
                f"labelme-sam2: warning: command {entry.name!r} not loaded ({error})",
                file=sys.stderr,
            )
    return plugins


def main(argv: Sequence[str] | None = None) -> int:
    commands = all_commands()
    args = build_parser(commands).parse_args(argv)
    by_name = {command.NAME: command for command in commands}
    try:
        return by_name[args.command].run(args)
    except UserError as error:
        print(f"labelme-sam2: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("labelme-sam2: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
