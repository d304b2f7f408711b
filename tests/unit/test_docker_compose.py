"""Static checks of the production-like Docker path: docker-compose.yml and docker/.

No Docker engine is needed: the files are parsed and their properties asserted, so a service
that loses its healthcheck, a secret that gets a literal value or a port published on every
interface fails here before anyone runs `docker compose up`.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
DAGSTER_DOCKERFILE = REPO_ROOT / "docker" / "Dockerfile"
DAGSTER_YAML = REPO_ROOT / "docker" / "dagster.yaml"
POSTGRES_INIT_DIR = REPO_ROOT / "docker" / "postgres-init"
POSTGRES_INIT_SCRIPT = POSTGRES_INIT_DIR / "01-init.sh"
DOCKERIGNORE = REPO_ROOT / ".dockerignore"

REQUIRED_SERVICES = {"postgres", "redis", "dagster-webserver", "dagster-daemon", "superset-init", "superset"}
DAGSTER_SERVICES = ("dagster-webserver", "dagster-daemon")
SUPERSET_SERVICES = ("superset-init", "superset")
SUPERSET_BASE_IMAGE = "apache/superset:6.1.0"
WAREHOUSE_SCHEMAS = ("raw", "staging", "intermediate", "marts", "quarantine", "ops")

SECRET_NAME = re.compile(r"PASSWORD|SECRET|KEY|TOKEN", re.IGNORECASE)
# The whole value is one `${VAR}` or `${VAR:?message}` (`${VAR?message}`): no literal, no default.
ENV_ONLY_VALUE = re.compile(r"^\$\{[A-Za-z_][A-Za-z0-9_]*(:?\?[^}]*)?\}$")
# user:password@ in a URL; either part may be a ${...} interpolation (which can hold ':' or spaces)
URL_CREDENTIALS = re.compile(r"://(?P<user>\$\{[^}]*\}|[^:/@\s]+):(?P<password>\$\{[^}]*\}|[^@\s/]+)@")


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compose() -> dict:
    assert COMPOSE_FILE.is_file(), f"{COMPOSE_FILE} is missing"
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict) and isinstance(document.get("services"), dict)
    return document


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


def environment(service: dict) -> dict[str, str | None]:
    """A service's `environment`, list or mapping form, as a mapping."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        pairs = (item.split("=", 1) if "=" in item else (item, None) for item in env)
        return dict(pairs)
    return {str(key): (None if value is None else str(value)) for key, value in env.items()}


def volume_mounts(service: dict) -> list[dict]:
    """A service's `volumes`, short or long syntax, as long-syntax mappings."""
    mounts = []
    for entry in service.get("volumes") or []:
        if isinstance(entry, dict):
            mounts.append(entry)
            continue
        parts = entry.split(":")
        source, target = (parts[0], parts[1]) if len(parts) > 1 else (None, parts[0])
        is_path = source is not None and (source.startswith((".", "/", "~")) or "$" in source)
        kind = "bind" if is_path else "volume"
        mounts.append({"type": kind, "source": source, "target": target, "read_only": parts[2:] == ["ro"]})
    return mounts


def named_volume_at(service: dict, target: str) -> str | None:
    for mount in volume_mounts(service):
        if mount.get("type") == "volume" and mount.get("target") == target and mount.get("source"):
            return mount["source"]
    return None


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    logical, current = [], ""
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    if current:
        logical.append(current)
    instructions = []
    for line in logical:
        keyword, _, arguments = line.partition(" ")
        instructions.append((keyword.upper(), " ".join(arguments.split())))
    return instructions


def superset_base_image(service: dict) -> str:
    """The image a Superset service runs, or the FROM image it is built on."""
    build = service.get("build")
    if build is None:
        return service["image"]
    if isinstance(build, str):
        build = {"context": build}
    if "dockerfile_inline" in build:
        text = build["dockerfile_inline"]
    else:
        text = (COMPOSE_FILE.parent / build.get("context", ".") / build.get("dockerfile", "Dockerfile")).read_text()
    froms = [args for keyword, args in dockerfile_instructions(text) if keyword == "FROM"]
    assert len(froms) == 1, f"expected one FROM in the Superset build, got {froms}"
    return froms[0].split()[0]


def is_long_running(service: dict) -> bool:
    return str(service.get("restart", "no")).lower() != "no"


