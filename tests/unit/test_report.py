"""The HTML report: self-contained (plotly.js once, nothing external), escaped, printable."""

import re
from dataclasses import replace
from html.parser import HTMLParser

import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

import riskcore
from riskcore.dataset import prepare_dataset
from riskcore.errors import ParameterError
from riskcore.report import scenario_report
from riskcore.scenario import DataReference, Scenario, run_scenario

EVIL = "<script>alert(1)</script>"
GENERATED = pd.Timestamp("2026-01-02 03:04", tz="UTC")


@pytest.fixture(scope="module")
def results():
    prices = riskcore.demo_prices().rename(columns={"SOL-USD": EVIL})
    data = DataReference(start="2023-01-01", as_of="2024-06-30")
    spec = riskcore.PortfolioSpec(lookback=120, stablecoins="sleeve", band=0.05)
    first = Scenario('Risk parity & "friends" <b>', spec, data)
    second = replace(first, name="Wider band", spec=replace(spec, band=0.1))
    dataset = prepare_dataset(prices, start=data.start, as_of=data.as_of, source="demo")
    return [run_scenario(s, dataset) for s in (first, second)]


@pytest.fixture(scope="module")
def single(results):
    return scenario_report(results[0], generated=GENERATED)


@pytest.fixture(scope="module")
def comparison(results):
    return scenario_report(results, generated=GENERATED, colors={"Wider band": "#123456"})


class Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.rows: list[tuple[str | None, list[str]]] = []
        self._row = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "tr":
            self._row = (dict(attrs).get("class"), [])
            self.rows.append(self._row)

    def handle_data(self, data):
        if self._row is not None and data.strip():
            self._row[1].append(data.strip())

    def handle_endtag(self, tag):
        if tag == "tr":
            self._row = None


def parse(text: str) -> Tags:
    tags = Tags()
    tags.feed(text)
    return tags


@pytest.mark.parametrize("which", ["single", "comparison"])
def test_plotly_js_is_embedded_once_and_every_figure_drawn(which, request):
    text = request.getfixturevalue(which)
    assert text.count(get_plotlyjs()) == 1
    assert text.count("Plotly.newPlot(") == 4  # weights, risk, equity, drawdown
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")


@pytest.mark.parametrize("which", ["single", "comparison"])
def test_nothing_is_fetched_from_outside(which, request):
    tags = parse(request.getfixturevalue(which)).tags
    external = [(tag, attrs) for tag, attrs in tags for name, value in attrs.items()
                if name in ("src", "href", "srcset", "data", "action", "poster")
                and value and re.match(r"^\s*(https?:)?//", value)]
    assert external == []
    assert not [t for t, a in tags if t in ("link", "iframe", "img", "object", "embed")]
    assert all("src" not in attrs for tag, attrs in tags if tag == "script")


def test_user_text_is_escaped(single, comparison):
    for text in (single, comparison):
        assert EVIL not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text  # the weights table
        assert "\\u003cscript\\u003ealert(1)\\u003c\\u002fscript\\u003e" in text  # figure JSON
        assert "<b>" not in text
        assert "Risk parity &amp; &quot;friends&quot; &lt;b&gt;" in text


def test_a_comparison_highlights_exactly_the_settings_that_differ(comparison):
    diff = [cells for cls, cells in parse(comparison).rows if cls == "diff"]
    assert diff == [["band", "0.05", "0.1"]]
    assert "Highlighted: the 1 setting(s) that differ" in comparison


def test_a_single_report_highlights_nothing_and_shows_the_benchmarks(single, results):
    rows = parse(single).rows
    assert not [cells for cls, cells in rows if cls == "diff"]
    header = next(cells for cls, cells in rows if cells and cells[0] == "total return")
    assert len(header) == 1 + 1 + len(results[0].benchmarks.runs)


def test_key_figures_appear_as_computed(single, results):
    metrics = results[0].key_metrics()
    rows = {cells[0]: cells[1:] for _, cells in parse(single).rows if cells}
    assert rows["Volatility of the decision (annualized)"] == \
        [f"{metrics['portfolio_volatility']:.1%}"]
    assert rows["Effective number of bets"] == [f"{metrics['effective_number_of_bets']:.2f}"]
    assert rows["Walk-forward: maximum drawdown"] == [f"{metrics['max_drawdown']:.1%}"]
    weights = results[0].portfolio.weights
    assert rows["BTC-USD"][0] == f"{weights['BTC-USD']:.2%}"


def test_print_layout_and_provenance(single, results):
    assert "@page" in single and "break-inside: avoid" in single
    assert ".modebar" in single  # the plotly toolbar is hidden on paper
    assert f"riskcore {riskcore.__version__}" in single
    assert "generated 2026-01-02 03:04 UTC" in single
    assert "2023-01-01 → 2024-06-30" in single
    assert "Cleaning changed no price." in single


def test_colours_can_be_given_per_scenario(comparison):
    assert "#123456" in comparison


def test_a_report_takes_one_to_four_scenarios(results):
    with pytest.raises(ParameterError, match="takes 1 to 4 scenarios; got 0"):
        scenario_report([])
    with pytest.raises(ParameterError, match="takes 1 to 4 scenarios; got 5"):
        scenario_report(results * 2 + results[:1])
    with pytest.raises(ParameterError, match="ScenarioResult objects"):
        scenario_report(["not a result"])


def test_same_names_are_told_apart(results):
    text = scenario_report([results[0], results[0]], generated=GENERATED)
    assert "Risk parity &amp; &quot;friends&quot; &lt;b&gt; (2)" in text
