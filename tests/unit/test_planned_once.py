"""`store.one_of.planned_once`: each ``CAST(:name AS type[])`` of a hand-written statement bound behind a one-row
subquery (kept an array by an outer CAST), and nothing else touched."""

from __future__ import annotations

import pytest

from parley.store.one_of import planned_once


@pytest.mark.parametrize(
    ("sql", "planned"),
    [
        pytest.param(
            "unnest(CAST(:ids AS VARCHAR[]), CAST(:n AS INTEGER[]))",
            "unnest(CAST((SELECT CAST(:ids AS VARCHAR[])) AS VARCHAR[]), "
            "CAST((SELECT CAST(:n AS INTEGER[])) AS INTEGER[]))",
            id="unnest",
        ),
        pytest.param(
            "id = ANY(CAST(:done AS INTEGER[]))",
            "id = ANY(CAST((SELECT CAST(:done AS INTEGER[])) AS INTEGER[]))",
            id="ANY",
        ),
        pytest.param(
            "CAST(:a_id AS VARCHAR(24)[])",
            "CAST((SELECT CAST(:a_id AS VARCHAR(24)[])) AS VARCHAR(24)[])",
            id="a length",
        ),
        pytest.param(
            "CAST(:a_at AS TIMESTAMP WITHOUT TIME ZONE[])",
            "CAST((SELECT CAST(:a_at AS TIMESTAMP WITHOUT TIME ZONE[])) AS TIMESTAMP WITHOUT TIME ZONE[])",
            id="a type of several words",
        ),
        pytest.param(
            "CAST(:p AS NUMERIC(10, 2)[])",
            "CAST((SELECT CAST(:p AS NUMERIC(10, 2)[])) AS NUMERIC(10, 2)[])",
            id="precision and scale",
        ),
        pytest.param("SET updated_at = :now WHERE x = CAST(:one AS TEXT)", None, id="no array: as it was"),
    ],
)
def test_each_array_bind_goes_behind_a_one_row_subquery(sql: str, planned: str | None) -> None:
    assert planned_once(sql) == (planned if planned is not None else sql)
