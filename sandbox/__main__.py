"""`python -m sandbox`: judge programs from the shell, or build the sandbox image."""

from sandbox.cli import main

if __name__ == "__main__":
    main()
