"""Scenarios: JSON files, bundles and links round-trip exactly and refuse what they cannot read."""

import base64
import datetime
import hashlib
import io
import json
import types
import zipfile
import zlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import riskcore
from riskcore.errors import DataError, ParameterError
from riskcore.ingest import ReadLimits, load_files
from riskcore.scenario import (
    MAX_QUERY_CHARS,
    QUERY_PARAM,
    SCENARIO_SCHEMA_VERSION,
    DataReference,
    FileReference,
    Scenario,
    StressSettings,
    decode_query,
    encode_query,
    load_bundle,
    load_source,
    match_files,
    save_bundle,
    scenario_from_json,
    scenario_to_dict,
    scenario_to_json,
)

UPLOADS = Path("../shared/data/uploads")
YAHOO = Path("../shared/data/yahoo-daily")
CREATED = pd.Timestamp("2026-03-01 12:34:56", tz="UTC")
COINS = sorted(p.stem for p in YAHOO.glob("*.csv"))


def realistic_scenario(*, normalized: bool = True) -> Scenario:
    """14 Yahoo coins, typed budgets, bounds on each, two group limits, a band and costs."""
    typed = [12, 10, 8, 15, 5, 6, 12, 7, 5, 4, 6, 0, 0, 10]
    total = sum(typed) + 3 if normalized else 100  # the page normalizes typed percentages
    budgets = {c: b / total for c, b in zip(COINS, typed, strict=True)}
    spec = riskcore.PortfolioSpec(
        assets=tuple(COINS), estimator="ewma", lookback=180, half_life=45.0,
        volatility_floor=0.05, risk_budget=budgets,
        bounds={c: (0.01, 0.35) for c in COINS},
        group_limits=(("majors", ("BTC-USD", "ETH-USD"), 0.2, 0.6),
                      ("alts", ("SOL-USD", "AVAX-USD", "DOT-USD", "ADA-USD", "MATIC-USD"),
                       0.0, 0.3)),
        stablecoins="sleeve", band=0.05, mode="to_band",
        costs=riskcore.CostModel(fee=0.001, half_spread=0.0005, impact=0.01, min_trade=10.0))
    data = DataReference(kind="yahoo", tickers=tuple(COINS), fetch_start="2021-01-01",
                         fetch_end="2025-02-11", assets=tuple(COINS), start="2022-01-01",
                         as_of="2025-02-01")
    return Scenario("Typed budgets, bounds, groups, 5 pp band", spec, data,
                    initial_value=250_000.0,
                    stress=StressSettings(volatility_multiplier=3.0, correlation=0.95),
                    created=CREATED)


def upload_scenario() -> Scenario:
    names = ["coingecko_btc-usd-max.csv", "yahoo-classic_ETH-USD.csv", "kaggle_coin_Bitcoin.csv"]
    files = tuple(FileReference.of(n, (UPLOADS / n).read_bytes()) for n in names)
    data = DataReference(kind="upload", files=files, frequency="daily",
                         names={"BTC (2)": "BTC"}, assets=("BTC", "ETH"),
                         start="2019-01-01", as_of="2021-06-30",
                         cleaning=riskcore.QualityPolicy(missing="ffill", nonpositive="drop",
                                                         extreme="ffill", ffill_limit=3))
    spec = riskcore.PortfolioSpec(method="inverse_volatility", lookback=90,
                                  frequency="M", relative_band=0.25, target_volatility=0.4,
                                  max_leverage=1.5)
    return Scenario("Upload <mix> & merge", spec, data, created=CREATED)


# ----------------------------------------------------------------------------- JSON files


@pytest.mark.parametrize("make", [realistic_scenario, upload_scenario, lambda: Scenario("demo")])
def test_json_round_trip_gives_equal_specs_and_references(make):
    scenario = make()
    loaded = scenario_from_json(scenario_to_json(scenario))
    assert loaded.spec == scenario.spec
    assert loaded.data == scenario.data
    assert loaded == scenario
    assert loaded.software_version == riskcore.__version__
    # bytes (an upload widget's content) read the same
    assert scenario_from_json(scenario_to_json(scenario).encode()) == scenario


