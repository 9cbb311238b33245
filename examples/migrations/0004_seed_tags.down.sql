DELETE FROM tags WHERE name IN ('inbox', 'work', 'personal; private');
