"""Summary backends behind one JSON contract (include/prompts/summary_v*.schema.json)."""
