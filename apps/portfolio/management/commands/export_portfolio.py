import json
from pathlib import Path

from django.core.management.base import BaseCommand

from apps.portfolio.services import portfolio_export


class Command(BaseCommand):
    help = "Print (or write) the stored portfolio in the portfolio JSON format."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--output", "-o", help="write to this file instead of stdout")

    def handle(self, *args, **options) -> None:
        text = json.dumps(portfolio_export(), indent=2)
        if options["output"]:
            Path(options["output"]).write_text(text + "\n", encoding="utf-8")
            self.stdout.write(f"wrote {options['output']}")
        else:
            self.stdout.write(text)
