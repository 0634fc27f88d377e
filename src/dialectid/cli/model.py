"""`dialectid model`: inspect and export model bundles."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from dialectid.cli.common import out, user_errors

app = typer.Typer(help="Model bundles: information and export.", no_args_is_help=True)


@app.command("info")
@user_errors
def info(
    path: Annotated[Path, typer.Argument(help="Model bundle folder.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of text.")] = False,
) -> None:
    """Verify a bundle and show what it is, what it was trained on and how well it did."""
    from dialectid.models.bundle import load_model

    bundle = load_model(path)
    d, metrics = bundle.description, bundle.metrics
    facts = {
        "name": d["name"], "model": d["model"]["name"], "bundle_sha256": bundle.sha256, "labels": bundle.labels,
        "input": d["input"], "decision_rules": d["decision"],
        "calibration": d["calibration"]["method"], "encoder": d.get("encoder"), "toolkit_version": d["toolkit_version"],
        "created_at": d["created_at"], "coverage": metrics.get("coverage"), "accuracy": metrics.get("accuracy"), "cavg": metrics.get("cavg"),
        "cllr": metrics.get("cllr"), "speakers_unseen_in_training": metrics.get("speakers_unseen_in_training"),
        "training_data": d["training_data"]["per_label"],
    }  # fmt: skip
    if as_json:
        out.print(json.dumps(facts), markup=False)
        return
    for key, value in facts.items():
        out.print(f"{key:>28}: {value}", markup=False)


@app.command("export")
@user_errors
def export(
    path: Annotated[Path, typer.Argument(help="Model bundle folder (xvector or ecapa).")],
    onnx: Annotated[Path, typer.Option("--onnx", help="Where to write the ONNX network.")],
) -> None:
    """Export a bundle's network to ONNX (features in, calibrated log-posteriors out)."""
    from dialectid.models.bundle import load_model
    from dialectid.models.onnx import export_onnx

    export_onnx(load_model(path), onnx)
    out.print(f"wrote {onnx}", markup=False)
