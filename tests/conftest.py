"""Environment gates of the test markers declared in setup.cfg.

``imagenet`` tests download ImageNet weights through Keras and ``gpu`` tests need a GPU:
each runs only when its variable is set to 1, and is skipped with the variable's name
otherwise. ``slow`` tests run by default (``-m "not slow"`` deselects them).
"""

import os

import pytest

GATES = {"imagenet": "SKLTRANSFER_IMAGENET_TESTS", "gpu": "SKLTRANSFER_GPU_TESTS"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        for marker, variable in GATES.items():
            if marker in item.keywords and os.environ.get(variable) != "1":
                item.add_marker(pytest.mark.skip(reason=f"set {variable}=1 to run the {marker!r} tests"))
