import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import minimize
from sklearn.covariance import OAS, LedoitWolf

from riskcore.errors import ConvergenceError, DataError
from riskcore.estimators import (
    CovarianceEstimate,
    average_correlation,
    cluster_order,
    correlation_from_covariance,
    covariance,
    estimate_covariance,
    ewma_volatility,
    nearest_correlation,
    rolling_correlation,
    rolling_volatility,
    to_returns,
)

YAHOO = Path(__file__).resolve().parents[3] / "shared" / "data" / "yahoo-daily"


def make_returns(n=400, p=4, seed=42, start="2021-01-01"):
    rng = np.random.default_rng(seed)
    index = pd.date_range(start, periods=n, freq="D", tz="UTC", name="date")
    data = rng.standard_normal((n, p)) * 0.03
    return pd.DataFrame(data, index=index, columns=[f"C{i}" for i in range(p)])


def is_psd(matrix, tol=1e-10):
    return np.linalg.eigvalsh(np.asarray(matrix, dtype=float))[0] >= -tol


# ----------------------------------------------------------------------------- returns


def test_to_returns_simple_and_no_fill():
    index = pd.date_range("2024-01-01", periods=5, freq="D", tz="UTC", name="date")
    prices = pd.DataFrame({"A": [100.0, 110.0, 99.0, np.nan, 99.0],
                           "B": [np.nan, np.nan, 2.0, 3.0, 1.5]}, index=index)
    returns = to_returns(prices)
    assert list(returns.index) == list(index[1:])
    np.testing.assert_allclose(returns["A"].iloc[:2], [0.1, -0.1])
    assert returns["A"].iloc[2:].isna().all()  # a hole stays a hole: no forward fill
    assert returns["B"].iloc[:2].isna().all()
    np.testing.assert_allclose(returns["B"].iloc[2:], [0.5, -0.5])
    assert (returns.dtypes == "float64").all()


@pytest.mark.parametrize(
    ("prices", "message"),
    [
        ([1.0, 0.0, 2.0], r"price of A on .* is 0; prices must be > 0"),
        ([1.0, -2.0, 2.0], r"price of A on .* is -2; prices must be > 0"),
        ([1.0, np.inf, 2.0], r"prices for A are infinite on .*; values must be finite or NaN"),
    ],
)
def test_to_returns_bad_prices(prices, message):
    frame = pd.DataFrame({"A": prices},
                         index=pd.date_range("2024-01-01", periods=3, tz="UTC"))
    with pytest.raises(DataError, match=message):
        to_returns(frame)


def test_to_returns_bad_input():
    with pytest.raises(DataError, match="prices must be a pandas DataFrame .*not list"):
        to_returns([1.0, 2.0])
    with pytest.raises(DataError, match=r"prices have 1 row\(s\); need at least 2"):
        to_returns(pd.DataFrame({"A": [1.0]}))
    with pytest.raises(DataError, match="prices column A has dtype .*; it must be numeric"):
        to_returns(pd.DataFrame({"A": ["1", "2"]}))
    with pytest.raises(DataError, match="prices have no columns"):
        to_returns(pd.DataFrame(index=range(3)))
    with pytest.raises(DataError, match="prices have duplicate asset columns: A"):
        to_returns(pd.DataFrame([[1.0, 2.0], [1.0, 2.0]], columns=["A", "A"]))


# ----------------------------------------------------------------------------- volatility


def test_rolling_volatility_annualizes_sample_std():
    returns = make_returns()
    vol = rolling_volatility(returns, 30)
    expected = returns.rolling(30).std() * np.sqrt(365)
    pd.testing.assert_frame_equal(vol, expected)
    assert vol.iloc[:29].isna().all().all() and vol.iloc[29:].notna().all().all()
    vol252 = rolling_volatility(returns, 30, periods_per_year=252)
    np.testing.assert_allclose(vol252.iloc[-1], vol.iloc[-1] * np.sqrt(252 / 365))
    partial = rolling_volatility(returns, 30, min_periods=5)
    assert partial.iloc[3].isna().all() and partial.iloc[4].notna().all()


