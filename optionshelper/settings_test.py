"""Settings for the test suite: the production settings with what plain-http tests need.

pytest-django imports settings before any conftest runs, so the variables the settings require are
set here (and inherited by the child processes the multi-process tests start). DEBUG stays off
unless ``DJANGO_DEBUG=1`` is in the environment, as in production.
"""

from __future__ import annotations

import hashlib
import os
import tempfile

os.environ.setdefault("DJANGO_SECRET_KEY", "pytest-only-secret-key-" + "x" * 40)
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")

from optionshelper.settings import *  # noqa: E402,F403

# The test client and the browser tests' live server speak plain http and need no hashed manifest.
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Test processes that may run at once must not share a page cache: other checkouts' suites, and the
# workers of one ``pytest -n`` run (each clears its cache). Child processes inherit the worker's
# environment and so compute the same place. The file cache lives outside ./data (its entries are
# keyed by each test's own generation counter).
_RUN_KEY = hashlib.sha1(str(BASE_DIR).encode()).hexdigest()[:8]  # noqa: F405
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
if CACHES["pages"]["BACKEND"].endswith("FileBasedCache"):  # noqa: F405
    CACHES["pages"]["LOCATION"] = os.path.join(  # noqa: F405
        tempfile.gettempdir(), f"optionshelper-test-pages-{_RUN_KEY}-{_WORKER}"
    )
else:
    for _alias in ("default", "pages"):
        CACHES[_alias]["KEY_PREFIX"] = f"{_alias}-{_WORKER}"  # noqa: F405

# A read waits its turn behind other processes' writes; on two busy cores that queue can outlast the
# production bound (10 s) without anything being wrong. Tests of the busy path set a short bound.
if "OPTIONS_HELPER_WAREHOUSE_READ_TIMEOUT" not in os.environ:
    WAREHOUSE_READ_TIMEOUT_S = 120

# Tests create and log in users constantly; the production hasher is slow on purpose (PBKDF2, about
# a quarter second per hash here). Production settings keep it.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# django-q2's guard loop calls the scheduler once its counter of cycle lengths reaches 30 s; a test
# cluster started with a 30 s cycle runs the scheduler on its first cycle instead of after 30 s.
if os.environ.get("OPTIONS_HELPER_TEST_Q_GUARD_CYCLE"):
    Q_CLUSTER["guard_cycle"] = float(os.environ["OPTIONS_HELPER_TEST_Q_GUARD_CYCLE"])  # noqa: F405
