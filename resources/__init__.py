"""Data shipped with LUMINA: the embedded model, the report schema, icons and the theme.

Installed as the package ``lumina_resources`` so that the files travel with a wheel as
well as with an editable checkout; :data:`ROOT` is the folder holding them.
"""

from pathlib import Path

ROOT = Path(__file__).resolve().parent
