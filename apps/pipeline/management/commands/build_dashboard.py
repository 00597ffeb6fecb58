from apps.pipeline.cli import JobCommand


class Command(JobCommand):
    help = "Build the portal home page's view model from the newest briefing and the ledger."
    job_name = "build_dashboard"
    uses_provider = False
