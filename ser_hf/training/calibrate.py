"""Temperature scaling of a Trainer run, between training and the test (``recipe.protocol.calibrate``).

After ``trainer.save_model()``: predict the validation part, fit the temperature ``T`` that minimises its negative
log-likelihood (:func:`ser_hf.evaluation.calibration.fit_temperature`; the test part is never looked at), divide the
logits layer by ``T`` in the model, check on one validation file that its logits became ``logits / T``, and save
the model again. The test evaluation that follows, ``pipeline("audio-classification", model=output_dir)``, the Space
and long-clip scoring then all see calibrated probabilities; ``config.json`` records ``calibration_temperature``.
"""

from __future__ import annotations

import logging

import numpy as np

from ser_hf.evaluation.calibration import fold_temperature, temperature_scaling
from ser_hf.training.data import model_view

logger = logging.getLogger(__name__)


def _logits(prediction) -> np.ndarray:
    logits = prediction.predictions
    return np.asarray(logits[0] if isinstance(logits, tuple) else logits, dtype=np.float64)


def calibrate_trainer_model(trainer, data, recipe) -> dict | None:
    """Fit a temperature on ``data.splits["validation"]``, fold it into ``trainer.model`` and save the model.

    Returns what ``results.json`` reports under ``calibration`` (``temperature``, ``fitted_on``, the validation ECE
    and NLL before and after), or ``{"not_fitted": why}``; None when ``recipe.protocol.calibrate`` is off.
    """
    if not recipe.protocol.calibrate:
        return None
    validation = data.splits.get("validation")
    if validation is None or not len(validation):
        return {"not_fitted": "no validation part"}
    if trainer.is_fsdp_enabled or trainer.is_deepspeed_enabled:  # sharded weights: folding them is not done here
        logger.warning("calibration: no temperature folded into a sharded (FSDP / DeepSpeed) model")
        return {"not_fitted": "sharded model (FSDP / DeepSpeed)"}
    view = model_view(validation)
    prediction = trainer.predict(view, metric_key_prefix="calibration")
    logits, labels = _logits(prediction), np.asarray(prediction.label_ids).reshape(-1)
    report = temperature_scaling(logits, labels)
    temperature = report["temperature"]
    one = view.select([0])  # a batch of one file: no padding, whatever order the Trainer evaluates in
    before = _logits(trainer.predict(one, metric_key_prefix="calibration_check"))
    fold_temperature(trainer.model, temperature)
    after = _logits(trainer.predict(one, metric_key_prefix="calibration_check"))
    if not np.allclose(after, before / temperature, rtol=0.02, atol=0.02 * max(1.0, float(np.abs(before).max()))):
        fold_temperature(trainer.model, 1.0 / temperature)  # undo: this model does not end in its logits layer
        trainer.model.config.calibration_temperature = None
        logger.warning("calibration: folding T into %s did not scale its logits; the model stays uncalibrated",
                       type(trainer.model).__name__)
        return {"not_fitted": "the model's logits do not come straight from its last Linear layer"}
    trainer.save_model()
    logger.info("calibration: T = %.3f fitted on %d validation files; validation ECE %.2f %% -> %.2f %%", temperature,
                len(labels), 100 * report["validation_ece_before"], 100 * report["validation_ece_after"])
    return report