# --------------------------------------------------------------------------------------------
# docker-compose.yml
# --------------------------------------------------------------------------------------------
def test_required_services_exist(services):
    missing = REQUIRED_SERVICES - services.keys()
    assert not missing, f"services missing from docker-compose.yml: {sorted(missing)}"


def test_only_superset_init_is_one_shot(services):
    one_shot = {name for name, service in services.items() if not is_long_running(service)}
    assert one_shot == {"superset-init"}
    assert services["superset-init"].get("restart") == "no"


@pytest.mark.parametrize(
    ("name", "probe"),
    [
        ("postgres", "pg_isready"),
        ("redis", "redis-cli ping"),
        ("dagster-webserver", "http://localhost:3000/server_info"),
        ("dagster-daemon", "dagster-daemon liveness-check"),
        ("superset", "http://localhost:8088/health"),
    ],
)
def test_long_running_services_have_the_expected_healthcheck(services, name, probe):
    healthcheck = services[name].get("healthcheck")
    assert healthcheck, f"{name} has no healthcheck"
    assert not healthcheck.get("disable", False), f"{name} disables its healthcheck"
    test = healthcheck.get("test")
    command = " ".join(test) if isinstance(test, list) else str(test)
    assert probe in command, f"{name} healthcheck {command!r} does not probe {probe!r}"


def test_every_long_running_service_has_a_healthcheck(services):
    without = [
        name
        for name, service in services.items()
        if is_long_running(service)
        and (
            not service.get("healthcheck")
            or service["healthcheck"].get("disable")
            or service["healthcheck"].get("test") in (None, ["NONE"], "NONE")
        )
    ]
    assert not without, f"long-running services without a healthcheck: {without}"


def test_postgres_health_is_checked_over_tcp(services):
    # The image's first-start init runs on a socket-only server: only a TCP probe waits for it.
    test = services["postgres"]["healthcheck"]["test"]
    command = " ".join(test) if isinstance(test, list) else test
    assert re.search(r"-h\s+(127\.0\.0\.1|localhost)\b", command), command


def test_named_volumes_are_declared_and_used(compose, services):
    declared = set((compose.get("volumes") or {}).keys())
    used = {
        mount["source"]
        for service in services.values()
        for mount in volume_mounts(service)
        if mount.get("type") == "volume" and mount.get("source")
    }
    assert used <= declared, f"volumes used but not declared: {sorted(used - declared)}"
    assert declared <= used, f"volumes declared but never mounted: {sorted(declared - used)}"

    assert named_volume_at(services["postgres"], "/var/lib/postgresql/data"), "postgres data is not on a named volume"
    assert named_volume_at(services["superset"], "/app/superset_home"), "superset home is not on a named volume"
    for name in DAGSTER_SERVICES:
        assert named_volume_at(services[name], "/opt/dagster/home/storage"), f"{name}: dagster storage volume"
        assert named_volume_at(services[name], "/opt/dagster/landing"), f"{name}: landing volume"
    # webserver and daemon share them (compute logs written by runs in the daemon show in the UI)
    assert named_volume_at(services["dagster-webserver"], "/opt/dagster/home/storage") == named_volume_at(
        services["dagster-daemon"], "/opt/dagster/home/storage"
    )


def test_superset_runs_6_1_0(services):
    for name in SUPERSET_SERVICES:
        assert superset_base_image(services[name]) == SUPERSET_BASE_IMAGE, name
        image = services[name].get("image", "")
        if image:
            assert image.endswith(":6.1.0"), f"{name} image tag {image!r} is not 6.1.0"


def test_superset_waits_for_a_successful_init(services):
    depends_on = services["superset"].get("depends_on")
    assert isinstance(depends_on, dict), "superset must use the long depends_on form with conditions"
    assert depends_on.get("superset-init", {}).get("condition") == "service_completed_successfully"
    assert depends_on.get("redis", {}).get("condition") == "service_healthy"
    assert depends_on.get("postgres", {}).get("condition") == "service_healthy"
    init_depends_on = services["superset-init"].get("depends_on") or {}
    assert init_depends_on.get("postgres", {}).get("condition") == "service_healthy"


