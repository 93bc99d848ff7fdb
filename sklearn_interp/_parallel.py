"""Kernel rows on all cores: BLAS held at one thread, and rows split over threads.

A kernel block is a matrix product (BLAS) followed by an elementwise map (numpy's exp
for rbf), which numpy runs on one thread. Left to BLAS's own threads, half the work of
a block would run on one core. So wherever kernel rows are computed in this process
(the SGD epochs, predictions, the scan for beta_P), BLAS runs single-threaded for the
duration and this package's threads take the cores, each on its own chunk of rows: a
chunk's block is computed, mapped and reduced (multiplied by the coefficients) by one
thread while it is still in that core's cache.

* :func:`single_threaded_blas` holds BLAS at one thread and says how many it had;
* :func:`chunk_rows` is the one rule for a thread's chunk;
* :func:`map_row_chunks` runs a function over the chunks of a row range on the threads.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

from sklearn.utils import gen_batches, gen_even_slices
from threadpoolctl import ThreadpoolController

from ._kernel import kernel_block_rows

# Blocks with fewer kernel entries than this are computed by one thread: below it the
# threads' hand-off costs more than it saves.
PARALLEL_MIN_ENTRIES = 2**16

# map_row_chunks goes parallel only above this many kernel entries: holding BLAS at one
# thread (threadpoolctl reads the loaded libraries) and starting the threads cost about
# a millisecond, the time of a few million kernel entries.
MAP_PARALLEL_MIN_ENTRIES = 2**22

# A thread computes its piece of a block in chunks of rows, written into one buffer it
# reuses: no block is allocated (and page-faulted in) afresh for every batch, and a chunk
# of about CHUNK_ENTRIES kernel entries (16 MB in float64) is still in cache when the
# exp, the product with the coefficients and the subsample projection read it. Each
# chunk's product also reads all n x c coefficients, so a chunk has at least
# MIN_CHUNK_ROWS rows. Measured per epoch on 2 cores (d = 40, c = 10, float64): at
# n = 20,000, chunks of 104 rows 0.66 s, 256 rows 0.68 s, whole 980-row pieces 0.78 s;
# at n = 50,000, 64 rows 4.8 s, 128 rows 4.3 s, 256 rows 4.0 s, whole pieces 4.1 s.
CHUNK_ENTRIES = 2**21
MIN_CHUNK_ROWS = 256


def chunk_rows(n_columns, block_rows, n_threads):
    """Rows of one thread's chunk of kernel rows against ``n_columns`` points.

    About CHUNK_ENTRIES entries, at least MIN_CHUNK_ROWS rows, and at most a share
    ``block_rows / n_threads`` of the memory budget's block, so that the threads'
    chunks together stay within it (at least one row).
    """
    return max(
        1, min(block_rows // n_threads, max(MIN_CHUNK_ROWS, CHUNK_ENTRIES // n_columns))
    )


def map_row_chunks(function, n_rows, n_columns, dtype):
    """``[function(rows) for rows in chunks]`` over rows ``0 .. n_rows - 1``, on all
    cores.

    ``function(rows)`` gets a slice of rows, computes their kernel rows against
    ``n_columns`` points in ``dtype`` and whatever it makes of them (it writes into
    disjoint slices of its own outputs, or returns a value). Chunks follow
    :func:`chunk_rows` within the memory budget; with more than one thread and
    enough work they run on a thread pool, BLAS held at one thread. The results come
    back in the chunks' order, so they do not depend on thread timing.
    """
    if n_rows * n_columns < MAP_PARALLEL_MIN_ENTRIES:
        rows = chunk_rows(n_columns, kernel_block_rows(n_columns, dtype), 1)
        return [function(chunk) for chunk in gen_batches(n_rows, rows)]
    with single_threaded_blas() as n_threads:
        rows = chunk_rows(n_columns, kernel_block_rows(n_columns, dtype), n_threads)
        chunks = list(gen_batches(n_rows, rows))
        if n_threads == 1 or len(chunks) == 1:
            return [function(chunk) for chunk in chunks]
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            return list(pool.map(function, chunks))


_blas_lock = threading.Lock()
_blas_users = 0
_blas_limiter = None
_blas_threads = 1
_controller = None


def _threadpool_controller():
    """One ThreadpoolController for the process, made on first use.

    Making one reads the process's loaded libraries (/proc/self/maps), about 5 ms, more
    than a whole fit on a few hundred points; scikit-learn keeps one for the same reason
    (``sklearn.utils.parallel._get_threadpool_controller``). The BLAS that matter,
    numpy's and scipy's, are loaded when this package is imported, before the first fit.
    Its ``info()`` asks each library for its current thread count every time.
    """
    global _controller
    if _controller is None:
        _controller = ThreadpoolController()
    return _controller


@contextmanager
def single_threaded_blas():
    """Hold BLAS at one thread while any fit runs; yield the thread count it had.

    threadpoolctl's limits are process-wide, so concurrent fits (user threads, joblib's
    threading backend) share one limit: the first fit in sets it, the last one out
    restores the original.
    """
    global _blas_users, _blas_limiter, _blas_threads
    with _blas_lock:
        if _blas_users == 0:
            controller = _threadpool_controller()
            _blas_threads = max(
                [
                    lib["num_threads"]
                    for lib in controller.info()
                    if lib["user_api"] == "blas"
                ],
                default=1,
            )
            _blas_limiter = controller.limit(limits=1, user_api="blas")
        _blas_users += 1
        n_threads = _blas_threads
    try:
        yield n_threads
    finally:
        with _blas_lock:
            _blas_users -= 1
            if _blas_users == 0:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


def map_shares(function, rows, n_columns, pool, n_threads, *per_share):
    """``[function(share, *args) for share in shares]``: one even share of the slice
    ``rows`` per thread of ``pool``, or one share for rows of fewer than
    PARALLEL_MIN_ENTRIES kernel entries against ``n_columns`` points (or no pool).

    ``per_share`` are sequences with one item per thread (a thread's own buffers),
    the k-th passed with the k-th share. The results come in the shares' order.
    """
    size = rows.stop - rows.start
    parallel = pool is not None and size * n_columns >= PARALLEL_MIN_ENTRIES
    shares = [
        slice(rows.start + part.start, rows.start + part.stop)
        for part in gen_even_slices(size, n_threads if parallel else 1)
    ]
    args = [shares, *(items[: len(shares)] for items in per_share)]
    if len(shares) > 1:
        return list(pool.map(function, *args))
    return list(map(function, *args))


@contextmanager
def evaluator_threads():
    """``(pool, n_threads)`` for an evaluator's epochs: BLAS held at one thread
    (:func:`single_threaded_blas`) and a pool of as many threads as BLAS had (None for
    one), which compute the kernel blocks, elementwise work included, in parallel."""
    with single_threaded_blas() as n_threads:
        if n_threads == 1:
            yield None, 1
            return
        with ThreadPoolExecutor(max_workers=n_threads) as pool:
            yield pool, n_threads
