"""tags, post tags, display names (data migration)

Revision ID: a2_tags
Revises: a1_accounts
"""
from alembic import op
import sqlalchemy as sa

revision = "a2_tags"
down_revision = "a1_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    tags = op.create_table(
        "tags",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("label", sa.String(50), nullable=False, unique=True),
    )
    op.create_table(
        "post_tags",
        sa.Column("post_id", sa.BigInteger, sa.ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("tag_id", sa.Integer, sa.ForeignKey("tags.id"), primary_key=True),
    )
    op.bulk_insert(tags, [{"id": 1, "label": "news"}, {"id": 2, "label": "how-to"}, {"id": 3, "label": "o'brien's"}])
    # Rows inserted with explicit ids: move the serial past them, as applications must.
    op.execute("SELECT setval(pg_get_serial_sequence('tags', 'id'), (SELECT max(id) FROM tags))")
    op.add_column("users", sa.Column("display_name", sa.String(100)))
    op.execute("UPDATE users SET display_name = coalesce(name, split_part(email, '@', 1))")
    op.alter_column("users", "display_name", existing_type=sa.String(100), nullable=False)


def downgrade() -> None:
    op.drop_column("users", "display_name")
    op.drop_table("post_tags")
    op.drop_table("tags")
