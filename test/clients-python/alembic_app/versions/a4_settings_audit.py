"""user settings and external ids (batch), editors, audit log, partial index, table rename

Revision ID: a4_settings_audit
Revises: a3_reshape
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = "a4_settings_audit"
down_revision = "a3_reshape"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("settings", postgresql.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")))
        batch.add_column(sa.Column("external_id", sa.Uuid))
        batch.alter_column("is_active", new_column_name="active", existing_type=sa.Boolean)
        batch.create_index("ix_users_external_id", ["external_id"], unique=True)
    op.add_column("posts", sa.Column("editor_id", sa.Integer))
    op.create_foreign_key("fk_posts_editor", "posts", "users", ["editor_id"], ["id"], ondelete="SET NULL")
    op.create_index("ix_posts_published", "posts", ["published_at"], postgresql_where=sa.text("published_at IS NOT NULL"))
    op.create_table(
        "audit_log",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.Column("actor_id", sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL")),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("details", postgresql.JSONB),
    )
    op.create_index("ix_audit_log_actor_at", "audit_log", ["actor_id", sa.text("at DESC")])
    op.rename_table("post_tags", "post_tag_links")


def downgrade() -> None:
    op.rename_table("post_tag_links", "post_tags")
    op.drop_index("ix_audit_log_actor_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_index("ix_posts_published", table_name="posts")
    op.drop_constraint("fk_posts_editor", "posts", type_="foreignkey")
    op.drop_column("posts", "editor_id")
    with op.batch_alter_table("users") as batch:
        batch.drop_index("ix_users_external_id")
        batch.alter_column("active", new_column_name="is_active", existing_type=sa.Boolean)
        batch.drop_column("external_id")
        batch.drop_column("settings")
