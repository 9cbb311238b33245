-- Data, not only schema: the default tags every account starts with.
INSERT INTO tags (name) VALUES ('inbox'), ('work'), ('personal; private');
