"""Collection rules shared by the test suite and the doctests of the package.

Without TensorFlow (an install without the extra ``keras``) the doctests of
``skltransfer.keras`` cannot run; the tests that need it skip themselves.
"""

import importlib.util

collect_ignore = []
if importlib.util.find_spec("tensorflow") is None or importlib.util.find_spec("keras") is None:
    collect_ignore.append("skltransfer/keras")
