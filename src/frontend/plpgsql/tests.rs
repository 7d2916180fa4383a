//! The SQL frontend on small functions: what each PL/pgSQL construct lowers to.

use super::parse;
use crate::ir::{EffectKind, Function};

fn only(src: &str) -> Function {
    let parsed = parse(src);
    assert!(parsed.problems.is_empty(), "{:?}", parsed.problems);
    assert_eq!(parsed.model.functions.len(), 1);
    parsed.model.functions.into_iter().next().unwrap()
}

fn kinds(f: &Function) -> Vec<(EffectKind, Option<&str>)> {
    f.effects
        .iter()
        .map(|e| (e.kind, e.table.as_deref()))
        .collect()
}

#[test]
fn select_into_guards_the_insert_after_if_not_found() {
    let f = only(
        "CREATE OR REPLACE FUNCTION public.join_team(p_user uuid, p_team uuid) RETURNS void
LANGUAGE plpgsql AS $fn$
DECLARE v_id uuid;
BEGIN
  SELECT id INTO v_id FROM members WHERE user_id = p_user AND team_id = p_team;
  IF NOT FOUND THEN
    INSERT INTO members (user_id, team_id) VALUES (p_user, p_team);
  END IF;
END $fn$;",
    );
    assert_eq!(f.name, "join_team");
    assert_eq!(
        kinds(&f),
        [
            (EffectKind::Read, Some("members")),
            (EffectKind::Insert, Some("members"))
        ]
    );
    let insert = &f.effects[1];
    assert_eq!(insert.guards.len(), 1);
    assert_eq!(insert.guards[0].read, 0);
    assert_eq!(insert.values[0].value.vars, ["p_user"]);
    assert_eq!(f.effects[0].filter[0].value.text, "p_user");
    assert!(f.same_transaction(&f.effects[0], insert));
}

#[test]
fn exists_check_then_raise_guards_what_follows() {
    let f = only(
        "create function claim(p_slug text) returns void language plpgsql as $$
begin
  if exists (select 1 from cards where slug = p_slug) then
    raise exception 'taken';
  end if;
  insert into cards (slug) values (p_slug);
end;
$$;",
    );
    assert_eq!(kinds(&f)[1], (EffectKind::Insert, Some("cards")));
    assert_eq!(f.effects[1].guards[0].read, 0);
}

#[test]
fn try_lock_counts_only_when_tested() {
    let src = |test: &str| {
        format!(
            "create function m(p uuid) returns void language plpgsql as $$
declare got boolean;
begin
  got := pg_try_advisory_xact_lock(hashtext(p::text));
  {test}
  insert into matches (user_id) values (p);
end $$;"
        )
    };
    let tested = only(&src("IF NOT got THEN RETURN; END IF;"));
    assert_eq!(tested.effects[0].kind, EffectKind::Lock);
    let ignored = only(&src(""));
    assert_eq!(ignored.effects[0].kind, EffectKind::Opaque);
}

#[test]
fn for_loops_exception_handlers_and_diagnostics() {
    let f = only(
        "CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$
DECLARE r record; n int;
BEGIN
  FOR r IN SELECT * FROM queue WHERE status = 'waiting' LOOP
    BEGIN
      INSERT INTO matches (user_id) VALUES (r.user_id);
    EXCEPTION WHEN unique_violation THEN
      NULL;
    END;
    UPDATE queue SET status = 'done' WHERE id = r.id;
    GET DIAGNOSTICS n = ROW_COUNT;
    EXIT WHEN n = 0;
  END LOOP;
  RETURN 1;
END $$;",
    );
    assert_eq!(
        kinds(&f),
        [
            (EffectKind::Read, Some("queue")),
            (EffectKind::Insert, Some("matches")),
            (EffectKind::Update, Some("queue"))
        ]
    );
    assert!(f.effects[1].unique_violation_handled && f.effects[1].in_loop);
    assert_eq!(f.effects[1].values[0].value.reads, [0]);
    assert!(f.effects[2].count_checked);
}

#[test]
fn sql_functions_and_calls() {
    let f = only(
        "create function bump(p_id uuid) returns void language sql as $$
  update counters set n = n + 1 where id = p_id;
  select pg_sleep(1);
  select create_card(p_id);
$$;",
    );
    assert_eq!(f.effects[0].kind, EffectKind::Update);
    assert!(f.effects[0].values[0].value.atomic);
    assert_eq!(f.effects[1].kind, EffectKind::Sleep);
    assert_eq!(f.effects[2].routines, ["create_card"]);
}

#[test]
fn other_languages_and_broken_text_give_nothing_and_never_panic() {
    assert!(
        parse("create function f() returns int language plv8 as $$ return 1 $$;")
            .model
            .functions
            .is_empty()
    );
    for bad in [
        "create function f() language plpgsql as $$ begin if x then",
        "create function f( language plpgsql as $$",
        "create or replace function",
        "create function f() returns int language plpgsql as $$ declare begin loop end $$",
        "create function f() language plpgsql as $$ begin end; end; end if; exception when $$;",
    ] {
        let _ = parse(bad);
    }
    let deep = format!(
        "create function f() language plpgsql as $$ {} $$;",
        "begin if x then ".repeat(5000)
    );
    assert!(!parse(&deep).problems.is_empty());
}

#[test]
fn a_drop_is_an_empty_definition_of_each_name() {
    let parsed = parse("DROP FUNCTION IF EXISTS public.a(integer), b CASCADE;\nDROP TABLE c;");
    let names: Vec<&str> = parsed
        .model
        .functions
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, ["a", "b"]);
    assert!(parsed
        .model
        .functions
        .iter()
        .all(|f| f.routine && f.effects.is_empty()));
}

#[test]
fn a_trigger_reads_the_parents_of_its_row_under_their_key_share_lock() {
    let f = only(
        "CREATE FUNCTION liked_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (SELECT local FROM person WHERE id = NEW.person_id) THEN
    INSERT INTO liked (person_id) VALUES (NEW.person_id);
  END IF;
  RETURN NULL;
END $$;",
    );
    assert_eq!(f.effects[0].row_lock, crate::ir::RowLock::Shared);
    assert_eq!(f.effects[0].filter[0].value.text, "NEW.person_id");
    assert_eq!(f.effects[1].guards[0].fields, ["local"]);
}

/// A fuzzer found it: a single-quoted body left open to the end of a file that
/// ends inside a multi-byte character. The body runs to the end of the file.
#[test]
fn an_unterminated_quoted_body_ending_in_a_multibyte_character_is_read_to_the_end() {
    let parsed = parse(
        "CREATE FUNCTION reset_project(p_id uuid) RETURNS void LANGUAGE sql AS 'begin $$\n  DELETE FROM projects WHERE id = p_id;\n  DELETE FROM tasks é",
    );
    assert_eq!(parsed.model.functions.len(), 1);
}
