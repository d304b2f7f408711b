"""Re-encrypt the secrets Superset stores (database passwords, ...) from PREVIOUS_SECRET_KEY to SECRET_KEY.

`superset re-encrypt-secrets` does this, but in Superset 6.1.0 it finds no encrypted column (it looks
at Flask-SQLAlchemy's metadata, while the models are declared on Flask-AppBuilder's), re-encrypts
nothing and exits 0: apache/superset#39391, fixed upstream by #39390. This runs the same migration
over the models' tables. Run it with Superset's Python and the environment of superset_config.py,
SUPERSET_PREVIOUS_SECRET_KEY included (README, "Rotating Superset's secret key").
"""

import sys

from flask_appbuilder import Model
from sqlalchemy_utils import EncryptedType
from superset.app import create_app
from superset.utils.encrypt import SecretsMigrator


class ModelSecretsMigrator(SecretsMigrator):
    def discover_encrypted_fields(self) -> dict:
        found = {}
        for table_name, table in Model.metadata.tables.items():
            columns = {name: column.type for name, column in table.columns.items() if isinstance(column.type, EncryptedType)}
            if columns:
                found[table_name] = columns
        return found


def main() -> int:
    app = create_app()
    with app.app_context():
        previous_key = app.config.get("PREVIOUS_SECRET_KEY")
        if not previous_key:
            print("set SUPERSET_PREVIOUS_SECRET_KEY to the key the secrets are encrypted with now", file=sys.stderr)
            return 2
        migrator = ModelSecretsMigrator(previous_secret_key=previous_key)
        columns = migrator.discover_encrypted_fields()
        migrator.run()
        print(f"re-encrypted with SECRET_KEY: {', '.join(f'{t}.{c}' for t, cs in sorted(columns.items()) for c in cs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