def test_superset_init_migrates_creates_admin_and_initialises_in_order(services):
    command = services["superset-init"]["command"]
    script = " ".join(command) if isinstance(command, list) else command
    steps = [script.find(step) for step in ("superset db upgrade", "superset fab create-admin", "superset init")]
    assert -1 not in steps, script
    assert steps == sorted(steps), f"steps out of order in {script!r}"
    # the admin password reaches the command from the container environment, never its command line
    assert "--password" not in script and "PASSWORD" not in script, script
    env = environment(services["superset-init"])
    assert env.get("FLASK_FAB_CREATE_ADMIN_PASSWORD", "").startswith("${SUPERSET_ADMIN_PASSWORD:?")


def test_superset_reads_the_project_config_in_production_mode(services):
    for name in SUPERSET_SERVICES:
        env = environment(services[name])
        assert env.get("SUPERSET_ENV") == "production", name
        config_path = env.get("SUPERSET_CONFIG_PATH")
        assert config_path, f"{name} does not set SUPERSET_CONFIG_PATH"
        mounts = [m for m in volume_mounts(services[name]) if m.get("target") == config_path]
        assert mounts, f"{name}: nothing is mounted at SUPERSET_CONFIG_PATH {config_path}"
        assert mounts[0].get("type") == "bind"
        assert Path(mounts[0]["source"]).name == "superset_config.py"
        assert mounts[0].get("read_only"), f"{name}: superset_config.py should be mounted read-only"
        for variable in ("SUPERSET_SECRET_KEY", "SUPERSET_METADATA_URL", "SUPERSET_CACHE_REDIS_URL"):
            assert env.get(variable), f"{name} does not set {variable}"
        assert env["SUPERSET_CACHE_REDIS_URL"].startswith("redis://redis:")


def test_superset_serves_with_gunicorn(services):
    command = services["superset"].get("command")
    text = " ".join(command) if isinstance(command, list) else str(command)
    assert text.startswith("gunicorn"), text
    assert "superset.app:create_app()" in text


def test_dagster_services_build_from_docker_dockerfile(services):
    for name in DAGSTER_SERVICES:
        build = services[name].get("build")
        assert isinstance(build, dict), f"{name} must be built (build: with context and dockerfile)"
        context = (COMPOSE_FILE.parent / build.get("context", ".")).resolve()
        assert context == REPO_ROOT, f"{name} build context is {context}, not the repo root"
        assert (context / build.get("dockerfile", "Dockerfile")).resolve() == DAGSTER_DOCKERFILE
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_dagster_service_commands(services):
    webserver = services["dagster-webserver"]["command"]
    daemon = services["dagster-daemon"]["command"]
    assert webserver[:1] == ["dagster-webserver"]
    assert {"-h", "0.0.0.0", "-p", "3000"} <= set(webserver)
    assert webserver[webserver.index("-w") + 1] == "workspace.yaml"
    assert daemon[:2] == ["dagster-daemon", "run"]
    assert (REPO_ROOT / "workspace.yaml").is_file()


def _all_environments(services: dict) -> list[tuple[str, str, str | None]]:
    found = []
    for name, service in services.items():
        for key, value in environment(service).items():
            found.append((name, key, value))
        build = service.get("build")
        if isinstance(build, dict):
            args = build.get("args") or {}
            if isinstance(args, list):
                args = dict(item.split("=", 1) if "=" in item else (item, None) for item in args)
            for key, value in args.items():
                found.append((f"{name} (build arg)", str(key), None if value is None else str(value)))
    return found


def test_secret_looking_values_come_only_from_env(services):
    checked, offenders = 0, []
    for name, key, value in _all_environments(services):
        if not SECRET_NAME.search(key):
            continue
        checked += 1
        if value is None or not ENV_ONLY_VALUE.match(value):
            offenders.append(f"{name}: {key}={value!r}")
    assert not offenders, "secrets must be a bare ${VAR} or ${VAR:?...} interpolation:\n" + "\n".join(offenders)
    # Guard against a vacuous pass (e.g. environment blocks renamed away).
    assert checked >= 8, f"only {checked} secret-looking variables found"


