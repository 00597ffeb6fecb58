"""The base of every product management command: usage errors are one line.

argparse prints the whole usage block before ``error: …`` and accepts any unambiguous prefix of an
option (``--force`` silently became Django's ``--force-color`` on a command without ``--force``).
Here a usage error is one line naming the problem and pointing at ``--help`` (exit 2), and options
must be spelt in full.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser


class ProductCommand(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        parser = super().create_parser(prog_name, subcommand, allow_abbrev=False, **kwargs)

        def one_line_error(message: str) -> None:
            if not parser.called_from_command_line:
                raise CommandError(f"Error: {message}")
            parser.exit(2, f"{parser.prog}: usage error: {message} (see --help)\n")

        parser.error = one_line_error  # type: ignore[method-assign]
        return parser
