"""Imports the ColTran authors' checkpoints (google-research `coltran/`) into work directories of ours.

Their checkpoints (`train_utils.create_checkpoint`) hold every model variable under its TF name (":0"
kept, "/" escaped as ".S"), one `.../ExponentialMovingAverage:0` (Polyak 0.999) per trainable variable,
and the optimizer. Their sampling assigns the EMA values to the trainable variables; so does this import
(the raw value where a variable has none: the cLNs' non-trainable `normalize` LayerNorm, which must be
the identity, gamma 1 and beta 0, or the import fails).

Keras numbers unnamed layers in creation order across a whole process ("dense_34", "position_embed_3"),
so names are canonicalised first: every auto-numbered component becomes its rank among the siblings of
its parent ("dense#0", "dense#1", ...), which holds whatever else the process built before. The mapping
(`mapping`) then names, for each of our variables, the authors' variables it comes from and how:
reshapes (q, k, v [D, heads, d] -> [D, heads * d]; output [heads, d, D] -> [heads * d, D]; position
embeddings; per-head cAtt projections [C, heads, 2d] -> [C, 2D], whose layout ours keeps), an embedding
as one-hot x kernel + bias, and the upsamplers' concat -> Dense folded into two embedding tables (a sum
of lookups is the same linear function). Anything missing, left over or mis-shaped is an error that
names it. `import_component` writes config.json + checkpoints/ckpt-<their step> through
`common.train.save_model_checkpoint`, which `load_for_inference` reads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

COMPONENTS = {  # the authors' folder / model name -> our registry name and config file
    "colorizer": "coltran_core",
    "color_upsampler": "coltran_color_upsampler",
    "spatial_upsampler": "coltran_spatial_upsampler",
}
_AUTHORS_MODEL = {
    "colorizer": "col_tran_core",
    "color_upsampler": "color_upsampler",
    "spatial_upsampler": "spatial_upsampler",
}
_AUTO_NAMED = {
    "dense",
    "layer_normalization",
    "conditional_layer_norm",
    "self_attention_nd",
    "position_embed",
    "gray_scale_encoder",
    "factorized_attention",
    "outer_decoder",
    "inner_decoder",
    *_AUTHORS_MODEL.values(),
}
_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
_EMA = "/ExponentialMovingAverage"
_IGNORED = ("optimizer/", "save_counter", "_CHECKPOINTABLE_OBJECT_GRAPH")


class AuthorsCheckpointError(ValueError):
    """The authors' checkpoint does not match the mapping (message names what is wrong)."""


def _unescape(key: str) -> str:
    """A checkpoint key's escaped name ('.S' for '/', '..' for '.') -> the TF variable name."""
    out, i = [], 0
    while i < len(key):
        if key[i] == "." and i + 1 < len(key):
            out.append("/" if key[i + 1] == "S" else key[i + 1])
            i += 2
        else:
            out.append(key[i])
            i += 1
    return "".join(out)


def canonical_names(names: list[str]) -> dict[str, str]:
    """{TF variable name: canonical name}: ":0" dropped, auto-numbered components replaced by their rank
    among same-named siblings of one parent ("dense_36" -> "dense#2" if 34 and 35 come first)."""
    split = {n: n[:-2].split("/") if n.endswith(":0") else n.split("/") for n in names}
    depth = max((len(p) for p in split.values()), default=0)
    canon = {n: list(p) for n, p in split.items()}
    for level in range(depth):
        siblings: dict[tuple, dict[str, set[int]]] = {}
        for n, parts in canon.items():
            if level >= len(parts) - 1:
                continue
            match = re.fullmatch(r"(.*?)(?:_(\d+))?", split[n][level])
            base, num = match.group(1), int(match.group(2) or 0)
            if base in _AUTO_NAMED:
                siblings.setdefault(tuple(canon[n][:level]), {}).setdefault(base, set()).add(num)
        for n, parts in canon.items():
            if level >= len(parts) - 1:
                continue
            match = re.fullmatch(r"(.*?)(?:_(\d+))?", split[n][level])
            base, num = match.group(1), int(match.group(2) or 0)
            if base in _AUTO_NAMED:
                ranks = sorted(siblings[tuple(canon[n][:level])][base])
                parts[level] = f"{base}#{ranks.index(num)}"
    return {n: "/".join(p) for n, p in canon.items()}


