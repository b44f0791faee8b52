"""convtrack's Dagster code location (see definitions.py)."""

import warnings

from dagster import BetaWarning

# Single-run backfills (BackfillPolicy) are what we rely on; Dagster flags them as beta
# on every asset, which buries the run's own progress.
warnings.filterwarnings("ignore", category=BetaWarning)
