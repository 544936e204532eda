"""nbval settings for ``pytest --nbval-lax notebooks/`` (part of ``./reproduce.sh test``).

Every notebook runs at the scale given by ``DATADAM_SCALE`` (``smoke`` unless
set) on the dataset given by ``DATADAM_DATASET`` (``digits`` unless set: the
paper-figure notebooks default to CIFAR-10, which CI does not have). Their
figures, results and cache go to a temporary directory (``DATADAM_OUT``,
``DATADAM_CACHE``), so a test run never overwrites the committed figures.
Set those variables to keep the outputs.
"""
import os
import shutil
import tempfile

os.environ.setdefault("DATADAM_SCALE", "smoke")
os.environ.setdefault("DATADAM_DATASET", "digits")
os.environ.setdefault("MPLBACKEND", "Agg")
_TMP = None
if not os.environ.get("DATADAM_OUT"):
    _TMP = tempfile.mkdtemp(prefix="datadam-nbval-")
    os.environ["DATADAM_OUT"] = _TMP
    os.environ.setdefault("DATADAM_CACHE", os.path.join(_TMP, "cache"))


def pytest_sessionfinish(session, exitstatus):
    if _TMP:
        shutil.rmtree(_TMP, ignore_errors=True)
