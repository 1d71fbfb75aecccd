"""The bootstrap program: the identities the repository's GitHub workflows sign in to Azure as."""
