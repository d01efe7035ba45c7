"""Measure the statistics the simulated demo market is calibrated to.

Reads the 14 real Yahoo Finance daily files in ``../shared/data/yahoo-daily`` (columns
``Date,Close,High,Low,Open,Volume``) and writes ``riskcore/data/demo_calibration.json``:
statistics only (volatilities, correlations, GARCH(1,1) parameters, tail thickness, drifts,
listing dates, stablecoin peg behaviour), never a price series.

Run from the repository root::

    python scripts/calibrate_demo.py

Regimes. A day is in the *crash* regime when the trailing 14-day log return of the
equal-weighted market (all non-stable coins) is in its lowest decile over the common window;
every other day is *calm*. On the real data this split gives average pairwise correlations of
about 0.87 (crash) against 0.52 (calm) and volatilities about 1.6 times higher in crashes.

GARCH(1,1) (Bollerslev 1986) is fitted per coin by Gaussian quasi-maximum likelihood with
variance targeting; the Student-t degrees of freedom come from the excess kurtosis k of the
standardized residuals by the method of moments, nu = 4 + 6 / k (a t distribution with nu > 4
degrees of freedom has excess kurtosis 6 / (nu - 4)).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.signal import lfilter

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "yahoo-daily"
OUT = ROOT / "riskcore" / "data" / "demo_calibration.json"
PERIODS_PER_YEAR = 365
STABLECOINS = ("USDT-USD", "USDC-USD")
REGIME_WINDOW = 14  # days of trailing market return that define the regime
CRASH_QUANTILE = 0.10  # lowest decile of the trailing market return = crash regime


def load_closes(folder: Path) -> pd.DataFrame:
    """Read every ``<SYMBOL>.csv`` in ``folder`` into one panel of closes (UTC dates)."""
    closes = {}
    for path in sorted(folder.glob("*.csv")):
        frame = pd.read_csv(path, usecols=["Date", "Close"], parse_dates=["Date"])
        series = frame.set_index("Date")["Close"].astype("float64")
        series.index = pd.DatetimeIndex(series.index).tz_localize("UTC")
        closes[path.stem] = series
    if not closes:
        raise SystemExit(f"no CSV files found in {folder}")
    return pd.DataFrame(closes).sort_index()


def garch_fit(returns: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Fit GARCH(1,1) by Gaussian QML with variance targeting; return alpha, beta, residuals."""
    eps = returns - returns.mean()
    var = float(eps.var())
    eps2 = eps**2

    def variances(params: np.ndarray) -> np.ndarray:
        alpha, beta = params
        omega = var * (1.0 - alpha - beta)
        # h_t = omega + alpha eps_{t-1}^2 + beta h_{t-1}, with h_0 = var
        drive = omega + alpha * np.concatenate(([var], eps2[:-1]))
        return lfilter([1.0], [1.0, -beta], drive, zi=[beta * var])[0]

    def neg_loglik(params: np.ndarray) -> float:
        if params.sum() >= 0.999:
            return 1e10
        h = variances(params)
        return float(0.5 * np.sum(np.log(h) + eps2 / h))

    best = minimize(
        neg_loglik,
        x0=np.array([0.08, 0.88]),
        method="L-BFGS-B",
        bounds=[(1e-4, 0.5), (0.0, 0.998)],
    )
    alpha, beta = (float(v) for v in best.x)
    return alpha, beta, eps / np.sqrt(variances(best.x))


