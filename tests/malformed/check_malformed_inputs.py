#!/usr/bin/env python3
"""The malformed-input corpus: writes broken files of every kind the command line reads (run
configs, Karpathy JSON, COCO results and references, vocabularies, CIDEr document frequencies,
safetensors checkpoints and encoder weights, region features .npy/.npz, images) and runs the
`sparsecap` command that reads each one. Every case must exit non-zero without a signal, in under
10 seconds, with exactly one error line, and that line must name the broken file (and, where the
case says so, the offending key, tensor or id).

    check_malformed_inputs.py SPARSECAP_BINARY WORK_DIR [--list]

The corpus is generated, not stored: the cases are the code below, and each is small. A tiny real
run (a few training steps on the synthetic set) provides the checkpoints, vocabularies and run
directories that the broken files are planted into.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import time
import zipfile
import zlib

TIME_LIMIT_S = 10.0


class Case:
    def __init__(self, name, args, names, extra=()):
        self.name, self.args, self.names, self.extra = name, args, names, tuple(extra)


cases = []
# Commands that must succeed: the escape hatches of the checks above.
allowed_commands = []


def add(name, args, file, *extra):
    """A case: `args` for sparsecap; the error line must contain `file`'s name and every `extra`."""
    cases.append(Case(name, args, os.path.basename(file), extra))


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return path


def write_json(path, value):
    return write(path, json.dumps(value))


# ---- broken JSON in general: every JSON reader gets all of these --------------------------------

GENERIC_JSON = {
    "empty": b"",
    "whitespace": b"   \n\t ",
    "not_json": b"this is not json",
    "truncated_object": b'{"a": [1, 2',
    "truncated_string": b'{"a": "abc',
    "trailing_garbage": b'{"a": 1} xyz',
    "deep_arrays": b"[" * 200000 + b"]" * 200000,
    "deep_objects": b'{"a":' * 100000 + b"1" + b"}" * 100000,
    "deep_unclosed": b"[" * 300000,
    "invalid_utf8": b'{"a": "\xff\xfe\xc3"}',
    "nul_bytes": b"\x00\x00\x00\x00",
    "bom_garbage": b"\xef\xbb\xbf}{",
    "json_null": b"null",
    "json_number": b"12345",
    "json_string": b'"a string"',
    "json_bool": b"true",
    "huge_number": b'{"a": 1e999999}',
    "lone_surrogate": b'{"a": "\\ud800"}',
}


def generic_json_cases(label, make_args, directory):
    for variant, data in GENERIC_JSON.items():
        path = write(os.path.join(directory, f"{label}_{variant}.json"), data)
        add(f"{label}/{variant}", make_args(path), path)
    missing = os.path.join(directory, f"{label}_missing.json")
    add(f"{label}/missing_file", make_args(missing), missing)
    folder = os.path.join(directory, f"{label}_folder.json")
    os.makedirs(folder, exist_ok=True)
    add(f"{label}/directory", make_args(folder), folder)


# ---- safetensors --------------------------------------------------------------------------------

def safetensors_bytes(header, data=b"", length=None):
    text = header if isinstance(header, (bytes, str)) else json.dumps(header)
    text = text.encode() if isinstance(text, str) else text
    return struct.pack("<Q", len(text) if length is None else length) + text + data


