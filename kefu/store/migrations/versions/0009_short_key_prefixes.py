"""keys are shown by a short prefix: a stored "prefix" that is the whole key is cleared

Keys are now stored as an HMAC with the server secret (kefu/core/key_hash.py); rows stored as
plain SHA-256 keep working and are rewritten the first time their key is used, so the schema
does not change. A listing used to show a key's first 10 characters, all of a short key
given from outside (KEFU_DEMO_API_KEY=app-demo): such prefixes are cleared here, and a key
seen again gets the new, shorter prefix.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 09:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A generated key is 36+ characters and its stored prefix is 10; shorter means the key
    # itself was stored.
    op.execute(sa.text("UPDATE api_keys SET prefix = '' WHERE length(prefix) < 10"))


def downgrade() -> None:
    """Nothing to restore: the cleared prefixes were secrets."""
