import azure.functions as func

import idx_broken_helpers  # noqa: F401

app = func.FunctionApp()
