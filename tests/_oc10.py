"""Where the tests find Office-Caltech10 SURF: ../shared/data beside the repository.

``SKLTRANSFER_OC10_HOME`` overrides the folder. Tests that need the data skip cleanly when
it is absent (users of the library do not have it).
"""

import os
from pathlib import Path

import pytest

from skltransfer.datasets import fetch_office_caltech10

OC10_HOME = Path(
    os.environ.get(
        "SKLTRANSFER_OC10_HOME",
        Path(__file__).resolve().parents[2] / "shared" / "data" / "office_caltech10_surf",
    )
)

needs_oc10 = pytest.mark.skipif(
    not (OC10_HOME / "amazon.mat").exists(), reason=f"Office-Caltech10 SURF data absent from {OC10_HOME}"
)


def load_oc10(domain: str):
    """``(X, y)`` of one domain, read from :data:`OC10_HOME` without any download."""
    return fetch_office_caltech10(domain, data_home=OC10_HOME, download_if_missing=False)
