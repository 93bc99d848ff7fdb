"""Which backend holds an array: numpy and scipy here, or Dask on a cluster.

The one question every module that may meet a dask array asks, answered without
importing Dask (an optional dependency) unless the caller already has.
"""

import sys


def is_dask_array(X):
    """Whether X is a ``dask.array.Array`` (False, without importing Dask, if no one
    has imported it)."""
    dask_array = sys.modules.get("dask.array")
    return dask_array is not None and isinstance(X, dask_array.Array)
