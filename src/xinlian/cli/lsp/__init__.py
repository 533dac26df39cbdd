"""The Qi language server (`xinlian qi lsp`): a sans-I/O core and its stdio loop."""
