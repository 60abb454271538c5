"""Make users and API tokens in a test deployment's real database, before its server starts."""

from __future__ import annotations

import asyncio

from core.config import load_file


def make_tokens(deployment_path, users: list[tuple[str, str, str]]) -> dict[str, str]:
    """``[(username, role, agency), ...]`` -> ``{username: bearer token}``."""
    from core.auth import users as accounts
    from core.storage import CORE_MODELS, close_database, open_database

    url = load_file(deployment_path).deployment.database_url()

    async def work() -> dict[str, str]:
        await open_database(url, [CORE_MODELS])
        try:
            tokens = {}
            for name, role, agency in users:
                await accounts.create_user(name, f"pw-{name}-0123456789", role, agency, actor="test")
                tokens[name] = await accounts.issue_token(name, "test", actor="test")
            return tokens
        finally:
            await close_database()

    return asyncio.run(work())
