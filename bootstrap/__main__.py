"""Bootstrap: the identities the repository's GitHub workflows sign in to Azure as (see ci.py).

Run once, by someone who may grant roles on the subscription (Owner, or Contributor with Role Based Access Control
Administrator), from this directory: `pulumi up`. Its `repository_variables` output is what the workflows read.

Pulumi makes bootstrap/venv (its pip toolchain, see Pulumi.yaml) with the project's locked dependencies; the
components the bootstrap uses (role grants, facts) are imported from the repository's components/ folder.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "components"))

# Pulumi runs the program with run_name "__main__".
if __name__ == "__main__":
    from ci import main

    main()
