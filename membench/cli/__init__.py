"""The command line: one module per command, the parser in main."""
