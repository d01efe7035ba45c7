"""Read values back from a plotly figure's JSON (plotly 7 sends numpy arrays base64-encoded)."""

import base64
import json

import numpy as np


def decode(value) -> np.ndarray:
    """A trace attribute as an array: a plain list, or plotly's {"dtype", "bdata", "shape"}."""
    if isinstance(value, dict) and "bdata" in value:
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=np.dtype(value["dtype"]))
        shape = value.get("shape")
        if isinstance(shape, str):
            shape = tuple(int(n) for n in shape.split(","))
        return flat.reshape(shape) if shape else flat
    return np.asarray(value)


def figures(at) -> list[dict]:
    """Every plotly figure an AppTest run shows, as JSON dicts."""
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def trace(fig: dict, name: str) -> dict:
    """The trace called ``name``."""
    found = [t for t in fig["data"] if t.get("name") == name]
    assert found, f"no trace {name!r} in {[t.get('name') for t in fig['data']]}"
    return found[0]


def y_values(fig: dict, name: str) -> np.ndarray:
    """Decoded y of the trace called ``name``."""
    return decode(trace(fig, name)["y"])