def safetensors_variants():
    f32 = struct.pack("<4f", 1, 2, 3, 4)
    good = {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}
    return {
        "empty": b"",
        "short_length": b"\x01\x02\x03",
        "length_past_end": safetensors_bytes(good, f32, length=1 << 40),
        "length_zero": safetensors_bytes(b"", f32, length=0),
        "header_not_json": safetensors_bytes("not json at all"),
        "header_deep": safetensors_bytes(b"[" * 100000 + b"]" * 100000),
        "header_array": safetensors_bytes([1, 2, 3]),
        "header_invalid_utf8": safetensors_bytes(b'{"\xff": 1}'),
        "entry_not_object": safetensors_bytes({"w": 3}),
        "unknown_dtype": safetensors_bytes({"w": {"dtype": "F13", "shape": [2, 2], "data_offsets": [0, 16]}}, f32),
        "dtype_not_string": safetensors_bytes({"w": {"dtype": 7, "shape": [2, 2], "data_offsets": [0, 16]}}, f32),
        "negative_shape": safetensors_bytes({"w": {"dtype": "F32", "shape": [-2, 2], "data_offsets": [0, 16]}}, f32),
        "shape_not_array": safetensors_bytes({"w": {"dtype": "F32", "shape": "2x2", "data_offsets": [0, 16]}}, f32),
        "huge_shape": safetensors_bytes({"w": {"dtype": "F32", "shape": [1 << 40, 1 << 40],
                                               "data_offsets": [0, 16]}}, f32),
        "offsets_past_end": safetensors_bytes({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 1600]}},
                                              f32),
        "offsets_reversed": safetensors_bytes({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [16, 0]}},
                                              f32),
        "offsets_size_mismatch": safetensors_bytes({"w": {"dtype": "F32", "shape": [2, 2],
                                                          "data_offsets": [0, 12]}}, f32),
        "offsets_missing": safetensors_bytes({"w": {"dtype": "F32", "shape": [2, 2]}}, f32),
        "overlapping": safetensors_bytes({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
                                          "b": {"dtype": "F32", "shape": [2], "data_offsets": [8, 16]}}, f32),
        "duplicate_name": safetensors_bytes(b'{"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}, '
                                            b'"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}', f32),
        "metadata_not_strings": safetensors_bytes({"__metadata__": {"a": 1}, **good}, f32),
        "data_truncated": safetensors_bytes(good, f32[:7]),
        "trailing_bytes": safetensors_bytes(good, f32 + b"\x00" * 9),
    }


# ---- images ----------------------------------------------------------------------------------

def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png(width, height, rows=None, bit_depth=8, color_type=2):
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    if rows is None:
        rows = b"".join(b"\x00" + b"\x80" * (3 * width) for _ in range(height))
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(rows)) + \
        png_chunk(b"IEND", b"")


def image_variants():
    good = png(4, 4)
    return {
        "empty.png": b"",
        "text.png": b"not an image",
        "truncated.png": good[:30],
        "png_signature_only.png": b"\x89PNG\r\n\x1a\n",
        "huge_dimensions.png": png(100000, 100000, rows=b"\x00" * 10),
        "zero_width.png": png(0, 4, rows=b""),
        "bad_crc.png": good[:29] + bytes([good[29] ^ 0xFF]) + good[30:],
        "idat_garbage.png": good[:33] + b"\x00\x00\x00\x10IDAT" + b"\xde\xad" * 8 + b"\x00\x00\x00\x00",
        "jpeg_header_only.jpg": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00",
        "jpeg_garbage.jpg": b"\xff\xd8" + b"\x13\x37" * 200,
        "bmp_header_only.bmp": b"BM" + b"\x00" * 20,
        "gif_truncated.gif": b"GIF89a\x10\x00\x10\x00",
    }


# ---- .npy / .npz ------------------------------------------------------------------------------

def npy(header_dict_text, data=b"", version=b"\x01\x00"):
    header = header_dict_text.encode()
    header += b" " * ((64 - (10 + len(header) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY" + version + struct.pack("<H", len(header)) + header + data


def npy_variants(rows, dim):
    good_header = "{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }" % (rows, dim)
    data = struct.pack("<%df" % (rows * dim), *([0.5] * (rows * dim)))
    nan_data = struct.pack("<%df" % (rows * dim), *([float("nan")] + [0.5] * (rows * dim - 1)))
    return {
        "empty": b"",
        "bad_magic": b"\x93NUMPX\x01\x00" + b"\x00" * 100,
        "header_length_past_end": b"\x93NUMPY\x01\x00\xff\xff{'descr'",
        "header_not_dict": npy("[1, 2, 3]", data),
        "unknown_descr": npy("{'descr': '<c16', 'fortran_order': False, 'shape': (%d, %d), }" % (rows, dim), data),
        "fortran_order": npy("{'descr': '<f4', 'fortran_order': True, 'shape': (%d, %d), }" % (rows, dim), data),
        "negative_shape": npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-1, %d), }" % dim, data),
        "huge_shape": npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1099511627776, 1099511627776), }",
                          data),
        "data_truncated": npy(good_header, data[:-4]),
        "wrong_rank": npy("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, ), }" % (rows * dim), data),
        "nan_values": npy(good_header, nan_data),
        "big_endian": npy("{'descr': '>f8', 'fortran_order': False, 'shape': (%d, %d), }" % (rows, dim),
                          b"\x00" * (8 * rows * dim)),
        "version_9": npy(good_header, data, version=b"\x09\x00"),
        "object_dtype": npy("{'descr': '|O', 'fortran_order': False, 'shape': (%d, %d), }" % (rows, dim), data),
    }


