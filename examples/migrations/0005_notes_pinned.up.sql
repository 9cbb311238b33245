-- strata:no-transaction
-- SQLite cannot add a CHECK constraint to an existing table, so the table
-- is rebuilt. Foreign keys must be off during the rebuild, and that pragma
-- is a no-op inside a transaction: hence no-transaction, with the rebuild
-- itself in a transaction of its own.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE notes_new (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    body       TEXT NOT NULL DEFAULT '',
    pinned     INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
INSERT INTO notes_new (id, user_id, title, body, created_at, updated_at)
    SELECT id, user_id, title, body, created_at, updated_at FROM notes;
DROP TABLE notes;
ALTER TABLE notes_new RENAME TO notes;
CREATE INDEX notes_user_idx ON notes (user_id, created_at);
CREATE INDEX notes_pinned_idx ON notes (user_id) WHERE pinned = 1;
CREATE TRIGGER notes_touch AFTER UPDATE OF title, body, pinned ON notes
BEGIN
    UPDATE notes SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    WHERE id = NEW.id;
END;
PRAGMA foreign_key_check;
COMMIT;
PRAGMA foreign_keys = ON;
