"""The decision record a user downloads from the Allocation page (JSON)."""

from __future__ import annotations

import datetime as dt
import json

from riskcore.export import neutralize_records


def decision_record(data, spec, portfolio) -> str:
    """Serialize what was decided and on what basis: data, the spec, weights, risk shares.

    ``spec`` is the :class:`riskcore.PortfolioSpec` the portfolio was built from (its JSON,
    with the schema version: estimator, lookback, method, risk measure and level, budgets,
    bounds, group limits, volatility target), so the record can be read back with
    :meth:`riskcore.PortfolioSpec.from_json`. Every string (asset names as keys included)
    goes through ``riskcore.export.neutralize_records``, so a name such as
    ``=HYPERLINK(...)`` stays text when the JSON is imported into a spreadsheet.
    """
    estimate = portfolio.estimate
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
        "spec": json.loads(spec.to_json()),
        "portfolio": {
            "volatility_annualized": portfolio.portfolio_volatility,
            "diversification_ratio": portfolio.diversification_ratio,
            "effective_number_of_bets": portfolio.effective_number_of_bets,
            "leverage": portfolio.leverage,
            "sleeve": portfolio.cash,
            "sleeve_weight": portfolio.cash_weight,
            "excluded": list(portfolio.excluded),
            "notes": list(portfolio.notes),
        },
        "assets": {
            asset: {
                "weight": float(portfolio.weights[asset]),
                "risk_budget": None if portfolio.budget is None else float(portfolio.budget[asset]),
                "relative_risk_contribution": float(portfolio.relative_risk_contributions[asset]),
                **({} if portfolio.tail is None else {
                    "relative_es_contribution": float(
                        portfolio.tail.relative_risk_contributions.get(asset, 0.0))}),
            }
            for asset in portfolio.weights.index
        },
    }
    plain = json.loads(json.dumps(record, default=str))  # what default=str makes text too
    return json.dumps(neutralize_records(plain), indent=2)