def test_file_layout_names_its_format_versions_and_parts():
    data = json.loads(scenario_to_json(upload_scenario()))
    assert data["format"] == "riskcore-scenario"
    assert data["schema_version"] == SCENARIO_SCHEMA_VERSION
    assert data["spec"]["schema_version"] == riskcore.SCHEMA_VERSION
    content = (UPLOADS / "coingecko_btc-usd-max.csv").read_bytes()
    assert data["data"]["files"][0]["sha256"] == hashlib.sha256(content).hexdigest()
    assert data["data"]["names"] == [["BTC (2)", "BTC"]]
    assert data["created"] == "2026-03-01T12:34:56+00:00"


def test_an_older_spec_schema_inside_a_scenario_still_loads():
    data = scenario_to_dict(Scenario("old", created=CREATED))
    data["spec"] = {"schema_version": 1, "method": "risk_budget", "budget": [["BTC-USD", 1.0]],
                    "threshold": 0.1, "lookback": 90}
    loaded = scenario_from_json(json.dumps(data))
    assert loaded.spec.risk_budget == (("BTC-USD", 1.0),)
    assert loaded.spec.band == 0.1
    assert loaded.spec.risk_measure == "volatility"


def test_a_scenario_from_a_newer_version_is_refused_naming_the_versions():
    data = scenario_to_dict(Scenario("new", created=CREATED))
    data["schema_version"] = SCENARIO_SCHEMA_VERSION + 1
    data["software_version"] = "9.0.0"
    with pytest.raises(DataError, match=rf"schema_version {SCENARIO_SCHEMA_VERSION + 1}, "
                       r"written by a newer riskcore \(9\.0\.0\).*reads versions 1 to "
                       rf"{SCENARIO_SCHEMA_VERSION}"):
        scenario_from_json(json.dumps(data))


def test_a_newer_spec_schema_inside_a_scenario_is_refused():
    data = scenario_to_dict(Scenario("new spec", created=CREATED))
    data["spec"]["schema_version"] = 99
    with pytest.raises(DataError, match="scenario spec: .*schema_version 99, written by a newer"):
        scenario_from_json(json.dumps(data))


def _broken(edit):
    data = scenario_to_dict(upload_scenario())
    edit(data)
    return json.dumps(data)


@pytest.mark.parametrize(("text", "error", "message"), [
    ("{not json", DataError, "not valid JSON"),
    (scenario_to_json(Scenario("cut", created=CREATED))[:-40], DataError, "not valid JSON"),
    ("[1, 2]", DataError, "must be a JSON object"),
    (json.dumps({"name": "x"}), DataError, "not a riskcore scenario: its 'format' is None"),
    (_broken(lambda d: d.pop("spec")), DataError, "the scenario has no 'spec'"),
    (_broken(lambda d: d.update(colour="red")), DataError, "unknown field 'colour'"),
    (_broken(lambda d: d.update(schema_version="1")), DataError, "schema_version is '1'"),
    (_broken(lambda d: d["data"]["files"][0].update(sha256="abc")), ParameterError,
     "sha256 of file 'coingecko_btc-usd-max.csv' is 'abc'"),
    (_broken(lambda d: d["data"].update(kind="ftp")), ParameterError,
     "data kind 'ftp' is unknown"),
    (_broken(lambda d: d["data"]["cleaning"].update(missing="guess")), DataError,
     "action for missing is 'guess'"),
    (_broken(lambda d: d["spec"].update(band=-1)), ParameterError, "scenario spec: band is -1"),
    (_broken(lambda d: d["spec"].update(costs={"fee": 0.1, "rebate": 1})), DataError,
     "scenario spec is broken"),
    (_broken(lambda d: d.update(initial_value=0)), ParameterError, "initial_value is 0"),
    (_broken(lambda d: d.update(name="  ")), ParameterError, "scenario name"),
    (_broken(lambda d: d["stress"].update(correlation=2)), ParameterError, "correlation is 2"),
    (_broken(lambda d: d["data"].update(start="2021-07-01")), ParameterError,
     "window start 2021-07-01 is after its as-of date 2021-06-30"),
])
def test_a_broken_file_is_refused_with_a_message_naming_what_is_wrong(text, error, message):
    with pytest.raises(error, match=message):
        scenario_from_json(text)