def test_annualized_variance_of_iid_data():
    # iid daily returns with sigma 0.04: annualized variance = 0.04^2 * 365
    rng = np.random.default_rng(42)
    returns = pd.DataFrame({"X": rng.standard_normal(200_000) * 0.04})
    vol = rolling_volatility(returns, 200_000, periods_per_year=365).iloc[-1, 0]
    assert vol == pytest.approx(0.04 * np.sqrt(365), rel=0.01)
    cov = covariance(returns, periods_per_year=365)
    assert cov.iloc[0, 0] == pytest.approx(returns["X"].var(ddof=1) * 365, rel=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"window": 1}, "window is 1; it must be an integer >= 2"),
        ({"window": 2.5}, "window is 2.5; it must be an integer >= 2"),
        ({"window": 10, "min_periods": 11}, r"min_periods is 11; it must be <= window \(10\)"),
        ({"window": 10, "periods_per_year": 0}, "periods_per_year is 0; it must be a finite"),
    ],
)
def test_rolling_volatility_errors(kwargs, message):
    with pytest.raises(DataError, match=message):
        rolling_volatility(make_returns(), **kwargs)


def test_ewma_volatility_matches_recursion():
    returns = make_returns(n=200, p=2)
    returns.iloc[:20, 1] = np.nan  # a late listing: the recursion starts at its first return
    half_life = 10.0
    lam = 0.5 ** (1 / half_life)
    vol = ewma_volatility(returns, half_life, min_periods=1)
    for name in returns:
        r = returns[name].dropna().to_numpy()
        s2 = np.empty_like(r)
        s2[0] = r[0] ** 2
        for t in range(1, len(r)):
            s2[t] = lam * s2[t - 1] + (1 - lam) * r[t] ** 2
        np.testing.assert_allclose(vol[name].dropna().to_numpy(), np.sqrt(s2 * 365), rtol=1e-12)
    default = ewma_volatility(returns, half_life)
    assert default["C0"].iloc[:9].isna().all() and default["C0"].iloc[9:].notna().all()


def test_ewma_volatility_errors():
    with pytest.raises(DataError, match="half_life is 0; it must be a finite number > 0"):
        ewma_volatility(make_returns(), 0)
    with pytest.raises(DataError, match="half_life is nan; it must be a finite number > 0"):
        ewma_volatility(make_returns(), float("nan"))
    with pytest.raises(DataError, match="returns must be a pandas DataFrame"):
        ewma_volatility(np.zeros((3, 2)), 5)


# ----------------------------------------------------------------------------- covariance


def test_sample_covariance_annualized_on_lookback():
    returns = make_returns()
    estimate = estimate_covariance(returns, lookback=100)
    assert isinstance(estimate, CovarianceEstimate)
    expected = np.cov(returns.iloc[-100:].to_numpy(), rowvar=False) * 365
    np.testing.assert_allclose(estimate.matrix.to_numpy(), expected, rtol=1e-12)
    assert list(estimate.matrix.index) == list(returns.columns)
    assert estimate.n_observations == 100
    assert estimate.start == returns.index[-100] and estimate.end == returns.index[-1]
    assert estimate.warnings == ()
    assert estimate.method == "sample" and not estimate.repaired and estimate.floored == ()
    assert estimate.condition_number == pytest.approx(np.linalg.cond(expected))
    np.testing.assert_allclose(estimate.volatility, np.sqrt(np.diag(expected)))
    pd.testing.assert_frame_equal(covariance(returns, lookback=100), estimate.matrix)
    with pytest.raises(dataclasses.FrozenInstanceError):
        estimate.method = "ewma"


def test_ewma_covariance_matches_recursion_and_volatility():
    returns = make_returns(n=150, p=3)
    half_life = 20
    estimate = estimate_covariance(returns, method="ewma", half_life=half_life, lookback=120)
    x = returns.iloc[-120:].to_numpy()
    lam = 0.5 ** (1 / half_life)
    s = np.outer(x[0], x[0])
    for row in x[1:]:
        s = lam * s + (1 - lam) * np.outer(row, row)
    np.testing.assert_allclose(estimate.matrix.to_numpy(), s * 365, rtol=1e-12)
    vol = ewma_volatility(returns.iloc[-120:], half_life).iloc[-1]
    np.testing.assert_allclose(np.sqrt(np.diag(estimate.matrix)), vol, rtol=1e-12)


