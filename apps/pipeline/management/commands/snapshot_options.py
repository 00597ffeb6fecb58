from apps.pipeline.cli import JobCommand


class Command(JobCommand):
    help = "Store a full option-chain snapshot per symbol with marks, greeks and IV."
    job_name = "snapshot_options"

    def add_job_arguments(self, parser) -> None:
        parser.add_argument(
            "--risk-free-rate", type=float, default=0.0, help="annual rate, e.g. 0.045"
        )

    def job_options(self, options):
        return {"risk_free_rate": options["risk_free_rate"]}