@pytest.mark.parametrize(
    "variable",
    [
        "POSTGRES_PASSWORD",
        "ECOM_PG_PASSWORD",
        "DAGSTER_PG_PASSWORD",
        "SUPERSET_DB_PASSWORD",
        "BI_READER_PASSWORD",
        "SUPERSET_SECRET_KEY",
        "SUPERSET_ADMIN_PASSWORD",
    ],
)
def test_each_secret_is_required_from_env_with_no_default(variable):
    text = COMPOSE_FILE.read_text()
    uses = re.findall(r"\$\{" + variable + r"([^}]*)\}", text)
    assert uses, f"{variable} is never read from .env"
    for suffix in uses:
        assert suffix.startswith((":?", "?")), f"${{{variable}{suffix}}} is not required"


def test_credentials_in_urls_come_from_env(services):
    urls = 0
    for name, key, value in _all_environments(services):
        for match in URL_CREDENTIALS.finditer(value or ""):
            urls += 1
            password = match.group("password")
            assert ENV_ONLY_VALUE.match(password), f"{name}: {key} embeds a literal password"
    assert urls >= 2  # WAREHOUSE_URL and SUPERSET_METADATA_URL


def test_published_ports_bind_localhost_only(services):
    published = 0
    for name, service in services.items():
        for port in service.get("ports") or []:
            published += 1
            if isinstance(port, dict):
                assert port.get("host_ip") == "127.0.0.1", f"{name} publishes {port} beyond localhost"
            else:
                assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port!r} beyond localhost"
    assert published >= 2
    assert services["dagster-webserver"].get("ports") and services["superset"].get("ports")
    for internal in ("postgres", "redis"):
        assert not services[internal].get("ports"), f"{internal} should not be published"


def test_postgres_mounts_the_init_scripts_and_gets_their_variables(services):
    postgres = services["postgres"]
    assert str(postgres["image"]).startswith("postgres:16")
    mounts = [m for m in volume_mounts(postgres) if m.get("target") == "/docker-entrypoint-initdb.d"]
    assert mounts and mounts[0].get("type") == "bind"
    assert (COMPOSE_FILE.parent / mounts[0]["source"]).resolve() == POSTGRES_INIT_DIR
    required = set(re.findall(r'"\$\{([A-Z_]+):\?', POSTGRES_INIT_SCRIPT.read_text()))
    assert {"BI_READER_PASSWORD", "ECOM_PG_PASSWORD"} <= required
    env = environment(postgres)
    assert required <= env.keys(), f"postgres service lacks {sorted(required - env.keys())}"


# --------------------------------------------------------------------------------------------
# docker/Dockerfile, docker/dagster.yaml, .dockerignore
# --------------------------------------------------------------------------------------------
def test_dagster_dockerfile_installs_from_the_lock_in_two_layers():
    assert DAGSTER_DOCKERFILE.is_file()
    instructions = dockerfile_instructions(DAGSTER_DOCKERFILE.read_text())
    froms = [args for keyword, args in instructions if keyword == "FROM"]
    assert froms and froms[0].startswith("python:3.11-slim")

    def index(predicate) -> int:
        for position, (keyword, args) in enumerate(instructions):
            if predicate(keyword, args):
                return position
        raise AssertionError("instruction not found")

    copy_lock = index(lambda k, a: k == "COPY" and "uv.lock" in a and "pyproject.toml" in a)
    deps_only = index(lambda k, a: k == "RUN" and "uv sync --frozen --no-dev --no-install-project" in a)
    copy_all = index(lambda k, a: k == "COPY" and a.split()[-2:] == [".", "."])
    full_sync = index(lambda k, a: k == "RUN" and re.search(r"uv sync --frozen --no-dev(?! --no-install-project)", a) is not None)
    parse = index(lambda k, a: k == "RUN" and "dbt parse" in a)
    assert copy_lock < deps_only < copy_all < full_sync < parse
    assert index(lambda k, a: k == "RUN" and re.search(r"pip install .*\buv\b", a) is not None) < deps_only
    # every uv sync is frozen: the image never re-resolves the lock
    for keyword, args in instructions:
        if keyword == "RUN" and "uv sync" in args:
            assert all("--frozen" in part for part in args.split("uv sync")[1:]), args


