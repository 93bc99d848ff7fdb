"""Sphinx configuration of the sklearn_interp documentation."""

import sklearn_interp

project = "sklearn_interp"
author = "the sklearn_interp developers"
copyright = "2026, the sklearn_interp developers"
release = sklearn_interp.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # Ships MathJax 3 (pip package sphinx-mathjax-offline, in the "doc" extra): it sets
    # mathjax_path to "mathjax/tex-chtml.js" and copies the scripts and fonts into
    # _static/mathjax when the build succeeds, so the mathematics renders without a CDN.
    "sphinx-mathjax-offline",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

autosummary_generate = True
autodoc_default_options = {}
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

# No intersphinx: the build machines reach only package registries, not the other
# projects' documentation sites; references to scikit-learn render as plain names.

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "reference_url": {"sklearn_interp": None},
    "doc_module": ("sklearn_interp",),
    "backreferences_dir": "generated/backreferences",
    "remove_config_comments": True,
}

html_theme = "pydata_sphinx_theme"
html_title = "sklearn_interp"
html_static_path = []
html_theme_options = {"navigation_with_keys": False}
templates_path = ["_templates"]
exclude_patterns = ["_build", "auto_examples/*.ipynb", "auto_examples/*.py"]
