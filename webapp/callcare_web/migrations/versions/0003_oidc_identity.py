"""OIDC users keyed on the token's issuer and `sub` (security review M6).

Users signed in through an IdP were found by a user name built from `cognito:username`, else
`preferred_username`: an editable claim at most IdPs. Existing users are linked to their (issuer,
sub) at their next sign-in (callcare_web.security.CallcareSecurityManager.auth_user_oauth): the
database holds no `sub` to link them now.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table("web_oidc_identity"):
        return  # a database made by create_all from the current models (as the adoption test does)
    op.create_table(
        "web_oidc_identity",
        sa.Column("issuer", sa.String(512), primary_key=True),
        sa.Column("subject", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("ab_user.id"), nullable=False, unique=True),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("web_oidc_identity")