def test_an_oversized_file_is_refused_before_parsing():
    with pytest.raises(DataError, match="at most 1,000,000 are read"):
        scenario_from_json(" " * 1_000_001)


def test_a_reference_needs_what_its_kind_needs():
    with pytest.raises(ParameterError, match="Yahoo data need tickers"):
        DataReference(kind="yahoo", fetch_start="2021-01-01")
    with pytest.raises(ParameterError, match="only Yahoo data have tickers"):
        DataReference(tickers=("BTC-USD",))
    with pytest.raises(ParameterError, match="uploaded data need files"):
        DataReference(kind="upload")
    with pytest.raises(ParameterError, match="Yahoo data need fetch_start"):
        DataReference(kind="yahoo", tickers=("BTC-USD",))


# ----------------------------------------------------------------------------- files by hash


def test_files_are_matched_by_content_in_the_scenarios_order_and_names():
    scenario = upload_scenario()
    given = [(f"copy of {ref.name}", (UPLOADS / ref.name).read_bytes())
             for ref in reversed(scenario.data.files)]
    ordered, warnings = match_files(scenario.data, given)
    assert [name for name, _ in ordered] == [f.name for f in scenario.data.files]
    assert warnings == []


def test_different_files_are_refused_or_warned_about():
    scenario = upload_scenario()
    given = [(ref.name, (UPLOADS / ref.name).read_bytes()) for ref in scenario.data.files[:2]]
    given.append(("other.csv", (UPLOADS / "coingecko_sol-usd-max.csv").read_bytes()))
    with pytest.raises(DataError, match=r"kaggle_coin_Bitcoin.csv \(sha256 [0-9a-f]{12}…, "
                       r"[\d,]+ bytes\) is not among the files given; other.csv .*is not a "
                       "file of the scenario"):
        match_files(scenario.data, given)
    ordered, warnings = match_files(scenario.data, given, allow_different=True)
    assert [name for name, _ in ordered] == [*(f.name for f in scenario.data.files[:2]),
                                             "other.csv"]
    assert len(warnings) == 2


# ----------------------------------------------------------------------------- bundles


def _upload_panel():
    names = ["coingecko_btc-usd-max.csv", "yahoo-classic_ETH-USD.csv",
             "cryptodatadownload_Binance_BNBUSDT_d.csv"]
    result = load_files([(n, (UPLOADS / n).read_bytes()) for n in names])
    return result.prices, result.volume


def test_bundle_round_trip_gives_identical_frames():
    prices, volume = _upload_panel()
    assert not volume.empty and prices.isna().any().any()
    scenario = upload_scenario()
    bundle = load_bundle(save_bundle(scenario, prices, volume))
    assert bundle.scenario == scenario
    pd.testing.assert_frame_equal(bundle.prices, prices, check_exact=True, check_freq=True)
    pd.testing.assert_frame_equal(bundle.volume, volume, check_exact=True, check_freq=True)


def test_bundle_of_the_demo_keeps_its_daily_frequency_and_has_no_volume():
    prices = riskcore.demo_prices()
    bundle = load_bundle(save_bundle(Scenario("demo", created=CREATED), prices))
    pd.testing.assert_frame_equal(bundle.prices, prices, check_exact=True, check_freq=True)
    assert bundle.prices.index.freqstr == prices.index.freqstr
    assert bundle.volume is None


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def test_a_zip_bomb_is_refused_before_inflating():
    bomb = _zip({"scenario.json": scenario_to_json(Scenario("x")).encode(),
                 "prices.parquet": bytes(51_000_000)})
    assert len(bomb) < 200_000  # 51 MB of zeros deflate to about 50 kB
    with pytest.raises(DataError, match=r"expands to 51\.\d MB when unzipped; at most 50 MB"):
        load_bundle(bomb)