@pytest.mark.parametrize(("method", "model"), [("ledoit_wolf", LedoitWolf), ("oas", OAS)])
def test_shrinkage_equals_sklearn(method, model):
    returns = make_returns(n=60, p=10)
    estimate = estimate_covariance(returns, method=method, lookback=50, periods_per_year=252)
    expected = model().fit(returns.iloc[-50:].to_numpy()).covariance_ * 252
    np.testing.assert_allclose(estimate.matrix.to_numpy(), expected, rtol=1e-12)


def test_common_window_reported():
    returns = make_returns(n=100, p=3)
    returns.iloc[:40, 2] = np.nan  # C2 lists later
    estimate = estimate_covariance(returns)
    assert estimate.n_observations == 60
    assert estimate.start == returns.index[40]
    assert estimate.warnings == (
        f"40 of the 100 periods in the lookback were left out because some assets have no "
        f"return there (last gap: C2 on {returns.index[39]:%Y-%m-%d}); estimated on 60 "
        f"common periods {returns.index[40]:%Y-%m-%d} .. {returns.index[-1]:%Y-%m-%d}",
    )


def test_few_observations_and_near_singular_reported():
    returns = make_returns(n=12, p=14)
    estimate = estimate_covariance(returns)
    assert "fewer observations (12) than assets (14): use Ledoit-Wolf or OAS shrinkage" \
        in estimate.warnings
    assert any(w.startswith("near-singular matrix, condition number ") for w in estimate.warnings)
    assert estimate.condition_number > 1e10
    shrunk = estimate_covariance(returns, method="ledoit_wolf")
    assert shrunk.condition_number < 1e3
    assert not any(w.startswith("near-singular") for w in shrunk.warnings)
    duplicated = make_returns(n=200, p=2)
    duplicated["C2"] = duplicated["C0"]
    singular = estimate_covariance(duplicated)
    assert any(w.startswith("near-singular matrix, condition number ")
               and w.endswith(": use Ledoit-Wolf or OAS shrinkage") for w in singular.warnings)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"method": "robust"}, "covariance method 'robust' is not allowed; use one of sample, "
                               "ewma, ledoit_wolf, oas"),
        ({"method": "ewma"}, r"covariance method 'ewma' needs half_life \(in periods, > 0\)"),
        ({"method": "ewma", "half_life": -1}, "half_life is -1; it must be a finite number > 0"),
        ({"lookback": 1}, "lookback is 1; it must be an integer >= 2"),
        ({"method": "oas", "pairwise": True}, "pairwise=True is available for method 'sample' "
                                              "only, not 'oas'"),
        ({"volatility_floor": -0.1}, "volatility_floor is -0.1; it must be a finite annualized"),
        ({"periods_per_year": -365}, "periods_per_year is -365; it must be a finite number"),
    ],
)
def test_covariance_argument_errors(kwargs, message):
    with pytest.raises(DataError, match=message):
        estimate_covariance(make_returns(), **kwargs)


def test_covariance_data_errors():
    returns = make_returns(n=100, p=3)
    returns.iloc[:95, 2] = np.nan
    with pytest.raises(DataError, match=r"no returns for C2 in the last 5 periods .*remove the "
                                        "asset or use a longer lookback"):
        estimate_covariance(returns.iloc[:95], lookback=5)
    returns.iloc[:99, 2] = np.nan
    with pytest.raises(DataError, match=r"only 1 period\(s\) in the last 100 have a return for "
                                        r"every asset \(last gap: C2 on .*\); need at least 2"):
        estimate_covariance(returns)
    with pytest.raises(DataError, match=r"too few returns for C2 in the window; need at least 2"):
        estimate_covariance(returns, pairwise=True)


def non_psd_pairwise_returns():
    """Three assets observed in pairs: A=B, B=C but A=-C, so pairwise correlations are
    (1, 1, -1), which no correlation matrix has."""
    rng = np.random.default_rng(42)
    z = rng.standard_normal((3, 50)) * 0.02
    nan = np.full(50, np.nan)
    a = np.concatenate([z[0], nan, z[2]])
    b = np.concatenate([z[0], z[1], nan])
    c = np.concatenate([nan, z[1], -z[2]])
    index = pd.date_range("2022-01-01", periods=150, freq="D", tz="UTC", name="date")
    return pd.DataFrame({"A": a, "B": b, "C": c}, index=index)


