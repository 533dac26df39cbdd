"""`xinlian web`: the browser workbench for Qi projects next to a node."""
