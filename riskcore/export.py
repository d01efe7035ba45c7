"""Downloads that are safe to open in a spreadsheet: formula (CSV) injection neutralized.

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by
Excel, LibreOffice Calc and Google Sheets as a formula: an asset named
``=HYPERLINK("http://x","y")`` becomes a live link, ``@SUM(A1)`` a calculation. Such text is
prefixed with a single quote, which the spreadsheet shows as text and does not evaluate.

Reference: OWASP, "CSV Injection", https://owasp.org/www-community/attacks/CSV_Injection
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

#: First characters that make a spreadsheet evaluate a cell (OWASP, "CSV Injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# A plain decimal number written as text ("-0.35", "+1e-3"): a spreadsheet reads it as that
# number and evaluates nothing, so it is left as is (pages that write numbers as text stay
# numeric). "-1+1" is not a number and is neutralized.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralize_formula(value: Any) -> Any:
    """Return ``value`` with a leading ``'`` if it is text a spreadsheet would evaluate.

    Parameters
    ----------
    value : object
        A cell, a column or index label, or a JSON string value.

    Returns
    -------
    object
        ``"'" + value`` when ``value`` is a ``str`` starting with one of
        :data:`FORMULA_PREFIXES` (``=``, ``+``, ``-``, ``@``, tab, carriage return) that is not
        a plain number such as ``"-0.35"``; anything else unchanged (numbers, including
        negative ones, are not text and are never touched).

    References
    ----------
    OWASP, "CSV Injection": prepend a single quote to cells beginning with these characters.
    https://owasp.org/www-community/attacks/CSV_Injection

    Examples
    --------
    >>> neutralize_formula("=1+1")
    "'=1+1"
    >>> neutralize_formula(-0.5), neutralize_formula("-0.5"), neutralize_formula("BTC")
    (-0.5, '-0.5', 'BTC')
    """
    if (isinstance(value, str) and value.startswith(FORMULA_PREFIXES)
            and not _NUMBER.fullmatch(value)):
        return "'" + value
    return value


def _is_text(values: pd.Index | pd.Series) -> bool:
    dtype = values.dtype
    return (pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype)
            or isinstance(dtype, pd.CategoricalDtype))


def _neutralize_index(index: pd.Index) -> pd.Index:
    names = [neutralize_formula(n) for n in index.names]
    if isinstance(index, pd.MultiIndex):
        levels = [index.get_level_values(i) for i in range(index.nlevels)]
        arrays = [lv.map(neutralize_formula) if _is_text(lv) else lv for lv in levels]
        return pd.MultiIndex.from_arrays(arrays, names=names)
    safe = index.map(neutralize_formula) if _is_text(index) else index.copy()
    return safe.set_names(names)


def neutralize_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``frame`` whose text can be opened safely in a spreadsheet.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, n_columns)
        Any table about to be downloaded.

    Returns
    -------
    DataFrame of shape (n_rows, n_columns)
        The same table with :func:`neutralize_formula` applied to the index values and names,
        the column labels and names (every level of a MultiIndex) and every ``str`` cell of
        text columns (object, string or categorical dtype). Numeric, boolean and date columns
        are returned unchanged.

    References
    ----------
    OWASP, "CSV Injection". https://owasp.org/www-community/attacks/CSV_Injection
    """
    safe = frame.copy()
    safe.index = _neutralize_index(frame.index)
    safe.columns = _neutralize_index(frame.columns)
    for position in range(safe.shape[1]):
        column = safe.iloc[:, position]
        if _is_text(column):
            if isinstance(column.dtype, pd.CategoricalDtype):
                column = column.astype(object)
            safe.isetitem(position, column.map(neutralize_formula))
    return safe


def to_csv_safe(frame: pd.DataFrame, **to_csv_options: Any) -> str:
    """Write ``frame`` as CSV text with spreadsheet formulas neutralized.

    Parameters
    ----------
    frame : DataFrame
        The table to download.
    **to_csv_options
        Passed to :meth:`pandas.DataFrame.to_csv` (``index``, ``index_label``, ...; pandas
        rejects unknown names). Text given here (e.g. ``index_label``) is neutralized too.

    Returns
    -------
    str
        The CSV text of :func:`neutralize_frame` ``(frame)``.

    References
    ----------
    OWASP, "CSV Injection". https://owasp.org/www-community/attacks/CSV_Injection
    """
    if isinstance(to_csv_options.get("index_label"), str):
        to_csv_options["index_label"] = neutralize_formula(to_csv_options["index_label"])
    return neutralize_frame(frame).to_csv(**to_csv_options)


def neutralize_records(data: Any) -> Any:
    """Return a copy of JSON-ready ``data`` with every string key and value neutralized.

    Parameters
    ----------
    data : dict, list, tuple, str or scalar
        Nested records as passed to :func:`json.dumps` (a decision record, a list of rows).

    Returns
    -------
    object
        The same structure (tuples become lists) with :func:`neutralize_formula` applied to
        every string, keys of mappings included; numbers, booleans and ``None`` unchanged.
        A spreadsheet importing the JSON (Excel's Power Query, for one) then shows text.

    References
    ----------
    OWASP, "CSV Injection". https://owasp.org/www-community/attacks/CSV_Injection
    """
    if isinstance(data, dict):
        return {neutralize_formula(k): neutralize_records(v) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [neutralize_records(v) for v in data]
    return neutralize_formula(data)