def test_dagster_dockerfile_bakes_the_dbt_manifest_and_runs_as_non_root():
    instructions = dockerfile_instructions(DAGSTER_DOCKERFILE.read_text())
    parse = next(args for keyword, args in instructions if keyword == "RUN" and "dbt parse" in args)
    assert "--project-dir dbt_project" in parse and "--profiles-dir dbt_project" in parse
    for variable in ("ECOM_PG_HOST", "ECOM_PG_USER", "ECOM_PG_PASSWORD", "ECOM_PG_DATABASE"):
        assert variable in parse, f"dbt parse step does not set {variable}"
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users, "the image runs as root"
    build_args = dict(args.split("=", 1) for keyword, args in instructions if keyword == "ARG" and "=" in args)
    user = re.sub(r"\$\{(\w+)\}", lambda m: build_args.get(m.group(1), m.group(0)), users[-1]).split(":")[0]
    assert user not in ("root", "0"), f"the image runs as {user}"
    env_lines = " ".join(args for keyword, args in instructions if keyword == "ENV")
    assert "DAGSTER_HOME=/opt/dagster/home" in env_lines
    copies = [args for keyword, args in instructions if keyword == "COPY"]
    assert any("docker/dagster.yaml" in args and args.endswith("/opt/dagster/home/dagster.yaml") for args in copies)


def test_dagster_yaml_uses_postgres_from_env_and_the_queue(services):
    config = yaml.safe_load(DAGSTER_YAML.read_text())
    postgres_db = config["storage"]["postgres"]["postgres_db"]
    env_names = set()
    for field in ("username", "password", "hostname", "db_name"):
        value = postgres_db[field]
        assert isinstance(value, dict) and set(value) == {"env"}, f"storage {field} must come from env"
        env_names.add(value["env"])
    if isinstance(postgres_db.get("port"), dict):
        env_names.add(postgres_db["port"]["env"])
    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["run_launcher"]["class"] == "DefaultRunLauncher"
    for name in DAGSTER_SERVICES:
        env = environment(services[name])
        assert env_names <= env.keys(), f"{name} lacks {sorted(env_names - env.keys())}"
        assert env.get("DAGSTER_HOME") == "/opt/dagster/home"


def test_dagster_yaml_is_a_valid_instance_config():
    config_module = pytest.importorskip("dagster._core.instance.config")
    values, _ = config_module.dagster_instance_config(str(DAGSTER_YAML.parent), DAGSTER_YAML.name)
    assert "postgres" in values["storage"]


def test_postgres_init_script_creates_the_databases_schemas_and_read_only_role():
    assert POSTGRES_INIT_SCRIPT.is_file()
    sql = POSTGRES_INIT_SCRIPT.read_text()
    for database in ("warehouse", "dagster", "superset"):
        assert re.search(rf"CREATE DATABASE {database}\b", sql), database
    for schema in WAREHOUSE_SCHEMAS:
        assert re.search(rf"CREATE SCHEMA {schema}\b", sql), schema
    assert re.search(r"CREATE ROLE bi_reader LOGIN PASSWORD :'bi_reader_password'", sql)
    assert "GRANT USAGE ON SCHEMA marts TO bi_reader" in sql
    assert re.search(r"ALTER DEFAULT PRIVILEGES FOR ROLE \S+ IN SCHEMA marts\s+GRANT SELECT ON TABLES TO bi_reader", sql)
    # bi_reader gets nothing outside marts
    for schema in set(WAREHOUSE_SCHEMAS) - {"marts"}:
        assert not re.search(rf"ON (SCHEMA|ALL TABLES IN SCHEMA) {schema}\b[^;]*TO bi_reader", sql), schema
    assert not re.search(r"GRANT (INSERT|UPDATE|DELETE|TRUNCATE|ALL)[^;]*TO bi_reader", sql)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash not available")
def test_postgres_init_script_is_valid_bash():
    result = subprocess.run(["bash", "-n", str(POSTGRES_INIT_SCRIPT)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_dockerignore_keeps_local_state_and_secrets_out_of_the_image():
    assert DOCKERIGNORE.is_file()
    patterns = {line.strip() for line in DOCKERIGNORE.read_text().splitlines() if line.strip() and not line.startswith("#")}
    for required in (".git", ".local", ".env", "dbt_project/target", "dbt_project/logs"):
        assert required in patterns, f".dockerignore lacks {required}"
    assert patterns & {".venv*", ".venv"}, ".dockerignore lacks .venv*"
    assert patterns & {"__pycache__", "**/__pycache__"}, ".dockerignore lacks __pycache__"
