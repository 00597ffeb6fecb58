"""WSGI entry point (``gunicorn optionshelper.wsgi``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "optionshelper.settings")
application = get_wsgi_application()
