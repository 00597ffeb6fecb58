from __future__ import annotations

from pathlib import Path

from django.db.backends.base.creation import BaseDatabaseCreation


class DatabaseCreation(BaseDatabaseCreation):
    """Test databases are files beside the real one; the warehouse schema is applied on demand."""

    def _test_path(self) -> Path:
        test_name = self.connection.settings_dict.get("TEST", {}).get("NAME")
        name = Path(self.connection.settings_dict["NAME"])
        return Path(test_name) if test_name else name.with_name("test_" + name.name)

    def create_test_db(self, verbosity=1, autoclobber=False, serialize=True, keepdb=False):
        path = self._test_path()
        if not keepdb:
            self._remove(path)
        self.connection.close()
        self.connection.settings_dict["NAME"] = str(path)
        return str(path)

    def destroy_test_db(self, old_database_name=None, verbosity=1, keepdb=False, suffix=None):
        self.connection.close()
        if not keepdb:
            self._remove(Path(self.connection.settings_dict["NAME"]))
        if old_database_name is not None:
            self.connection.settings_dict["NAME"] = old_database_name

    @staticmethod
    def _remove(path: Path) -> None:
        for candidate in (path, path.with_name(path.name + ".wal")):
            candidate.unlink(missing_ok=True)
