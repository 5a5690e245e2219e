"""What the plotting scripts import: matplotlib's pyplot on the file-only Agg backend, or exit code
3 when matplotlib is missing (the sparsecap command that ran the script then says what to install).
"""
import sys

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as pyplot
except ImportError:
    print("matplotlib is not installed", file=sys.stderr)
    sys.exit(3)