def test_pairwise_repaired_to_nearest_correlation():
    returns = non_psd_pairwise_returns()
    estimate = estimate_covariance(returns, pairwise=True)
    assert estimate.repaired
    assert estimate.repair_distance > 0.1
    corr = correlation_from_covariance(estimate.matrix)
    assert is_psd(corr)
    np.testing.assert_allclose(np.diag(corr), 1.0)
    assert is_psd(estimate.matrix)
    # variances use each asset's own returns; the repair keeps them
    np.testing.assert_allclose(np.diag(estimate.matrix), returns.var() * 365, rtol=1e-12)
    counts = estimate.n_observations
    assert isinstance(counts, pd.DataFrame)
    assert counts.loc["A", "A"] == 100 and counts.loc["A", "B"] == 50 and counts.loc["A", "C"] == 50
    assert estimate.warnings[0].startswith(
        "pairwise correlation matrix was not positive semidefinite; repaired to the nearest "
        "correlation matrix (Higham 2002), Frobenius distance ")
    expected = nearest_correlation(returns.corr(min_periods=2).to_numpy())
    np.testing.assert_allclose(corr.to_numpy(), expected, atol=1e-9)


def test_pairwise_without_repair_matches_pandas():
    returns = make_returns(n=300, p=4)
    returns.iloc[:100, 3] = np.nan
    estimate = estimate_covariance(returns, pairwise=True)
    assert not estimate.repaired and estimate.repair_distance == 0.0
    vol = returns.std() * np.sqrt(365)
    expected = returns.corr() * np.outer(vol, vol)
    np.testing.assert_allclose(estimate.matrix, expected, rtol=1e-12)


def test_pairwise_min_periods_error():
    returns = non_psd_pairwise_returns()
    with pytest.raises(DataError, match=r"A and B have only 50 common return\(s\) in the window; "
                                        r"need at least 60 \(min_periods\)"):
        estimate_covariance(returns, pairwise=True, min_periods=60)


def test_volatility_floor_keeps_correlations():
    returns = make_returns(n=500, p=3)
    returns["USDT-USD"] = returns["C0"] * 0.01 + make_returns(n=500, p=1, seed=1)["C0"] * 0.001
    plain = estimate_covariance(returns)
    floored = estimate_covariance(returns, volatility_floor=0.05)
    assert floored.floored == ("USDT-USD",)
    assert floored.matrix.loc["USDT-USD", "USDT-USD"] == pytest.approx(0.05**2)
    pd.testing.assert_frame_equal(correlation_from_covariance(floored.matrix),
                                  correlation_from_covariance(plain.matrix))
    others = ["C0", "C1", "C2"]
    pd.testing.assert_frame_equal(floored.matrix.loc[others, others],
                                  plain.matrix.loc[others, others])
    assert "volatility raised to the floor 5.00% for USDT-USD" in floored.warnings
    assert estimate_covariance(returns, volatility_floor=0.0).floored == ()


def test_zero_variance_asset_reported_and_floored():
    returns = make_returns(n=100, p=2)
    returns["PEG"] = 0.0
    plain = estimate_covariance(returns)
    assert ("zero variance for PEG in the window (constant price): the matrix is singular; "
            "set a volatility floor") in plain.warnings
    floored = estimate_covariance(returns, volatility_floor=0.05)
    assert floored.floored == ("PEG",)
    np.testing.assert_allclose(floored.matrix.loc["PEG"], [0.0, 0.0, 0.0025])
    assert np.isfinite(floored.condition_number)


# ----------------------------------------------------------------------------- correlation


def test_correlation_from_covariance():
    sigma = np.array([0.5, 0.8, 1.2])
    corr = np.array([[1.0, 0.3, -0.2], [0.3, 1.0, 0.6], [-0.2, 0.6, 1.0]])
    cov = pd.DataFrame(corr * np.outer(sigma, sigma), index=list("ABC"), columns=list("ABC"))
    np.testing.assert_allclose(correlation_from_covariance(cov), corr, atol=1e-15)
    cov.loc["B", "B"] = 0.0
    with pytest.raises(DataError, match="variance of B is zero or negative"):
        correlation_from_covariance(cov)
    with pytest.raises(DataError, match=r"covariance matrix of shape \(3, 2\) must be square"):
        correlation_from_covariance(cov.iloc[:, :2])


