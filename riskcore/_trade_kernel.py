"""Compiled trading loop of the walk-forward simulator (the hot path of a band change).

:func:`riskcore.backtest._simulate` walks the dates of a prepared backtest: value the holdings,
check the triggers against the date's target, compute the wanted weights of the rebalancing
mode and the self-financing trades with their costs. In Python that loop costs 20-40 µs a date
of interpreter and small-array overhead (3.4 s on 87,600 hourly bars); the same loop written
with scalar loops and compiled by numba costs well under a microsecond a date.

The loop here mirrors, step for step and in the same order of floating-point operations,
the Python loop of :mod:`riskcore.backtest` and the trade engine of :mod:`riskcore.rebalance`
(:func:`~riskcore.rebalance.desired_weights`, :func:`~riskcore.rebalance.plan_trade_values`,
:meth:`~riskcore.rebalance.CostModel.trade_costs`). Sums over assets use numpy's pairwise
summation (:func:`_psum`), so the results are the Python loop's to the last bit, except the
matrix-vector products of the risk and volatility bands, which numpy hands to BLAS in an
order of its own (differences of order 1e-16, relative). ``tests/unit/test_trade_kernel.py``
checks both paths agree.

What it covers: calendar, data-end, band, relative-band, risk-band and volatility-band
triggers; the three rebalancing modes; fee, half-spread, square-root market impact with the
participation cap and the minimum trade size; assets without a tradable price keeping their
holding. The caller keeps the Python loop for lazy decisions (a spec decided again when a band
breaches) and perpetuals, and to raise the worded error when the cost fixed point fails.

Without numba the loader returns None and the Python loop runs (same results, slower).
Compiled functions are cached on disk (``cache=True``): numba writes the cache to
``$NUMBA_CACHE_DIR`` when that variable is set, else next to this file
(``riskcore/__pycache__``), else, when that folder is not writable, under the user's cache
folder (``~/.cache/numba``). The first call in a fresh environment compiles for about
10 s; later processes load the cache in about 0.5 s (numba's import included), both
printed by ``benchmarks/bench_backtest.py``.
"""

from __future__ import annotations

import threading

import numpy as np

__all__ = ["REASONS", "load", "simulate", "balance_error"]

# The Python loop is used instead when False (tests switch it off to compare both paths).
_USE_KERNEL = True

#: Reason bits of a rebalance, in the order the Python loop lists them in a reason string.
REASONS: tuple[tuple[int, str], ...] = (
    (1, "initial"),
    (2, "calendar"),
    (4, "data end"),
    (8, "band"),
    (16, "relative band"),
    (32, "risk band"),
    (64, "volatility band"),
)
_INITIAL, _CALENDAR, _DATA_END, _BAND, _RELATIVE, _RISK, _VOLATILITY = (b for b, _ in REASONS)
#: Rebalancing modes by code, as :data:`riskcore.rebalance.REBALANCE_MODES`.
MODES: dict[str, int] = {"to_target": 0, "to_band": 1, "breached_only": 2}
# The same tolerances as riskcore.backtest (_TOL) and riskcore.rebalance (_BREACH_TOLERANCE).
_TOL = 1e-12
_BREACH_TOLERANCE = 1e-12


# ---------------------------------------------------------------------------------------
# plain-Python sources, compiled by load()


def _psum(a, m):  # pragma: no cover - compiled
    """Sum of ``a[:m]`` in numpy's pairwise order (bit-identical to ``a[:m].sum()``)."""
    if m < 8:
        res = 0.0
        for i in range(m):
            res += a[i]
        return res
    if m <= 128:
        r0 = a[0]
        r1 = a[1]
        r2 = a[2]
        r3 = a[3]
        r4 = a[4]
        r5 = a[5]
        r6 = a[6]
        r7 = a[7]
        i = 8
        stop = m - (m % 8)
        while i < stop:
            r0 += a[i]
            r1 += a[i + 1]
            r2 += a[i + 2]
            r3 += a[i + 3]
            r4 += a[i + 4]
            r5 += a[i + 5]
            r6 += a[i + 6]
            r7 += a[i + 7]
            i += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < m:
            res += a[i]
            i += 1
        return res
    half = m // 2
    half -= half % 8
    return _psum(a, half) + _psum(a[half:], m - half)


