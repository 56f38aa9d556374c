"""Tests for common/logistic_mixture.py against an independent numpy/scipy reading of PIC's mixture."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from scipy import integrate, stats

from common import logistic_mixture as lm
from common import sampling

GRID = np.arange(256) / 127.5 - 1.0  # the 256 levels of [-1, 1]
HALF = 1.0 / 255.0


def _random_params(k, seed, log_scale=-2.0):
    rng = np.random.default_rng(seed)
    params = rng.normal(0.0, 1.0, 8 * k)
    params[4 * k : 5 * k] = rng.uniform(-0.8, 0.8, k)  # means of a
    params[6 * k : 7 * k] = rng.uniform(-0.8, 0.8, k)  # means of b
    params[5 * k : 6 * k] = log_scale + rng.normal(0.0, 0.5, k)
    params[7 * k : 8 * k] = log_scale + rng.normal(0.0, 0.5, k)
    return params.astype(np.float32)


def _np_split(params):
    """The documented layout, read independently: logits, tanh coeffs [3, K], means/log-scales [2, K]."""
    k = params.shape[-1] // 8
    p = params.astype(np.float64)
    coeffs = np.tanh(p[k : 4 * k].reshape(3, k))
    means = np.stack([p[4 * k : 5 * k], p[6 * k : 7 * k]])
    log_scales = np.maximum(np.stack([p[5 * k : 6 * k], p[7 * k : 8 * k]]), -7.0)
    weights = np.exp(p[:k] - p[:k].max())
    return weights / weights.sum(), coeffs, means, np.exp(log_scales)


def _table(params, lum):
    """log p over all 256 x 256 (a, b) bins of one pixel, from the TF implementation: [256, 256]."""
    a, b = np.meshgrid(GRID, GRID, indexing="ij")
    ab = np.stack([a.ravel(), b.ravel()], -1).astype(np.float32)
    n = ab.shape[0]
    lp = lm.log_prob(np.broadcast_to(params, (n, params.size)), ab, np.full((n, 1), lum, np.float32))
    return lp.numpy().astype(np.float64).reshape(256, 256)


def _bin_integral(i, mu, s):
    lo = -np.inf if i == 0 else GRID[i] - HALF
    hi = np.inf if i == 255 else GRID[i] + HALF
    return integrate.quad(lambda x: stats.logistic.pdf(x, mu, s), lo, hi, epsabs=1e-13, epsrel=1e-10)[0]


def _reference_prob(params, lum, ia, ib):
    """p(a bin, b bin) by numerical integration of each component's logistic densities, with coupling."""
    weights, c, m, s = _np_split(params)
    total = 0.0
    for k in range(weights.size):
        mu_a = m[0, k] + c[0, k] * lum
        mu_b = m[1, k] + c[1, k] * lum + c[2, k] * GRID[ia]
        total += weights[k] * _bin_integral(ia, mu_a, s[0, k]) * _bin_integral(ib, mu_b, s[1, k])
    return total


@pytest.mark.parametrize("k,seed,lum,log_scale", [(1, 0, 0.3, -2.0), (4, 1, -0.7, -2.5), (10, 2, 0.9, -1.0)])
def test_probabilities_over_all_bins_sum_to_one(k, seed, lum, log_scale):
    total = np.exp(_table(_random_params(k, seed, log_scale), lum)).sum()
    assert abs(total - 1.0) < 1e-5, total


