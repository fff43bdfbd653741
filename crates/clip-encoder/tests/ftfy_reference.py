"""ftfy 5.8's fix_text (default settings) of every text, for tests/ftfy.rs.

    python ftfy_reference.py < texts.json > fixed.json

Reads a JSON array of strings, prints the JSON array of `ftfy.fix_text(text)`.
"""
import json
import sys

import ftfy

assert ftfy.__version__ == "5.8", ftfy.__version__

texts = json.load(sys.stdin)
json.dump([ftfy.fix_text(t) for t in texts], sys.stdout)
