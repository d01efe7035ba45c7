"""The decision record a user downloads from the Allocation page (JSON)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping

from riskcore.export import neutralize_records
from ui.compute import ALLOCATION_DEFAULTS


def decision_record(data, estimate, portfolio, state: Mapping) -> str:
    """Serialize what was decided and on what basis: data, settings, weights, risk shares.

    ``state`` holds the settings (session state on the page); bounds and groups are
    written as lists of records. Every string (asset names as keys included) goes through
    ``riskcore.export.neutralize_records``, so a name such as ``=HYPERLINK(...)`` stays text
    when the JSON is imported into a spreadsheet.
    """
    settings = {key: state.get(key) for key in ALLOCATION_DEFAULTS
                if key not in ("bounds_value", "groups_value")}
    record = {
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "data": {
            "source": data.source,
            "assets": list(data.prices.columns),
            "first": f"{data.prices.index[0]:%Y-%m-%d}",
            "last": f"{data.prices.index[-1]:%Y-%m-%d}",
            "periods_per_year": data.periods_per_year,
            "estimation_window": [f"{estimate.start:%Y-%m-%d}", f"{estimate.end:%Y-%m-%d}"],
        },
        "settings": settings,
        "bounds": [{"asset": a, "min": lo, "max": hi} for a, lo, hi in state["bounds_value"]],
        "groups": [{"group": n, "members": list(m), "min": lo, "max": hi}
                   for n, m, lo, hi in state["groups_value"]],
        "portfolio": {
            "volatility_annualized": portfolio.portfolio_volatility,
            "diversification_ratio": portfolio.diversification_ratio,
            "effective_number_of_bets": portfolio.effective_number_of_bets,
            "leverage": portfolio.leverage,
            "sleeve": portfolio.cash,
            "sleeve_weight": portfolio.cash_weight,
            "notes": list(portfolio.notes),
        },
        "assets": {
            asset: {
                "weight": float(portfolio.weights[asset]),
                "risk_budget": None if portfolio.budget is None else float(portfolio.budget[asset]),
                "relative_risk_contribution": float(portfolio.relative_risk_contributions[asset]),
            }
            for asset in portfolio.weights.index
        },
    }
    plain = json.loads(json.dumps(record, default=str))  # what default=str makes text too
    return json.dumps(neutralize_records(plain), indent=2)
