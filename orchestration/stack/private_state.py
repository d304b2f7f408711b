"""The stack's state (logs, landing folder, Data Docs, pid files, Dagster's and Superset's homes)
is readable by the user who runs it and nobody else."""

from __future__ import annotations

from orchestration.settings import Settings

# For `ecom` and, inherited, every server it starts: what they create is their user's alone.
PRIVATE_UMASK = 0o077


def create_private_folders(settings: Settings) -> None:
    """ECOM_HOME closed to other users (also one made before this rule), and the stack's folders
    created private."""
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.home.chmod(0o700)
    for folder in (settings.run_dir, settings.log_dir, settings.landing_dir):
        if not folder.exists():
            folder.mkdir(mode=0o700, parents=True)
