from apps.pipeline.cli import JobCommand


class Command(JobCommand):
    help = "Ingest option contracts and daily option bars (resumes where the last run stopped)."
    job_name = "ingest_options_bars"

    def add_job_arguments(self, parser) -> None:
        parser.add_argument(
            "--lookback-days", type=int, default=30, help="bar history on first fetch"
        )

    def job_options(self, options):
        return {"lookback_days": options["lookback_days"]}
