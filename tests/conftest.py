"""Shared test fixtures: paths to the real data beside the repository."""

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
YAHOO_DAILY = SHARED_DATA / "yahoo-daily"
UPLOADS = SHARED_DATA / "uploads"


@pytest.fixture(scope="session")
def yahoo_daily_files() -> list[Path]:
    files = sorted(YAHOO_DAILY.glob("*.csv"))
    assert len(files) == 14, f"expected the 14 real Yahoo files in {YAHOO_DAILY}"
    return files
