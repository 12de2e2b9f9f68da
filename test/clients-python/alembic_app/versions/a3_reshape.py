"""longer titles, body -> content, slugs, score check; users.name goes

Revision ID: a3_reshape
Revises: a2_tags
"""
from alembic import op
import sqlalchemy as sa

revision = "a3_reshape"
down_revision = "a2_tags"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column("posts", "title", type_=sa.String(300), existing_type=sa.String(200), existing_nullable=False)
    op.alter_column("posts", "body", new_column_name="content", existing_type=sa.Text)
    op.alter_column("posts", "score", server_default="1", existing_server_default="0", existing_type=sa.Numeric(10, 2))
    op.create_check_constraint("ck_posts_score_nonnegative", "posts", "score >= 0")
    op.add_column("posts", sa.Column("slug", sa.String(200)))
    op.execute("UPDATE posts SET slug = lower(replace(title, ' ', '-')) || '-' || id")
    op.alter_column("posts", "slug", existing_type=sa.String(200), nullable=False)
    op.create_unique_constraint("uq_posts_user_slug", "posts", ["user_id", "slug"])
    op.drop_index("ix_users_name", table_name="users")
    op.drop_column("users", "name")


def downgrade() -> None:
    op.add_column("users", sa.Column("name", sa.String(100)))
    op.execute("UPDATE users SET name = display_name")
    op.create_index("ix_users_name", "users", ["name"])
    op.drop_constraint("uq_posts_user_slug", "posts", type_="unique")
    op.drop_column("posts", "slug")
    op.drop_constraint("ck_posts_score_nonnegative", "posts", type_="check")
    op.alter_column("posts", "score", server_default="0", existing_server_default="1", existing_type=sa.Numeric(10, 2))
    op.alter_column("posts", "content", new_column_name="body", existing_type=sa.Text)
    op.alter_column("posts", "title", type_=sa.String(200), existing_type=sa.String(300), existing_nullable=False)
