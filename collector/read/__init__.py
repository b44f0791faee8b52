"""The read side: answers from the published warehouse snapshot, never the live file."""
