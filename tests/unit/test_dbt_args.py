from orchestration.dbt_cli import dbt_build_args, rebuild_in_full


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


def test_a_large_delta_or_nothing_built_yet_means_a_full_rebuild():
    assert rebuild_in_full(new_lines=10, built_lines=0, max_incremental_share=0.2)
    assert rebuild_in_full(new_lines=400_000, built_lines=1_000_000, max_incremental_share=0.2)
    assert not rebuild_in_full(new_lines=15_000, built_lines=5_000_000, max_incremental_share=0.2)
    assert not rebuild_in_full(new_lines=200_000, built_lines=1_000_000, max_incremental_share=0.2)
