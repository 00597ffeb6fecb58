import json
from pathlib import Path

from django.core.management.base import CommandError

from apps.portfolio.services import portfolio_export
from optionshelper.commands import ProductCommand


class Command(ProductCommand):
    help = "Print (or write) the stored portfolio in the portfolio JSON format."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--output", "-o", help="write to this file instead of stdout")

    def handle(self, *args, **options) -> None:
        target = Path(options["output"]) if options["output"] else None
        if target is not None and target.is_dir():
            raise CommandError(f"{target}: is a directory; give a file name", returncode=2)
        if target is not None and not target.parent.is_dir():
            raise CommandError(f"{target}: folder {target.parent} does not exist", returncode=2)
        text = json.dumps(portfolio_export(), indent=2)
        if target is not None:
            try:
                target.write_text(text + "\n", encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"{target}: cannot write ({exc.strerror or exc})") from None
            self.stdout.write(f"wrote {options['output']}")
        else:
            self.stdout.write(text)
