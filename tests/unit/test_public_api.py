import subprocess
import sys

import pytest

import riskcore


@pytest.mark.parametrize("name", riskcore.__all__)
def test_every_public_name_resolves(name):
    assert getattr(riskcore, name) is not None


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        riskcore.nope  # noqa: B018


def test_riskcore_never_imports_streamlit():
    code = "import sys, riskcore; [getattr(riskcore, n) for n in riskcore.__all__]; " \
           "print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
