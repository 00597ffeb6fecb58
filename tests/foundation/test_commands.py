"""Every product command answers a usage error with one line and exit 2, and takes no abbreviated
options (optionshelper/commands.py); run as a user would, in a child process."""

from __future__ import annotations

import pytest

from tests.foundation.test_settings_security import _run


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("compute_flow", "--window", "abc"), "argument --window: invalid int value: 'abc'"),
        (("build_dashboard", "--force"), "unrecognized arguments: --force"),  # not --force-color
        (("db_health", "--bogus"), "unrecognized arguments: --bogus"),
        (("snapshot_options", "--for"), "unrecognized arguments: --for"),  # not --force
    ],
)
def test_a_usage_error_is_one_line_and_exit_2(tmp_path, args, expected):
    result = _run(tmp_path, "manage.py", *args, DJANGO_DEBUG="1")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"manage.py {args[0]}: usage error: {expected}" in lines[0]
    assert lines[0].endswith("(see --help)")
