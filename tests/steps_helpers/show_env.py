"""Step helper: print the working folder and NAME=value for each variable named."""
import os
import sys

print(f"cwd={os.getcwd()}")
for name in sys.argv[1:]:
    print(f"{name}={os.environ.get(name, '<unset>')}")
