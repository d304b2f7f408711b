"""Secrets stay out of Superset's event log and API, the read-only role reads the marts and nothing
more, the stack's state is its user's alone, a production start replaces the shipped admin password,
and the secret key can be rotated."""

import os
import subprocess
from pathlib import Path

import psycopg
import pytest
import requests
from psycopg import sql

from ecom_superset.bundle import load_assets
from ecom_superset.publisher import Superset

pytestmark = pytest.mark.integration
REPO_ROOT = Path(__file__).resolve().parents[2]


def api_login(stack, password: str) -> requests.Response:
    return requests.post(
        f"{stack.settings.superset_url}/api/v1/security/login",
        json={"username": stack.settings.superset_admin_user, "password": password, "provider": "db"},
        timeout=60,
    )


def test_no_password_in_supersets_event_log_metadata_or_api_after_a_publication(stack):
    secrets = [stack.settings.bi_reader_password, stack.settings.warehouse.password]
    with stack.superuser("superset") as conn:
        imports = conn.execute("select count(*) from logs where action like '%import%'").fetchone()[0]
        assert imports > 0, "no publication was logged"
        columns = conn.execute(
            "select table_name, column_name from information_schema.columns where table_schema = 'public'"
            " and data_type in ('text', 'character varying', 'json', 'jsonb')"
        ).fetchall()
        for table, column in columns:
            for secret in secrets:
                found = conn.execute(
                    sql.SQL("select count(*) from {} where strpos({}::text, %s) > 0").format(
                        sql.Identifier(table), sql.Identifier(column)
                    ),
                    (secret,),
                ).fetchone()[0]
                assert found == 0, f"a password in plain text in Superset's {table}.{column}"

    superset = Superset(stack.settings.superset_url, stack.settings.superset_admin_user, stack.settings.superset_admin_password)
    api = f"{stack.settings.superset_url}/api/v1"
    database_id = superset.id_by_uuid("database", load_assets().databases[0].uuid)
    pages = [f"{api}/database/{database_id}", f"{api}/database/{database_id}/connection"]
    total = superset.client.get(f"{api}/log/").json()["count"]
    pages += [f"{api}/log/?q=(page:{page},page_size:100)" for page in range(total // 100 + 1)]
    for url in pages:
        response = superset.client.get(url)
        assert response.ok, (url, response.status_code)
        for secret in secrets:
            assert secret not in response.text, f"a password in {url}"
    for log in stack.settings.log_dir.iterdir():
        text = log.read_text(errors="replace")
        for secret in secrets:
            assert secret not in text, f"a password in {log}"


def test_the_read_only_role_has_no_temporary_tables_no_other_database_and_a_statement_timeout(stack):
    reader = stack.settings.bi_reader
    with psycopg.connect(reader.url(), autocommit=True) as conn:
        assert conn.execute("show statement_timeout").fetchone()[0] not in ("0", "0ms")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("create temp table scratch (x int)")
    for database in ("dagster", "superset", "postgres"):
        with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
            psycopg.connect(reader.with_database(database).url()).close()


def test_the_stacks_state_is_readable_by_its_user_only(stack):
    settings = stack.settings
    # Nobody else can even look into ECOM_HOME: that keeps the Data Docs (which also copy Great
    # Expectations' public images, and which test_quality_gates rebuilds from this process) private.
    assert settings.home.stat().st_mode & 0o777 == 0o700
    # The embedded PostgreSQL's user needs nothing of ECOM_HOME: as root its data lives elsewhere.
    if os.geteuid() == 0:
        assert settings.home not in settings.pgdata_dir.parents
    open_to_others = []
    for top in (settings.log_dir, settings.run_dir, settings.landing_dir, settings.dagster_home, settings.superset_home):
        for folder, _, files in os.walk(top):
            for path in (Path(folder), *(Path(folder) / name for name in files)):
                if path.stat().st_mode & 0o077:
                    open_to_others.append(f"{path}: {path.stat().st_mode & 0o777:o}")
    assert not open_to_others, open_to_others


def test_a_production_start_replaces_the_shipped_admin_password(stack):
    assert api_login(stack, "admin").ok, "the test stack's admin should start with the shipped password"
    with stack.superuser("superset") as conn:
        shipped_hash = conn.execute(
            "select password from ab_user where username = %s", (stack.settings.superset_admin_user,)
        ).fetchone()[0]
    private_password = "a-private-admin-password"
    production = {
        **stack.env,
        **stack.settings.stack_env(),
        "SUPERSET_ENV": "production",
        "SUPERSET_SECRET_KEY": "a-private-secret-key",
        "SUPERSET_ADMIN_PASSWORD": private_password,
    }
    try:
        # What every Superset start does: a gunicorn worker, a CLI command.
        started = subprocess.run(
            [str(REPO_ROOT / ".venv-superset" / "bin" / "python"), "-c", "from superset.app import create_app; create_app()"],
            env=production,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert started.returncode == 0, started.stderr[-3000:]
        assert "still had the shipped password" in started.stderr
        assert private_password not in started.stdout + started.stderr
        assert api_login(stack, private_password).ok
        assert api_login(stack, "admin").status_code == 401
    finally:
        with stack.superuser("superset") as conn:
            conn.execute(
                "update ab_user set password = %s where username = %s", (shipped_hash, stack.settings.superset_admin_user)
            )


def test_the_secret_key_can_be_rotated_without_losing_the_stored_passwords(stack):
    superset_python = str(REPO_ROOT / ".venv-superset" / "bin" / "python")
    env = {**stack.env, **stack.settings.stack_env()}
    local_key, new_key = stack.settings.superset_secret_key, "a-new-private-secret-key"

    def stored_password() -> bytes:
        with stack.superuser("superset") as conn:
            return bytes(conn.execute("select password from dbs where database_name = 'Warehouse (marts)'").fetchone()[0])

    def re_encrypt(previous: str, current: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [superset_python, str(REPO_ROOT / "superset" / "re_encrypt_secrets.py")],
            env={**env, "SUPERSET_PREVIOUS_SECRET_KEY": previous, "SUPERSET_SECRET_KEY": current},
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=600,
        )

    def decrypted(ciphertext: bytes, key: str) -> str:
        code = (
            "import os, sys; from sqlalchemy import String; from sqlalchemy.dialects import postgresql;"
            " from sqlalchemy_utils import EncryptedType;"
            " print(EncryptedType(String, os.environ['KEY']).process_result_value(sys.stdin.buffer.read(), postgresql.dialect()))"
        )
        result = subprocess.run(
            [superset_python, "-W", "ignore", "-c", code], env={"KEY": key}, input=ciphertext, capture_output=True
        )
        return (
            result.stdout.decode().strip()
            if result.returncode == 0
            else f"not decrypted: {result.stderr.decode().strip()[-200:]}"
        )

    before = stored_password()
    assert decrypted(before, local_key) == stack.settings.bi_reader_password
    try:
        rotated = re_encrypt(previous=local_key, current=new_key)
        assert rotated.returncode == 0, rotated.stderr[-3000:]
        assert "dbs.password" in rotated.stdout
        after = stored_password()
        assert after != before
        assert decrypted(after, new_key) == stack.settings.bi_reader_password
    finally:
        restored = re_encrypt(previous=new_key, current=local_key)
        assert restored.returncode == 0, restored.stderr[-3000:]
    assert decrypted(stored_password(), local_key) == stack.settings.bi_reader_password
