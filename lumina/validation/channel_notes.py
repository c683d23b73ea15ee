"""A model folder's ``channels.json`` written from a study result, not by hand.

:func:`lumina.models.channel_notes` shows, wherever a channel appears, a one-line note for a
channel measured *not* to capture what its name says on that model. The note must come from
a measurement of that very model: :func:`notes_from_study` derives it from row 3 of a
:func:`lumina.validation.run_validation` result (leave-one-out on the demo catalog: does the
composition channel's top match share the composition, the production channel's the
timbre?), and :func:`write_channel_notes` merges it into the folder's file, dropping every
measurement made on other weights.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lumina.models import CHANNEL_NOTES_FILE

__all__ = ["SEPARATES_AT", "notes_from_study", "write_channel_notes"]

#: The row-3 fraction from which a channel counts as capturing what its name says (the
#: study's goals: same composition ≥ 0.85, same timbre ≥ 0.90).
SEPARATES_AT = {"composition": 0.85, "production": 0.90}


def _row(result: dict[str, Any], row_id: str) -> dict[str, Any] | None:
    return next((r for r in result["rows"] if r["id"] == row_id), None)


def notes_from_study(result: dict[str, Any]) -> dict[str, Any]:
    """``{"channels": …, "renderings": …}`` entries measured by one study run.

    The composition entry goes under the run's rendering (``renderings[name/version]``), or
    under ``channels`` for a run on the plain audio; the production channel never sees the
    rendering, so its entry always goes under ``channels``.
    """
    protocol = result["protocol"]
    model = protocol["model"]["name"]
    rendering = protocol["config"].get("composition_rendering") or "plain"
    if rendering != "plain":
        # The study records the name a user typed ("shepard"); notes are looked up by the
        # rendering's versioned id ("shepard/1"), what fingerprints and libraries record.
        from lumina.fingerprint.rendering import get_rendering

        rendering = get_rendering(rendering).id
    details = result["details"]["separation"]
    comp_row, prod_row = _row(result, "3.composition"), _row(result, "3.production")
    if comp_row is None or prod_row is None:
        raise ValueError("the study result has no row 3 (channel separation)")
    same_timbre_comp = details.get("top1_same", {}).get("composition", {}).get("timbre")
    comp_value, prod_value = float(comp_row["value"]), float(prod_row["value"])
    where = "" if rendering == "plain" else f" with the {rendering} rendering"
    comp_note = (f"on {model}{where} this channel's top match shares the composition "
                 f"{comp_value:.0%} of the time on the demo catalog (chance "
                 f"{comp_row['chance']:.0%})")
    if same_timbre_comp is not None:
        comp_note += f" and the timbre {same_timbre_comp:.0%}"
    prod_note = (f"on {model} this channel's top match shares the timbre {prod_value:.0%} of "
                 f"the time on the demo catalog (chance {prod_row['chance']:.0%})")
    composition = {"separates": comp_value >= SEPARATES_AT["composition"], "note": comp_note}
    production = {"separates": prod_value >= SEPARATES_AT["production"], "note": prod_note}
    out: dict[str, Any] = {"channels": {"production": production}, "renderings": {}}
    if rendering == "plain":
        out["channels"]["composition"] = composition
    else:
        out["renderings"][rendering] = {"composition": composition}
    return out


def write_channel_notes(result: dict[str, Any], folder: str | Path,
                        scope: str | None = None) -> Path:
    """Write ``folder/channels.json`` from ``result``; returns the file.

    Entries of an existing file survive only if they were measured on the same weights
    (its ``weights_sha256``) with the same output function (its ``output_function``,
    absent for the paper's loss); a rendering or the plain composition channel that this run
    did not measure is then absent, and :func:`lumina.models.channel_notes` says "not
    measured" for it. ``scope`` (one line: what the model's answers are evidence of) is
    kept from the existing file unless given.
    """
    path = Path(folder) / CHANNEL_NOTES_FILE
    digest = result["protocol"]["model"]["weights_sha256"]
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        old = {}
    function = result["protocol"].get("fingerprint", {}).get("output_function")
    same_weights = (old.get("weights_sha256") == digest
                    and old.get("output_function") == function)
    new = notes_from_study(result)
    channels = dict(old.get("channels", {})) if same_weights else {}
    channels.update(new["channels"])
    renderings = dict(old.get("renderings", {})) if same_weights else {}
    renderings.update(new["renderings"])
    data = {
        "measured_by": "lumina validate, row 3 (leave-one-out on the demo catalog), "
                       "docs/validation.md; written by lumina validate --channel-notes",
        "weights_sha256": digest,
        **({"output_function": function} if function else {}),
        **({"scope": scope or old.get("scope")} if (scope or old.get("scope")) else {}),
        "channels": channels,
        "renderings": renderings,
    }
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
