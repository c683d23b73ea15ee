"""Model backends. :func:`load_model` turns a ``--model`` argument into a
:class:`MusicGenModel`: ``lumina-tiny`` (embedded), a transformers-format folder, or an
audiocraft checkpoint folder. Local files only; nothing is ever downloaded."""

from __future__ import annotations

from pathlib import Path

from lumina.errors import ModelError
from lumina.models.musicgen import CHANNEL_PATTERNS, MusicGenModel, weights_digest

DEFAULT_MODEL = "lumina-tiny"


def embedded_model_path() -> Path:
    from lumina_resources import ROOT

    return ROOT / "models" / DEFAULT_MODEL


def load_model(spec: str | Path = DEFAULT_MODEL) -> MusicGenModel:
    """Load a model by name or folder; a bad folder raises :class:`ModelError` (one line)."""
    from lumina.models.audiocraft import COMPRESSION_FILE, LM_FILE, load_audiocraft_folder
    from lumina.models.transformers_folder import load_transformers_folder

    if str(spec) == DEFAULT_MODEL:
        folder = embedded_model_path()
        if not (folder / "config.json").is_file():
            raise ModelError(
                f"the embedded model {DEFAULT_MODEL} is not built in this installation "
                "(build it with: python -m lumina.demo.train)"
            )
        return load_transformers_folder(folder, name=DEFAULT_MODEL)
    folder = Path(spec).expanduser()
    if not folder.exists():
        raise ModelError(f"model folder not found: {folder}")
    if not folder.is_dir():
        raise ModelError(f"{folder.name}: a model is a folder, not a file")
    if (folder / "config.json").is_file():
        return load_transformers_folder(folder)
    if (folder / LM_FILE).is_file() or (folder / COMPRESSION_FILE).is_file():
        return load_audiocraft_folder(folder)
    raise ModelError(
        f"{folder.name}: not a MusicGen model folder (no config.json, no {LM_FILE})"
    )


__all__ = ["CHANNEL_PATTERNS", "DEFAULT_MODEL", "MusicGenModel", "channel_notes", "load_model",
           "model_scope", "weights_digest"]


#: A model folder may hold this file: what each channel was *measured* to capture on this
#: model (DESIGN §1: never label a channel with a meaning the numbers don't back).
CHANNEL_NOTES_FILE = "channels.json"


def model_scope(model: MusicGenModel) -> str | None:
    """One line on what this model's answers are evidence of, when its folder's notes say
    they are limited (``"scope"`` in :data:`CHANNEL_NOTES_FILE`; the embedded model: trained
    on the demo catalog only); None when the folder says nothing."""
    import json

    folder = Path(getattr(model, "source", "") or "")
    try:
        scope = json.loads((folder / CHANNEL_NOTES_FILE).read_text(encoding="utf-8"))["scope"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return str(scope) if scope else None


def channel_notes(model: MusicGenModel, composition_rendering: str | None = None,
                  output_function: str | None = None) -> dict[str, str]:
    """``{channel: one-line note}`` for channels measured *not* to separate what their name
    says on this model; empty when the model folder has no (readable) notes.

    ``composition_rendering`` (``name/version``) selects the notes measured for the
    composition channel on that rendering (the file's ``renderings`` table); a rendering the
    file has no measurement for gets a note saying so. ``output_function`` (``name/version``,
    None: the paper's loss) must be the one the notes were measured with (the file's
    ``output_function``); otherwise every channel's note says it has not been measured.
    """
    import json

    from lumina.fingerprint.output import output_function_words

    folder = Path(getattr(model, "source", "") or "")
    try:
        data = json.loads((folder / CHANNEL_NOTES_FILE).read_text(encoding="utf-8"))
        channels, renderings = dict(data["channels"]), dict(data.get("renderings", {}))
        same_function = data.get("output_function") == output_function
        if not same_function:
            # Notes of another output function describe other fingerprints.
            channels, renderings = {}, {}
        if composition_rendering is not None:
            measured = renderings.get(composition_rendering)
            channels["composition"] = measured["composition"] if measured else {
                "separates": False,
                "note": f"the composition channel on the {composition_rendering} rendering "
                        f"has not been measured on {getattr(model, 'name', 'this model')}"}
        name_of = getattr(model, "name", "this model")
        how = "" if same_function else f" with {output_function_words(output_function)}"
        for missing in set(getattr(model, "channels", ())) - set(channels):
            # The file speaks for these weights but not for this channel: say so.
            channels[missing] = {"separates": False,
                                 "note": f"the {missing} channel has not been measured on "
                                         f"{name_of}{how}"}
        return {str(name): str(entry["note"]) for name, entry in channels.items()
                if not entry.get("separates", True) and entry.get("note")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}