def read_authors_checkpoint(path: str) -> tuple[dict[str, np.ndarray], dict[str, str], int]:
    """Reads a checkpoint (its folder or prefix) -> ({canonical name: value, EMA where present}, {canonical
    name: "ema" | "raw"}, the training step); raises naming the path when nothing is there."""
    prefix = tf.train.latest_checkpoint(path) if tf.io.gfile.isdir(path) else path
    if not prefix or not tf.io.gfile.exists(prefix + ".index"):
        raise AuthorsCheckpointError(
            f"coltran/import_authors.py: no checkpoint at {path!r} (expected the authors' "
            "folder with a 'checkpoint' file, or a prefix such as DIR/model-450000)"
        )
    reader = tf.train.load_checkpoint(prefix)
    raw, ema, step = {}, {}, 0
    for key in reader.get_variable_to_shape_map():
        if key.startswith("optimizer/_iterations") or key.startswith("optimizer/iter"):
            step = int(reader.get_tensor(key))
        if key.startswith(_IGNORED) or not key.endswith(_SUFFIX):
            continue
        name = _unescape(key[: -len(_SUFFIX)])
        if name.endswith(_EMA + ":0"):
            ema[name[: -len(_EMA + ":0")] + ":0"] = key
        else:
            raw[name] = key
    orphans = sorted(set(ema) - set(raw))
    if orphans:
        raise AuthorsCheckpointError(
            f"coltran/import_authors.py: {prefix}: EMA values without a variable: {orphans[:5]}"
        )
    canon = canonical_names(sorted(raw))
    values = {canon[n]: reader.get_tensor(ema.get(n, k)) for n, k in raw.items()}
    kinds = {canon[n]: "ema" if n in ema else "raw" for n in raw}
    return values, kinds, step


# -- the mapping -------------------------------------------------------------------------------------------
Rule = tuple[list[str], Callable[..., np.ndarray]]


def _same(x: np.ndarray) -> np.ndarray:
    return x


def _flat_in(x: np.ndarray) -> np.ndarray:  # [D, heads, d] -> [D, heads * d]
    return x.reshape(x.shape[0], -1)


def _flat_out(x: np.ndarray) -> np.ndarray:  # [heads, d, D] -> [heads * d, D]
    return x.reshape(-1, x.shape[-1])


def _col(x: np.ndarray) -> np.ndarray:  # [W, D] -> [1, W, D]
    return x[None]


def _attention(rules: dict, ours: str, theirs: str, rel_index: int, conditional: bool) -> None:
    for p in "qkv":
        rules[f"{ours}/{p}/kernel"] = ([f"{theirs}/{p}/kernel"], _flat_in)
        if conditional:
            rules[f"{ours}/cond_{p}/kernel"] = ([f"{theirs}/cond_{p}/kernel"], _flat_in)
    rules[f"{ours}/output/kernel"] = ([f"{theirs}/output/kernel"], _flat_out)
    rules[f"{ours}/relative_bias"] = ([f"{theirs}/relative_attention_bias_{rel_index}"], _same)


def _dense(rules: dict, ours: str, theirs: str, bias: bool = True) -> None:
    rules[f"{ours}/kernel"] = ([f"{theirs}/kernel"], _same)
    if bias:
        rules[f"{ours}/bias"] = ([f"{theirs}/bias"], _same)


def _position(rules: dict, ours: str, theirs: str) -> None:
    rules[f"{ours}/row"] = ([f"{theirs}/position_embedding_0"], _same)
    rules[f"{ours}/col"] = ([f"{theirs}/position_embedding_1"], _col)


