"""callcare: customer-care call recordings to transcripts, summaries, warehouse tables and alerts."""

__version__ = "0.1.0"
