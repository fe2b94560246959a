"""Profile.to_pandas: the profile's summary as a pandas DataFrame."""

from __future__ import annotations

import json


def profile_frame(text: str):
    """One row per column, indexed by name: the summary statistics of the
    profile (not the sketches' state); quantiles as ``p01`` ... ``p99``
    columns, string lengths as ``length_min/mean/max``, top values as lists
    of (value, count)."""
    import pandas as pd

    rows = []
    for column in json.loads(text)["columns"]:
        row = {k: v for k, v in column.items() if k not in ("state", "histogram")}
        for q, value in (row.pop("quantiles", None) or {}).items():
            row[f"p{round(float(q) * 100):02d}"] = value
        top = row.pop("top", None)
        if top is not None:
            row["top"] = [(t["value"], t["count"]) for t in top]
        for group in ("length", "value_count"):
            stats = row.pop(group, None)
            if stats is not None:
                for k, v in stats.items():
                    row[f"{group}_{k}"] = v
        rows.append(row)
    return pd.DataFrame(rows).set_index("name")
