"""Kernel machines fitted by mini-batch SGD at the critical batch size, for scikit-learn.

Implements Ma, Bassily and Belkin, "The Power of Interpolation: Understanding the
Effectiveness of SGD in Modern Over-parametrized Learning" (ICML 2018), with the EigenPro
preconditioner of Ma and Belkin (NeurIPS 2017, MLSys 2019).
"""

from ._estimators import InterpolatingKernelClassifier, InterpolatingKernelRegressor

__version__ = "0.1.0.dev0"

__all__ = [
    "InterpolatingKernelClassifier",
    "InterpolatingKernelRegressor",
    "__version__",
]
