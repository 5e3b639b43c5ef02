"""jupyter_kernel_test's conformance suite against the installed kernelspec.

Every snippet the suite knows is filled in, and the run fails if any test is
skipped: a skip would mean a part of the protocol went untested.
"""

import os
import sys
import unittest

import jupyter_kernel_test

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kerneltest  # noqa: E402

kerneltest.install_kernelspec()
LOGO = os.path.join(kerneltest.source_dir(), "kernelspec", "logo-32x32.png")


class HellodlConformance(jupyter_kernel_test.KernelTests):
    kernel_name = kerneltest.KERNEL_NAME
    language_name = "hellodl"
    file_extension = ".dl"

    # The suite looks for the lower-case text "hello, world" on stdout.
    code_hello_world = 'print("hello, world");'
    code_stderr = 'eprint("something went wrong");'

    completion_samples = [
        {"text": "pri", "matches": {"print", "printf"}},
        {"text": "epri", "matches": {"eprint"}},
        {"text": "display_p", "matches": {"display_png"}},
    ]
    complete_code_samples = [
        'print("hi");',
        "int x = 3;",
        "1 + 2",
        "while (true) {}",
        "// only a comment",
        "print?",
        "?print",
    ]
    incomplete_code_samples = [
        "while (true) {",
        'print("a",',
        "/* an open comment",
        "int y = (1 +",
        "int z = 1 +",
    ]
    # is_complete is decided on brackets and a trailing operator: a cell that
    # only fails to parse (`int = ;`) is "complete" and reports its syntax
    # error when run; what no further line can fix is "invalid".
    invalid_code_samples = [
        ")",
        "while (true) }",
        "print(1]);",
        "}",
    ]

    # IPython-style help: "name?" as a whole cell pages the inspection text.
    code_page_something = "print?"

    code_generate_error = "undefined_name_here;"

    code_execute_result = [
        {"code": "1 + 2", "result": "3"},
        {"code": "6 * 7", "result": "42"},
        {"code": "1.0 / 4", "result": "0.25"},
        {"code": '"a" + "b"', "result": '"ab"'},
        {"code": "3 < 4", "result": "true"},
    ]
    code_display_data = [
        {"code": f'display_png("{LOGO}");', "mime": "image/png"},
    ]

    # Matches only "1 + 2" among the cells above (glob syntax, whole input).
    code_history_pattern = "1 + *"
    supported_history_operations = ("tail", "range", "search")

    code_inspect_sample = "print"
    code_clear_output = "clear_output();"


def main():
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(HellodlConformance)
    result = unittest.TextTestRunner(verbosity=2).run(suite)
    for test, reason in result.skipped:
        print(f"SKIPPED (not allowed): {test}: {reason}", file=sys.stderr)
    print(f"ran {result.testsRun}, failures {len(result.failures)}, errors "
          f"{len(result.errors)}, skipped {len(result.skipped)}")
    ok = result.wasSuccessful() and not result.skipped and result.testsRun > 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