def _trade_cost(size, v, proportional, impact, max_participation, use_volume):  # pragma: no cover
    """Cost in USD of one trade of USD size ``size`` (>= 0), as CostModel.trade_costs."""
    rate = proportional
    if use_volume and np.isfinite(v) and v > 0:
        rate += impact * np.sqrt(min(size / v, max_participation))
    return size * rate


def _plan(values, cash, total, wanted, vol, use_volume, is_zero, proportional, impact,
          max_participation, min_trade, tol, max_iter, trades, cost, traded, share,
          buf):  # pragma: no cover
    """Self-financing trades toward ``wanted`` (riskcore.rebalance.plan_trade_values).

    Writes ``trades`` and ``cost``; returns False when the cost fixed point did not converge.
    ``total`` is ``values.sum() + cash``.
    """
    n = values.shape[0]
    for i in range(n):
        trades[i] = 0.0
        cost[i] = 0.0
    if total <= 0:
        return True
    if is_zero:
        for i in range(n):
            x = wanted[i] * total - values[i]
            trades[i] = 0.0 if abs(x) <= _BREACH_TOLERANCE * total else x
        return True
    any_traded = False
    for i in range(n):
        traded[i] = abs(wanted[i] - values[i] / total) > _BREACH_TOLERANCE
        any_traded = any_traded or traded[i]
    while any_traded:
        m = 0
        for i in range(n):
            if traded[i]:
                buf[m] = wanted[i]
                m += 1
        weight_traded = _psum(buf, m)
        if weight_traded <= 0:
            for i in range(n):
                trades[i] = 0.0
                cost[i] = 0.0
            return True
        for i in range(n):
            share[i] = wanted[i] / weight_traded if traded[i] else 0.0
        m = 0
        for i in range(n):
            if not traded[i]:
                buf[m] = values[i]
                m += 1
        kept = _psum(buf, m)
        cash_share = 1.0 - _psum(wanted, n)
        total_cost = 0.0
        converged = False
        for _ in range(max_iter):
            investable = (total - total_cost) * (1.0 - cash_share) - kept
            for i in range(n):
                trades[i] = share[i] * investable - values[i] if traded[i] else 0.0
                cost[i] = _trade_cost(abs(trades[i]), vol[i], proportional, impact,
                                      max_participation, use_volume)
            new_cost = _psum(cost, n)
            change = abs(new_cost - total_cost)
            total_cost = new_cost
            if change <= tol * total:
                converged = True
                break
        if not converged:
            return False
        investable = (total - total_cost) * (1.0 - cash_share) - kept
        for i in range(n):
            trades[i] = share[i] * investable - values[i] if traded[i] else 0.0
        if min_trade > 0:
            small = False
            for i in range(n):
                if traded[i] and abs(trades[i]) < min_trade:
                    traded[i] = False
                    small = True
            if small:
                any_traded = False
                for i in range(n):
                    any_traded = any_traded or traded[i]
                continue
        for i in range(n):
            cost[i] = _trade_cost(abs(trades[i]), vol[i], proportional, impact,
                                  max_participation, use_volume)
        return True
    for i in range(n):
        trades[i] = 0.0
        cost[i] = 0.0
    return True


def _desired(weights, tgt, breach, mode, thr, wanted, share):  # pragma: no cover
    """Post-trade weights of a band breach (riskcore.rebalance.desired_weights) into wanted."""
    n = weights.shape[0]
    every = True
    for i in range(n):
        every = every and breach[i]
    if mode == 0 or every:
        for i in range(n):
            wanted[i] = tgt[i]
        return
    for i in range(n):
        wanted[i] = weights[i]
        if breach[i]:
            if mode == 1:
                d = weights[i] - tgt[i]
                sign = 1.0 if d > 0 else (-1.0 if d < 0 else (0.0 if d == 0 else d))
                edge = tgt[i] + sign * thr[i]
                wanted[i] = max(edge, 0.0) if not np.isnan(edge) else edge
            else:
                wanted[i] = tgt[i]
    residual = _psum(tgt, n) - _psum(wanted, n)
    for i in range(n):
        share[i] = tgt[i] * (0.0 if breach[i] else 1.0)
    total = _psum(share, n)
    if total <= 0:
        for i in range(n):
            share[i] = weights[i] * (0.0 if breach[i] else 1.0)
        total = _psum(share, n)
    if total <= 0:
        for i in range(n):
            wanted[i] = tgt[i]
        return
    negative = False
    for i in range(n):
        if not breach[i]:
            wanted[i] += residual * share[i] / total
        negative = negative or wanted[i] < 0
    if negative:
        for i in range(n):
            wanted[i] = tgt[i]


