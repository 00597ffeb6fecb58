from apps.pipeline.cli import JobCommand


class Command(JobCommand):
    help = "Ingest daily candles per symbol (incremental; re-fetches history on a split/dividend)."
    job_name = "ingest_candles"

    def add_job_arguments(self, parser) -> None:
        parser.add_argument(
            "--lookback-days", type=int, default=400, help="history on first ingest"
        )

    def job_options(self, options):
        return {"lookback_days": options["lookback_days"]}
