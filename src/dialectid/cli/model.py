"""`dialectid model`: inspect, export, sign and verify model bundles."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dialectid.cli.common import EXIT_FAILED_ITEMS, err, out, user_errors
from dialectid.errors import DialectidError
from dialectid.extras import require_extra
from dialectid.jsonlines import print_json

app = typer.Typer(help="Model bundles: information, export, signatures.", no_args_is_help=True)


@app.command("info")
@user_errors
def info(
    path: Annotated[Path, typer.Argument(help="Model bundle folder.")],
    as_json: Annotated[bool, typer.Option("--json", help="JSON instead of text.")] = False,
) -> None:
    """Verify a bundle and show what it is, what it was trained on and how well it did."""
    from dialectid.models.bundle import load_model

    bundle = load_model(path)
    d, metrics = bundle.description.model_dump(mode="json"), bundle.metrics
    facts = {
        "name": d["name"], "model": d["model"]["name"], "bundle_sha256": bundle.sha256, "labels": bundle.labels,
        "input": d["input"], "decision_rules": d["decision"],
        "calibration": d["calibration"]["method"], "encoder": d["encoder"], "toolkit_version": d["toolkit_version"],
        "created_at": d["created_at"], "coverage": metrics.get("coverage"), "accuracy": metrics.get("accuracy"), "cavg": metrics.get("cavg"),
        "cllr": metrics.get("cllr"), "speakers_unseen_in_training": metrics.get("speakers_unseen_in_training"),
        "training_data": d["training_data"]["per_label"],
    }  # fmt: skip
    if as_json:
        print_json(facts)
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
    require_extra("train", "ONNX export")
    from dialectid.models.bundle import load_model
    from dialectid.models.onnx import export_onnx

    export_onnx(load_model(path), onnx)
    out.print(f"wrote {onnx}", markup=False)


@app.command("sign")
@user_errors
def sign(path: Annotated[Path, typer.Argument(help="Model bundle folder.")]) -> None:
    """Sign a bundle that verifies, with this toolkit's Ed25519 key.

    The key is the one that signs reports (DIALECTID_HOME/keys); the signature is detached, over the
    bundle's checksums, in checksums.sha256.sig beside them."""
    from dialectid.models.bundle import SIGNATURE, sign_bundle
    from dialectid.paths import home
    from dialectid.report import signing_key

    facts = sign_bundle(path, signing_key(home() / "keys"))
    out.print(f"signed {path} ({facts['bundle']}, checksums sha256 {facts['checksums_sha256']}) with key "
              f"{facts['key_id']}: {path / SIGNATURE}", markup=False)  # fmt: skip


@app.command("fingerprint")
@user_errors
def fingerprint(path: Annotated[Path, typer.Argument(help="Model bundle folder without a fingerprint.")]) -> None:
    """Add the behavioural fingerprint to a bundle exported before there was one.

    Its posteriors on fixed probe signals go into bundle.json (and its checksum into
    checksums.sha256); every later load checks them before the first scoring."""
    from dialectid.models.bundle import add_fingerprint

    stored = add_fingerprint(path)
    out.print(f"{path}: fingerprint on {len(stored.posteriors)} probe signals added", markup=False)


@app.command("verify")
@user_errors
def verify(
    path: Annotated[Path, typer.Argument(help="Model bundle folder.")],
    public_key: Annotated[
        Path | None,
        typer.Option(help="PEM public key that must have signed it (else this toolkit's, if signed)."),
    ] = None,
) -> None:
    """Check a bundle's checksums, contents, behaviour and signature; exit 1 if anything is wrong.

    The signature is checked if there is one, or if --public-key is given. Checksums show that a
    bundle is intact, only a signature who made it."""
    from dialectid.models.bundle import SIGNATURE, load_model, verify_signature
    from dialectid.paths import home
    from dialectid.report import trusted_key

    try:
        bundle = load_model(path)
        bundle.check_behaviour()
        signed = public_key is not None or (path / SIGNATURE).exists()
        facts = verify_signature(bundle, trusted_key(home() / "keys", public_key)) if signed else None
    except DialectidError as error:
        err.print(f"NOT VALID: {error.message}", markup=False)
        raise typer.Exit(EXIT_FAILED_ITEMS) from None
    if facts is None:
        out.print(f"intact, not signed: {path} matches its checksums (bundle sha256 {bundle.sha256}), but nothing "
                  "says who made it; dialectid model sign signs it", markup=False)  # fmt: skip
        return
    out.print(f"valid: bundle {facts['bundle']} (sha256 {bundle.sha256}), signed {facts['signed_at']} with key "
              f"{facts['key_id']}", markup=False)  # fmt: skip