def block_correlation():
    names = ["A1", "B1", "C1", "A2", "B2", "C2", "A3", "B3"]
    group = {"A": 0, "B": 1, "C": 2}
    n = len(names)
    corr = np.full((n, n), 0.1)
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            if group[a[0]] == group[b[0]]:
                corr[i, j] = 0.8
    np.fill_diagonal(corr, 1.0)
    return pd.DataFrame(corr, index=names, columns=names)


@pytest.mark.parametrize("method", ["average", "single", "complete", "ward"])
def test_cluster_order_groups_blocks(method):
    order = cluster_order(block_correlation(), method=method)
    assert sorted(order) == sorted(block_correlation().columns)
    groups = [name[0] for name in order]
    # each group is contiguous: the group label changes exactly twice along the order
    assert sum(a != b for a, b in zip(groups, groups[1:], strict=False)) == 2


def test_cluster_order_edge_cases_and_errors():
    corr = block_correlation()
    nan_pair = corr.copy()
    nan_pair.loc["A1", "B1"] = nan_pair.loc["B1", "A1"] = np.nan
    assert sorted(cluster_order(nan_pair)) == sorted(corr.columns)
    assert cluster_order(corr.iloc[:1, :1]) == ["A1"]
    with pytest.raises(DataError, match="linkage method 'median' is not allowed; use one of "
                                        "average, single, complete, ward"):
        cluster_order(corr, method="median")
    bad = corr.copy()
    bad.loc["C2", "C2"] = np.nan
    with pytest.raises(DataError, match="correlation of C2 with itself is not 1"):
        cluster_order(bad)
    bad = corr.copy()
    bad.loc["A1", "A2"] = 1.5
    with pytest.raises(DataError, match=r"correlation of A1 and A2 is 1.5; correlations must lie"):
        cluster_order(bad)
    with pytest.raises(DataError, match="correlation matrix must be a square pandas DataFrame"):
        cluster_order(corr.to_numpy())


def test_rolling_correlation_matches_pandas():
    returns = make_returns(n=300, p=3)
    returns.iloc[:50, 1] = np.nan
    returns.iloc[120:125, 0] = np.nan
    ours = rolling_correlation(returns, "C0", "C1", 30, min_periods=20)
    theirs = returns["C0"].rolling(30, min_periods=20).corr(returns["C1"])
    np.testing.assert_allclose(ours, theirs, atol=1e-10)
    assert ours.name == "C0 / C1"
    with pytest.raises(DataError, match="asset 'DOGE' is not in the returns; available: C0, C1"):
        rolling_correlation(returns, "C0", "DOGE", 30)
    with pytest.raises(DataError, match="window is 0; it must be an integer >= 2"):
        rolling_correlation(returns, "C0", "C1", 0)


def test_average_correlation_matches_brute_force():
    rng = np.random.default_rng(42)
    common = rng.standard_normal((400, 1))
    returns = pd.DataFrame(0.6 * common + rng.standard_normal((400, 5)),
                           columns=list("ABCDE"),
                           index=pd.date_range("2021-01-01", periods=400, tz="UTC"))
    returns.iloc[:150, 4] = np.nan  # E lists later
    window = 60
    ours = average_correlation(returns, window)
    pairs = [returns[a].rolling(window).corr(returns[b])
             for i, a in enumerate(returns) for b in list(returns)[i + 1:]]
    brute = pd.concat(pairs, axis=1).mean(axis=1)
    np.testing.assert_allclose(ours, brute, atol=1e-10)
    assert ours.iloc[: window - 1].isna().all()
    # with a common factor of loading 0.6 the population correlation is 0.36 / 1.36
    assert ours.iloc[-1] == pytest.approx(0.36 / 1.36, abs=0.15)
    with pytest.raises(DataError, match="average correlation needs at least 2 assets; got 1"):
        average_correlation(returns[["A"]], window)
    with pytest.raises(DataError, match=r"min_periods is 80; it must be <= window \(60\)"):
        average_correlation(returns, window, min_periods=80)


def test_average_correlation_leaves_out_constant_series():
    returns = make_returns(n=100, p=3)
    returns["PEG"] = 0.0
    with_peg = average_correlation(returns, 30)
    without = average_correlation(returns.drop(columns="PEG"), 30)
    np.testing.assert_allclose(with_peg, without, atol=1e-12)


