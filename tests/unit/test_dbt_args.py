from orchestration.dbt_cli import dbt_build_args


def test_default_build_builds_everything():
    assert dbt_build_args() == ["build"]


def test_full_refresh_and_exclusions():
    assert dbt_build_args(full_refresh=True, exclude=["tag:slow", "kpi_daily"]) == [
        "build",
        "--full-refresh",
        "--exclude",
        "tag:slow",
        "kpi_daily",
    ]