def _encoder(rules: dict, theirs: str, layers: int) -> None:
    """Our AxialEncoder 'encoder' <- their FactorizedAttention; its MLPs are the first 4 * layers top-level
    Dense layers (Keras puts a Sequential's weights at top level)."""
    _position(rules, "encoder/position", f"{theirs}/position_embed#0")
    for i in range(layers):
        for j, axis in enumerate(("row", "column")):
            _attention(
                rules, f"encoder/{axis}_att_{i}", f"{theirs}/self_attention_nd#{2 * i + j}", 1 - j, False
            )
            for k, part in enumerate(("att", "mlp")):
                norm = f"{theirs}/layer_normalization#{4 * i + 2 * j + k}"
                rules[f"encoder/{axis}_{part}_norm_{i}/gamma"] = ([f"{norm}/gamma"], _same)
                rules[f"encoder/{axis}_{part}_norm_{i}/beta"] = ([f"{norm}/beta"], _same)
            _dense(rules, f"encoder/{axis}_mlp_{i}/inner", f"dense#{4 * i + 2 * j}")
            _dense(rules, f"encoder/{axis}_mlp_{i}/outer", f"dense#{4 * i + 2 * j + 1}")


def _cln(rules: dict, ours: str, theirs: str, identity: list[str]) -> None:
    rules[f"{ours}/spatial_weights"] = ([f"{theirs}/spatial_average"], _same)
    _dense(rules, f"{ours}/proj", f"{theirs}/dense#0")
    identity += [f"{theirs}/normalize/gamma", f"{theirs}/normalize/beta"]


def mapping(component: str, model_kwargs: dict) -> tuple[dict[str, Rule], list[str]]:
    """({our variable path: ([their canonical names], fn(*values) -> our value)}, [their identity norms])."""
    rules: dict[str, Rule] = {}
    identity: list[str] = []
    top = f"{_AUTHORS_MODEL[component]}#0"
    n_enc = model_kwargs["num_encoder_layers"]
    if component != "colorizer":
        _encoder(rules, f"{top}/factorized_attention#0", n_enc)
        d = model_kwargs["hidden_size"]
        proj = f"{top}/dense#2"  # input_dense over concat(channel embedding, gray embedding)
        rules["channel_embedding/embeddings"] = (
            [f"{top}/dense#0/kernel", f"{proj}/kernel", f"{proj}/bias"],
            lambda e, w, b: e @ w[:d] + b,
        )
        rules["gray_embedding/embeddings"] = (
            [f"{top}/dense#1/kernel", f"{proj}/kernel"],
            lambda e, w: e @ w[d:],
        )
        _dense(rules, "final_dense", f"{top}/dense#3")
        return rules, identity
    _encoder(rules, f"{top}/gray_scale_encoder#0/factorized_attention#0", n_enc)
    gray = f"{top}/gray_scale_encoder#0/dense#0"
    rules["gray_embed/embeddings"] = ([f"{gray}/kernel", f"{gray}/bias"], lambda k, b: k + b)
    rules["pixel_embed/embeddings"] = ([f"{top}/dense#0/kernel"], _same)
    rules["parallel_logits/kernel"] = ([f"{top}/parallel_logits/kernel"], _same)
    ff = 4 * n_enc  # the decoders' MLPs follow the encoder's among the top-level Dense layers
    outer = f"{top}/outer_decoder#0"
    _position(rules, "outer_decoder/position", f"{outer}/position_embed#0")
    for i in range(model_kwargs["num_outer_layers"]):
        names = ("row_att", "row_mlp", "col_att", "col_mlp")
        for j, name in enumerate(names):
            _cln(
                rules,
                f"outer_decoder/{name}_norm_{i}",
                f"{outer}/conditional_layer_norm#{4 * i + j}",
                identity,
            )
        _attention(rules, f"outer_decoder/row_att_{i}", f"{outer}/unmask_row_att_{i}", 1, True)
        _attention(rules, f"outer_decoder/col_att_{i}", f"{outer}/mask_col_att_{i}", 0, True)
        for j, (name, aff) in enumerate((("row_mlp", "affine_r"), ("col_mlp", "affine_c"))):
            _dense(rules, f"outer_decoder/{name}_{i}/cond", f"{outer}/{aff}_{i}")
            _dense(rules, f"outer_decoder/{name}_{i}/inner", f"dense#{ff + 4 * i + 2 * j}")
            _dense(rules, f"outer_decoder/{name}_{i}/outer", f"dense#{ff + 4 * i + 2 * j + 1}")
    ff += 4 * model_kwargs["num_outer_layers"]
    inner = f"{top}/inner_decoder#0"
    _position(rules, "inner_decoder/position", f"{inner}/position_embed#0")
    for i in range(model_kwargs["num_inner_layers"]):
        _cln(rules, f"inner_decoder/row_att_norm_{i}", f"{inner}/conditional_layer_norm#{2 * i}", identity)
        _cln(rules, f"inner_decoder/mlp_norm_{i}", f"{inner}/conditional_layer_norm#{2 * i + 1}", identity)
        _attention(rules, f"inner_decoder/row_att_{i}", f"{inner}/mask_row_att_{i}", 1, True)
        _dense(rules, f"inner_decoder/mlp_{i}/cond", f"{inner}/affine_c_{i}")
        _dense(rules, f"inner_decoder/mlp_{i}/inner", f"dense#{ff + 2 * i}")
        _dense(rules, f"inner_decoder/mlp_{i}/outer", f"dense#{ff + 2 * i + 1}")
    rules["final_norm/gamma"] = ([f"{top}/layer_normalization#0/gamma"], _same)
    rules["final_norm/beta"] = ([f"{top}/layer_normalization#0/beta"], _same)
    _dense(rules, "auto_logits", f"{top}/auto_logits")
    return rules, identity


