"""What the local stack's modules build: where the embedded PostgreSQL keeps its data."""

from orchestration.settings import load_settings


def test_as_root_the_postgres_data_lives_in_the_service_directory(monkeypatch, tmp_path):
    monkeypatch.delenv("WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("ECOM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ECOM_PG_SERVICE_DIR", str(tmp_path / "service"))
    monkeypatch.setattr("os.geteuid", lambda: 0)
    as_root = load_settings().pgdata_dir
    assert as_root.parent == tmp_path / "service" / "data"
    assert as_root.name.startswith("home-")
    monkeypatch.setenv("ECOM_HOME", str(tmp_path / "other" / "home"))
    assert load_settings().pgdata_dir != as_root, "two stacks, two clusters"
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    assert load_settings().pgdata_dir == tmp_path / "other" / "home" / "pg"
