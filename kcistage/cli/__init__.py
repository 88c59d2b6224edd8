"""The command line: thin click commands and the terminal views."""
