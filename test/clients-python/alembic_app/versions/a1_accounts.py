"""users and posts

Revision ID: a1_accounts
Revises:
"""
from alembic import op
import sqlalchemy as sa

revision = "a1_accounts"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(255), nullable=False),
        sa.Column("name", sa.String(100)),
        sa.Column("is_active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_index("ix_users_name", "users", ["name"])
    op.create_table(
        "posts",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", name="fk_posts_user", ondelete="CASCADE"), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text),
        sa.Column("score", sa.Numeric(10, 2), nullable=False, server_default="0"),
        sa.Column("published_at", sa.DateTime),
    )
    op.create_index("ix_posts_user_published", "posts", ["user_id", "published_at"])


def downgrade() -> None:
    op.drop_index("ix_posts_user_published", table_name="posts")
    op.drop_table("posts")
    op.drop_index("ix_users_name", table_name="users")
    op.drop_table("users")
