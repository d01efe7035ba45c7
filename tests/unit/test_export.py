"""Formula (CSV) injection: every text cell a spreadsheet would evaluate gets a leading quote."""

import csv
import io
import json

import numpy as np
import pandas as pd
import pytest

from riskcore.export import (
    FORMULA_PREFIXES,
    neutralize_formula,
    neutralize_frame,
    neutralize_records,
    to_csv_safe,
)

HOSTILE = ['=HYPERLINK("http://x","y")', "=1+1", "+1+1", "-1+1", "@SUM(A1)",
           "\t=1+1", "\r=1+1", "\tBTC", "\rBTC"]
HARMLESS = ["BTC-USD", "bitcoin", "", "1+1", "a=b", "0.5", "-0.35", "+1e-3", "'=already"]


@pytest.mark.parametrize("text", HOSTILE)
def test_text_a_spreadsheet_would_evaluate_gets_a_leading_quote(text):
    assert neutralize_formula(text) == "'" + text


@pytest.mark.parametrize("text", HARMLESS)
def test_other_text_is_left_alone(text):
    assert neutralize_formula(text) == text


@pytest.mark.parametrize("value", [-1.5, -1, 0, np.float64(-0.2), np.int64(-3), None, True,
                                   np.nan, pd.Timestamp("2024-01-01")])
def test_numbers_and_other_non_text_are_never_touched(value):
    out = neutralize_formula(value)
    assert out is value or (isinstance(value, float) and np.isnan(out))


def test_every_owasp_prefix_is_covered():
    assert set(FORMULA_PREFIXES) == {"=", "+", "-", "@", "\t", "\r"}


def _frame() -> pd.DataFrame:
    names = pd.Index(HOSTILE[:5] + ["BTC-USD"], name="=asset")
    return pd.DataFrame({
        "weight": [0.1, -0.2, 0.3, 0.0, 0.2, 0.6],
        "side": ["buy", "=1+1", "sell", "@SUM(A1)", "-1+1", "buy"],
        "=HYPERLINK(\"http://x\",\"y\")": [1, 2, 3, 4, 5, 6],
    }, index=names)


def test_frame_index_columns_and_text_cells_are_neutralized_numbers_kept():
    safe = neutralize_frame(_frame())
    assert list(safe.index) == ["'" + t for t in HOSTILE[:5]] + ["BTC-USD"]
    assert safe.index.name == "'=asset"
    assert list(safe.columns) == ["weight", "side", "'=HYPERLINK(\"http://x\",\"y\")"]
    assert list(safe["side"]) == ["buy", "'=1+1", "sell", "'@SUM(A1)", "'-1+1", "buy"]
    assert safe["weight"].dtype == np.float64 and safe["weight"].iloc[1] == -0.2
    assert safe.iloc[:, 2].dtype == _frame().iloc[:, 2].dtype


def test_the_input_frame_is_not_changed():
    frame = _frame()
    neutralize_frame(frame)
    pd.testing.assert_frame_equal(frame, _frame())


def test_multiindex_levels_categorical_and_string_columns():
    columns = pd.MultiIndex.from_tuples([("weight", "=1+1"), ("weight", "ERC")])
    frame = pd.DataFrame([[0.5, 0.5]], columns=columns, index=pd.Index(["@SUM(A1)"]))
    frame[("label", "x")] = pd.Categorical(["+1+1"])
    frame[("note", "y")] = pd.Series(["-1+1"], index=frame.index, dtype="string")
    safe = neutralize_frame(frame)
    assert list(safe.columns.get_level_values(1)) == ["'=1+1", "ERC", "x", "y"]
    assert safe.index[0] == "'@SUM(A1)"
    assert safe[("label", "x")].iloc[0] == "'+1+1"
    assert safe[("note", "y")].iloc[0] == "'-1+1"


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def test_to_csv_safe_no_cell_starts_with_a_formula_character():
    text = to_csv_safe(_frame(), index_label="asset")
    cells = _cells(text)
    assert "'=HYPERLINK(\"http://x\",\"y\")" in cells
    assert "-0.2" in cells  # a negative number stays a number
    assert not [c for c in cells if c.startswith(FORMULA_PREFIXES) and c != "-0.2"]


def test_to_csv_safe_passes_pandas_options_and_neutralizes_the_index_label():
    text = to_csv_safe(_frame(), index=False)
    assert _cells(text)[:3] == ["weight", "side", "'=HYPERLINK(\"http://x\",\"y\")"]
    assert _cells(to_csv_safe(_frame(), index_label="=1+1"))[0] == "'=1+1"
    with pytest.raises(TypeError, match="no_such_option"):
        to_csv_safe(_frame(), no_such_option=1)


def test_numbers_written_as_text_stay_numbers():
    # the stress report writes every cell as text: numbers must still read as numbers
    frame = pd.DataFrame({"loss": [-0.35, 1e-3]}).astype(str)
    assert _cells(to_csv_safe(frame, index=False)) == ["loss", "-0.35", "0.001"]


def test_json_records_keys_and_string_values_neutralized():
    record = {"assets": {"=1+1": {"weight": -0.5, "note": "@SUM(A1)"}},
              "names": ("+1+1", "BTC", 3), "source": "\t=cmd", "ok": True, "none": None}
    safe = neutralize_records(record)
    assert safe == {"assets": {"'=1+1": {"weight": -0.5, "note": "'@SUM(A1)"}},
                    "names": ["'+1+1", "BTC", 3], "source": "'\t=cmd", "ok": True,
                    "none": None}
    json.dumps(safe)  # still serializable
    assert record["assets"]["=1+1"]["note"] == "@SUM(A1)"  # input unchanged
