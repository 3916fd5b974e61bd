"""``python -m tradeoff``: the same as the ``tradeoff`` command."""
from .cli import main

if __name__ == "__main__":
    main()
