from django.core.management.base import CommandError

from apps.portfolio.management.commands._files import read_json
from apps.portfolio.services import PortfolioFormatError, watchlists_import
from optionshelper.commands import ProductCommand


class Command(ProductCommand):
    help = 'Create or replace watchlists from {"watchlists": {"NAME": ["SYM", ...]}}.'

    def add_arguments(self, parser) -> None:
        parser.add_argument("file")

    def handle(self, *args, **options) -> None:
        data = read_json(options["file"])
        try:
            summary = watchlists_import(data=data)
        except PortfolioFormatError as exc:
            raise CommandError(
                f"{options['file']}: {exc}; nothing was changed", returncode=2
            ) from None
        for name, count in summary.items():
            self.stdout.write(f"watchlist {name}: {count} symbols")
