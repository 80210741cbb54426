"""A tiny Piper voice built for the tests: a real ONNX model in Piper's format (inputs ``input``,
``input_lengths``, ``scales``; a ``Ceil`` duration tensor that Piper exposes as its alignment
output; audio as long as those durations) and its ``.onnx.json`` with an espeak-ng voice and a
phoneme map, so text goes through Piper's own espeak phonemizer, onnxruntime and alignments.
It says nothing intelligible: it is for the engine's code paths, not for listening."""
from __future__ import annotations

import json
from pathlib import Path

HOP = 256
SAMPLE_RATE = 22050


def _phoneme_map() -> dict[str, list[int]]:
    ids: dict[str, list[int]] = {"_": [0], "^": [1], "$": [2], " ": [3]}
    for code in range(0x21, 0x400):
        ch = chr(code)
        if ch not in ids:
            ids[ch] = [len(ids)]
    return ids


def build_tiny_piper(folder: Path, name: str, espeak_voice: str) -> Path:
    """Write ``folder/name.onnx`` and ``folder/name.onnx.json``; returns the folder."""
    import onnx
    from onnx import TensorProto, helper

    folder.mkdir(parents=True, exist_ok=True)
    f, i64 = TensorProto.FLOAT, TensorProto.INT64

    def const(name: str, kind: int, value: float) -> onnx.NodeProto:
        return helper.make_node("Constant", [], [name], value=helper.make_tensor(name, kind, [], [value]))

    nodes = [
        helper.make_node("Cast", ["input"], ["ids_f"], to=f),
        const("k", f, 0.02),
        const("one", f, 1.0),
        const("idx1", i64, 1),
        helper.make_node("Gather", ["scales", "idx1"], ["length_scale"], axis=0),
        helper.make_node("Mul", ["ids_f", "k"], ["a"]),
        helper.make_node("Add", ["a", "one"], ["b"]),
        helper.make_node("Mul", ["b", "length_scale"], ["c"]),
        helper.make_node("Ceil", ["c"], ["w_ceil"]),  # frames per phoneme id
        helper.make_node("ReduceSum", ["w_ceil"], ["frames"], keepdims=0),
        const("hop", f, float(HOP)),
        helper.make_node("Mul", ["frames", "hop"], ["samples_f"]),
        helper.make_node("Cast", ["samples_f"], ["samples"], to=TensorProto.INT64),
        const("zero", i64, 0),
        const("step", i64, 1),
        helper.make_node("Range", ["zero", "samples", "step"], ["t"]),
        helper.make_node("Cast", ["t"], ["t_f"], to=f),
        const("freq", f, 0.0626),
        helper.make_node("Mul", ["t_f", "freq"], ["phase"]),
        helper.make_node("Sin", ["phase"], ["wave"]),
        const("gain", f, 0.5),
        helper.make_node("Mul", ["wave", "gain"], ["loud"]),
        helper.make_node("Constant", [], ["shape"],
                         value=helper.make_tensor("shape", TensorProto.INT64, [3], [1, 1, -1])),
        helper.make_node("Reshape", ["loud", "shape"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes, "tiny_piper",
        [helper.make_tensor_value_info("input", TensorProto.INT64, [1, None]),
         helper.make_tensor_value_info("input_lengths", TensorProto.INT64, [1]),
         helper.make_tensor_value_info("scales", f, [3])],
        [helper.make_tensor_value_info("output", f, [1, 1, None])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(folder / f"{name}.onnx"))
    ids = _phoneme_map()
    config = {"audio": {"sample_rate": SAMPLE_RATE}, "espeak": {"voice": espeak_voice},
              "phoneme_type": "espeak", "num_symbols": len(ids), "num_speakers": 1, "phoneme_id_map": ids,
              "hop_length": HOP,
              "inference": {"noise_scale": 0.667, "length_scale": 1.0, "noise_w": 0.8}}
    (folder / f"{name}.onnx.json").write_text(json.dumps(config, ensure_ascii=False), encoding="utf-8")
    return folder
