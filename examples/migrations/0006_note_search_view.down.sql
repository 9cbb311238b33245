DROP VIEW note_summaries;
