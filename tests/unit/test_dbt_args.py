from orchestration.dbt_cli import DbtSelection, dbt_build_args, pricing_stamp, rebuild_in_full, selection_args


def test_default_build_builds_everything():
    assert dbt_build_args() == ["build"]
    assert not DbtSelection().narrows


def test_full_refresh():
    assert dbt_build_args(full_refresh=True) == ["build", "--full-refresh"]


def test_a_launchpad_selection_becomes_dbt_s_select_and_exclude():
    selection = DbtSelection(select="marts.kpi_daily+  tag:daily", exclude="cohort_retention")
    assert selection.narrows
    assert dbt_build_args(full_refresh=True, selection=selection) == [
        "build",
        "--full-refresh",
        "--select",
        "marts.kpi_daily+",
        "tag:daily",
        "--exclude",
        "cohort_retention",
    ]


def test_blank_selection_fields_add_no_flags():
    assert selection_args(DbtSelection(select="  ", exclude="")) == []
    assert not DbtSelection(select=" ").narrows
    assert selection_args(DbtSelection(exclude="kpi_daily")) == ["--exclude", "kpi_daily"]


def test_a_large_delta_or_nothing_built_yet_means_a_full_rebuild():
    assert rebuild_in_full(new_lines=10, built_lines=0, max_incremental_share=0.2)
    assert rebuild_in_full(new_lines=400_000, built_lines=1_000_000, max_incremental_share=0.2)
    assert not rebuild_in_full(new_lines=15_000, built_lines=5_000_000, max_incremental_share=0.2)
    assert not rebuild_in_full(new_lines=200_000, built_lines=1_000_000, max_incremental_share=0.2)


def test_the_pricing_stamp_changes_with_the_reporting_currency_and_the_rates():
    """A build whose stamp differs from the built lines' rebuilds in full (orchestration/dbt_assets.py)."""
    stamps = {pricing_stamp(currency, digest) for currency in ("EUR", "GBP") for digest in ("a1", "b2")}
    assert len(stamps) == 4
    assert pricing_stamp("GBP", "a1") == pricing_stamp("GBP", "a1")
