from apps.core.flow_contract import GROUP_BY_MODES, MAX_WINDOW
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
        """Per symbol: a header row, net ΔOI $ and volume $, then the top rows of each side
        (``--quiet``: the summary line only)."""
        result = execution.result
        tops = (result.output.get("top") or {}) if result else {}
        if tops and not self.quiet:
            persisted = result.output.get("persisted", True)
            self.stdout.write(
                f"window {result.output.get('window')} · group-by {result.output.get('group_by')}"
                f"{'' if persisted else ' · not persisted (--no-persist)'}"
            )
            self.stdout.write(
                f"  {'symbol':<8} {'from':<10}   {'to':<10} {'rows':>7} "
                f"{'net ΔOI $':>16} {'volume $':>16}"
            )
            for symbol, top in tops.items():
                meta = top["meta"]
                self.stdout.write(
                    f"  {symbol:<8} {meta['from_date'] or '—':<10} → {meta['to_date'] or '—':<10} "
                    f"{top.get('rows', 0):>7,} {_money(top.get('net_delta_oi_notional')):>16} "
                    f"{_money(top.get('net_volume_notional')):>16}"
                )
            self._print_tops(tops)
        super().print_result(execution)
        self.stdout.write("Not financial advice.")

    def _print_tops(self, tops: dict) -> None:
        for symbol, top in tops.items():
            rows = [(kind, row) for kind in ("building", "unwinding") for row in top[kind]]
            if not rows:
                continue
            self.stdout.write(
                f"{symbol} top rows\n  {'side':<9} {'row':<40} {'ΔOI':>10} {'ΔOI $':>16}"
            )
            for kind, row in rows:
                self.stdout.write(
                    f"  {kind:<9} {row['row_key']:<40} {row['delta_oi']:>10,.0f} "
                    f"{_money(row['delta_oi_notional']):>16}"
                )


def _money(value) -> str:
    if value is None:
        return "—"
    return f"-${abs(value):,.0f}" if value < 0 else f"${value:,.0f}"
