from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.calibration import (
    _softmax,
    expected_calibration_error,
    fit_temperature,
    reliability_plot,
)


def synthetic(n: int = 4000, overconfidence: float = 3.0, seed: int = 0
              ) -> tuple[np.ndarray, np.ndarray]:
    """Logits whose calibrated temperature is known: true logits times `overconfidence`."""
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(0, 1.5, size=(n, 3))
    p = _softmax(true_logits)
    labels = np.array([rng.choice(3, p=row) for row in p])
    return true_logits * overconfidence, labels


@pytest.mark.parametrize("factor", [0.5, 1.0, 3.0])
def test_fit_temperature_recovers_the_scale(factor: float) -> None:
    logits, labels = synthetic(overconfidence=factor)
    assert fit_temperature(logits, labels) == pytest.approx(factor, rel=0.12)


def test_scaling_lowers_ece_on_held_out_data(tmp_path: Path) -> None:
    logits, labels = synthetic(seed=1)
    test_logits, test_labels = synthetic(seed=2)
    t = fit_temperature(logits, labels)
    before = expected_calibration_error(_softmax(test_logits), test_labels)
    after = expected_calibration_error(_softmax(test_logits, t), test_labels)
    assert after < before / 2
    # Temperature never changes the predicted label.
    np.testing.assert_array_equal(_softmax(test_logits).argmax(1),
                                  _softmax(test_logits, t).argmax(1))
    path = reliability_plot({"before": _softmax(test_logits), "after": _softmax(test_logits, t)},
                            test_labels, tmp_path / "rel.png")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_ece_of_perfectly_calibrated_and_of_wrong_confident() -> None:
    confident_wrong = np.array([[0.99, 0.005, 0.005]] * 100)
    assert expected_calibration_error(confident_wrong, np.full(100, 2)) == pytest.approx(0.99)
    right = np.array([[1.0, 0.0, 0.0]] * 50)
    assert expected_calibration_error(right, np.zeros(50, dtype=int)) == pytest.approx(0.0)