def npz_variants(rows, dim):
    good = npy_variants(rows, dim)
    variants = {}

    def archive(members, compression=zipfile.ZIP_STORED):
        from io import BytesIO
        buffer = BytesIO()
        with zipfile.ZipFile(buffer, "w", compression) as z:
            for name, data in members.items():
                z.writestr(name, data)
        return buffer.getvalue()

    variants["empty"] = b""
    variants["not_zip"] = b"PK\x03\x04 definitely not a zip archive"
    variants["empty_archive"] = archive({})
    variants["member_truncated_npy"] = archive({"feat.npy": good["data_truncated"]})
    variants["member_bad_magic"] = archive({"feat.npy": good["bad_magic"]})
    variants["two_arrays_no_feat"] = archive({"x.npy": good["wrong_rank"], "y.npy": good["wrong_rank"]})
    variants["deflated_garbage"] = archive({"feat.npy": good["header_not_dict"]}, zipfile.ZIP_DEFLATED)[:60]
    whole = archive({"feat.npy": good["nan_values"]})
    variants["nan_member"] = whole
    variants["truncated_archive"] = whole[: len(whole) // 2]
    return variants


# ---- the corpus -----------------------------------------------------------------------------------

def run_sparsecap(binary, args, timeout=600):
    env = dict(os.environ, OMP_WAIT_POLICY="passive", OMP_NUM_THREADS="1")
    return subprocess.run([binary] + args, env=env, capture_output=True, timeout=timeout)


def build_corpus(binary, work):
    data_dir = os.path.join(work, "shapes")
    result = run_sparsecap(binary, ["data", "synth", "--out", data_dir, "--images", "20", "--size", "32",
                                    "--feature-dim", "8", "--threads", "1", "--quiet"])
    if result.returncode != 0:
        sys.exit("data synth failed: " + result.stderr.decode(errors="replace"))
    karpathy_path = os.path.join(data_dir, "dataset_shapes.json")
    karpathy = json.load(open(karpathy_path))

    config = {
        "model": {"type": "soft_attention",
                  "encoder": {"width_multiplier": 0.25, "blocks": [[32, 1]]},
                  "decoder": {"hidden_size": 16, "embedding_size": 8, "attention_size": 8},
                  "decoding": {"max_words": 8}},
        "data": {"dir": data_dir, "image_size": 32, "images_per_batch": 4, "seq_per_img": 1, "min_word_count": 1},
        "optim": {"max_steps": 2, "learning_rate": 1e-3},
        "pruning": {"method": "supermask", "target_sparsity": 0.5},
        "schedule": {"log_every": 1, "validate_every": 2, "validation_images": 2, "checkpoint_every": 2,
                     "histogram_every": 0},
    }
    run_dir = os.path.join(work, "run")
    config_path = write_json(os.path.join(work, "good_config.json"), config)
    result = run_sparsecap(binary, ["train", "--config", config_path, "--out", run_dir])
    if result.returncode != 0:
        sys.exit("the tiny training run failed: " + result.stderr.decode(errors="replace")[-2000:])
    checkpoint = os.path.join(run_dir, "checkpoints", "final.safetensors")
    cases_dir = os.path.join(work, "cases")

    # Run configs: broken JSON, then well-formed configs with bad values.
    # Each case gets an --out of its own, so that a config wrongly accepted cannot hide the next case.
    outs = iter(range(1 << 30))

    def out_dir():
        return os.path.join(work, "never", str(next(outs)))

    generic_json_cases("config", lambda p: ["train", "--config", p, "--out", out_dir()], cases_dir)
    generic_json_cases("profile_config", lambda p: ["profile", "--config", p], cases_dir)

    def config_with(section, key, value, label=None):
        bad = json.loads(json.dumps(config))
        bad.setdefault(section, {})[key] = value
        path = write_json(os.path.join(cases_dir, f"config_{label or section + '_' + key}.json"), bad)
        add(f"config/{label or section + '.' + key}", ["train", "--config", path, "--out", out_dir()], path, key)

    for section, key, value in [
            ("data", "image_size", 100000), ("data", "image_size", 0), ("data", "image_size", -5),
            ("data", "images_per_batch", 0), ("data", "images_per_batch", 10 ** 12), ("data", "seq_per_img", 0),
            ("data", "max_words", -1), ("data", "image_size", 32.5), ("data", "image_size", "big"),
            ("data", "augment", "yes"), ("data", "colour", 1),
            ("optim", "learning_rate", 0), ("optim", "learning_rate", -1e-3), ("optim", "learning_rate", "fast"),
            ("optim", "learning_rate_floor", 1.0), ("optim", "beta1", 1.0), ("optim", "beta2", -0.1),
            ("optim", "eps", 0), ("optim", "weight_decay", -1), ("optim", "clip_value", -0.1),
            ("optim", "max_steps", -3), ("optim", "encoder_eps", -1), ("optim", "seed", -1),
            ("optim", "frozen_feature_cache_mb", -1),
            ("schedule", "log_every", 0), ("schedule", "checkpoint_every", -1), ("schedule", "histogram_every", -2)]:
        config_with(section, key, value, f"{section}_{key}_{str(value).replace('.', '_').replace('-', 'm')}")
    for section, key, value, label in [
            ("model", "type", "no_such_model", "model_type"),
            ("pruning", "method", "no_such_method", "pruning_method"),
            ("pruning", "target_sparsity", 1.5, "target_sparsity_high"),
            ("pruning", "target_sparsity", -0.2, "target_sparsity_negative")]:
        config_with(section, key, value, label)
    for key, value, label in [("dropout", 1.5, "dropout_high"), ("dropout", -0.5, "dropout_negative"),
                              ("hidden_size", 0, "hidden_size_zero")]:
        bad = json.loads(json.dumps(config))
        bad["model"]["decoder"][key] = value
        path = write_json(os.path.join(cases_dir, f"config_{label}.json"), bad)
        add(f"config/{label}", ["train", "--config", path, "--out", out_dir()], path, key)
    bad = json.loads(json.dumps(config))
    bad["model"]["decoding"]["beam_size"] = 0
    path = write_json(os.path.join(cases_dir, "config_beam_zero.json"), bad)
    add("config/beam_zero", ["train", "--config", path, "--out", out_dir()], path, "beam_size")
    for label, value in [("top_array", [config]), ("section_array", dict(config, optim=[1, 2])),
                         ("unknown_section", dict(config, extra={"a": 1}))]:
        path = write_json(os.path.join(cases_dir, f"config_{label}.json"), value)
        add(f"config/{label}", ["train", "--config", path, "--out", out_dir()], path)

    # Karpathy split files, read by `data stats` and `data check`.
    generic_json_cases("karpathy", lambda p: ["data", "stats", p], cases_dir)

    def karpathy_with(label, mutate, *extra, images=False):
        document = json.loads(json.dumps(karpathy))
        mutate(document)
        directory = os.path.join(cases_dir, f"karpathy_{label}")
        os.makedirs(directory, exist_ok=True)
        for sub in ("images", "cocobu_att", "cocobu_fc", "cocobu_box"):
            if os.path.exists(os.path.join(data_dir, sub)) and not os.path.exists(os.path.join(directory, sub)):
                os.symlink(os.path.join(data_dir, sub), os.path.join(directory, sub))
        path = write_json(os.path.join(directory, "dataset_shapes.json"), document)
        add(f"karpathy/{label}", ["data", "check"] + (["--images"] if images else []) + [path],
            extra[0] if extra else path, *extra[1:])

    def set_first(key, value):
        return lambda d: d["images"][0].__setitem__(key, value)

    karpathy_with("images_not_list", lambda d: d.__setitem__("images", {"a": 1}))
    karpathy_with("no_images", lambda d: d.pop("images"))
    karpathy_with("image_not_object", lambda d: d["images"].__setitem__(0, 7))
    karpathy_with("imgid_string", set_first("imgid", "seven"))
    karpathy_with("imgid_float", set_first("imgid", 1.5))
    karpathy_with("split_unknown", set_first("split", "holdout"))
    karpathy_with("split_number", set_first("split", 3))
    karpathy_with("sentences_not_list", set_first("sentences", "a red square"))
    karpathy_with("sentence_not_object", set_first("sentences", [5]))
    karpathy_with("tokens_not_list", lambda d: d["images"][0]["sentences"][0].__setitem__("tokens", "a b"))
    karpathy_with("token_not_string", lambda d: d["images"][0]["sentences"][0].__setitem__("tokens", [1, 2]))
    karpathy_with("filename_number", set_first("filename", 12))
    karpathy_with("duplicate_imgid", lambda d: d["images"][1].__setitem__("imgid", d["images"][0]["imgid"]))
    karpathy_with("missing_image_file", set_first("filename", "no_such_image.png"), "no_such_image.png", images=True)
    karpathy_with("path_escape", set_first("filename", "../../../../etc/passwd"), "passwd", images=True)

    # COCO results (candidates) and references, read by `score`.
    refs = write_json(os.path.join(work, "refs.json"), {"refs": {"1": ["a red square"], "2": ["a blue circle"]}})
    cands = write_json(os.path.join(work, "cands.json"),
                       [{"image_id": 1, "caption": "a red square"}, {"image_id": 2, "caption": "a circle"}])
    generic_json_cases("results", lambda p: ["score", "--refs", refs, "--cands", p, "--no-meteor"], cases_dir)
    generic_json_cases("references", lambda p: ["score", "--refs", p, "--cands", cands, "--no-meteor"], cases_dir)
    for label, value, extra in [
            ("not_list", {"a": 1}, ()), ("entry_not_object", [1, 2], ()),
            ("no_caption", [{"image_id": 1}, {"image_id": 2, "caption": "x"}], ()),
            ("caption_number", [{"image_id": 1, "caption": 5}, {"image_id": 2, "caption": "x"}], ("1",)),
            ("image_id_float", [{"image_id": 1.5, "caption": "x"}], ()),
            ("image_id_object", [{"image_id": {"a": 1}, "caption": "x"}], ()),
            ("duplicate_id", [{"image_id": 1, "caption": "x"}, {"image_id": 1, "caption": "y"}], ("1",)),
            ("unknown_id", [{"image_id": 1, "caption": "x"}, {"image_id": 2, "caption": "y"},
                            {"image_id": 999, "caption": "z"}], ("999",)),
            ("missing_id", [{"image_id": 1, "caption": "x"}], ("2",)),
            ("cands_not_strings", {"cands": {"1": 5}}, ()),
            ("caption_invalid_utf8_escape", [{"image_id": 1, "caption": "\udcff"}], ())]:
        try:
            text = json.dumps(value)
        except ValueError:
            continue
        path = write(os.path.join(cases_dir, f"results_{label}.json"), text.encode("utf-8", "surrogatepass"))
        add(f"results/{label}", ["score", "--refs", refs, "--cands", path, "--no-meteor"], path, *extra)
    for label, value in [
            ("images_not_list", {"images": {"a": 1}}), ("images_entries_numbers", {"images": [1, 2]}),
            ("split_not_string", {"images": [{"imgid": 1, "split": 5, "sentences": []}]}),
            ("sentences_not_list", {"images": [{"imgid": 1, "split": "test", "sentences": 5}]}),
            ("sentence_not_object", {"images": [{"imgid": 1, "split": "test", "sentences": [5]}]}),
            ("annotations_not_list", {"annotations": 5}),
            ("annotation_without_caption", {"annotations": [{"image_id": 1}]}),
            ("refs_not_lists", {"refs": {"1": "a red square"}}),
            ("no_known_key", {"something": []}),
            ("no_test_images", {"images": [{"imgid": 1, "split": "train", "sentences": []}]})]:
        path = write_json(os.path.join(cases_dir, f"references_{label}.json"), value)
        add(f"references/{label}", ["score", "--refs", path, "--cands", cands, "--no-meteor"], path)
    generic_json_cases("cider_df", lambda p: ["score", "--refs", refs, "--cands", cands, "--no-meteor",
                                              "--cider-df", p], cases_dir)
    for label, value in [("wrong_format", {"format": "other"}),
                         ("counts_not_numbers", {"format": "sparsecap-cider-df", "num_documents": 2,
                                                 "document_frequency": {"a": "x"}})]:
        path = write_json(os.path.join(cases_dir, f"cider_df_{label}.json"), value)
        add(f"cider_df/{label}", ["score", "--refs", refs, "--cands", cands, "--no-meteor", "--cider-df", path], path)

    # Vocabularies and configs inside a copied run directory, read by `caption` and `eval`.
    image = os.path.join(data_dir, "images", sorted(os.listdir(os.path.join(data_dir, "images")))[0])

    def run_copy(label):
        directory = os.path.join(cases_dir, f"run_{label}")
        shutil.copytree(run_dir, directory)
        return directory

    for variant, data in list(GENERIC_JSON.items())[:8] + [("words_not_list", json.dumps(
            {"format": "sparsecap-vocabulary", "version": 1, "words": 5}).encode())]:
        directory = run_copy(f"vocabulary_{variant}")
        path = write(os.path.join(directory, "vocabulary.json"), data)
        add(f"vocabulary/{variant}", ["caption", "--run", directory, image], path)
    for variant in ("deep_arrays", "not_json", "empty"):
        directory = run_copy(f"run_config_{variant}")
        path = write(os.path.join(directory, "config.json"), GENERIC_JSON[variant])
        add(f"run_config/{variant}", ["eval", "--run", directory, "--split", "val", "--max-images", "2"], path)

    # Checkpoints: broken safetensors files as `eval --checkpoint` and as encoder weights.
    for variant, data in safetensors_variants().items():
        path = write(os.path.join(cases_dir, f"checkpoint_{variant}.safetensors"), data)
        add(f"checkpoint/{variant}", ["eval", "--run", run_dir, "--checkpoint", path, "--max-images", "2"], path)
        add(f"encoder_weights/{variant}", ["train", "--config", config_path, "--out",
                                           os.path.join(cases_dir, f"encoder_run_{variant}"),
                                           "--set", f"init.encoder_weights={path}"], path)
    with open(checkpoint, "rb") as f:
        real = f.read()
    add("checkpoint/real_truncated", ["eval", "--run", run_dir, "--checkpoint",
                                      write(os.path.join(cases_dir, "checkpoint_real_truncated.safetensors"),
                                            real[: len(real) // 2]), "--max-images", "2"],
        "checkpoint_real_truncated.safetensors")

    # A real checkpoint whose weights hold NaN and Inf: refused by eval, caption and export,
    # naming the tensor.
    header_length = struct.unpack("<Q", real[:8])[0]
    header = json.loads(real[8:8 + header_length])
    name, entry = next((n, e) for n, e in header.items()
                       if n.startswith("model.") and isinstance(e, dict) and e.get("dtype") == "F32"
                       and e["data_offsets"][1] - e["data_offsets"][0] >= 8)
    start = 8 + header_length + entry["data_offsets"][0]
    poisoned = bytearray(real)
    poisoned[start:start + 8] = struct.pack("<2f", float("nan"), float("inf"))
    nan_run = run_copy("nan_weights")
    for checkpoint_name in ("final.safetensors", "last.safetensors", "best.safetensors"):
        if os.path.exists(os.path.join(nan_run, "checkpoints", checkpoint_name)):
            write(os.path.join(nan_run, "checkpoints", checkpoint_name), bytes(poisoned))
    nan_file = os.path.join(nan_run, "checkpoints", "final.safetensors")
    add("non_finite/eval", ["eval", "--run", nan_run, "--checkpoint", nan_file, "--max-images", "2"], nan_file,
        name)
    add("non_finite/caption", ["caption", "--run", nan_run, image], "safetensors", name)
    # The same files load with --allow-non-finite (for looking at a diverged run).
    allowed_commands.append(["caption", "--run", nan_run, "--allow-non-finite", image])
    add("non_finite/export", ["export", "--run", nan_run, "--out", os.path.join(cases_dir, "nan_export.safetensors")],
        "safetensors", name)

    # Images given to `caption`.
    for variant, data in image_variants().items():
        path = write(os.path.join(cases_dir, "images", variant), data)
        add(f"image/{variant}", ["caption", "--run", run_dir, path], path)
    add("image/missing", ["caption", "--run", run_dir, os.path.join(cases_dir, "images", "missing.png")],
        "missing.png")

    # Region features (.npy / .npz) and images inside a dataset, read by `data check`.
    att_dir = os.path.join(data_dir, "cocobu_att")
    first_feature = sorted(os.listdir(att_dir))[0]
    feature_id = first_feature.split(".")[0]
    rows_dim = None
    with open(os.path.join(att_dir, first_feature), "rb") as f:
        head = f.read(256).decode("latin-1")
        shape = head[head.index("(") + 1:head.index(")")].split(",")
        rows_dim = (int(shape[0]), int(shape[1]))

    def dataset_copy(label):
        directory = os.path.join(cases_dir, f"data_{label}")
        os.makedirs(directory)
        for entry in os.listdir(data_dir):
            if entry not in ("cocobu_att", "images"):
                os.symlink(os.path.join(data_dir, entry), os.path.join(directory, entry))
        shutil.copytree(att_dir, os.path.join(directory, "cocobu_att"))
        shutil.copytree(os.path.join(data_dir, "images"), os.path.join(directory, "images"))
        return directory

    for variant, data in npy_variants(*rows_dim).items():
        directory = dataset_copy(f"npy_{variant}")
        path = write(os.path.join(directory, "cocobu_att", f"{feature_id}.npy"), data)
        add(f"npy/{variant}", ["data", "check", directory], path)
    for variant, data in npz_variants(*rows_dim).items():
        directory = dataset_copy(f"npz_{variant}")
        os.remove(os.path.join(directory, "cocobu_att", f"{feature_id}.npy"))
        path = write(os.path.join(directory, "cocobu_att", f"{feature_id}.npz"), data)
        add(f"npz/{variant}", ["data", "check", directory], path)
    first_image = sorted(os.listdir(os.path.join(data_dir, "images")))[0]
    for variant, data in list(image_variants().items())[:6]:
        directory = dataset_copy(f"image_{variant.replace('.', '_')}")
        path = write(os.path.join(directory, "images", first_image), data)
        add(f"dataset_image/{variant}", ["data", "check", "--images", directory], path)


def check_case(binary, case):
    start = time.monotonic()
    try:
        result = run_sparsecap(binary, case.args, timeout=60)
    except subprocess.TimeoutExpired:
        return "did not finish in 60 s"
    seconds = time.monotonic() - start
    stderr = result.stderr.decode(errors="replace")
    errors = [line for line in stderr.splitlines() if "error" in line.lower()]
    if result.returncode < 0:
        return f"killed by signal {-result.returncode}: {stderr[-300:]}"
    if result.returncode == 0:
        return "exit code 0"
    if "Sanitizer" in stderr or "runtime error:" in stderr:
        return "sanitizer report: " + stderr[-500:]
    if len(errors) != 1:
        return f"{len(errors)} error lines: {errors[:3]} {stderr[-300:] if not errors else ''}"
    line = errors[0]
    if len(line) > 1000:
        return f"error line of {len(line)} characters"
    if case.names not in line:
        return f"error line does not name {case.names}: {line}"
    for extra in case.extra:
        if extra not in line:
            return f"error line does not name {extra}: {line}"
    if seconds > TIME_LIMIT_S:
        return f"took {seconds:.1f} s (limit {TIME_LIMIT_S} s)"
    return None


def main():
    binary, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    build_corpus(binary, work)
    if "--list" in sys.argv:
        for case in cases:
            print(case.name, " ".join(case.args))
        return
    failures = 0
    for args in allowed_commands:
        result = run_sparsecap(binary, args, timeout=60)
        if result.returncode != 0:
            failures += 1
            print(f"FAIL {' '.join(args)}: exit {result.returncode}: {result.stderr.decode(errors='replace')[-300:]}")
    for case in cases:
        problem = check_case(binary, case)
        if problem:
            failures += 1
            print(f"FAIL {case.name}: {problem}")
    print(f"{len(cases)} malformed inputs, {len(cases) - failures} rejected cleanly, {failures} failures")
    if failures:
        sys.exit(1)
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
