"""numpydoc validation of the public docstrings, after scikit-learn's own test.

Every public class in ``sklearn_interp.__all__`` and every public method or property it
defines (not those inherited from scikit-learn, such as ``score`` or ``get_params``,
which scikit-learn validates) passes ``numpydoc.validate.validate``, up to the codes
ignored below.
"""

import inspect

import pytest

import sklearn_interp

numpydoc_validation = pytest.importorskip("numpydoc.validate")

# Codes ignored everywhere, as scikit-learn ignores them:
# - RT02 (the first line of Returns holds only the type): ``fit`` returns
#   ``self : object``, naming what it returns, as every scikit-learn estimator does.
IGNORED_EVERYWHERE = {"RT02"}
# Codes checked on the class docstring only, where the user reads them, as in
# scikit-learn: a method such as ``predict`` is one line that the class docstring's
# extended summary, See Also and Examples already put in context.
# - ES01: no extended summary;
# - SA01: no See Also section;
# - EX01: no Examples section.
CLASS_ONLY = {"ES01", "SA01", "EX01"}

# Known failures that the docstrings should not have, keyed by (class, method; None for
# the class docstring), with the exact (code, message) pairs. Each case is an
# xfail(strict=True): fixing the docstring makes it XPASS, which fails the suite until
# the entry is deleted; any other error fails it as a regular failure. None today.
KNOWN_FAILURES = {}


def _public_members(cls):
    """The class itself (None) and the public methods and properties it defines."""
    yield None
    for name in sorted(dir(cls)):
        if name.startswith("_"):
            continue
        member = inspect.getattr_static(cls, name)
        function = member.fget if isinstance(member, property) else member
        function = getattr(function, "__func__", function)  # classmethod, staticmethod
        if not (isinstance(member, property) or callable(function)):
            continue
        # Inherited from scikit-learn (score, get_params, set_*_request, ...): its
        # docstring is scikit-learn's, validated there.
        if getattr(function, "__module__", "").split(".")[0] != "sklearn_interp":
            continue
        yield name


class DocstringErrors(Exception):
    """The docstring fails exactly its entry in ``KNOWN_FAILURES``."""


def _cases():
    cases = []
    for name in sklearn_interp.__all__:
        cls = getattr(sklearn_interp, name)
        if not inspect.isclass(cls):
            continue  # __version__
        for method in _public_members(cls):
            key = (name, method)
            marks = []
            if key in KNOWN_FAILURES:
                marks.append(
                    pytest.mark.xfail(
                        strict=True,
                        raises=DocstringErrors,
                        reason=KNOWN_FAILURES[key]["reason"],
                    )
                )
            cases.append(
                pytest.param(
                    cls,
                    method,
                    marks=marks,
                    id=name if method is None else f"{name}.{method}",
                )
            )
    return cases


def _filtered_errors(errors, method):
    for code, message in errors:
        if code in IGNORED_EVERYWHERE:
            continue
        if method is not None and code in CLASS_ONLY:
            continue
        yield code, message


@pytest.mark.parametrize("cls, method", _cases())
def test_public_docstring(cls, method):
    # The public import path, as the API reference documents it.
    import_path = f"sklearn_interp.{cls.__name__}"
    if method is not None:
        import_path += f".{method}"
    result = numpydoc_validation.validate(import_path)
    errors = sorted(_filtered_errors(result["errors"], method))
    if not errors:
        return
    report = f"{import_path} ({result['file']}:{result['file_line']}):\n" + "\n".join(
        f" - {code}: {message}" for code, message in errors
    )
    known = KNOWN_FAILURES.get((cls.__name__, method))
    if known is not None and errors == sorted(known["errors"]):
        raise DocstringErrors(report)
    pytest.fail(report, pytrace=False)