def _quadratic(cov, x):  # pragma: no cover
    """``x @ cov @ x`` (row vector times matrix, then the dot product)."""
    n = x.shape[0]
    out = 0.0
    for j in range(n):
        acc = 0.0
        for i in range(n):
            acc += x[i] * cov[i, j]
        out += acc * x[j]
    return out


def _simulate_loops(value_prices, tradable, all_tradable, targets, has_targets, new_period,
                    data_end, any_end, estimable, covariance, reference, volume, use_volume,
                    band, rel, risk_band, vol_band, mode, initial_value, is_zero,
                    proportional, impact, max_participation, min_trade, tol, max_iter,
                    equity, cash_hist, units_hist, values_hist, cost_hist, turnover_hist,
                    positions, reasons, trade_values, trade_units, trade_costs,
                    capped):  # pragma: no cover
    """Run the trading loop of riskcore.backtest._simulate; return (status, n_rebalances).

    NaN thresholds mean "no such trigger". ``status`` is -1 when the loop ran to the end, else
    the date position where the cost fixed point did not converge. Rebalance ``k`` is written
    to ``positions[k]``, ``reasons[k]`` (bits of :data:`REASONS`) and row ``k`` of
    ``trade_values``, ``trade_units``, ``trade_costs``.
    """
    t_count, n = value_prices.shape
    use_band = not np.isnan(band)
    use_rel = not np.isnan(rel)
    use_risk = not np.isnan(risk_band)
    use_vol = not np.isnan(vol_band)
    any_band = use_band or use_rel or use_risk
    units = np.zeros(n)
    values = np.zeros(n)
    weights = np.zeros(n)
    tgt = np.zeros(n)
    wanted = np.zeros(n)
    thr = np.zeros(n)
    breach = np.zeros(n, dtype=np.bool_)
    trades = np.zeros(n)
    cost = np.zeros(n)
    traded = np.zeros(n, dtype=np.bool_)
    share = np.zeros(n)
    buf = np.zeros(n)
    masked = np.zeros(n)
    sw = np.zeros(n)
    no_volume = np.full(n, np.nan)
    cash = initial_value
    invested = False
    have_target = False
    k = 0
    for t in range(t_count):
        price = value_prices[t]
        if invested:
            for i in range(n):
                values[i] = units[i] * price[i]
        total = _psum(values, n) + cash
        if has_targets[t]:
            for i in range(n):
                tgt[i] = targets[t, i]
            have_target = True
        if have_target and total > 0:
            for i in range(n):
                weights[i] = values[i] / total
            # the triggers (evaluate() of the Python loop)
            why = 0
            full = False
            if not invested:
                why = _INITIAL
                full = True
            else:
                if new_period[t]:
                    why |= _CALENDAR
                    full = True
                if any_end[t]:
                    for i in range(n):
                        if data_end[t, i] and units[i] > 0:
                            why |= _DATA_END
                            full = True
                            break
                if any_band:
                    for i in range(n):
                        breach[i] = False
                    if use_band:
                        for i in range(n):
                            if abs(weights[i] - tgt[i]) > band + _TOL:
                                breach[i] = True
                                why |= _BAND
                    if use_rel:
                        for i in range(n):
                            if abs(weights[i] - tgt[i]) > rel * tgt[i] + _TOL:
                                breach[i] = True
                                why |= _RELATIVE
                    if use_risk:
                        est = estimable[t]
                        some = False
                        for i in range(n):
                            some = some or est[i]
                        if some:
                            cov = covariance[t]
                            for i in range(n):
                                masked[i] = weights[i] if est[i] else 0.0
                            for i in range(n):
                                acc = 0.0
                                for j in range(n):
                                    acc += cov[i, j] * masked[j]
                                sw[i] = acc
                            for i in range(n):
                                buf[i] = masked[i] * sw[i]
                            var = _psum(buf, n)
                            if var > 0:
                                for i in range(n):
                                    if est[i] and abs(masked[i] * sw[i] / var
                                                      - reference[t, i]) > risk_band + _TOL:
                                        breach[i] = True
                                        why |= _RISK
                if use_vol:
                    est = estimable[t]
                    some = False
                    for i in range(n):
                        some = some or est[i]
                    if some:
                        cov = covariance[t]
                        for i in range(n):
                            masked[i] = tgt[i] if est[i] else 0.0
                        var_t = _quadratic(cov, masked)
                        ratio = 1.0
                        if var_t > 0:
                            for i in range(n):
                                masked[i] = weights[i] if est[i] else 0.0
                            ratio = np.sqrt(_quadratic(cov, masked) / var_t)
                        if abs(ratio - 1.0) > vol_band + _TOL:
                            why |= _VOLATILITY
                            full = True
            if why != 0:
                if full:
                    for i in range(n):
                        wanted[i] = tgt[i]
                else:
                    for i in range(n):
                        thr[i] = band if use_band else (rel * tgt[i] if use_rel else 0.0)
                    _desired(weights, tgt, breach, mode, thr, wanted, share)
                if not all_tradable[t]:
                    # assets without a price today keep their holding; the rest is rescaled
                    m = 0
                    for i in range(n):
                        if not tradable[t, i]:
                            buf[m] = weights[i]
                            m += 1
                    keep = _psum(buf, m)
                    invest = _psum(wanted, n) - keep
                    if 0.0 > invest:  # Python's max(invest, 0.0)
                        invest = 0.0
                    for i in range(n):
                        if not tradable[t, i]:
                            wanted[i] = 0.0
                    s = _psum(wanted, n)
                    factor = invest / s if s > 0 else 0.0
                    for i in range(n):
                        wanted[i] = weights[i] if not tradable[t, i] else wanted[i] * factor
                vol_t = volume[t] if use_volume else no_volume
                ok = _plan(values, cash, total, wanted, vol_t, use_volume, is_zero,
                           proportional, impact, max_participation, min_trade, tol, max_iter,
                           trades, cost, traded, share, buf)
                if not ok:
                    return t, k
                placed_any = False
                for i in range(n):
                    if trades[i] != 0:
                        placed_any = True
                        if use_volume and impact > 0 and abs(trades[i]) > max_participation \
                                * vol_t[i]:
                            capped[i] += 1
                if placed_any:
                    for i in range(n):
                        unit = trades[i] / price[i] if trades[i] != 0 else 0.0
                        trade_units[k, i] = unit
                        trade_values[k, i] = trades[i]
                        trade_costs[k, i] = cost[i]
                        units[i] = units[i] + unit
                        if (trades[i] != 0 and wanted[i] == 0) or units[i] < 0:
                            units[i] = 0.0  # rounding dust
                        values[i] = units[i] * price[i]
                    paid = _psum(cost, n)
                    cash = cash - _psum(trades, n) - paid
                    if abs(cash) < 1e-9 * total:
                        cash = 0.0  # fully invested up to rounding
                    cost_hist[t] = paid
                    for i in range(n):
                        buf[i] = abs(trades[i])
                    turnover_hist[t] = _psum(buf, n) / (2.0 * total)
                    positions[k] = t
                    reasons[k] = why
                    k += 1
                    invested = True
        equity[t] = _psum(values, n) + cash
        cash_hist[t] = cash
        for i in range(n):
            units_hist[t, i] = units[i]
            values_hist[t, i] = values[i]
    return -1, k


