import numpy as np
import pytest

from xmt.metrics import classification_metrics


def test_metrics_by_hand():
    y_true = np.array([0, 0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 0, 1, 1, 0, 0])
    m = classification_metrics(y_true, y_pred, ["a", "b", "c", "d"])
    assert m["accuracy"] == pytest.approx(4 / 7)
    assert m["per_class_accuracy"] == {"a": 0.75, "b": 0.5, "c": 0.0, "d": None}
    assert m["mean_class_accuracy"] == pytest.approx((0.75 + 0.5 + 0.0) / 3)
    assert m["confusion_matrix"][0] == [3, 1, 0, 0] and m["confusion_matrix"][2] == [1, 0, 0, 0]
    assert m["support"] == {"a": 4, "b": 2, "c": 1, "d": 0}
