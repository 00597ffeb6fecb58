from apps.pipeline.cli import JobCommand


class Command(JobCommand):
    help = "Write the daily briefing (Markdown + JSON) under $DATA_DIR/reports/daily/."
    job_name = "build_briefing"
    uses_provider = False

    def print_result(self, execution) -> None:
        super().print_result(execution)
        if execution.result and execution.result.output:
            self.stdout.write(f"  markdown: {execution.result.output['markdown_path']}")
            self.stdout.write(f"  json:     {execution.result.output['json_path']}")