def calibrate(closes: pd.DataFrame) -> dict:
    """Compute every statistic the demo generator reads."""
    log_returns = np.log(closes).diff()
    first = closes.apply(lambda s: s.first_valid_index())
    common_start = closes.dropna().index[0]
    common = log_returns.loc[common_start:].iloc[1:]
    if common.isna().any().any():
        bad = common.columns[common.isna().any()].tolist()
        raise SystemExit(f"gaps inside the common window for {bad}")
    coins = [c for c in closes.columns if c not in STABLECOINS]
    market = common[coins].mean(axis=1)
    trailing = market.rolling(REGIME_WINDOW).sum()
    crash = (trailing <= trailing.quantile(CRASH_QUANTILE)).to_numpy()
    calm = ~crash

    def annual_vol(frame: pd.DataFrame) -> pd.Series:
        return frame.std() * np.sqrt(PERIODS_PER_YEAR)

    def rounded_corr(frame: pd.DataFrame) -> list[list[float]]:
        return np.round(frame.corr().to_numpy(), 4).tolist()

    assets = {}
    for name in closes.columns:
        series = common[name].to_numpy()
        entry = {
            "first_date": first[name].date().isoformat(),
            "volatility": round(float(series.std() * np.sqrt(PERIODS_PER_YEAR)), 4),
            "excess_kurtosis": round(float(pd.Series(series).kurt()), 2),
            "mean_log_return": round(float(series.mean() * PERIODS_PER_YEAR), 4),
            "median_price": float(f"{closes.loc[common_start:, name].median():.3g}"),
        }
        if name in STABLECOINS:
            deviation = closes.loc[common_start:, name].to_numpy() - 1.0
            phi = float(np.corrcoef(deviation[1:], deviation[:-1])[0, 1])
            innovation = deviation[1:] - phi * deviation[:-1]
            entry |= {
                "stablecoin": True,
                "peg_ar1": round(phi, 4),
                "peg_innovation_std": float(f"{innovation.std():.4g}"),
                "min_price": round(float(closes.loc[common_start:, name].min()), 4),
                "min_price_date": closes.loc[common_start:, name].idxmin().date().isoformat(),
            }
        else:
            alpha, beta, residuals = garch_fit(series)
            kurt = float(pd.Series(residuals).kurt())
            entry |= {
                "stablecoin": False,
                "volatility_calm": round(float(annual_vol(common.loc[calm, [name]]).iloc[0]), 4),
                "volatility_crash": round(float(annual_vol(common.loc[crash, [name]]).iloc[0]), 4),
                "mean_log_return_crash": round(
                    float(common.loc[crash, name].mean() * PERIODS_PER_YEAR), 4
                ),
                "garch_alpha": round(alpha, 4),
                "garch_beta": round(beta, 4),
                "residual_excess_kurtosis": round(kurt, 2),
                "student_t_dof": round(float(np.clip(4.0 + 6.0 / max(kurt, 1e-6), 4.1, 30.0)), 2),
            }
        assets[name] = entry

    def mean_offdiag(frame: pd.DataFrame) -> float:
        c = frame.corr().to_numpy()
        return round(float(c[np.triu_indices_from(c, 1)].mean()), 4)

    return {
        "source": "../shared/data/yahoo-daily (Yahoo Finance daily closes, 14 coins)",
        "script": "scripts/calibrate_demo.py",
        "periods_per_year": PERIODS_PER_YEAR,
        "common_window": [common.index[0].date().isoformat(), common.index[-1].date().isoformat()],
        "n_observations": int(len(common)),
        "regime": {
            "definition": (
                f"crash = trailing {REGIME_WINDOW}-day equal-weighted market log return in its "
                f"lowest {CRASH_QUANTILE:.0%} over the common window; calm = the other days"
            ),
            "crash_share": round(float(crash.mean()), 4),
            "mean_correlation_calm": mean_offdiag(common.loc[calm, coins]),
            "mean_correlation_crash": mean_offdiag(common.loc[crash, coins]),
        },
        "assets": assets,
        "correlation": {"assets": list(closes.columns), "matrix": rounded_corr(common)},
        "correlation_calm": {"assets": coins, "matrix": rounded_corr(common.loc[calm, coins])},
        "correlation_crash": {"assets": coins, "matrix": rounded_corr(common.loc[crash, coins])},
    }


def main(argv: list[str]) -> int:
    folder = Path(argv[1]) if len(argv) > 1 else DATA
    stats = calibrate(load_closes(folder))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(stats, indent=1) + "\n")
    print(f"wrote {OUT.relative_to(ROOT)}: {len(stats['assets'])} assets, "
          f"common window {stats['common_window'][0]} .. {stats['common_window'][1]}, "
          f"mean correlation calm {stats['regime']['mean_correlation_calm']} "
          f"crash {stats['regime']['mean_correlation_crash']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
