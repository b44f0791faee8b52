"""Lint-only stand-in for dbt's `adapter`: a dispatched macro renders as a call to
a function of the same name, which sqlfluff parses like any SQL function."""


def dispatch(macro_name, macro_namespace=None):
    def render(*args):
        return f"{macro_name}({', '.join(str(a) for a in args)})"

    return render
