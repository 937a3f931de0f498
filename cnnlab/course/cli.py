"""The ``cnnlab`` console script: instructor commands around nbgrader.

``cnnlab grade ...``         grade the class on Dask (:mod:`cnnlab.course.cluster`)
``cnnlab export-canvas ...`` one CSV row per student, one column per assignment (:mod:`cnnlab.course.canvas`)
"""

import sys

COMMANDS = {
    "grade": ("cnnlab.course.cluster", "grade every collected submission on Dask"),
    "export-canvas": ("cnnlab.course.canvas", "write a Canvas-style gradebook CSV"),
}


def usage():
    lines = ["usage: cnnlab COMMAND [options]   (cnnlab COMMAND --help for its options)", "", "commands:"]
    lines += [f"  {name:14s} {help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    if argv[0] not in COMMANDS:
        print(f"cnnlab: unknown command {argv[0]!r}\n{usage()}", file=sys.stderr)
        return 2
    import importlib

    module = importlib.import_module(COMMANDS[argv[0]][0])
    return module.main(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