@pytest.mark.parametrize(("members", "message"), [
    ({"scenario.json": b"{}", "prices.parquet": b"", "evil.sh": b"rm -rf /"},
     "an unknown member 'evil.sh'"),
    ({"../scenario.json": b"{}"}, "an unknown member '../scenario.json'"),
    ({"scenario.json": scenario_to_json(Scenario("x")).encode()}, "it has no prices.parquet"),
    ({"scenario.json": scenario_to_json(Scenario("x")).encode(),
      "prices.parquet": b"not parquet"}, "prices is not a Parquet table"),
    ({"scenario.json": b"{oops", "prices.parquet": b""}, "not valid JSON"),
])
def test_a_bundle_with_unexpected_content_is_refused(members, message):
    with pytest.raises(DataError, match=message):
        load_bundle(_zip(members))


def test_not_a_zip_is_refused():
    with pytest.raises(DataError, match="not a readable zip file"):
        load_bundle(b"date,close\n2021-01-01,1\n")


def test_a_table_beyond_the_row_limit_is_refused_from_its_footer():
    prices = riskcore.demo_prices()
    raw = save_bundle(Scenario("x", created=CREATED), prices)
    with pytest.raises(DataError, match=r"have 1,827 rows and 13 columns; at most 1,000 rows"):
        load_bundle(raw, limits=ReadLimits(max_rows=1_000))


def test_a_bundle_table_must_be_a_price_panel():
    frame = pd.DataFrame({"BTC": ["a", "b"]},
                         index=pd.DatetimeIndex(["2021-01-01", "2021-01-02"], tz="UTC"))
    buffer = io.BytesIO()
    frame.to_parquet(buffer)
    raw = _zip({"scenario.json": scenario_to_json(Scenario("x")).encode(),
                "prices.parquet": buffer.getvalue()})
    with pytest.raises(DataError, match="prices hold a column that is not float64 or a date: BTC"):
        load_bundle(raw)


# ----------------------------------------------------------------------------- links


@pytest.mark.parametrize("make", [realistic_scenario, upload_scenario, lambda: Scenario("d")])
def test_link_round_trip_gives_an_equal_scenario(make):
    scenario = make()
    if make is not realistic_scenario and make is not upload_scenario:
        scenario = replace(scenario, created=CREATED)
    params = encode_query(scenario)
    assert list(params) == [QUERY_PARAM]
    assert decode_query(params) == scenario
    assert decode_query({QUERY_PARAM: ["older", params[QUERY_PARAM]]}) == scenario  # last wins


def test_link_holds_only_what_differs_from_the_defaults():
    token = encode_query(Scenario("d", created=CREATED))[QUERY_PARAM]
    raw = json.loads(zlib.decompress(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))))
    assert raw == {"v": 1, "n": "d", "sw": riskcore.__version__,
                   "c": int(CREATED.timestamp()), "s": {"schema_version": riskcore.SCHEMA_VERSION}}


def test_link_of_a_realistic_scenario_is_short():
    # measured: 888 characters (Yahoo, 14 coins, budgets normalized by the page, so 17 digits)
    lengths = [len(encode_query(realistic_scenario(normalized=n))[QUERY_PARAM])
               for n in (True, False)]
    assert max(lengths) <= 1_000
    assert lengths[1] < lengths[0]  # typed round budgets compress better
    # the same on 14 uploaded files: measured 1,718 (a SHA-256 does not compress)
    scenario = realistic_scenario()
    files = tuple(FileReference.of(p.name, p.read_bytes()) for p in sorted(YAHOO.glob("*.csv")))
    upload = replace(scenario, data=DataReference(kind="upload", files=files,
                                                  assets=scenario.data.assets,
                                                  start=scenario.data.start,
                                                  as_of=scenario.data.as_of))
    assert len(encode_query(upload)[QUERY_PARAM]) <= 2_000
    assert decode_query(encode_query(upload)) == upload


def test_a_changed_link_never_decodes_to_a_different_scenario():
    scenario = realistic_scenario()
    token = encode_query(scenario)[QUERY_PARAM]
    rng = np.random.default_rng(42)
    refused = 0
    for k in rng.choice(len(token), size=60, replace=False):
        swapped = "A" if token[k] != "A" else "B"
        changed = token[:k] + swapped + token[k + 1:]
        try:
            decoded = decode_query({QUERY_PARAM: changed})
        except ParameterError:
            refused += 1
        else:  # only the unused low bits of the last character can change unnoticed
            assert decoded == scenario and k == len(token) - 1
    assert refused >= 59