def _balance_error_loops(values_hist, equity, covariance, estimable, reference,
                         start):  # pragma: no cover
    """Mean over dates of ``0.5 * sum_i |rrc_i - ref_i|`` (riskcore.metrics.risk_balance_error).

    ``rrc`` are the relative risk contributions of the held weights over the estimable assets
    from ``start`` on; NaN references count as 0, dates without any contribution are left out.
    """
    t_count, n = values_hist.shape
    w = np.zeros(n)
    sw = np.zeros(n)
    diff = np.zeros(n)
    total = 0.0
    rows = 0
    for t in range(start, t_count):
        e = equity[t]
        some = False
        for i in range(n):
            est = estimable[t, i]
            some = some or est
            w[i] = (values_hist[t, i] / e if e > 0 else 0.0) if est else 0.0
        if not some:
            continue
        cov = covariance[t]
        for i in range(n):
            acc = 0.0
            for j in range(n):
                acc += cov[i, j] * w[j]
            sw[i] = acc
        for i in range(n):
            diff[i] = w[i] * sw[i]
        var = _psum(diff, n)
        if not var > 0:
            continue
        m = 0
        for i in range(n):
            if estimable[t, i]:
                ref = reference[t, i]
                diff[m] = abs(w[i] * sw[i] / var - (0.0 if np.isnan(ref) else ref))
                m += 1
        total += 0.5 * _psum(diff, m)
        rows += 1
    return total / rows if rows > 0 else np.nan