def test_log_prob_equals_integral_of_mixture_density():
    params = _random_params(3, seed=3, log_scale=-2.5)
    params[4 * 3] = -0.98  # one component's a near -1 and b near 1 so that the edge bins carry mass
    params[6 * 3] = 0.98
    params[5 * 3] = params[7 * 3] = -3.0
    params[[3, 6, 9]] = 0.0  # and no coupling, so b stays near 1 (channel K + j K + k, k = 0)
    lum = 0.2
    table = _table(params, lum)
    rng = np.random.default_rng(0)
    likely = np.argwhere(table > np.log(1e-4))
    chosen = [tuple(likely[i]) for i in rng.choice(len(likely), 12, replace=False)]
    chosen.append(np.unravel_index(np.argmax(table), table.shape))
    # Edge bins: the most likely b for a = -1, the most likely a for b = 1, and the corner.
    chosen += [(0, int(np.argmax(table[0]))), (int(np.argmax(table[:, 255])), 255), (0, 255)]
    assert any(ia == 0 for ia, _ in chosen) and any(ib == 255 for _, ib in chosen)
    for ia, ib in chosen:
        want = _reference_prob(params, lum, ia, ib)
        assert want > 1e-5
        np.testing.assert_allclose(table[ia, ib], np.log(want), atol=2e-4, err_msg=str((ia, ib)))


def test_unlikely_bins_fall_back_to_density_at_the_centre():
    k = 1
    params = np.zeros(8 * k, np.float32)
    params[4], params[5], params[6], params[7] = 0.1, -3.0, -0.2, -2.0  # m_a, log s_a, m_b, log s_b
    lum, ia, ib = 0.0, 205, 100  # a = 0.608, ten scales of a from its mean: bin probability ~ 6e-6
    got = _table(params, lum)[ia, ib]
    s_a = np.exp(-3.0)
    assert _bin_integral(ia, 0.1, s_a) < 1e-5
    log_p_b = np.log(_bin_integral(ib, -0.2, np.exp(-2.0)))
    want = np.log(stats.logistic.pdf(GRID[ia], 0.1, s_a)) - np.log(127.5) + log_p_b
    np.testing.assert_allclose(got, want, atol=1e-4)
    # The stand-in is a good one: within 1 % of the integral here.
    np.testing.assert_allclose(np.exp(got), _reference_prob(params, lum, ia, ib), rtol=1e-2)


