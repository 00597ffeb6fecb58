from django.core.management.base import CommandError

from apps.portfolio.management.commands._files import read_json
from apps.portfolio.services import PortfolioFormatError, portfolio_import
from optionshelper.commands import ProductCommand


class Command(ProductCommand):
    help = "Replace the stored portfolio with a portfolio JSON file (rejected whole if malformed)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("file")

    def handle(self, *args, **options) -> None:
        data = read_json(options["file"])
        try:
            summary = portfolio_import(data=data)
        except PortfolioFormatError as exc:
            raise CommandError(
                f"{options['file']}: {exc}; nothing was changed", returncode=2
            ) from None
        self.stdout.write(f"imported {summary['positions']} positions ({summary['legs']} legs)")
