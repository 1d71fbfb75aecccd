"""Bootstrap: the identities the repository's GitHub workflows sign in to Azure as (see ci.py).

Run once, by someone who may grant roles on the subscription (Owner, or Contributor with Role Based Access Control
Administrator), from this directory: `pulumi up`. Its `repository_variables` output is what the workflows read.
"""

from ci import main

main()