def _chi_square_p(levels, table, groups=16):
    """Chi-square p-value of sampled (a, b) levels [N, 2] against exp(table), over coarse bin groups."""
    width = 256 // groups
    expected = np.exp(table).reshape(groups, width, groups, width).sum((1, 3)).ravel()
    observed = np.bincount((levels[:, 0] // width) * groups + levels[:, 1] // width, minlength=groups**2)
    expected = expected / expected.sum() * len(levels)
    big = expected >= 5  # merge the sparse groups into one cell so the chi-square approximation holds
    obs = np.append(observed[big], observed[~big].sum())
    exp = np.append(expected[big], expected[~big].sum())
    assert big.sum() > 10
    return stats.chisquare(obs, exp).pvalue


@pytest.mark.parametrize("noise", ["seed", "hashed"])
def test_sample_frequencies_match_probabilities(noise):
    k, lum, n = 3, -0.4, 40000
    params = _random_params(k, seed=5, log_scale=-2.0)
    table = _table(params, lum)
    batch = np.broadcast_to(params, (n, 8 * k))
    lum_b = np.full((n, 1), lum, np.float32)
    if noise == "seed":
        drawn = lm.sample(batch, lum_b, seed=17)
    else:
        drawn = lm.sample(
            batch,
            lum_b,
            mixture_uniform=sampling.hashed_uniform([n, k], seed=17, step=0),
            logistic_uniform=sampling.hashed_uniform([n, 2], seed=17, step=1),
        )
    drawn = drawn.numpy()
    levels = np.round((drawn + 1.0) * 127.5).astype(np.int64)
    np.testing.assert_allclose(drawn, levels / 127.5 - 1.0, atol=1e-6)  # quantize=True: on the grid
    assert _chi_square_p(levels, table) > 1e-3


def test_sample_is_reproducible_and_seed_dependent():
    params = np.broadcast_to(_random_params(4, seed=6), (2, 3, 5, 32))
    lum = np.zeros((2, 3, 5, 1), np.float32)
    a = lm.sample(params, lum, seed=1).numpy()
    assert a.shape == (2, 3, 5, 2)
    np.testing.assert_array_equal(a, lm.sample(params, lum, seed=tf.constant([1, 0])).numpy())
    assert (a != lm.sample(params, lum, seed=2).numpy()).any()


def test_sample_with_explicit_noise_is_inverse_cdf_of_the_chosen_component():
    k = 3
    params = _random_params(k, seed=7)
    weights, c, m, s = _np_split(params)
    lum = 0.5
    z = np.array([-1.3, 0.8])  # logistic quantiles for a and b
    for chosen in range(k):
        # Uniform noise that makes Gumbel-max pick `chosen`: tiny u (very negative noise) elsewhere.
        u_mix = np.full((1, k), 1e-5, np.float32)
        u_mix[0, chosen] = 1 - 1e-5
        got = lm.sample(params[None], np.float32([[lum]]), mixture_uniform=u_mix,
                        logistic_uniform=(1 / (1 + np.exp(-z)))[None].astype(np.float32),
                        temperature=0.5, quantize=False).numpy()[0]
        a = np.clip(m[0, chosen] + 0.5 * s[0, chosen] * z[0] + c[0, chosen] * lum, -1, 1)
        b = np.clip(m[1, chosen] + 0.5 * s[1, chosen] * z[1] + c[1, chosen] * lum + c[2, chosen] * a, -1, 1)
        np.testing.assert_allclose(got, [a, b], atol=1e-5)


def test_mode_is_the_mean_of_the_heaviest_component():
    k, lum = 5, -0.3
    params = _random_params(k, seed=8)
    params[3] = 6.0  # component 3 has the highest weight
    weights, c, m, _ = _np_split(params)
    assert np.argmax(weights) == 3
    a = np.clip(m[0, 3] + c[0, 3] * lum, -1, 1)
    b = np.clip(m[1, 3] + c[1, 3] * lum + c[2, 3] * a, -1, 1)
    got = lm.mode(params[None], np.float32([[lum]]), quantize=False).numpy()[0]
    np.testing.assert_allclose(got, [a, b], atol=1e-6)
    a_q = np.round((a + 1) * 127.5) / 127.5 - 1
    b_q = np.round((np.clip(m[1, 3] + c[1, 3] * lum + c[2, 3] * a_q, -1, 1) + 1) * 127.5) / 127.5 - 1
    np.testing.assert_allclose(lm.mode(params[None], np.float32([[lum]])).numpy()[0], [a_q, b_q], atol=1e-6)
    # Equal Gumbel noise on every component and the median logistic draw give the mode too.
    noise = lm.sample(params[None], np.float32([[lum]]), mixture_uniform=np.full((1, k), 0.5, np.float32),
                      logistic_uniform=np.full((1, 2), 0.5, np.float32))
    np.testing.assert_allclose(noise.numpy()[0], [a_q, b_q], atol=1e-6)


def test_split_params_layout():
    k = 2
    params = np.arange(8 * k, dtype=np.float32)[None] - 10.0
    p = lm.split_params(params, num_mixtures=k)
    np.testing.assert_array_equal(p.logits.numpy()[0], [-10, -9])
    np.testing.assert_allclose(p.coeffs.numpy()[0], np.tanh([[-8, -7], [-6, -5], [-4, -3]]), rtol=1e-6)
    np.testing.assert_array_equal(p.means.numpy()[0], [[-2, -1], [2, 3]])
    np.testing.assert_array_equal(p.log_scales.numpy()[0], [[0, 1], [4, 5]])
    clamped = lm.split_params(np.full((1, 8), -30.0, np.float32)).log_scales.numpy()
    np.testing.assert_array_equal(clamped, np.full((1, 2, 1), -7.0))


def test_gradients_are_finite_everywhere():
    rng = np.random.default_rng(9)
    k, n = 4, 64
    params = rng.normal(0.0, 3.0, (n, 8 * k)).astype(np.float32)
    params[:8, 5 * k :] = -20.0  # clamped scales: every off-centre bin takes the density fallback
    params[8:16, 4 * k :] = 30.0  # means far outside [-1, 1]
    ab = GRID[rng.integers(0, 256, (n, 2))].astype(np.float32)
    ab[:4] = [[-1.0, 1.0], [1.0, -1.0], [-1.0, -1.0], [1.0, 1.0]]
    params = tf.Variable(params)
    with tf.GradientTape() as tape:
        lp = lm.log_prob(params, ab, rng.uniform(-1, 1, (n, 1)).astype(np.float32))
    grad = tape.gradient(lp, params).numpy()
    assert np.isfinite(lp.numpy()).all() and np.isfinite(grad).all()
    assert (np.abs(grad) > 0).any(axis=1).all()


def test_batched_shapes_and_graph_mode():
    params = tf.random.stateless_normal([2, 4, 4, 80], seed=[1, 2])
    lum = tf.zeros([2, 4, 4, 1])
    ab = tf.constant(GRID[np.random.default_rng(0).integers(0, 256, (2, 4, 4, 2))], tf.float32)
    eager = lm.log_prob(params, ab, lum)
    assert eager.shape == (2, 4, 4)
    np.testing.assert_allclose(tf.function(lm.log_prob)(params, ab, lum).numpy(), eager.numpy(), rtol=1e-6)
    one_pixel = lm.log_prob(params[1, 2, 3], ab[1, 2, 3], lum[1, 2, 3])
    np.testing.assert_allclose(eager[1, 2, 3].numpy(), one_pixel.numpy(), rtol=1e-5)
    assert lm.mode(params, lum).shape == (2, 4, 4, 2)


def test_lab_helpers():
    levels = np.arange(-128, 128, dtype=np.float32)
    grid = lm.ab_to_grid(levels).numpy()
    np.testing.assert_allclose(grid, GRID, atol=1e-6)
    np.testing.assert_allclose(lm.grid_to_ab(grid).numpy(), levels, atol=1e-4)
    np.testing.assert_allclose(lm.ab_to_grid([-140.0, -3.4, 0.6, 130.0]).numpy(),
                               np.array([0, 125, 129, 255]) / 127.5 - 1, atol=1e-6)
    np.testing.assert_allclose(lm.luminance_to_input([0.0, 50.0, 100.0]).numpy(), [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(lm.quantize_to_grid(GRID.astype(np.float32) + 0.003).numpy(), GRID, atol=1e-6)


def test_noise_sampler_converts_to_tflite_builtins():
    from ai_edge_litert.interpreter import Interpreter

    @tf.function(input_signature=[tf.TensorSpec([16, 40], tf.float32), tf.TensorSpec([16, 1], tf.float32),
                                  tf.TensorSpec([2], tf.int32)])
    def draw(params, lum, seed):
        u_mix = sampling.hashed_uniform([16, 5], seed=seed, step=0)
        u_log = sampling.hashed_uniform([16, 2], seed=seed, step=1)
        return lm.sample(params, lum, mixture_uniform=u_mix, logistic_uniform=u_log)

    converter = tf.lite.TFLiteConverter.from_concrete_functions([draw.get_concrete_function()], draw)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    interpreter = Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    feeds = {
        "params": np.random.default_rng(1).normal(0, 1, (16, 40)).astype(np.float32),
        "lum": np.linspace(-1, 1, 16, dtype=np.float32)[:, None],
        "seed": np.array([4, 2], np.int32),
    }
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], feeds[detail["name"]])
    interpreter.invoke()
    got = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(got, draw(*feeds.values()).numpy(), atol=1e-6)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: lm.split_params(tf.zeros([3, 12])), "8\\*K"),
        (lambda: lm.split_params(tf.zeros([3, 16]), num_mixtures=3), "8\\*3"),
        (lambda: lm.log_prob(tf.zeros([3, 8]), tf.zeros([3, 3]), tf.zeros([3, 1])), "ab"),
        (lambda: lm.log_prob(tf.zeros([3, 8]), tf.zeros([3, 2]), tf.zeros([3])), "luminance"),
        (lambda: lm.sample(tf.zeros([3, 8]), tf.zeros([3, 1])), "seed"),
        (lambda: lm.sample(tf.zeros([3, 8]), tf.zeros([3, 1]), seed=1, logistic_uniform=tf.ones([3, 2])),
         "seed"),
    ],
)
def test_bad_arguments_raise_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
