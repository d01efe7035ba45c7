"""A simulated crypto market for the dashboard's offline demo.

The demo panel is generated, not downloaded: 12 coins named like Yahoo Finance tickers, daily
closes seven days a week from 2020-01-01 to 2024-12-31, produced deterministically from a seed
by a regime-switching constant-conditional-correlation GARCH(1,1) model with Student-t shocks.
Its parameters are statistics measured on real Yahoo Finance data by
``scripts/calibrate_demo.py`` and stored in ``riskcore/data/demo_calibration.json``
(statistics only; no real price is shipped).

Stylised facts reproduced
-------------------------
- fat tails: Student-t innovations, degrees of freedom from the kurtosis of real GARCH
  residuals; one common chi-square quantile drives every coin's mixing variable, so extreme
  days hit all coins together (tail dependence);
- volatility clustering: GARCH(1,1) variance per coin with the real fitted alpha and beta;
- crash regime: on the days of :data:`CRASH_PERIODS` volatilities, drifts and the correlation
  matrix switch to the values measured on the real market's worst 14-day stretches
  (average pairwise correlation about 0.87 instead of 0.52);
- staggered listings: SOL, AVAX and DOT list on their real first Yahoo dates, NaN before;
- a stablecoin (USDT-USD) that follows a mean-reverting AR(1) around its 1 USD peg and
  de-pegs for a few days from :data:`DEPEG_START`, as deep as the worst real de-peg
  measured (USDC, 2023-03-11).

References
----------
Bollerslev, T. (1986). Generalized autoregressive conditional heteroskedasticity.
Journal of Econometrics 31(3), 307-327.
Bollerslev, T. (1990). Modelling the coherence in short-run nominal exchange rates: a
multivariate generalized ARCH model. Review of Economics and Statistics 72(3), 498-505.
Cont, R. (2001). Empirical properties of asset returns: stylized facts and statistical issues.
Quantitative Finance 1(2), 223-236.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import numpy as np
import pandas as pd
from scipy.special import gammaincinv

from riskcore.errors import DataError

#: Coins of the demo market, in panel column order (USDT-USD is the stablecoin).
DEMO_ASSETS: tuple[str, ...] = (
    "BTC-USD", "ETH-USD", "BNB-USD", "SOL-USD", "XRP-USD", "ADA-USD",
    "DOGE-USD", "AVAX-USD", "LINK-USD", "DOT-USD", "LTC-USD", "USDT-USD",
)
#: The stablecoin of the demo market.
DEMO_STABLECOIN = "USDT-USD"
#: First and last date of the demo panel (UTC, daily, inclusive).
DEMO_START = pd.Timestamp("2020-01-01", tz="UTC")
DEMO_END = pd.Timestamp("2024-12-31", tz="UTC")
#: Crash regimes (inclusive UTC dates), placed where the real market crashed.
CRASH_PERIODS: tuple[tuple[str, str], ...] = (
    ("2020-03-06", "2020-03-25"),  # COVID crash
    ("2021-05-10", "2021-06-05"),  # May 2021 sell-off
    ("2022-05-05", "2022-06-20"),  # Terra/3AC
    ("2022-11-06", "2022-11-21"),  # FTX
)
#: First day of the demo stablecoin's de-peg.
DEPEG_START = pd.Timestamp("2023-03-10", tz="UTC")
#: Share of the de-peg depth on each day of the de-peg (then back on peg).
DEPEG_PROFILE: tuple[float, ...] = (0.6, 1.0, 0.85, 0.45, 0.15)
#: Lower bound on the Student-t degrees of freedom, so that the kurtosis stays finite.
MIN_DEGREES_OF_FREEDOM = 4.5

_CALIBRATION_FILE = "demo_calibration.json"


@lru_cache(maxsize=1)
def load_calibration() -> dict:
    """Return the calibration statistics of the demo market.

    Returns
    -------
    dict
        The content of ``riskcore/data/demo_calibration.json`` written by
        ``scripts/calibrate_demo.py``: per asset the annualized volatility (decimal, calm,
        crash and overall), annualized mean log return, GARCH(1,1) alpha and beta, Student-t
        degrees of freedom, listing date and median price; the calm and crash correlation
        matrices of daily log returns; stablecoin peg statistics. Treat it as read-only.
    """
    text = resources.files("riskcore").joinpath("data", _CALIBRATION_FILE).read_text()
    return json.loads(text)


def _describe() -> str:
    cal = load_calibration()
    first, last = cal["common_window"]
    return (
        f"Simulated market, not real prices: {len(DEMO_ASSETS)} coins with daily closes "
        f"{DEMO_START:%Y-%m-%d} to {DEMO_END:%Y-%m-%d} from a GARCH(1,1) model with Student-t "
        "shocks, crash regimes, staggered listings and a stablecoin de-peg, calibrated to the "
        "volatilities, correlations and tail thickness of real Yahoo Finance daily data "
        f"({first} to {last})."
    )


#: One sentence for the UI: says that the demo is simulated and how it was calibrated.
DEMO_DESCRIPTION: str = _describe()


def _matrix(block: dict, names: list[str]) -> np.ndarray:
    """Sub-matrix of a calibrated correlation matrix for ``names``, in that order."""
    position = {name: i for i, name in enumerate(block["assets"])}
    idx = [position[n] for n in names]
    return np.asarray(block["matrix"], dtype=float)[np.ix_(idx, idx)]


def _square_root(corr: np.ndarray) -> np.ndarray:
    """Symmetric square root of a correlation matrix (negative eigenvalues clipped to 0)."""
    values, vectors = np.linalg.eigh(corr)
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


@lru_cache(maxsize=4)
def _simulate(seed: int) -> np.ndarray:
    """Simulate the demo closes; returns a read-only array of shape (n_days, n_assets)."""
    cal = load_calibration()
    stats = cal["assets"]
    ppy = float(cal["periods_per_year"])
    dates = pd.date_range(DEMO_START, DEMO_END, freq="D")
    n_days = len(dates)
    coins = [a for a in DEMO_ASSETS if a != DEMO_STABLECOIN]
    n_coins = len(coins)

    crash = np.zeros(n_days, dtype=bool)
    for start, end in CRASH_PERIODS:
        crash |= (dates >= pd.Timestamp(start, tz="UTC")) & (dates <= pd.Timestamp(end, tz="UTC"))
    n_crash = int(crash.sum())

    def field(key: str) -> np.ndarray:
        return np.array([float(stats[c][key]) for c in coins])

    vol_calm = field("volatility_calm") / np.sqrt(ppy)
    vol_crash = field("volatility_crash") / np.sqrt(ppy)
    drift_crash = field("mean_log_return_crash") / ppy
    # calm drift chosen so that the whole demo has the real mean log return per day
    drift_total = field("mean_log_return") / ppy
    drift_calm = (drift_total * n_days - drift_crash * n_crash) / (n_days - n_crash)
    alpha = field("garch_alpha")
    beta = field("garch_beta")
    dof = np.maximum(field("student_t_dof"), MIN_DEGREES_OF_FREEDOM)
    root_calm = _square_root(_matrix(cal["correlation_calm"], coins))
    root_crash = _square_root(_matrix(cal["correlation_crash"], coins))

    rng = np.random.default_rng(seed)
    gaussian = rng.standard_normal((n_days, n_coins))
    common_u = rng.uniform(1e-12, 1.0, size=(n_days, 1))
    peg_noise = rng.standard_normal(n_days)

    correlated = np.where(crash[:, None], gaussian @ root_crash, gaussian @ root_calm)
    # multivariate Student-t with one comonotone mixing variable: W_i = chi2_{nu_i} quantile
    # of a common uniform; scaled so that every shock has unit variance
    chi2 = 2.0 * gammaincinv(dof / 2.0, common_u)
    shocks = correlated * np.sqrt((dof - 2.0) / chi2)

    # GARCH(1,1) in units of the unconditional variance: g_t = 1 - a - b + a g z^2 + b g
    scale = np.empty((n_days, n_coins))
    g = np.ones(n_coins)
    omega = 1.0 - alpha - beta
    for t in range(n_days):
        scale[t] = g
        g = omega + (alpha * shocks[t] ** 2 + beta) * g
    vol = np.where(crash[:, None], vol_crash, vol_calm)
    drift = np.where(crash[:, None], drift_crash, drift_calm)
    log_returns = drift + vol * np.sqrt(scale) * shocks
    log_price = np.cumsum(log_returns, axis=0)

    closes = np.full((n_days, len(DEMO_ASSETS)), np.nan)
    for j, coin in enumerate(coins):
        listed = dates >= max(pd.Timestamp(stats[coin]["first_date"], tz="UTC"), DEMO_START)
        path = log_price[listed, j]
        level = np.log(float(stats[coin]["median_price"]))
        closes[listed, DEMO_ASSETS.index(coin)] = np.exp(path - np.median(path) + level)

    # stablecoin: AR(1) deviation from the peg, plus a short de-peg
    peg = stats[DEMO_STABLECOIN]
    phi, sigma = float(peg["peg_ar1"]), float(peg["peg_innovation_std"])
    deviation = np.empty(n_days)
    d = 0.0
    for t in range(n_days):
        d = phi * d + sigma * peg_noise[t]
        deviation[t] = d
    depth = 1.0 - min(float(s["min_price"]) for s in stats.values() if s["stablecoin"])
    first = int((DEPEG_START - DEMO_START).days)
    for k, share in enumerate(DEPEG_PROFILE):
        deviation[first + k] = min(deviation[first + k], 0.0) - share * depth
    closes[:, DEMO_ASSETS.index(DEMO_STABLECOIN)] = 1.0 + deviation

    closes.setflags(write=False)
    return closes


def demo_prices(*, seed: int = 7) -> pd.DataFrame:
    """Return the simulated demo price panel.

    The panel is a simulated market, not real prices (see the module docstring and
    :data:`DEMO_DESCRIPTION`). The same seed always gives the same panel.

    Parameters
    ----------
    seed : int, default 7
        Seed of ``numpy.random.default_rng``; any non-negative integer.

    Returns
    -------
    pandas.DataFrame of shape (1827, 12)
        Daily closes in USD per unit, one ``float64`` column per coin of :data:`DEMO_ASSETS`,
        index a tz-aware UTC ``DatetimeIndex`` named ``date`` from :data:`DEMO_START` to
        :data:`DEMO_END`, seven days a week. NaN before a coin lists (SOL-USD 2020-04-10,
        AVAX-USD 2020-07-13, DOT-USD 2020-08-20).

    Raises
    ------
    DataError
        If ``seed`` is not a non-negative integer.

    Notes
    -----
    Regime-switching constant-conditional-correlation GARCH(1,1) (Bollerslev 1986, 1990)
    with comonotone Student-t mixing; parameters from ``scripts/calibrate_demo.py``.
    Generated in about 20 ms and cached per seed.
    """
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise DataError(f"demo seed {seed!r} is not allowed; use a non-negative integer")
    closes = _simulate(int(seed))
    index = pd.date_range(DEMO_START, DEMO_END, freq="D", name="date")
    return pd.DataFrame(closes.copy(), index=index, columns=list(DEMO_ASSETS), dtype="float64")
