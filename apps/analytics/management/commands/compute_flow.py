from apps.analytics.models import GROUP_BY_MODES
from apps.core.flow import MAX_WINDOW
from apps.pipeline.cli import JobCommand


class Command(JobCommand):
    help = "Options flow from day-over-day open-interest changes between stored snapshots."
    job_name = "compute_flow"
    uses_provider = False

    def add_job_arguments(self, parser) -> None:
        parser.add_argument("--window", type=int, default=1, help=f"pairs summed, 1..{MAX_WINDOW}")
        parser.add_argument("--group-by", default="contract", help=" | ".join(GROUP_BY_MODES))
        parser.add_argument("--persist", dest="persist", action="store_true", default=True)
        parser.add_argument("--no-persist", dest="persist", action="store_false", help="print only")
        parser.add_argument("--top", type=int, default=10, help="rows per side in the output")

    def job_options(self, options):
        return {
            "window": options["window"],
            "group_by": options["group_by"],
            "persist": options["persist"],
            "top": options["top"],
        }

    def print_result(self, execution) -> None:
        result = execution.result
        for symbol, top in (result.output.get("top") or {}).items() if result else []:
            meta = top["meta"]
            self.stdout.write(f"{symbol}  {meta['from_date']} → {meta['to_date']}")
            for kind in ("building", "unwinding"):
                for row in top[kind]:
                    self.stdout.write(
                        f"  {kind:<9} {row['row_key']:<40} ΔOI {row['delta_oi']:>10,.0f}  "
                        f"ΔOI$ {row['delta_oi_notional']:>14,.0f}"
                    )
        super().print_result(execution)
        self.stdout.write("Not financial advice.")
