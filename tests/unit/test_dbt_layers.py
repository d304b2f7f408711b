"""The dbt layers run one way: sources -> staging -> intermediate -> marts (read from the manifest
that `dbt parse` writes, so every ref counts, `-- depends_on:` hints included)."""

import copy
import json

import pytest

from orchestration.dbt_cli import dbt_project, prepare_manifest

LAYERS = ("staging", "intermediate", "marts")
# What a model of each layer may read, besides seeds: staging only renames and casts the sources;
# intermediate builds on staging; marts on intermediate (and staging where nothing is left to prepare).
READABLE = {
    "staging": {"source"},
    "intermediate": {"staging", "intermediate"},
    "marts": {"staging", "intermediate", "marts"},
}


@pytest.fixture(scope="module")
def manifest() -> dict:
    prepare_manifest()
    return json.loads(dbt_project.manifest_path.read_text())


def _layer(manifest: dict, unique_id: str) -> str:
    """`source`, `seed`, or the folder under models/ a model lives in (its layer)."""
    if unique_id in manifest["sources"]:
        return "source"
    node = manifest["nodes"][unique_id]
    return node["resource_type"] if node["resource_type"] != "model" else node["fqn"][1]


def layering_violations(manifest: dict) -> list[str]:
    violations = []
    for unique_id, node in manifest["nodes"].items():
        if node["resource_type"] != "model":
            continue
        layer = _layer(manifest, unique_id)
        if layer not in LAYERS:
            violations.append(f"{node['name']} is in models/{layer}/, not in a layer folder {LAYERS}")
            continue
        for parent in node["depends_on"]["nodes"]:
            parent_layer = _layer(manifest, parent)
            if parent_layer != "seed" and parent_layer not in READABLE[layer]:
                violations.append(f"{layer} model {node['name']} reads {parent_layer} {parent.split('.')[-1]}")
    return violations


def _model_id(manifest: dict, name: str) -> str:
    (unique_id,) = [uid for uid, node in manifest["nodes"].items() if node["resource_type"] == "model" and node["name"] == name]
    return unique_id


def test_the_layers_run_one_way(manifest):
    assert layering_violations(manifest) == []


def test_every_layer_has_models(manifest):
    layers = {_layer(manifest, uid) for uid, node in manifest["nodes"].items() if node["resource_type"] == "model"}
    assert layers == set(LAYERS)


@pytest.mark.parametrize(
    ("model", "reads", "violation"),
    [
        ("int_customer_months", "kpi_daily", "intermediate model int_customer_months reads marts kpi_daily"),
        ("stg_shop__order_lines", "int_order_lines", "staging model stg_shop__order_lines reads intermediate int_order_lines"),
        ("int_order_lines", "stg_shop__order_lines", None),
    ],
)
def test_a_ref_against_the_layers_is_reported(manifest, model, reads, violation):
    changed = copy.deepcopy(manifest)
    changed["nodes"][_model_id(changed, model)]["depends_on"]["nodes"].append(_model_id(changed, reads))
    assert layering_violations(changed) == ([violation] if violation else [])


def test_an_intermediate_model_reading_a_source_is_reported(manifest):
    changed = copy.deepcopy(manifest)
    source = next(uid for uid in changed["sources"] if uid.endswith(".order_lines"))
    changed["nodes"][_model_id(changed, "int_order_lines__priced")]["depends_on"]["nodes"].append(source)
    assert layering_violations(changed) == ["intermediate model int_order_lines__priced reads source order_lines"]
