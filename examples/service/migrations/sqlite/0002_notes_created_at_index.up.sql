-- Listing the newest notes first, without a sort of the whole table.
CREATE INDEX notes_created_at_idx ON notes (created_at);
