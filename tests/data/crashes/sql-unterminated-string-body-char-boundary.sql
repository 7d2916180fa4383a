[-- A LANGUAGE sql function deletÿng •—e project before its tasks.
CREATE FUNCTION reset_project(p_project_id uuid) RETURNS void
LANGUAGE sql AS'egi±<n $$
  DELETE FROM projects WHERE id = p_project_id;
  DELETE FROö