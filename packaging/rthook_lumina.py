"""Runtime hook of the LUMINA bundle: runs before either entry point.

LUMINA only ever loads local model folders, but transformers and huggingface_hub would
still consult the network for a name they do not find locally; in the bundle that must
never happen, so both are switched to offline mode unless the user says otherwise.
"""

import os

for _name, _value in (
    ("HF_HUB_OFFLINE", "1"),
    ("TRANSFORMERS_OFFLINE", "1"),
    ("HF_HUB_DISABLE_TELEMETRY", "1"),
    ("HF_HUB_DISABLE_UPDATE_CHECK", "1"),
    ("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1"),
):
    os.environ.setdefault(_name, _value)
