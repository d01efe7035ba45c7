"""Non-normal VaR/ES: historical, filtered historical, Cornish-Fisher and normal (riskcore.tail)."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from riskcore.errors import DataError, RiskcoreError
from riskcore.estimators import ewma_volatility, to_returns
from riskcore.ingest import read_prices
from riskcore.metrics import expected_shortfall, value_at_risk
from riskcore.tail import (
    TAIL_METHODS,
    cf_tail_mean,
    cornish_fisher_var_es,
    ewma_half_life,
    ewma_variance,
    filtered_returns,
    normal_var_es,
    tail_risk_table,
    var_es,
)


def fat_tailed(n=1500, seed=42):
    rng = np.random.default_rng(seed)
    return 0.001 + 0.02 * rng.standard_t(6, size=n) / math.sqrt(6 / 4)


def test_historical_is_metrics_value_at_risk_and_expected_shortfall():
    r = fat_tailed()
    for level in (0.9, 0.95, 0.99):
        assert var_es(r, method="historical", level=level) == (
            value_at_risk(r, level=level),
            expected_shortfall(r, level=level),
        )


def test_normal_by_hand():
    r = fat_tailed(300)
    mu, sd = r.mean(), r.std(ddof=1)
    z = stats.norm.ppf(0.05)
    var, es = normal_var_es(r, level=0.95)
    assert var == pytest.approx(-(mu + sd * z), rel=1e-12)
    assert es == pytest.approx(-mu + sd * stats.norm.pdf(z) / 0.05, rel=1e-12)


def test_cornish_fisher_var_by_hand_from_sample_skewness_and_excess_kurtosis():
    r = fat_tailed(2000, seed=7) + 0.01 * np.random.default_rng(1).exponential(size=2000)
    s = stats.skew(r)  # moment ratio m3 / m2^1.5 (bias=True)
    k = stats.kurtosis(r)  # excess, m4 / m2^2 - 3 (bias=True, Fisher)
    mu, sd = r.mean(), r.std(ddof=1)
    for level in (0.95, 0.99):
        z = stats.norm.ppf(1 - level)
        z_cf = (z + (z**2 - 1) * s / 6 + (z**3 - 3 * z) * k / 24
                - (2 * z**3 - 5 * z) * s**2 / 36)
        cf = cornish_fisher_var_es(r, level=level)
        assert cf.skewness == pytest.approx(s, rel=1e-12)
        assert cf.excess_kurtosis == pytest.approx(k, rel=1e-12)
        assert cf.z_cornish_fisher == pytest.approx(z_cf, rel=1e-12)
        assert cf.value_at_risk == pytest.approx(-(mu + sd * z_cf), rel=1e-12)
    # moderate moments here: the expansion is valid and ES exceeds VaR
    assert cf.valid and cf.expected_shortfall > cf.value_at_risk


def test_cornish_fisher_es_is_the_edgeworth_tail_mean_by_quadrature():
    # e = (1/p) int_{-inf}^{g} u f(u) du, f the second-order Edgeworth density
    # (Boudt, Peterson & Croux 2008); checked against numerical integration
    for s, k in ((0.0, 0.0), (-0.5, 2.0), (0.3, 1.0), (-1.0, 4.0)):
        for p in (0.05, 0.01):
            g, e, _, _ = cf_tail_mean(p, s, k)

            def f(u, s=s, k=k):
                he3, he4, he6 = u**3 - 3 * u, u**4 - 6 * u**2 + 3, \
                    u**6 - 15 * u**4 + 45 * u**2 - 15
                return stats.norm.pdf(u) * (1 + s / 6 * he3 + k / 24 * he4 + s**2 / 72 * he6)

            tail_mean = integrate.quad(lambda u, f=f: u * f(u), -np.inf, g)[0] / p
            assert e == pytest.approx(tail_mean, rel=1e-8)
    # no skewness or excess kurtosis: the normal quantile and tail mean
    g, e, _, _ = cf_tail_mean(0.05, 0.0, 0.0)
    assert g == pytest.approx(stats.norm.ppf(0.05), rel=1e-12)
    assert e == pytest.approx(-stats.norm.pdf(stats.norm.ppf(0.05)) / 0.05, rel=1e-12)


def test_cornish_fisher_derivatives_match_finite_differences():
    for s, k in ((-0.5, 2.0), (0.4, 3.0)):
        _, _, de_ds, de_dk = cf_tail_mean(0.05, s, k)
        h = 1e-6
        num_s = (cf_tail_mean(0.05, s + h, k)[1] - cf_tail_mean(0.05, s - h, k)[1]) / (2 * h)
        num_k = (cf_tail_mean(0.05, s, k + h)[1] - cf_tail_mean(0.05, s, k - h)[1]) / (2 * h)
        assert de_ds == pytest.approx(num_s, rel=1e-6)
        assert de_dk == pytest.approx(num_k, rel=1e-6)


def test_cornish_fisher_flags_crypto_kurtosis_as_outside_its_domain(yahoo_daily_files):
    doge = next(f for f in yahoo_daily_files if f.name.startswith("DOGE"))
    r = to_returns(read_prices(doge)).iloc[:, 0].dropna()
    cf = cornish_fisher_var_es(r)
    assert cf.excess_kurtosis > 100  # the Jan-2021 and May-2021 squeezes
    assert not cf.valid
    table = tail_risk_table(r)
    note = table.set_index(["method", "level"]).loc[("cornish-fisher", 0.95), "note"]
    assert "outside the Cornish-Fisher domain" in note


def test_ewma_variance_is_the_estimators_recursion():
    r = fat_tailed(400)
    seed = float(np.mean(r**2))
    hl = ewma_half_life(ewma_lambda=0.94)
    assert hl == pytest.approx(math.log(0.5) / math.log(0.94))
    ours = ewma_variance(r**2, hl, seed)
    frame = pd.DataFrame({"r": np.concatenate([[math.sqrt(seed)], r])})
    reference = ewma_volatility(frame, hl, periods_per_year=1.0, min_periods=1)["r"] ** 2
    np.testing.assert_allclose(ours, reference.to_numpy()[1:], rtol=1e-12)


def test_filtered_returns_by_hand():
    r = np.array([0.01, -0.02, 0.03, -0.01])
    lam = 0.9
    s2 = np.mean(r**2)
    forecasts = []
    for x in r:
        forecasts.append(s2)
        s2 = lam * s2 + (1 - lam) * x * x
    expected = r * np.sqrt(s2 / np.array(forecasts))
    np.testing.assert_allclose(filtered_returns(r, ewma_lambda=lam), expected, rtol=1e-12)


def test_filtered_historical_scales_the_tail_to_todays_volatility():
    rng = np.random.default_rng(42)
    calm = 0.01 * rng.standard_normal(900)
    stormy = 0.04 * rng.standard_normal(100)
    r = np.concatenate([calm, stormy])
    hs = var_es(r, method="historical")
    fhs = var_es(r, method="filtered historical")
    # historical simulation averages both regimes; FHS rescales all to the stormy regime
    assert fhs[0] > 2 * hs[0]
    assert fhs[0] == pytest.approx(stats.norm.ppf(0.95) * 0.04, rel=0.35)


def test_table_has_every_method_and_level_and_notes_thin_tails():
    r = pd.Series(fat_tailed(365))
    table = tail_risk_table(r, levels=(0.95, 0.99))
    assert list(table["method"]) == [m for m in TAIL_METHODS for _ in (0.95, 0.99)]
    assert (table["expected_shortfall"] >= table["value_at_risk"] - 1e-12).all()
    hist = table.set_index(["method", "level"])
    assert hist.loc[("historical", 0.95), "tail_scenarios"] == 19  # floor(364 * .05) + 1
    assert "only 19 tail scenarios" in hist.loc[("historical", 0.95), "note"]
    assert "only 4 tail scenarios" in hist.loc[("filtered historical", 0.99), "note"]
    long = tail_risk_table(fat_tailed(1500), levels=(0.95,))
    assert (long["note"] == "").all()


def test_fat_tails_make_normal_es_too_low():
    r = 0.02 * np.random.default_rng(3).standard_t(3, size=20000)
    table = tail_risk_table(r, levels=(0.99,)).set_index("method")
    assert table.loc["historical", "expected_shortfall"] > 1.2 * table.loc[
        "normal", "expected_shortfall"]


def test_errors_name_the_problem():
    r = fat_tailed(100)
    with pytest.raises(RiskcoreError, match="confidence level is 1.5"):
        var_es(r, level=1.5)
    with pytest.raises(RiskcoreError, match="tail method is 'garch'; allowed: historical"):
        var_es(r, method="garch")
    bad = pd.Series(r, index=pd.date_range("2024-01-01", periods=100, tz="UTC"))
    bad.iloc[5] = np.nan
    with pytest.raises(DataError, match="2024-01-06.*is nan; every return must be finite"):
        tail_risk_table(bad)
    with pytest.raises(RiskcoreError, match="not both"):
        filtered_returns(r, half_life=10, ewma_lambda=0.94)
    with pytest.raises(RiskcoreError, match="ewma_lambda is 1.2"):
        filtered_returns(r, ewma_lambda=1.2)
    with pytest.raises(RiskcoreError, match="half_life is -1"):
        filtered_returns(r, half_life=-1)
    with pytest.raises(DataError, match="every portfolio return is 0"):
        filtered_returns(np.zeros(10))
    with pytest.raises(DataError, match="3 portfolio return"):
        cornish_fisher_var_es(r[:3])
    with pytest.raises(DataError, match="must be 1-D"):
        var_es(np.ones((3, 2)))
