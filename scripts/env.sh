# Sourced by the other scripts: where the setup venv lives. Its name carries a hash of
# requirements.txt's pins (comments left out), so changing a pin makes a new venv and old
# clones keep theirs.
_zili_scripts=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ZILI_CACHE=${ZILI_CACHE:-$HOME/.cache/zili}
_zili_key=$( (grep -v '^#' "$_zili_scripts/requirements.txt"; "${ZILI_PYTHON:-python3}" -c 'import sys; print(sys.version_info[:2])') | sha256sum | cut -c1-12)
ZILI_VENV=${ZILI_VENV:-$ZILI_CACHE/venv-$_zili_key}
export ZILI_CACHE ZILI_VENV
