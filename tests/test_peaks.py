"""The runtime's numpy peak finder and median filter equal scipy's on random and adversarial signals."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scoligait_edge.kinematics.peaks import find_peaks, median_filter_nearest

scipy_signal = pytest.importorskip("scipy.signal")  # the [train] extra; the runtime itself does not need scipy
scipy_ndimage = pytest.importorskip("scipy.ndimage")

# small integers make plateaus and ties (the hard cases); gait-like sines the usual ones
signals = st.one_of(
    st.lists(st.integers(-3, 3), min_size=0, max_size=60).map(lambda v: np.array(v, dtype=np.float64)),
    st.tuples(st.integers(20, 200), st.floats(0.02, 0.3), st.integers(0, 10_000)).map(
        lambda a: np.sin(np.arange(a[0]) * a[1]) + np.random.default_rng(a[2]).normal(0, 0.2, a[0])
    ),
)


@settings(max_examples=400, deadline=None)
@given(signals, st.integers(1, 20), st.floats(0.0, 3.0))
def test_find_peaks_equals_scipy(x, distance, prominence):
    expected, _ = scipy_signal.find_peaks(x, distance=distance, prominence=prominence)
    np.testing.assert_array_equal(find_peaks(x, distance=distance, prominence=prominence), expected)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 80), st.integers(0, 4), st.sampled_from([1, 2]), st.integers(0, 10_000))
def test_median_filter_equals_scipy(n, half, ndim, seed):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n,) if ndim == 1 else (n, 2))
    x[rng.random(x.shape) < 0.1] = 9.0  # outliers and ties
    k = 2 * half + 1
    expected = scipy_ndimage.median_filter(x, size=(k,) + (1,) * (x.ndim - 1), mode="nearest")
    np.testing.assert_array_equal(median_filter_nearest(x, k), expected)


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="odd"):
        median_filter_nearest(np.zeros(5), 4)
    with pytest.raises(ValueError, match="distance"):
        find_peaks(np.zeros(5), distance=0)
