"""riskcore: risk estimation, risk-budget allocation and rebalancing for crypto portfolios.

The domain package behind the dashboard. It never imports Streamlit. Public names are loaded
lazily (PEP 562) so that ``import riskcore`` stays fast and a page pays only for the modules
it uses (yfinance and scikit-learn are slow to import).

Data flows one way: source (:func:`demo_prices`, :func:`read_prices`, :func:`fetch_prices`)
-> price panel -> :func:`to_returns` -> estimates (:func:`covariance`, volatility,
correlation) -> allocation (:func:`risk_budget_weights` and peers) -> rebalancing
(:func:`run_backtest`) -> metrics.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Version of riskcore (and of the dashboard), written into scenario files and reports.
__version__ = "0.1.0"

# public name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    # errors
    "RiskcoreError": "errors",
    "DataError": "errors",
    "ParameterError": "errors",
    "InfeasibleError": "errors",
    "ConvergenceError": "errors",
    "FetchError": "errors",
    # annualization
    "PERIODS_PER_YEAR": "periods",
    "infer_periods_per_year": "periods",
    # data sources
    "demo_prices": "demo",
    "DEMO_DESCRIPTION": "demo",
    "read_prices": "ingest",
    "load_files": "ingest",
    "LoadResult": "ingest",
    "fetch_prices": "yahoo",
    "FetchResult": "yahoo",
    "default_cache_dir": "yahoo",
    "yahoo_reachable": "yahoo",
    # data quality
    "quality_report": "quality",
    "QualityPolicy": "quality",
    "clean_prices": "quality",
    "CleanResult": "quality",
    "observation_counts": "quality",
    # estimators
    "to_returns": "estimators",
    "rolling_volatility": "estimators",
    "ewma_volatility": "estimators",
    "COVARIANCE_METHODS": "estimators",
    "covariance": "estimators",
    "estimate_covariance": "estimators",
    "CovarianceEstimate": "estimators",
    "correlation_from_covariance": "estimators",
    "cluster_order": "estimators",
    "rolling_correlation": "estimators",
    "average_correlation": "estimators",
    "nearest_correlation": "estimators",
    # allocation
    "AllocationResult": "allocation",
    "risk_contributions": "allocation",
    "relative_risk_contributions": "allocation",
    "marginal_risk_contributions": "allocation",
    "portfolio_volatility": "allocation",
    "equal_weights": "allocation",
    "inverse_volatility_weights": "allocation",
    "risk_budget_weights": "allocation",
    "solve_risk_budget": "_rb_solver",
    "RiskBudgetSolution": "_rb_solver",
    "minimum_variance_weights": "allocation",
    "volatility_target": "allocation",
    "VolatilityTarget": "allocation",
    "stablecoin_policy": "allocation",
    "StablecoinPolicy": "allocation",
    "hrp_weights": "hierarchical",
    "cluster_risk_budget_weights": "hierarchical",
    "cluster_assets": "hierarchical",
    "diversification_ratio": "diagnostics",
    "effective_number_of_bets": "diagnostics",
    "group_risk_contributions": "diagnostics",
    "Portfolio": "portfolio",
    "build_portfolio": "portfolio",
    "allocate_portfolio": "portfolio",
    "PortfolioSpec": "spec",
    "METHODS": "spec",
    "ESTIMATORS": "spec",
    "SCHEMA_VERSION": "spec",
    "rolling_covariances": "estimators",
    "volatility_scale": "allocation",
    "relative_risk_contribution_array": "allocation",
    "compare_portfolios": "portfolio",
    "options_for": "portfolio",
    # stress testing
    "CRASH_WINDOWS": "stress",
    "STRESS_SCENARIOS": "stress",
    "StressedCovariance": "stress",
    "stress_covariance": "stress",
    "stress_test": "stress",
    "worst_periods": "stress",
    "historical_scenarios": "stress",
    "instant_shock": "stress",
    "crypto_crash_shock": "stress",
    # rebalancing
    "CostModel": "rebalance",
    "RebalancePlan": "rebalance",
    "rebalance_trades": "rebalance",
    "units_from_values": "rebalance",
    "RebalancePolicy": "backtest",
    "BacktestResult": "backtest",
    "run_backtest": "backtest",
    "prepare_backtest": "backtest",
    "simulate_backtest": "backtest",
    "PreparedBacktest": "backtest",
    "needs_daily_targets": "backtest",
    "threshold_sweep": "backtest",
    "benchmark_backtests": "backtest",
    "BenchmarkRuns": "backtest",
    "tradable_from_cleaning": "backtest",
    # performance metrics
    "PortfolioMetrics": "metrics",
    "portfolio_metrics": "metrics",
    "DrawdownInfo": "metrics",
    "annualized_return": "metrics",
    "annualized_volatility": "metrics",
    "sharpe_ratio": "metrics",
    "sortino_ratio": "metrics",
    "downside_risk": "metrics",
    "calmar_ratio": "metrics",
    "drawdown": "metrics",
    "max_drawdown": "metrics",
    "max_drawdown_info": "metrics",
    "value_at_risk": "metrics",
    "expected_shortfall": "metrics",
    "risk_balance_error": "metrics",
    # data pipeline
    "Dataset": "dataset",
    "prepare_dataset": "dataset",
    "DEFAULT_CLEANING": "dataset",
    "common_window_note": "window",
    # scenarios and reports
    "Scenario": "scenario",
    "DataReference": "scenario",
    "FileReference": "scenario",
    "StressSettings": "scenario",
    "ScenarioResult": "scenario",
    "Bundle": "scenario",
    "scenario_to_json": "scenario",
    "scenario_from_json": "scenario",
    "encode_query": "scenario",
    "decode_query": "scenario",
    "save_bundle": "scenario",
    "load_bundle": "scenario",
    "run_scenario": "scenario",
    "scenario_report": "report",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import the submodule defining ``name`` on first access (PEP 562)."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'riskcore' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"riskcore.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