@pytest.mark.parametrize(("params", "message"), [
    ({}, "the link has no 'scenario' parameter"),
    ({QUERY_PARAM: "abc$def"}, "characters outside base64url"),
    ({QUERY_PARAM: "A" * (MAX_QUERY_CHARS + 1)}, "at most 8,000 are read"),
    ({QUERY_PARAM: base64.urlsafe_b64encode(b"plain text").decode()}, "damaged or was changed"),
])
def test_a_bad_link_is_refused(params, message):
    with pytest.raises(ParameterError, match=message):
        decode_query(params)


def _token(payload: bytes) -> dict[str, str]:
    return {QUERY_PARAM: base64.urlsafe_b64encode(zlib.compress(payload, 9)).decode().rstrip("=")}


def test_a_cut_link_is_refused():
    token = encode_query(realistic_scenario())[QUERY_PARAM]
    with pytest.raises(ParameterError, match="damaged|cut short"):
        decode_query({QUERY_PARAM: token[: len(token) // 2]})


def test_a_link_that_inflates_too_far_is_refused_unread():
    bomb = _token(b'{"n": "' + b" " * 5_000_000 + b'"}')
    assert len(bomb[QUERY_PARAM]) < MAX_QUERY_CHARS
    with pytest.raises(ParameterError, match="inflates beyond 100,000 bytes"):
        decode_query(bomb)


def test_a_well_formed_link_with_bad_content_names_the_problem():
    with pytest.raises(ParameterError, match="not valid JSON"):
        decode_query(_token(b"{nope"))
    with pytest.raises(ParameterError, match="unknown field 'zz'"):
        decode_query(_token(b'{"v":1,"n":"x","sw":"0.1.0","c":0,"s":{"schema_version":3},"zz":1}'))
    bad_band = b'{"v":1,"n":"x","sw":"0.1.0","c":0,"s":{"schema_version":3,"band":-0.5}}'
    with pytest.raises(ParameterError, match="the link's scenario: scenario spec: band is -0.5"):
        decode_query(_token(bad_band))
    newer = b'{"v":7,"n":"x","sw":"9.9","c":0,"s":{"schema_version":3}}'
    with pytest.raises(ParameterError, match="schema_version 7, written by a newer riskcore"):
        decode_query(_token(newer))


def test_deeply_nested_json_is_refused_not_a_crash():
    nested = b"[" * 40_000 + b"]" * 40_000
    with pytest.raises(ParameterError, match="not valid JSON"):
        decode_query(_token(nested))
    with pytest.raises(DataError, match="not valid JSON"):
        scenario_from_json(nested)


def test_a_scenario_too_large_for_a_link_says_to_save_a_file():
    files = tuple(FileReference.of(f"file{k}.csv", str(k).encode()) for k in range(200))
    scenario = Scenario("many files", data=DataReference(kind="upload", files=files))
    with pytest.raises(ParameterError, match="more than 8,000; save it as a file instead"):
        encode_query(scenario)


def test_a_yahoo_reference_fetches_its_tickers_and_range():
    calls = []

    def fetch(tickers, start, end):
        calls.append((tickers, start, end))
        return types.SimpleNamespace(prices=riskcore.demo_prices()[["BTC-USD", "ETH-USD"]],
                                     messages=["BTC-USD: cached"])

    ref = DataReference(kind="yahoo", tickers=("BTC-USD", "ETH-USD"), fetch_start="2021-01-01",
                        fetch_end="2024-12-31")
    source = load_source(ref, fetch=fetch)
    assert calls == [("BTC-USD ETH-USD", datetime.date(2021, 1, 1), datetime.date(2024, 12, 31))]
    assert source.label == "Yahoo Finance 2021-01-01 → 2024-12-31"
    assert source.notes == ("BTC-USD: cached",)
    empty = types.SimpleNamespace(prices=pd.DataFrame(), messages=["BTC-USD: failed (offline)"])
    with pytest.raises(DataError, match=r"Yahoo Finance returned no price: BTC-USD: failed"):
        load_source(ref, fetch=lambda *a: empty)
