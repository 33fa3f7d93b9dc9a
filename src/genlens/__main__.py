"""``python -m genlens ...`` (and ``torchrun ... -m genlens ...``): the same as the ``genlens`` command."""

from genlens.cli import main

if __name__ == "__main__":
    main()