_NOT_LOADED = object()
_kernels = _NOT_LOADED
_LOADING = threading.Lock()  # sessions of the dashboard run in threads


def load():
    """Compile (or load from numba's on-disk cache) the kernels; None without numba.

    Returns
    -------
    tuple of (callable, callable) or None
        The compiled trading loop and balance-error functions, or None when numba is not
        installed (the caller then runs its Python loop).
    """
    global _kernels, _psum, _trade_cost, _plan, _desired, _quadratic
    if _kernels is not _NOT_LOADED:
        return _kernels
    with _LOADING:
        if _kernels is not _NOT_LOADED:
            return _kernels
        try:
            import numba
        except ImportError:  # the Python loop serves
            _kernels = None
            return None
        # no fastmath: the loop must round as numpy does, operation for operation; the
        # helpers are rebound to their compiled versions, which the loops call
        jit = numba.njit(cache=True, nogil=True, error_model="numpy")
        _psum = jit(_psum)
        _trade_cost = jit(_trade_cost)
        _plan = jit(_plan)
        _desired = jit(_desired)
        _quadratic = jit(_quadratic)
        _kernels = (jit(_simulate_loops), jit(_balance_error_loops))
    return _kernels


def simulate(*args):
    """Run the compiled trading loop (see :func:`_simulate_loops` for the arguments).

    Returns
    -------
    tuple of (int, int) or None
        ``(status, n_rebalances)``, or None when numba is not installed or the kernel is
        switched off (``_USE_KERNEL``).
    """
    if not _USE_KERNEL:
        return None
    kernels = load()
    if kernels is None:
        return None
    return kernels[0](*args)


def balance_error(values_hist, equity, covariance, estimable, reference, start):
    """Risk-balance error of held weights, as :func:`riskcore.metrics.risk_balance_error`.

    Parameters
    ----------
    values_hist : numpy.ndarray of shape (n_dates, n_assets)
        USD value held after each date's trades.
    equity : numpy.ndarray of shape (n_dates,)
        Portfolio value after each date's trades, USD.
    covariance : numpy.ndarray of shape (n_dates, n_assets, n_assets)
        Per-period covariance estimate of each date.
    estimable : numpy.ndarray of bool, shape (n_dates, n_assets)
        Assets whose covariance is estimated at each date.
    reference : numpy.ndarray of shape (n_dates, n_assets)
        Reference relative risk contributions (NaN = 0).
    start : int
        First date measured (the first investment).

    Returns
    -------
    float or None
        The mean total-variation distance (NaN if no date is measured); None without the
        compiled kernel.
    """
    kernels = load() if _USE_KERNEL else None
    if kernels is None:
        return None
    return float(kernels[1](values_hist, equity, covariance, estimable, reference, int(start)))