# ----------------------------------------------------------------------------- Higham


# Published nearest correlation matrices (unweighted Frobenius norm), to 4 decimals.
HIGHAM_EXAMPLES = [
    # Higham (2002), and N. J. Higham, "The nearest correlation matrix" (blog, 2013)
    ([[1, 1, 0], [1, 1, 1], [0, 1, 1]],
     [[1, 0.7607, 0.1573], [0.7607, 1, 0.7607], [0.1573, 0.7607, 1]]),
    # Higham (2002), section 4: the tridiagonal matrix with 2 on the diagonal
    ([[2, -1, 0, 0], [-1, 2, -1, 0], [0, -1, 2, -1], [0, 0, -1, 2]],
     [[1, -0.8084, 0.1916, 0.1068], [-0.8084, 1, -0.6562, 0.1916],
      [0.1916, -0.6562, 1, -0.8084], [0.1068, 0.1916, -0.8084, 1]]),
    # MathWorks Financial Toolbox, nearcorr documentation example
    ([[1, 0, 0, 0, -0.936], [0, 1, -0.55, -0.3645, -0.53], [0, -0.55, 1, -0.0351, 0.0875],
      [0, -0.3645, -0.0351, 1, 0.4557], [-0.936, -0.53, 0.0875, 0.4557, 1]],
     [[1, 0.0372, 0.0100, -0.0219, -0.8478], [0.0372, 1, -0.5449, -0.3757, -0.4849],
      [0.0100, -0.5449, 1, -0.0381, 0.0996], [-0.0219, -0.3757, -0.0381, 1, 0.4292],
      [-0.8478, -0.4849, 0.0996, 0.4292, 1]]),
]


@pytest.mark.parametrize(("matrix", "published"), HIGHAM_EXAMPLES)
def test_nearest_correlation_published_examples(matrix, published):
    result = nearest_correlation(np.array(matrix, dtype=float))
    np.testing.assert_allclose(result, published, atol=5e-5)
    assert is_psd(result, tol=1e-12)
    np.testing.assert_array_equal(np.diag(result), 1.0)
    np.testing.assert_array_equal(result, result.T)


def brute_force_nearest(matrix):
    """Minimize ||V V' - A||_F over V with unit rows (every such V V' is a correlation matrix)."""
    a = np.asarray(matrix, dtype=float)
    n = len(a)

    def gram(theta):
        v = theta.reshape(n, n)
        v = v / np.linalg.norm(v, axis=1, keepdims=True)
        return v @ v.T

    best = None
    rng = np.random.default_rng(42)
    for _ in range(5):
        start = np.linalg.cholesky(np.eye(n) * 0.5 + 0.5).ravel() + 0.1 * rng.standard_normal(
            n * n)
        res = minimize(lambda t: np.sum((gram(t) - a) ** 2), start, method="BFGS",
                       options={"gtol": 1e-10, "maxiter": 5000})
        if best is None or res.fun < best.fun:
            best = res
    return np.sqrt(best.fun)


def test_nearest_correlation_is_nearest():
    rng = np.random.default_rng(42)
    a = np.eye(5)
    while is_psd(a):  # a random symmetric unit-diagonal matrix that is not a correlation
        m = rng.uniform(-1, 1, (5, 5))
        a = 0.5 * (m + m.T)
        np.fill_diagonal(a, 1.0)
    result = nearest_correlation(a)
    ours = np.linalg.norm(result - a)
    assert ours <= brute_force_nearest(a) + 1e-6
    # a valid correlation matrix is its own nearest correlation matrix
    valid = correlation_from_covariance(pd.DataFrame(np.cov(rng.standard_normal((50, 4)).T)))
    np.testing.assert_allclose(nearest_correlation(valid), valid, atol=1e-12)


