"""Cache keys computed once per object, and the two cache decorators the pages use.

Streamlit keys ``st.cache_data`` and ``st.cache_resource`` on a hash of every argument, taken
on every call: with the 14 daily files loaded that was a third of a rerun's server time (the
same price panel hashed by five or six cached functions per run), and for frames of 50,000
rows or more Streamlit hashes a random sample of rows only, so two hourly panels that differ
outside the sample would share a key. Here a frame's key is the digest of all of its content
(index, columns, dtypes, values), computed once per object and remembered until the object is
freed. It pays off because the data pipeline's results are resources (:func:`shared`): the
same objects every run, so their keys are found, not recomputed.

A frame given to a cache must not be changed in place afterwards (its remembered key would
no longer describe it); riskcore and the pages never do (pandas' copy-on-write makes derived
frames copies).
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import pandas as pd
import streamlit as st

_KEYS: dict[int, str] = {}
_LOCK = threading.Lock()


def _digest(obj: pd.DataFrame | pd.Series) -> str:
    h = hashlib.blake2b(digest_size=16)
    frame = obj.to_frame() if isinstance(obj, pd.Series) else obj
    h.update(type(obj).__name__.encode())
    h.update(repr((frame.shape, [str(t) for t in frame.dtypes])).encode())
    for labels in (frame.index, frame.columns):
        h.update(pd.util.hash_pandas_object(labels, index=False).to_numpy().tobytes())
    for j in range(frame.shape[1]):
        values = frame.iloc[:, j]
        if isinstance(values.dtype, np.dtype) and values.dtype.kind in "biuf":
            h.update(np.ascontiguousarray(values.to_numpy()).data)
        else:
            h.update(pd.util.hash_pandas_object(values, index=False).to_numpy().tobytes())
    return h.hexdigest()


def frame_key(obj: pd.DataFrame | pd.Series) -> str:
    """Return the digest of a frame's or series' whole content, computed once per object.

    Parameters
    ----------
    obj : pandas.DataFrame or pandas.Series
        Any shape and dtypes.

    Returns
    -------
    str
        128-bit BLAKE2b digest (hex) of the type, shape, dtypes, index and column labels and every
        value; remembered by object identity until the object is garbage-collected.
    """
    oid = id(obj)
    key = _KEYS.get(oid)
    if key is not None:
        return key
    key = _digest(obj)
    with _LOCK:
        _KEYS[oid] = key
    weakref.finalize(obj, _KEYS.pop, oid, None)
    return key


#: ``hash_funcs`` of every cache in the dashboard.
HASH_FUNCS: dict = {pd.DataFrame: frame_key, pd.Series: frame_key}


def shared(**kwargs) -> Callable:
    """Return ``st.cache_resource`` with :data:`HASH_FUNCS`: one result for every run, no copy.

    For results nothing changes in place (price panels, datasets, estimates), shared by every
    run and session; ``max_entries`` bounds the memory.
    """
    return st.cache_resource(hash_funcs=HASH_FUNCS, **kwargs)


def data(**kwargs) -> Callable:
    """Return ``st.cache_data`` with :data:`HASH_FUNCS`: each call gets its own copy."""
    return st.cache_data(hash_funcs=HASH_FUNCS, **kwargs)


_SHA256: OrderedDict[int, tuple[bytes, str]] = OrderedDict()
_SHA256_ENTRIES = 256


def content_sha256(content: bytes) -> str:
    """Return the SHA-256 (hex) of an uploaded file's bytes, computed once per bytes object.

    The session keeps the same bytes objects from run to run; the link (``ui.scenario``)
    names its files by this digest on every run. The last 256 objects are remembered (held,
    so an identity is never reused while remembered).
    """
    oid = id(content)
    with _LOCK:
        hit = _SHA256.get(oid)
        if hit is not None and hit[0] is content:
            _SHA256.move_to_end(oid)
            return hit[1]
    digest = hashlib.sha256(content).hexdigest()
    with _LOCK:
        _SHA256[oid] = (content, digest)
        while len(_SHA256) > _SHA256_ENTRIES:
            _SHA256.popitem(last=False)
    return digest
