"""The sample application's models: the schema its migrations (versions/) arrive at. `alembic
check` and autogenerate compare these to the database."""
from datetime import datetime
from decimal import Decimal
from typing import Any, Optional
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        sa.UniqueConstraint("email", name="uq_users_email"),
        sa.Index("ix_users_external_id", "external_id", unique=True),
    )
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(255))
    display_name: Mapped[str] = mapped_column(sa.String(100))
    active: Mapped[bool] = mapped_column(sa.Boolean, server_default=sa.true())
    created_at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    settings: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default=sa.text("'{}'::jsonb"))
    external_id: Mapped[Optional[UUID]] = mapped_column(sa.Uuid)


class Post(Base):
    __tablename__ = "posts"
    __table_args__ = (
        sa.CheckConstraint("score >= 0", name="ck_posts_score_nonnegative"),
        sa.UniqueConstraint("user_id", "slug", name="uq_posts_user_slug"),
        sa.Index("ix_posts_user_published", "user_id", "published_at"),
        sa.Index("ix_posts_published", "published_at", postgresql_where=sa.text("published_at IS NOT NULL")),
    )
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", name="fk_posts_user", ondelete="CASCADE"))
    editor_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", name="fk_posts_editor", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(sa.String(300))
    content: Mapped[Optional[str]] = mapped_column(sa.Text)
    score: Mapped[Decimal] = mapped_column(sa.Numeric(10, 2), server_default="1")
    published_at: Mapped[Optional[datetime]] = mapped_column(sa.DateTime)
    slug: Mapped[str] = mapped_column(sa.String(200))


class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(sa.Integer, primary_key=True)
    label: Mapped[str] = mapped_column(sa.String(50), unique=True)


class PostTagLink(Base):
    __tablename__ = "post_tag_links"
    post_id: Mapped[int] = mapped_column(sa.ForeignKey("posts.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(sa.ForeignKey("tags.id"), primary_key=True)


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("ix_audit_log_actor_at", "actor_id", sa.text("at DESC")),)
    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    actor_id: Mapped[Optional[int]] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(sa.Text)
    details: Mapped[Optional[dict[str, Any]]] = mapped_column(JSONB)
