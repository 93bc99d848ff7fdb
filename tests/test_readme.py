"""The README's usage example runs as written."""

import re
from pathlib import Path

import pytest
import sklearn.datasets

README = Path(__file__).resolve().parent.parent / "README.md"

# The default suite runs the example on the first digits only: the same code, names,
# parameters and fitted attributes, in a fraction of the time of the full grid search
# (which the slow test runs, as the reader would).
FEW_DIGITS = 360


def _run_python_blocks():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)
    assert blocks
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})


def test_readme_python_blocks_run_on_fewer_samples(capsys, monkeypatch):
    load_digits = sklearn.datasets.load_digits

    def first_digits(*args, **kwargs):
        X, y = load_digits(*args, **kwargs)  # the README asks for return_X_y=True
        return X[:FEW_DIGITS], y[:FEW_DIGITS]

    monkeypatch.setattr(sklearn.datasets, "load_digits", first_digits)
    _run_python_blocks()
    assert "m* =" in capsys.readouterr().out


@pytest.mark.slow
def test_readme_python_blocks_run(capsys):
    _run_python_blocks()
    assert "m* =" in capsys.readouterr().out
