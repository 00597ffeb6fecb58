from apps.pipeline.cli import JobCommand


class Command(JobCommand):
    help = "Derived volatility and positioning metrics per symbol and snapshot date."
    job_name = "compute_derived"
    uses_provider = False

    def add_job_arguments(self, parser) -> None:
        parser.add_argument(
            "--all-dates",
            action="store_true",
            help="(re)compute every stored snapshot date up to --as-of, oldest first",
        )

    def job_options(self, options):
        return {"all_dates": options["all_dates"]}