def test_nearest_correlation_keeps_labels_and_errors():
    frame = pd.DataFrame(HIGHAM_EXAMPLES[0][0], index=list("XYZ"), columns=list("XYZ"),
                         dtype=float)
    result = nearest_correlation(frame)
    assert isinstance(result, pd.DataFrame) and list(result.index) == list("XYZ")
    with pytest.raises(DataError, match="correlation matrix contains NaN or infinity"):
        nearest_correlation(np.array([[1.0, np.nan], [np.nan, 1.0]]))
    with pytest.raises(DataError, match=r"correlation matrix is not symmetric: entry \(0, 1\) "
                                        r"is 0.5 but \(1, 0\) is 0.2"):
        nearest_correlation(np.array([[1.0, 0.5], [0.2, 1.0]]))
    with pytest.raises(DataError, match=r"correlation matrix of shape \(2, 3\) must be square"):
        nearest_correlation(np.ones((2, 3)))
    with pytest.raises(ConvergenceError, match="alternating projections stopped after 2 "
                                               "iterations with relative change .* > tol"):
        nearest_correlation(np.array(HIGHAM_EXAMPLES[1][0], dtype=float), max_iter=2)


# ----------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def yahoo_returns():
    files = sorted(YAHOO.glob("*.csv"))
    assert len(files) == 14, f"expected the 14 files of {YAHOO}"
    closes = {}
    for path in files:
        frame = pd.read_csv(path, usecols=["Date", "Close"], parse_dates=["Date"])
        closes[path.stem] = frame.set_index("Date")["Close"].astype(float)
    prices = pd.DataFrame(closes).sort_index()
    prices.index = prices.index.tz_localize("UTC").rename("date")
    return to_returns(prices)


def test_real_data_volatilities(yahoo_returns):
    estimate = estimate_covariance(yahoo_returns)
    vol = estimate.volatility
    assert vol["USDT-USD"] < 0.05 and vol["USDC-USD"] < 0.05
    assert 0.4 < vol["BTC-USD"] < 0.9
    assert all(0.4 < vol[c] < 2.5 for c in vol.index if c not in ("USDT-USD", "USDC-USD"))
    assert estimate.n_observations == 1603  # the common window 2020-09-23 .. 2025-02-11
    assert estimate.start == pd.Timestamp("2020-09-23", tz="UTC")
    # AVAX's 69-day hole ends the latest: it sets the start of the common window
    assert "(last gap: AVAX-USD on 2020-09-22)" in estimate.warnings[0]
    floored = estimate_covariance(yahoo_returns, volatility_floor=0.05)
    assert set(floored.floored) == {"USDT-USD", "USDC-USD"}
    rolling = rolling_volatility(yahoo_returns, 30).iloc[-1]
    ewma = ewma_volatility(yahoo_returns, 30).iloc[-1]
    assert rolling.notna().all() and ewma.notna().all()


def test_real_data_estimators_agree(yahoo_returns):
    for method in ("sample", "ewma", "ledoit_wolf", "oas"):
        estimate = estimate_covariance(yahoo_returns, method=method, lookback=365,
                                       half_life=60)
        assert is_psd(estimate.matrix), method
        assert estimate.n_observations == 365
    # shrinkage towards a scaled identity inflates the stablecoins' volatility: reported
    shrunk = estimate_covariance(yahoo_returns, method="ledoit_wolf", lookback=365)
    sample_vol = yahoo_returns["USDT-USD"].iloc[-365:].std() * 365**0.5
    assert shrunk.volatility["USDT-USD"] > 5 * sample_vol
    assert shrunk.warnings[0].startswith("Ledoit-Wolf shrinks every variance towards their "
                                         "average: annualized volatility of USDC-USD from 0.3% to")
    pairwise = estimate_covariance(yahoo_returns, pairwise=True)
    corr = correlation_from_covariance(pairwise.matrix)
    assert is_psd(corr) and np.allclose(np.diag(corr), 1.0)
    assert pairwise.start == yahoo_returns.index[0]
    order = cluster_order(corr)
    assert abs(order.index("USDT-USD") - order.index("USDC-USD")) == 1
    average = average_correlation(yahoo_returns, 90).dropna()
    assert 0.3 < average.median() < 0.8


def test_periods_per_year_is_inferred_from_the_index_or_required():
    daily = make_returns()
    weekdays = daily[daily.index.day_of_week < 5]
    assert estimate_covariance(daily).periods_per_year == 365
    assert estimate_covariance(weekdays).periods_per_year == 252
    np.testing.assert_allclose(rolling_volatility(weekdays, 30).iloc[-1],
                               weekdays.iloc[-30:].std() * np.sqrt(252))
    with pytest.raises(DataError, match="periods_per_year is required when the returns have "
                                        "no DatetimeIndex"):
        estimate_covariance(daily.reset_index(drop=True))
