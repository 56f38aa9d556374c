"""Tests for common/sampling.py: reproducibility, argmax limits, top-k, frequencies, TFLite export."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from common import sampling

SAMPLERS = {
    "stateless": lambda logits, seed, **kw: sampling.sample_categorical(logits, seed=seed, **kw),
    "hashed": lambda logits, seed, **kw: sampling.sample_categorical_hashed(logits, seed=seed, step=3, **kw),
}


def _random_logits(shape, seed=0):
    return tf.constant(np.random.default_rng(seed).normal(0.0, 2.0, shape).astype(np.float32))


def _softmax(x):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


@pytest.mark.parametrize("name", SAMPLERS)
def test_same_seed_same_samples_and_different_seed_different(name):
    sample = SAMPLERS[name]
    logits = _random_logits([4, 5, 16])
    a = sample(logits, 7).numpy()
    assert a.shape == (4, 5) and a.dtype == np.int32
    np.testing.assert_array_equal(a, sample(logits, 7).numpy())
    np.testing.assert_array_equal(a, sample(logits, tf.constant([7, 0], tf.int64)).numpy())
    np.testing.assert_array_equal(a, sample(logits, tf.constant([7, 0], tf.int32)).numpy())
    assert (a != sample(logits, 8).numpy()).any()
    # A tensor temperature gives what the same Python number gives.
    np.testing.assert_array_equal(
        sample(logits, 7, temperature=0.7).numpy(), sample(logits, 7, temperature=tf.constant(0.7)).numpy()
    )
    assert (a != sample(logits, tf.constant([7, 1])).numpy()).any()


def test_hashed_step_changes_samples_and_is_reproducible():
    logits = tf.zeros([64, 8])
    s0 = sampling.sample_categorical_hashed(logits, seed=1, step=0).numpy()
    s1 = sampling.sample_categorical_hashed(logits, seed=1, step=tf.constant(1)).numpy()
    assert (s0 != s1).mean() > 0.5  # uniform over 8 classes: independent draws differ 7/8 of the time
    np.testing.assert_array_equal(s1, sampling.sample_categorical_hashed(logits, seed=1, step=1).numpy())


@pytest.mark.parametrize("name", SAMPLERS)
def test_temperature_zero_and_top_1_are_argmax(name):
    sample = SAMPLERS[name]
    logits = _random_logits([3, 7, 50], seed=1)
    argmax = np.argmax(logits.numpy(), -1)
    np.testing.assert_array_equal(sample(logits, 0, temperature=0.0).numpy(), argmax)
    np.testing.assert_array_equal(sample(logits, 0, top_k=1).numpy(), argmax)
    # A tensor temperature that is 0 at run time also selects the argmax.
    np.testing.assert_array_equal(sample(logits, 0, temperature=tf.constant(0.0)).numpy(), argmax)


@pytest.mark.parametrize("name", SAMPLERS)
def test_top_k_never_leaves_the_top_k(name):
    sample = SAMPLERS[name]
    logits = _random_logits([2000, 20], seed=2)
    drawn = sample(logits, 5, top_k=4, temperature=3.0).numpy()
    top4 = np.argsort(-logits.numpy(), -1)[:, :4]
    assert (top4 == drawn[:, None]).any(-1).all()
    # With a high temperature every one of the four is drawn somewhere.
    rank = np.argmax(top4 == drawn[:, None], -1)
    assert set(rank.tolist()) == {0, 1, 2, 3}


@pytest.mark.parametrize("name", SAMPLERS)
def test_low_temperature_concentrates(name):
    sample = SAMPLERS[name]
    logits = tf.tile(tf.math.log(tf.constant([[0.2, 0.3, 0.5]])), [4000, 1])
    hot = (sample(logits, 11, temperature=1.0).numpy() == 2).mean()
    cold = (sample(logits, 11, temperature=0.1).numpy() == 2).mean()
    assert 0.47 < hot < 0.53
    assert cold > 0.99  # softmax(log p / 0.1) gives class 2 probability 0.9939


@pytest.mark.parametrize("name", SAMPLERS)
@pytest.mark.parametrize("temperature,top_k", [(1.0, 0), (0.7, 0), (1.5, 3)])
def test_frequencies_match_softmax_chi_square(name, temperature, top_k):
    sample = SAMPLERS[name]
    row = np.array([1.0, -0.5, 0.3, 2.0, 0.0, -1.2], np.float32)
    n = 20000
    drawn = sample(tf.tile(row[None], [n, 1]), 123, temperature=temperature, top_k=top_k).numpy()
    probs = _softmax(row / temperature)
    if top_k:
        keep = np.argsort(-row)[:top_k]
        probs = np.zeros_like(probs)
        probs[keep] = _softmax(row[keep] / temperature)
    counts = np.bincount(drawn, minlength=row.size)
    assert counts[probs == 0].sum() == 0
    support = probs > 0
    _, p_value = stats.chisquare(counts[support], n * probs[support])
    assert p_value > 1e-3, (counts, n * probs)


def test_hashed_uniform_is_strictly_inside_and_uniform():
    u = sampling.hashed_uniform([200000], seed=tf.constant([3, 9]), step=5).numpy()
    assert u.dtype == np.float32
    assert u.min() > 0.0 and u.max() < 1.0
    assert 0.0 < u.min() < 1e-4 and 1 - 1e-4 < u.max() < 1.0
    # 2**23 levels: the number of distinct values is what independent uniform draws would give
    # (birthday collisions, about 2,380 of 200,000), within 5 standard deviations.
    levels, n = 2.0**23, u.size
    expected_collisions = n - levels * (1 - (1 - 1 / levels) ** n)
    assert abs((n - len(np.unique(u))) - expected_collisions) < 5 * np.sqrt(expected_collisions)
    _, p_value = stats.kstest(u, "uniform")
    assert p_value > 1e-3
    # Neighbouring indices and neighbouring steps are uncorrelated.
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.01
    v = sampling.hashed_uniform([200000], seed=tf.constant([3, 9]), step=6).numpy()
    assert abs(np.corrcoef(u, v)[0, 1]) < 0.01


def test_works_in_tf_function_and_while_loop():
    logits = _random_logits([2, 3, 10], seed=4)

    @tf.function
    def loop(logits, seed):
        def body(step, acc_stateless, acc_hashed):
            a = sampling.sample_categorical(logits, seed=sampling.fold_seed(seed, step), top_k=5)
            b = sampling.sample_categorical_hashed(logits, seed=seed, step=step, temperature=0.8)
            return step + 1, acc_stateless.write(step, a), acc_hashed.write(step, b)

        arrays = (tf.TensorArray(tf.int32, size=4), tf.TensorArray(tf.int32, size=4))
        _, a, b = tf.while_loop(lambda step, *_: step < 4, body, (tf.constant(0), *arrays))
        return a.stack(), b.stack()

    seed = tf.constant([5, 6], tf.int32)
    got_a, got_b = loop(logits, seed)
    for step in range(4):
        want_a = sampling.sample_categorical(logits, seed=sampling.fold_seed(seed, step), top_k=5)
        want_b = sampling.sample_categorical_hashed(logits, seed=seed, step=step, temperature=0.8)
        np.testing.assert_array_equal(got_a[step].numpy(), want_a.numpy())
        np.testing.assert_array_equal(got_b[step].numpy(), want_b.numpy())
    assert (got_b[0].numpy() != got_b[1].numpy()).any()


def test_hashed_sampler_converts_to_tflite_builtins_and_matches_tf():
    from ai_edge_litert.interpreter import Interpreter

    @tf.function(
        input_signature=[
            tf.TensorSpec([6, 40], tf.float32),
            tf.TensorSpec([2], tf.int32),
            tf.TensorSpec([], tf.int32),
        ]
    )
    def draw(logits, seed, step):
        return {
            "plain": sampling.sample_categorical_hashed(logits, seed=seed, step=step),
            "truncated": sampling.sample_categorical_hashed(
                logits, seed=seed, step=step, temperature=0.6, top_k=5
            ),
            "uniform": sampling.hashed_uniform(tf.shape(logits), seed=seed, step=step),
        }

    concrete = draw.get_concrete_function()
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], draw)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]  # fails if a Flex op is needed
    interpreter = Interpreter(model_content=converter.convert())
    interpreter.allocate_tensors()
    # Concrete functions carry no signature: match outputs by their graph tensor names.
    output_key = {t.name.split(":")[0]: k for k, t in concrete.structured_outputs.items()}

    logits = _random_logits([6, 40], seed=9)
    for seed, step in [((1, 2), 0), ((1, 2), 17), ((-5, 2**31 - 1), 4095)]:
        feeds = {"logits": logits.numpy(), "seed": np.array(seed, np.int32), "step": np.array(step, np.int32)}
        for detail in interpreter.get_input_details():
            interpreter.set_tensor(detail["index"], feeds[detail["name"]])
        interpreter.invoke()
        outputs = interpreter.get_output_details()
        got = {output_key[d["name"]]: interpreter.get_tensor(d["index"]) for d in outputs}
        want = draw(*(tf.constant(v) for v in feeds.values()))
        assert sorted(got) == ["plain", "truncated", "uniform"]
        for key in got:
            np.testing.assert_array_equal(got[key], want[key].numpy())
        assert (got["plain"] != np.argmax(feeds["logits"], -1)).any()  # it really sampled


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"seed": 1.5}, "seed"),
        ({"seed": tf.constant([1, 2, 3])}, "shape"),
        ({"seed": 0, "top_k": -1}, "top_k"),
        ({"seed": 0, "temperature": -1.0}, "temperature"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        sampling.sample_categorical(tf.zeros([2, 3]), **kwargs)
    with pytest.raises((ValueError, TypeError), match=match):
        sampling.sample_categorical_hashed(tf.zeros([2, 3]), step=0, **kwargs)
