-- strata:no-transaction
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE notes_old (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title      TEXT NOT NULL,
    body       TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
INSERT INTO notes_old (id, user_id, title, body, created_at, updated_at)
    SELECT id, user_id, title, body, created_at, updated_at FROM notes;
DROP TABLE notes;
ALTER TABLE notes_old RENAME TO notes;
CREATE INDEX notes_user_idx ON notes (user_id, created_at);
CREATE TRIGGER notes_touch AFTER UPDATE OF title, body ON notes
BEGIN
    UPDATE notes SET updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    WHERE id = NEW.id;
END;
COMMIT;
PRAGMA foreign_keys = ON;
