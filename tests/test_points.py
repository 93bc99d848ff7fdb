"""Training points: merging identical rows, zero weights, and the validation split."""

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

from sklearn_interp import _points as points
from sklearn_interp._points import (
    merge_duplicates,
    positive_rows,
    unmerge,
    validation_split,
)


def test_distinct_rows_with_equal_weights_come_back_as_they_are():
    X = np.arange(12.0).reshape(6, 2)
    Y = np.arange(6.0)[:, np.newaxis]
    for weight in (None, np.full(6, 2.0)):
        merged = merge_duplicates(X, Y, weight)
        assert merged.X is X and merged.Y is Y and merged.rows is None
        assert merged.weight is weight


@pytest.mark.parametrize("container", [np.asarray, sp.csr_matrix])
def test_identical_rows_become_one_point_at_their_weighted_mean(container):
    X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 0.0], [0.0, 2.0], [3.0, 0.0]])
    Y = np.array([[1.0], [5.0], [4.0], [5.0], [7.0]])
    weight = np.array([1.0, 1.0, 2.0, 3.0, 1.0])
    merged = merge_duplicates(container(X), Y, weight)
    points = merged.X.toarray() if sp.issparse(merged.X) else merged.X
    # One point per distinct row; its weight the sum, its target the weighted mean.
    by_row = {tuple(row): k for k, row in enumerate(points)}
    assert len(by_row) == 3
    first, second = by_row[(1.0, 0.0)], by_row[(0.0, 2.0)]
    assert merged.weight[first] == 3.0 and merged.weight[second] == 4.0
    assert_allclose(merged.Y[first], [(1.0 + 2 * 4.0) / 3])
    assert_allclose(merged.Y[second], [5.0])
    # Each row's share of its point's coefficient is its weight over the point's.
    coef = np.arange(1.0, 4.0)[:, np.newaxis]
    rows = unmerge(coef, merged)
    assert_allclose(rows[0] + rows[2], coef[first])
    assert_allclose(rows[2] / rows[0], 2.0)
    assert_allclose(rows[4], coef[by_row[(3.0, 0.0)]])


def test_merged_points_do_not_depend_on_the_order_of_the_rows():
    rng = np.random.RandomState(0)
    X = rng.randint(0, 3, size=(40, 2)).astype(float)
    Y = rng.randn(40, 2)
    weight = rng.uniform(0.5, 2, size=40)
    order = rng.permutation(40)
    merged = merge_duplicates(X, Y, weight)
    shuffled = merge_duplicates(X[order], Y[order], weight[order])
    assert_array_equal(shuffled.X, merged.X)
    assert_allclose(shuffled.Y, merged.Y, rtol=1e-14)
    assert_allclose(shuffled.weight, merged.weight, rtol=1e-14)


def test_repeated_rows_and_integer_weights_merge_alike():
    rng = np.random.RandomState(0)
    X = rng.rand(10, 3)
    Y = rng.randint(0, 3, size=(10, 1)).astype(float)
    weight = rng.randint(1, 4, size=10)
    repeated = merge_duplicates(X.repeat(weight, axis=0), Y.repeat(weight, axis=0), None)
    weighted = merge_duplicates(X, Y, weight.astype(float))
    assert_array_equal(repeated.X, weighted.X)
    assert_array_equal(repeated.Y, weighted.Y)
    assert_array_equal(repeated.weight, weighted.weight)


def test_positive_rows():
    assert positive_rows(None) is None
    assert positive_rows(np.ones(3)) is None
    assert_array_equal(positive_rows(np.array([1.0, 0.0, 2.0])), [0, 2])


def test_validation_split_of_some_rows():
    rows = np.array([1, 4, 5, 8, 9, 12, 13, 20, 21, 30])
    train, held_out = validation_split(10, 0.2, np.random.RandomState(0), rows=rows)
    assert len(held_out) == 2
    assert_array_equal(np.sort(np.concatenate([train, held_out])), rows)


def test_rows_of_one_hash_are_told_apart(monkeypatch):
    # Every row hashed alike: the exact comparison of the rows decides.
    monkeypatch.setattr(points, "_row_hashes", lambda X: np.zeros(len(X), np.uint64))
    X = np.array([[1.0, 2.0], [3.0, 4.0], [1.0, 2.0]])
    merged = merge_duplicates(X, np.array([[1.0], [2.0], [3.0]]), None)
    found = {
        tuple(row): (target[0], weight)
        for row, target, weight in zip(merged.X, merged.Y, merged.weight, strict=True)
    }
    assert found == {(1.0, 2.0): (2.0, 2.0), (3.0, 4.0): (2.0, 1.0)}


def test_float32_rows_and_signed_zeros():
    X = np.array([[0.0, 1.5], [-0.0, 1.5], [0.0, 1.5]], dtype=np.float32)
    merged = merge_duplicates(X, np.ones((3, 1)), None)
    # Identical bytes only: -0.0 stays its own point.
    assert len(merged.X) == 2
    assert sorted(merged.weight) == [1.0, 2.0]
