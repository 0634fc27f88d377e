"""Analyses and reports become append-only, as the audit table is (issue #26 item 1): a signed result
is never changed or deleted by dialectid, so the database refuses it too. Whoever drops these
triggers first is still caught by `audit verify`, which checks each row against its audit event.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("analyses", "reports")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION results_append_only() RETURNS trigger AS $$ "
                   "BEGIN RAISE EXCEPTION 'analyses and reports are append-only'; END; $$ LANGUAGE plpgsql")  # fmt: skip
        for table in TABLES:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION results_append_only()")  # fmt: skip
        return
    for table in TABLES:
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                       "BEGIN SELECT RAISE(ABORT, 'analyses and reports are append-only'); END")  # fmt: skip


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS results_append_only()")
        return
    for table in TABLES:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
