from apps.pipeline.cli import JobCommand, UsageError


class Command(JobCommand):
    help = "Store a full option-chain snapshot per symbol with marks, greeks and IV."
    job_name = "snapshot_options"

    def add_job_arguments(self, parser) -> None:
        parser.add_argument(
            "--risk-free-rate", type=float, default=0.0, help="annual rate, e.g. 0.045"
        )

    def job_options(self, options):
        rate = options["risk_free_rate"]
        if not -0.05 <= rate <= 0.25:
            raise UsageError("--risk-free-rate must be between -0.05 and 0.25 (a fraction, not %)")
        return {"risk_free_rate": rate}
