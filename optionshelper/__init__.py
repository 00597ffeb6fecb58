"""The options-helper Django project: settings, URLs and the DuckDB warehouse connection layer."""

__version__ = "0.1.0"
