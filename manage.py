#!/usr/bin/env python
"""Django's command-line utility for options-helper."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "optionshelper.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db.utils import DatabaseError

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as exc:  # a bad environment setting: one line naming it
        sys.stderr.write(f"configuration error: {str(exc).splitlines()[0]}\n")
        sys.exit(2)
    except DatabaseError as exc:  # e.g. no metadata DB yet, or the server went away
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        sys.stderr.write(f"database error: {first} (check DATABASE_URL; run db_init)\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
