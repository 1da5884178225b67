"""95 % bootstrap intervals and the paired comparison: the numbers a reviewer checks."""

from __future__ import annotations

import numpy as np
import pytest

from ser_hf.evaluation.intervals import (
    METRICS,
    bootstrap_intervals,
    paired_bootstrap,
    point_scores,
    resampling_units,
    run_intervals,
)
from ser_hf.evaluation.metrics import headline_metrics


@pytest.mark.parametrize("n_classes", [2, 5, 8])
def test_scores_from_counts_are_the_reported_metrics(n_classes):
    """Every resample is scored by the conventions of the results: a class never predicted, one never present."""
    rng = np.random.default_rng(n_classes)
    y = rng.integers(0, n_classes - 1, 300)  # the last class is never a reference...
    p = np.where(rng.random(300) < 0.6, y, rng.integers(0, n_classes, 300))
    p[p == 0] = 1  # ...and class 0 is never predicted
    ours, reported = point_scores(y, p, n_classes), headline_metrics(y, p)
    for m in METRICS:
        assert ours[m] == pytest.approx(reported[m], abs=1e-12)


def test_interval_coverage_is_near_95_percent_for_a_known_accuracy():
    """Draw 200 test sets from a model whose true accuracy is 0.7; the file-bootstrap interval of each should hold
    0.7 about 95 % of the time (binomial 95 % range for 200 trials: 184-196)."""
    rng = np.random.default_rng(0)
    truth, n, trials = 0.7, 150, 200
    covered = 0
    for trial in range(trials):
        y = rng.integers(0, 4, n)
        right = rng.random(n) < truth
        p = np.where(right, y, (y + rng.integers(1, 4, n)) % 4)
        low, high = bootstrap_intervals(y, p, 4, samples=400, seed=trial)["ci"]["accuracy"]
        covered += low <= truth <= high
    assert 0.90 <= covered / trials <= 0.99, covered


def test_speaker_bootstrap_is_wider_when_speakers_differ():
    """Files of one speaker are not independent draws: with speaker effects the cluster interval must widen."""
    rng = np.random.default_rng(1)
    speakers = np.repeat(np.arange(20), 30)
    skill = rng.uniform(0.3, 0.95, 20)[speakers]  # some speakers are easy, some hard
    y = rng.integers(0, 4, len(speakers))
    p = np.where(rng.random(len(speakers)) < skill, y, (y + 1) % 4)
    by_file = bootstrap_intervals(y, p, 4, samples=500)["ci"]["accuracy"]
    by_speaker = bootstrap_intervals(y, p, 4, units=speakers, samples=500)["ci"]["accuracy"]
    assert by_speaker[1] - by_speaker[0] > 1.5 * (by_file[1] - by_file[0])
    assert by_speaker[0] <= point_scores(y, p, 4)["accuracy"] <= by_speaker[1]


def test_too_few_speakers_are_resampled_as_files_and_say_so():
    units, note = resampling_units(["a"] * 10, True)
    assert units is None and "only 1 test speaker" in note
    assert resampling_units(list("abcde") * 2, True)[0] is not None
    assert resampling_units(list("abcde") * 2, False) == (None, "")
    probs = np.eye(3)[[0, 1, 2, 0, 1, 2]]
    out = run_intervals([0, 1, 2, 0, 1, 1], probs, ["s"] * 6, speaker_independent=True, samples=50)
    assert out["unit"] == "file" and "only 1 test speaker" in out["note"]
    assert run_intervals([0], probs[:1], ["s"], True, samples=0) is None


def test_mean_over_folds_interval_and_leave_one_speaker_out():
    """Under leave-one-speaker-out, resampling speakers resamples folds: the interval is not degenerate."""
    rng = np.random.default_rng(2)
    folds = np.repeat(np.arange(6), 40)
    y = rng.integers(0, 3, len(folds))
    p = np.where(rng.random(len(folds)) < np.linspace(0.4, 0.9, 6)[folds], y, (y + 1) % 3)
    out = bootstrap_intervals(y, p, 3, units=folds, folds=folds, samples=400)
    low, high = out["ci"]["accuracy"]
    mean = np.mean([np.mean(p[folds == f] == y[folds == f]) for f in range(6)])
    assert low < mean < high and high - low > 0.05 and out["statistic"] == "mean over folds"


def test_paired_bootstrap_finds_a_planted_difference_and_not_a_null_one():
    rng = np.random.default_rng(3)
    n = 400
    y = rng.integers(0, 4, n)
    a = np.where(rng.random(n) < 0.60, y, (y + 1) % 4)
    better = np.where(rng.random(n) < 0.75, y, (y + 2) % 4)  # a model right 15 points more often
    result = paired_bootstrap(y, a, better, 4, samples=1000)
    assert result["accuracy"]["difference"] > 0.08 and result["accuracy"]["ci"][0] > 0
    assert result["accuracy"]["p_value"] < 0.01 and result["mcnemar"]["p_value"] < 0.01
    # the null: B is A with 5 % of its predictions re-drawn, independent of the labels
    same = np.where(rng.random(n) < 0.05, rng.integers(0, 4, n), a)
    null = paired_bootstrap(y, a, same, 4, samples=1000)
    assert null["accuracy"]["ci"][0] <= 0 <= null["accuracy"]["ci"][1]
    assert null["accuracy"]["p_value"] > 0.05 and null["mcnemar"]["p_value"] > 0.05


def test_paired_bootstrap_p_values_are_uniform_under_the_null():
    """Two equally good, independent models: 'significant at 5 %' about 5 % of the time, not more."""
    rng = np.random.default_rng(4)
    rejections = 0
    for trial in range(100):
        y = rng.integers(0, 3, 200)
        a = np.where(rng.random(200) < 0.7, y, (y + 1) % 3)
        b = np.where(rng.random(200) < 0.7, y, (y + 2) % 3)
        rejections += paired_bootstrap(y, a, b, 3, samples=300, seed=trial)["accuracy"]["p_value"] < 0.05
    assert rejections <= 12
