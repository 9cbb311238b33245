CREATE VIEW note_summaries AS
SELECT n.id, u.email, n.title, n.pinned, n.updated_at,
       (SELECT group_concat(t.name, ', ')
          FROM note_tags nt JOIN tags t ON t.id = nt.tag_id
         WHERE nt.note_id = n.id) AS tags
  FROM notes n JOIN users u ON u.id = n.user_id;