def infer_model_kwargs(component: str, values: dict[str, np.ndarray]) -> dict[str, Any]:
    """Sizes of the authors' model from its variables (so any width imports, not only the paper's)."""
    top = f"{_AUTHORS_MODEL[component]}#0"
    enc = (
        f"{top}/gray_scale_encoder#0/factorized_attention#0"
        if component == "colorizer"
        else f"{top}/factorized_attention#0"
    )

    def find(name: str) -> np.ndarray:
        if name not in values:
            raise AuthorsCheckpointError(
                f"coltran/import_authors.py: {component}: missing variable {name!r}; is this a "
                f"checkpoint of their {component}?"
            )
        return values[name]

    q = find(f"{enc}/self_attention_nd#0/q/kernel")
    kw = {
        "hidden_size": int(q.shape[0]),
        "num_heads": int(q.shape[1]),
        "ff_size": int(find("dense#0/kernel").shape[1]),
        "num_encoder_layers": sum(
            1 for n in values if re.fullmatch(rf"{enc}/self_attention_nd#\d+/q/kernel", n)
        )
        // 2,
        "resolution": int(find(f"{enc}/position_embed#0/position_embedding_0").shape[0]),
    }
    if component == "colorizer":
        kw["num_outer_layers"] = sum(1 for n in values if re.search(r"/unmask_row_att_\d+/q/kernel$", n))
        kw["num_inner_layers"] = sum(
            1 for n in values if re.search(r"/mask_row_att_\d+/q/kernel$", n) and "unmask" not in n
        )
    elif component == "color_upsampler":
        kw["coarse_bits"] = int(round(np.log2(find(f"{top}/dense#0/kernel").shape[0] // 3)))
    return kw


def convert(
    component: str, values: dict[str, np.ndarray], kinds: dict[str, str], model: Any
) -> dict[str, np.ndarray]:
    """{our variable path: value} for every variable of `model`; raises listing what does not match."""
    from common.train import named_variables

    rules, identity = mapping(component, model.get_config())
    ours = named_variables(model)
    problems = []
    missing_ours = sorted(set(ours) - set(rules))
    if missing_ours:
        problems.append(f"our variables with no rule: {missing_ours[:8]}")
    used = {n for srcs, _ in rules.values() for n in srcs} | set(identity)
    missing = sorted(n for n in used if n not in values)
    if missing:
        problems.append(
            f"missing in their checkpoint: {missing[:8]}"
            + (f" (+{len(missing) - 8})" if len(missing) > 8 else "")
        )
    unexpected = sorted(set(values) - used)
    if unexpected:
        problems.append(f"unexpected in their checkpoint: {unexpected[:8]}")
    out = {}
    for path, (srcs, fn) in rules.items():
        if path not in ours or any(s not in values for s in srcs):
            continue
        try:
            value = np.asarray(fn(*[values[s] for s in srcs]), np.float32)
        except ValueError as e:  # a reshape or matmul of the wrong sizes
            problems.append(f"{path} <- {srcs}: {e}")
            continue
        if tuple(value.shape) != tuple(ours[path].shape):
            shapes = [tuple(values[s].shape) for s in srcs]
            problems.append(f"mis-shaped: {path} {tuple(ours[path].shape)} <- {srcs} {shapes}")
        out[path] = value
    for name in identity:
        if name in values and not np.all(values[name] == (1.0 if name.endswith("gamma") else 0.0)):
            problems.append(f"{name} is not the identity (their cLN's fixed LayerNorm); no place for it here")
    not_ema = sorted(s for srcs, _ in rules.values() for s in srcs if kinds.get(s) == "raw")
    if not_ema:
        problems.append(f"trainable variables without an EMA value: {not_ema[:8]}")
    if problems:
        raise AuthorsCheckpointError(f"coltran/import_authors.py: {component}: " + "; ".join(problems))
    return out


def _find_folder(authors_dir: str, component: str) -> str | None:
    """DIR/<component> (or DIR/<component>_v2, ...; DIR/coltran/... as their zip unpacks), else None."""
    for base in (authors_dir, f"{authors_dir}/coltran"):
        if not tf.io.gfile.isdir(base):
            continue
        for entry in sorted(tf.io.gfile.listdir(base)):
            entry = entry.rstrip("/")
            if entry == component or re.fullmatch(rf"{component}_v\d+", entry):
                return f"{base}/{entry}"
    return None


def import_component(component: str, authors_path: str, workdir: str, *, low_resolution: int = 64) -> str:
    """Imports one of their checkpoints (folder or prefix) into `workdir` (config.json + our checkpoint).

    The config is ours for the component (configs/coltran_*.py, paper values) with the sizes read from
    their variables; the core's gets `row_context_sampling=True` (the authors' sampling context). The
    spatial upsampler's `low_resolution` is not in their checkpoint (their data pipeline's 64). Returns
    the checkpoint prefix written.
    """
    import importlib

    from common import registry
    from common.train import named_variables, save_model_checkpoint

    if component not in COMPONENTS:
        raise AuthorsCheckpointError(
            f"coltran/import_authors.py: unknown component {component!r}; one of {sorted(COMPONENTS)}"
        )
    values, kinds, step = read_authors_checkpoint(authors_path)
    config = importlib.import_module(f"configs.{COMPONENTS[component]}").get_config("")
    config.model.update(infer_model_kwargs(component, values))
    if component == "colorizer":
        config.model.row_context_sampling = True
    if component == "spatial_upsampler":
        config.model.low_resolution = low_resolution
    model = registry.build_model(config)
    converted = convert(component, values, kinds, model)
    named = named_variables(model)
    for path, value in converted.items():
        named[path].assign(value)
    ema = {p: v for p, v in converted.items() if named[p].trainable}
    return save_model_checkpoint(model, workdir, step, ema_values=ema, config=config)


def import_all(authors_dir: str, workdir: str, *, low_resolution: int = 64) -> dict[str, str]:
    """Every component found in `authors_dir` -> `workdir`/<our name>; {our name: checkpoint prefix}."""
    found = {c: _find_folder(authors_dir, c) for c in COMPONENTS}
    if not any(found.values()):
        raise AuthorsCheckpointError(
            f"coltran/import_authors.py: --authors_dir={authors_dir!r} holds none of the folders "
            f"{sorted(COMPONENTS)} (nor coltran/<those>, as their coltran.zip unpacks)"
        )
    return {
        COMPONENTS[c]: import_component(c, path, f"{workdir}/{COMPONENTS[c]}", low_resolution=low_resolution)
        for c, path in found.items()
        if path
    }
