"""line_deductions.detail of review deductions names the reviewer's role, not their user
name: the detail reaches the centre (remittance, statements, FHIR), and a user name is
half of a workspace login. Rows written before say "reduce by user:NAME: note"; they are
rewritten to "reduce by auditor: note" (the review rows and the audit trail keep the name)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 06:30:00.000000
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_USER = " by user:"
# A staff API token's actor: its role and the token's id.
_TOKEN = re.compile(
    r"^(?P<action>\w+) by (?P<role>auditor|finance|admin):\d+(?P<rest>: .*)?$", re.S
)


def by_role(detail: str, roles: Mapping[str, str]) -> str:
    """The detail with its reviewer named by role; a user no longer on the books is 'staff'.

    A user name may itself hold ': ', so the longest known name the text goes on with wins."""
    token = _TOKEN.match(detail)
    if token:
        return f"{token['action']} by {token['role']}{token['rest'] or ''}"
    action, found, rest = detail.partition(_USER)
    if not found:
        return detail
    names = [n for n in roles if rest == n or rest.startswith(n + ": ")]
    if names:
        name = max(names, key=len)
        return f"{action} by {roles[name]}{rest[len(name):]}"
    _, colon, note = rest.partition(": ")
    return f"{action} by staff" + (f": {note}" if colon else "")


def upgrade() -> None:
    bind = op.get_bind()
    users = bind.execute(sa.text("SELECT username, role FROM staff_users"))
    roles = {name: role for name, role in users}
    rows = bind.execute(
        sa.text(
            "SELECT id, detail FROM line_deductions"
            " WHERE reason LIKE 'review-%' AND detail LIKE '% by %:%'"
        )
    ).all()
    changed = [
        {"id": id_, "detail": new}
        for id_, detail in rows
        if (new := by_role(detail, roles)) != detail
    ]
    if changed:
        bind.execute(sa.text("UPDATE line_deductions SET detail = :detail WHERE id = :id"), changed)


def downgrade() -> None:
    # Nothing to put back: the names stay in line_reviews.actor and the audit trail, and a
    # centre should not be shown them again.
    pass
