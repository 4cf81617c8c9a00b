"""The Kalman smoother against exact Gaussian conditioning; the AR fit against known models."""

from __future__ import annotations

import numpy as np
import pytest

from posekit.postprocess.arima import _stabilize, arima_estimate, fit_ar
from posekit.postprocess.kalman import kalman_smooth, measurement_variance

DIFFUSE, VELOCITY = 1e8, 100.0**2  # the smoother's prior


def exact_posterior(y: np.ndarray, valid: np.ndarray, r: np.ndarray, q: float) -> np.ndarray:
    """E[position | measurements] by conditioning the joint Gaussian of all states directly.

    The prior is the smoother's: position ~ N(first measurement, 1e8), velocity ~ N(0, 1e4),
    then x[t+1] = F x[t] + w, w ~ N(0, q^2 [[1/4, 1/2], [1/2, 1]]).
    """
    n = len(y)
    f = np.array([[1.0, 1.0], [0.0, 1.0]])
    noise = q**2 * np.array([[0.25, 0.5], [0.5, 1.0]])
    powers = [np.linalg.matrix_power(f, k) for k in range(n)]
    prior = np.diag([DIFFUSE, VELOCITY])
    cov = np.empty((n, n))  # covariance of positions
    for t in range(n):
        for s in range(n):
            c = powers[t] @ prior @ powers[s].T
            for k in range(min(t, s)):
                c = c + powers[t - 1 - k] @ noise @ powers[s - 1 - k].T
            cov[t, s] = c[0, 0]
    mean = np.full(n, y[valid][0])
    obs = np.flatnonzero(valid)
    gain = cov[:, obs] @ np.linalg.inv(cov[np.ix_(obs, obs)] + np.diag(r[obs]))
    return mean + gain @ (y[obs] - mean[obs])


def test_kalman_smoother_equals_exact_conditioning() -> None:
    rng = np.random.default_rng(3)
    n = 25
    y = np.cumsum(rng.normal(0, 2, n)) + 50
    valid = np.ones(n, bool)
    valid[[7, 8, 9, 16]] = False
    likelihood = rng.uniform(0.3, 1.0, n)
    out = kalman_smooth(y[:, None], valid[:, None], likelihood[:, None],
                        measurement_noise=2.0, process_noise=1.5)
    r = measurement_variance(likelihood, 2.0)
    np.testing.assert_allclose(out.position[:, 0], exact_posterior(y, valid, r, 1.5), atol=1e-4)
    # the left-out estimate of frame t is the posterior without frame t's measurement
    for t in (0, 5, 12, 24):
        without = valid.copy()
        without[t] = False
        expected = exact_posterior(y, without, r, 1.5)[t]
        assert out.left_out[t, 0] == pytest.approx(expected, abs=1e-3)
    assert np.isnan(out.left_out[7, 0])  # not a measurement: nothing left out


def test_low_likelihood_points_count_less() -> None:
    y = np.zeros(21)
    y[10] = 10.0  # one off point
    valid = np.ones((21, 1), bool)
    trusted = np.ones((21, 1))
    doubted = trusted.copy()
    doubted[10] = 0.2
    pull = [kalman_smooth(y[:, None], valid, lik, measurement_noise=1.0,
                          process_noise=0.5).position[10, 0] for lik in (trusted, doubted)]
    assert 0 < pull[1] < pull[0] / 3  # a doubted point barely moves the track


def test_series_are_independent_and_chunking_is_invisible(monkeypatch) -> None:
    rng = np.random.default_rng(0)
    y = np.cumsum(rng.normal(0, 1, (50, 6)), axis=0)
    valid = rng.random((50, 6)) > 0.2
    lik = rng.uniform(0.5, 1, (50, 6))
    whole = kalman_smooth(y, valid, lik, measurement_noise=1.0, process_noise=1.0)
    monkeypatch.setattr("posekit.postprocess.kalman._CHUNK_VALUES", 50 * 2)  # 2 series a chunk
    chunked = kalman_smooth(y, valid, lik, measurement_noise=1.0, process_noise=1.0)
    np.testing.assert_allclose(chunked.position, whole.position)
    alone = kalman_smooth(y[:, [3]], valid[:, [3]], lik[:, [3]], measurement_noise=1.0,
                          process_noise=1.0)
    np.testing.assert_allclose(alone.position[:, 0], whole.position[:, 3])


def test_ar_fit_recovers_a_known_model() -> None:
    rng = np.random.default_rng(5)
    phi = np.array([0.5, -0.3])
    d = np.zeros(3000)
    for t in range(2, len(d)):
        d[t] = phi[0] * d[t - 1] + phi[1] * d[t - 2] + rng.normal()
    y = np.cumsum(d)[:, None]
    valid = np.ones_like(y, bool)
    valid[::50] = False  # holes only cost some rows
    np.testing.assert_allclose(fit_ar(y, valid, 2)[0], phi, atol=0.05)
    assert not fit_ar(y[:8], valid[:8], 2).any()  # too little data: a random walk


def test_unstable_fit_is_shrunk_inside_the_unit_circle() -> None:
    phi = _stabilize(np.array([1.5, -0.2]))  # roots 1.35 and 0.15
    assert np.max(np.abs(np.roots(np.r_[1.0, -phi]))) == pytest.approx(0.98)
    stable = np.array([0.3, 0.1])
    np.testing.assert_array_equal(_stabilize(stable), stable)


def test_arima_bridges_a_gap_on_a_curve() -> None:
    t = np.arange(200, dtype=float)
    y = (100 + 40 * np.sin(t / 15))[:, None]
    valid = np.ones_like(y, bool)
    valid[90:98] = False
    fill = ~valid
    estimate, forward, backward = arima_estimate(y, valid, fill, order=3)
    assert np.abs(estimate[90:98, 0] - y[90:98, 0]).max() < 1.0
    assert np.isnan(forward[0, 0]) and np.isnan(backward[-1, 0])  # nothing before / after
    np.testing.assert_allclose(estimate[valid[:, 0], 0], y[valid[:, 0], 0], atol=0.5)
