//! Tests of the Rust frontend on real-looking service code.
//!
//! Assertions on what only the SQL classifier can tell (effect kinds, tables and
//! columns of raw SQL) run once `frontend::sql::classify` is real: they sit
//! behind `if sql_ready()`. Everything else (spans, bindings, guards, arms,
//! transactions, completion, Diesel and SeaORM) is checked unconditionally.

use super::*;
use crate::frontend::sql::{classify, SqlKind};
use crate::ir::{
    Completion, Effect, EffectKind, FileModel, Function, OnConflict, RowLock, TransactionStyle,
};

fn model(src: &str) -> FileModel {
    lower(src).unwrap_or_else(|e| panic!("parse error: {e}"))
}

fn func<'a>(m: &'a FileModel, name: &str) -> &'a Function {
    m.functions
        .iter()
        .find(|f| f.name == name)
        .unwrap_or_else(|| {
            panic!(
                "no function {name} in {:?}",
                m.functions.iter().map(|f| &f.name).collect::<Vec<_>>()
            )
        })
}

fn text(src: &str, span: crate::ir::Span) -> &str {
    &src[span.range()]
}

fn sql_ready() -> bool {
    classify("SELECT 1").first().map(|s| s.kind) != Some(SqlKind::Unparsed)
}

fn guarded_by(e: &Effect, read: usize) -> bool {
    e.guards.iter().any(|g| g.read == read)
}

// ---------------- sqlx ----------------

const SQLX_GET_OR_CREATE: &str = r#"
use axum::{extract::State, Json};
use sqlx::PgPool;

pub async fn create_invite(
    State(pool): State<PgPool>,
    Json(input): Json<NewInvite>,
) -> Result<Json<Invite>, AppError> {
    let existing = sqlx::query_as::<_, Invite>("SELECT * FROM invites WHERE email = $1")
        .bind(&input.email)
        .fetch_optional(&pool)
        .await?;
    if existing.is_some() {
        return Err(AppError::Conflict);
    }
    let invite = sqlx::query_as::<_, Invite>(
        "INSERT INTO invites (email, team_id) VALUES ($1, $2) RETURNING *",
    )
    .bind(&input.email)
    .bind(input.team_id)
    .fetch_one(&pool)
    .await?;
    Ok(Json(invite))
}
"#;

#[test]
fn sqlx_get_or_create_is_a_guarded_insert() {
    let m = model(SQLX_GET_OR_CREATE);
    let f = func(&m, "create_invite");
    assert_eq!(f.effects.len(), 2);
    let (read, insert) = (&f.effects[0], &f.effects[1]);
    assert_eq!(read.binding.as_deref(), Some("existing"));
    assert_eq!(insert.binding.as_deref(), Some("invite"));
    assert_eq!(read.handle, "pool");
    assert_eq!(read.transaction, None);
    assert_eq!(read.completion, Completion::Awaited);
    assert_eq!(text(SQLX_GET_OR_CREATE, read.site), "fetch_optional");
    assert!(text(SQLX_GET_OR_CREATE, read.span).starts_with("sqlx::query_as::<_, Invite>"));
    assert!(text(SQLX_GET_OR_CREATE, read.span).ends_with(".await?"));
    // The early return on `existing.is_some()` guards the insert.
    let g = insert.guards.iter().find(|g| g.read == 0).expect("guard");
    assert_eq!(text(SQLX_GET_OR_CREATE, g.span), "existing.is_some()");
    assert!(g.fields.is_empty());
    assert!(
        insert.arms.is_empty(),
        "the insert is after the if, not in it"
    );
    if sql_ready() {
        assert_eq!(read.kind, EffectKind::Read);
        assert_eq!(insert.kind, EffectKind::Insert);
        assert_eq!(insert.table.as_deref(), Some("invites"));
        assert_eq!(read.filter[0].column, "email");
        assert_eq!(read.filter[0].value.vars, vec!["input"]);
        let team = insert
            .values
            .iter()
            .find(|v| v.column == "team_id")
            .unwrap();
        assert_eq!(team.value.text, "input.team_id");
    }
}

const SQLX_FIXED: &str = r#"
use sqlx::PgPool;
pub async fn create_invite(pool: &PgPool, email: &str) -> sqlx::Result<Option<Invite>> {
    sqlx::query_as!(
        Invite,
        "INSERT INTO invites (email) VALUES ($1) ON CONFLICT (email) DO NOTHING RETURNING *",
        email
    )
    .fetch_optional(pool)
    .await
}
"#;

#[test]
fn sqlx_on_conflict_macro() {
    let m = model(SQLX_FIXED);
    let f = func(&m, "create_invite");
    assert_eq!(f.effects.len(), 1);
    let e = &f.effects[0];
    assert_eq!(e.completion, Completion::Awaited);
    assert!(e.guards.is_empty());
    assert_eq!(text(SQLX_FIXED, e.site), "fetch_optional");
    if sql_ready() {
        assert_eq!(e.kind, EffectKind::Insert);
        assert_eq!(e.on_conflict, OnConflict::DoNothing);
        assert_eq!(e.values[0].value.vars, vec!["email"]);
    }
}

const SQLX_WITHDRAW: &str = r#"
use sqlx::PgPool;
pub struct AccountRepo { pool: PgPool }

impl AccountRepo {
    pub async fn withdraw(&self, id: i64, amount: i64) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        let acct = sqlx::query!("SELECT balance FROM accounts WHERE id = $1", id)
            .fetch_one(&mut *tx)
            .await?;
        if acct.balance < amount {
            anyhow::bail!("insufficient funds");
        }
        let new_balance = acct.balance - amount;
        sqlx::query!("UPDATE accounts SET balance = $1 WHERE id = $2", new_balance, id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        sqlx::query("INSERT INTO audit (account_id) VALUES ($1)")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
"#;

#[test]
fn sqlx_read_modify_write_in_a_transaction() {
    let m = model(SQLX_WITHDRAW);
    let f = func(&m, "AccountRepo::withdraw");
    assert_eq!(f.transactions().len(), 1);
    let tx = &f.transactions()[0];
    assert_eq!(tx.style, TransactionStyle::Explicit);
    assert_eq!(tx.handle.as_deref(), Some("tx"));
    assert!(!tx.serializable);
    assert_eq!(f.effects.len(), 3);
    let (read, update, audit) = (&f.effects[0], &f.effects[1], &f.effects[2]);
    assert_eq!(read.transaction, Some(0));
    assert_eq!(update.transaction, Some(0));
    assert_eq!(read.handle, "tx");
    assert_eq!(audit.transaction, None, "after commit");
    assert_eq!(audit.handle, "self.pool");
    assert!(read.throws_if_missing, "fetch_one");
    // Guarded both by `fetch_one(..)?` and by the balance check.
    assert!(update
        .guards
        .iter()
        .any(|g| g.read == 0 && g.fields.is_empty()));
    assert!(update
        .guards
        .iter()
        .any(|g| g.read == 0 && g.fields == vec!["balance".to_string()]));
    assert!(!f.read_is_protected(0));
    if sql_ready() {
        assert_eq!(update.kind, EffectKind::Update);
        let bal = update
            .values
            .iter()
            .find(|v| v.column == "balance")
            .unwrap();
        assert_eq!(bal.value.reads, vec![0]);
        assert_eq!(bal.value.vars, vec!["new_balance"]);
        assert!(!bal.value.atomic);
    }
}

const SQLX_ATOMIC: &str = r#"
use sqlx::PgPool;
pub async fn withdraw(pool: &PgPool, id: i64, amount: i64) -> Result<(), AppError> {
    let done = sqlx::query("UPDATE accounts SET balance = balance - $1 WHERE id = $2 AND balance >= $1")
        .bind(amount)
        .bind(id)
        .execute(pool)
        .await?;
    if done.rows_affected() == 0 {
        return Err(AppError::InsufficientFunds);
    }
    Ok(())
}
"#;

#[test]
fn sqlx_atomic_update_with_count_checked() {
    let m = model(SQLX_ATOMIC);
    let f = func(&m, "withdraw");
    assert_eq!(f.effects.len(), 1);
    let e = &f.effects[0];
    assert!(e.count_checked);
    assert_eq!(e.binding.as_deref(), Some("done"));
    if sql_ready() {
        assert!(e
            .values
            .iter()
            .any(|v| v.column == "balance" && v.value.atomic));
    }
}

const SQLX_COMPLETION: &str = r#"
use sqlx::PgPool;
async fn fire_and_forget(pool: &PgPool, id: i64) {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(pool);
    let later = sqlx::query("DELETE FROM tokens WHERE user_id = $1").bind(id).execute(pool);
    later.await.unwrap();
}
fn returned(pool: &PgPool, id: i64) -> impl std::future::Future<Output = sqlx::Result<PgQueryResult>> + '_ {
    sqlx::query("DELETE FROM tokens WHERE user_id = $1").bind(id).execute(pool)
}
"#;

#[test]
fn sqlx_futures_not_awaited_are_floating() {
    let m = model(SQLX_COMPLETION);
    let f = func(&m, "fire_and_forget");
    assert_eq!(f.effects[0].completion, Completion::Floating);
    assert_eq!(
        f.effects[1].completion,
        Completion::Awaited,
        "awaited through `later`"
    );
    assert_eq!(
        func(&m, "returned").effects[0].completion,
        Completion::Returned
    );
}

const SQLX_UNIQUE: &str = r#"
use sqlx::PgPool;
pub async fn join(pool: &PgPool, team: i64, user: i64) -> Result<(), AppError> {
    match sqlx::query("INSERT INTO members (team_id, user_id) VALUES ($1, $2)")
        .bind(team)
        .bind(user)
        .execute(pool)
        .await
    {
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(AppError::AlreadyMember),
        Err(e) => Err(e.into()),
        Ok(_) => Ok(()),
    }
}
pub async fn join2(pool: &PgPool, team: i64, user: i64) -> Result<(), AppError> {
    sqlx::query("INSERT INTO members (team_id, user_id) VALUES ($1, $2)")
        .bind(team)
        .bind(user)
        .execute(pool)
        .await
        .map_err(|e| match e {
            sqlx::Error::Database(d) if d.code().as_deref() == Some("23505") => AppError::AlreadyMember,
            e => e.into(),
        })?;
    Ok(())
}
"#;

#[test]
fn sqlx_unique_violation_handled() {
    let m = model(SQLX_UNIQUE);
    assert!(func(&m, "join").effects[0].unique_violation_handled);
    assert!(func(&m, "join2").effects[0].unique_violation_handled);
}

const SQLX_TX_HELPERS: &str = r#"
use sqlx::{PgPool, Postgres, Transaction};
pub struct Service { pool: PgPool }
impl Service {
    pub async fn register(&self, email: &str) -> anyhow::Result<()> {
        let mut tx = self.pool.begin().await?;
        self.insert_user(&mut tx, email).await?;
        Self::insert_profile(&mut tx, email).await?;
        tx.commit().await?;
        Ok(())
    }
    async fn insert_user(&self, tx: &mut Transaction<'_, Postgres>, email: &str) -> sqlx::Result<()> {
        sqlx::query("INSERT INTO users (email) VALUES ($1)").bind(email).execute(&mut **tx).await?;
        sqlx::query("INSERT INTO outbox (kind) VALUES ('user')").execute(tx.as_mut()).await?;
        Ok(())
    }
    async fn insert_profile(tx: &mut Transaction<'_, Postgres>, email: &str) -> sqlx::Result<()> {
        Ok(())
    }
}
"#;

#[test]
fn sqlx_local_calls_and_transaction_parameters() {
    let m = model(SQLX_TX_HELPERS);
    let reg = func(&m, "Service::register");
    assert_eq!(reg.calls.len(), 2);
    assert_eq!(reg.calls[0].callee, "Service::insert_user");
    assert_eq!(reg.calls[0].transaction, Some(0));
    assert_eq!(reg.calls[1].callee, "Service::insert_profile");
    assert_eq!(reg.calls[1].transaction, Some(0));
    let helper = func(&m, "Service::insert_user");
    assert_eq!(helper.transactions().len(), 1, "a `Transaction` parameter");
    assert!(helper.effects.iter().all(|e| e.transaction == Some(0)));
    assert_eq!(helper.effects[0].handle, "tx");
    assert_eq!(helper.effects[1].handle, "tx");
}

const SQLX_ACTIX: &str = r#"
use actix_web::{web, HttpResponse};
use sqlx::PgPool;
async fn book_seat(pool: web::Data<PgPool>, path: web::Path<(i64, i64)>) -> HttpResponse {
    let (seat_id, user_id) = path.into_inner();
    let seat = sqlx::query_as::<_, Seat>("SELECT * FROM seats WHERE id = $1")
        .bind(seat_id)
        .fetch_optional(pool.get_ref())
        .await
        .unwrap();
    match seat {
        Some(seat) if seat.status == "free" => {
            sqlx::query("UPDATE seats SET status = 'taken', user_id = $1 WHERE id = $2")
                .bind(user_id)
                .bind(seat_id)
                .execute(pool.get_ref())
                .await
                .unwrap();
            HttpResponse::Ok().finish()
        }
        Some(_) => HttpResponse::Conflict().finish(),
        None => {
            sqlx::query("INSERT INTO waitlist (user_id) VALUES ($1)").bind(user_id).execute(pool.get_ref()).await.unwrap();
            HttpResponse::NotFound().finish()
        }
    }
}
"#;

#[test]
fn sqlx_match_arms_and_field_guards() {
    let m = model(SQLX_ACTIX);
    let f = func(&m, "book_seat");
    assert_eq!(f.effects.len(), 3);
    let (update, wait) = (&f.effects[1], &f.effects[2]);
    assert_eq!(update.handle, "pool");
    let g = update
        .guards
        .iter()
        .find(|g| !g.fields.is_empty())
        .expect("arm guard on seat.status");
    assert_eq!(g.read, 0);
    assert_eq!(g.fields, vec!["status"]);
    assert!(guarded_by(wait, 0));
    assert_eq!(update.arms.len(), 1);
    assert_ne!(update.arms[0].arm, wait.arms[0].arm);
    assert!(!crate::ir::may_both_run(update, wait));
    assert!(crate::ir::may_both_run(&f.effects[0], update));
}

// ---------------- Diesel ----------------

const DIESEL_GET_OR_CREATE: &str = r#"
use diesel::prelude::*;
use crate::schema::users;

pub fn find_or_create(conn: &mut PgConnection, email: &str) -> QueryResult<User> {
    let existing = users::table
        .filter(users::email.eq(email))
        .first::<User>(conn)
        .optional()?;
    if let Some(user) = existing {
        return Ok(user);
    }
    diesel::insert_into(users::table)
        .values((users::email.eq(email), users::active.eq(true)))
        .get_result(conn)
}

pub fn create_fixed(conn: &mut PgConnection, email: &str) -> QueryResult<usize> {
    diesel::insert_into(users::table)
        .values(users::email.eq(email))
        .on_conflict(users::email)
        .do_nothing()
        .execute(conn)
}
"#;

#[test]
fn diesel_get_or_create() {
    let m = model(DIESEL_GET_OR_CREATE);
    let f = func(&m, "find_or_create");
    assert_eq!(f.effects.len(), 2);
    let (read, insert) = (&f.effects[0], &f.effects[1]);
    assert_eq!(read.kind, EffectKind::Read);
    assert_eq!(read.client, crate::ir::Client::Diesel);
    assert_eq!(read.table.as_deref(), Some("users"));
    assert_eq!(read.filter[0].column, "email");
    assert!(!read.throws_if_missing, ".optional()");
    assert_eq!(read.completion, Completion::Awaited, "sync Diesel");
    assert_eq!(text(DIESEL_GET_OR_CREATE, read.site), "first");
    assert_eq!(insert.kind, EffectKind::Insert);
    assert_eq!(insert.table.as_deref(), Some("users"));
    assert_eq!(insert.values.len(), 2);
    assert!(insert.values[1].value.literal);
    assert!(guarded_by(insert, 0));
    assert_eq!(insert.completion, Completion::Awaited);
    let fixed = &func(&m, "create_fixed").effects[0];
    assert_eq!(fixed.on_conflict, OnConflict::DoNothing);
    assert!(fixed.is_conditional_write());
}

const DIESEL_BALANCE: &str = r#"
use diesel::prelude::*;
use crate::schema::accounts::dsl::*;

pub fn withdraw(conn: &mut PgConnection, acct_id: i32, amount: i64) -> QueryResult<()> {
    let acct = accounts.find(acct_id).first::<Account>(conn)?;
    diesel::update(accounts.find(acct_id))
        .set(balance.eq(acct.balance - amount))
        .execute(conn)?;
    Ok(())
}

pub fn withdraw_atomic(conn: &mut PgConnection, acct_id: i32, amount: i64) -> QueryResult<()> {
    let n = diesel::update(accounts.filter(id.eq(acct_id)).filter(balance.ge(amount)))
        .set(balance.eq(balance - amount))
        .execute(conn)?;
    if n == 0 {
        return Err(diesel::result::Error::NotFound);
    }
    Ok(())
}

pub fn locked(conn: &mut PgConnection, acct_id: i32, amount: i64) -> QueryResult<()> {
    conn.build_transaction().serializable().run(|conn| {
        let acct = accounts.find(acct_id).for_update().first::<Account>(conn)?;
        diesel::update(accounts.find(acct_id)).set(balance.eq(acct.balance - amount)).execute(conn)?;
        Ok(())
    })
}
"#;

#[test]
fn diesel_read_modify_write_and_atomic() {
    let m = model(DIESEL_BALANCE);
    let f = func(&m, "withdraw");
    let (read, update) = (&f.effects[0], &f.effects[1]);
    assert_eq!(read.table.as_deref(), Some("accounts"));
    assert!(read.throws_if_missing);
    assert_eq!(read.filter[0].column, "id");
    assert_eq!(update.kind, EffectKind::Update);
    assert_eq!(update.table.as_deref(), Some("accounts"));
    assert_eq!(update.filter[0].column, "id");
    assert!(!update.many);
    let bal = &update.values[0];
    assert_eq!(bal.column, "balance");
    assert_eq!(bal.value.reads, vec![0]);
    assert!(!bal.value.atomic);
    assert!(guarded_by(update, 0), "first()? exits when missing");

    let a = &func(&m, "withdraw_atomic").effects[0];
    assert!(a.values[0].value.atomic);
    assert!(a.count_checked);
    assert_eq!(a.filter.len(), 2);

    let l = func(&m, "locked");
    assert_eq!(l.transactions().len(), 1);
    assert_eq!(l.transactions()[0].style, TransactionStyle::Callback);
    assert_eq!(l.transactions()[0].handle.as_deref(), Some("conn"));
    assert!(l.transactions()[0].serializable);
    assert_eq!(l.effects[0].row_lock, RowLock::Exclusive);
    assert!(l.effects.iter().all(|e| e.transaction == Some(0)));
    assert!(l.read_is_protected(0));
}

const DIESEL_DELETES: &str = r#"
use diesel::prelude::*;
use crate::schema::{posts, users};

pub fn delete_user(conn: &mut PgConnection, uid: i32) -> QueryResult<()> {
    conn.transaction(|conn| {
        diesel::delete(posts::table.filter(posts::user_id.eq(uid))).execute(conn)?;
        diesel::delete(users::table.find(uid)).execute(conn)?;
        Ok(())
    })
}

pub fn delete_user_loose(conn: &mut PgConnection, uid: i32) -> QueryResult<()> {
    diesel::delete(posts::table.filter(posts::user_id.eq(uid))).execute(conn)?;
    diesel::delete(users::table.find(uid)).execute(conn)?;
    Ok(())
}
"#;

#[test]
fn diesel_children_first_deletes_in_and_outside_a_transaction() {
    let m = model(DIESEL_DELETES);
    let f = func(&m, "delete_user");
    assert_eq!(f.effects.len(), 2);
    assert_eq!(f.effects[0].table.as_deref(), Some("posts"));
    assert!(f.effects[0].many);
    assert_eq!(f.effects[1].table.as_deref(), Some("users"));
    assert!(!f.effects[1].many);
    assert!(f.same_transaction(&f.effects[0], &f.effects[1]));
    let g = func(&m, "delete_user_loose");
    assert!(g
        .effects
        .iter()
        .all(|e| e.kind == EffectKind::Delete && e.transaction.is_none()));
}

// ---------------- SeaORM ----------------

const SEA_MEMBERS: &str = r#"
use sea_orm::{entity::*, query::*, DatabaseConnection, DbErr, sea_query::OnConflict};

pub async fn join(db: &DatabaseConnection, user_id: i32, team_id: i32) -> Result<(), DbErr> {
    let existing = member::Entity::find()
        .filter(member::Column::UserId.eq(user_id))
        .filter(member::Column::TeamId.eq(team_id))
        .one(db)
        .await?;
    if existing.is_none() {
        let am = member::ActiveModel {
            user_id: Set(user_id),
            team_id: Set(team_id),
            ..Default::default()
        };
        am.insert(db).await?;
    }
    Ok(())
}

pub async fn join_fixed(db: &DatabaseConnection, user_id: i32, team_id: i32) -> Result<(), DbErr> {
    let am = member::ActiveModel { user_id: Set(user_id), team_id: Set(team_id), ..Default::default() };
    member::Entity::insert(am)
        .on_conflict(
            OnConflict::columns([member::Column::UserId, member::Column::TeamId])
                .do_nothing()
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}
"#;

#[test]
fn sea_orm_get_or_create_and_on_conflict() {
    let m = model(SEA_MEMBERS);
    let f = func(&m, "join");
    assert_eq!(f.effects.len(), 2);
    let (read, insert) = (&f.effects[0], &f.effects[1]);
    assert_eq!(read.kind, EffectKind::Read);
    assert_eq!(read.table.as_deref(), Some("member"));
    let cols: Vec<_> = read.filter_columns().collect();
    assert_eq!(cols, vec!["user_id", "team_id"]);
    assert!(!read.throws_if_missing);
    assert_eq!(insert.kind, EffectKind::Insert);
    assert_eq!(insert.table.as_deref(), Some("member"));
    assert_eq!(insert.values.len(), 2);
    assert_eq!(insert.handle, "db");
    assert_eq!(insert.arms.len(), 1);
    let g = insert.guards.iter().find(|g| g.read == 0).unwrap();
    assert_eq!(text(SEA_MEMBERS, g.span), "existing.is_none()");
    let fixed = &func(&m, "join_fixed").effects[0];
    assert_eq!(fixed.kind, EffectKind::Insert);
    assert_eq!(fixed.on_conflict, OnConflict::DoNothing);
    assert_eq!(fixed.values.len(), 2, "values from the ActiveModel literal");
}

const SEA_BALANCE: &str = r#"
use sea_orm::{entity::*, query::*, sea_query::Expr, DatabaseConnection, DbErr, TransactionTrait};

pub async fn withdraw(db: &DatabaseConnection, id: i32, amount: i64) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    let acct = account::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(DbErr::RecordNotFound("account".into()))?;
    let mut am: account::ActiveModel = acct.clone().into();
    am.balance = Set(acct.balance - amount);
    am.update(&txn).await?;
    txn.commit().await?;
    Ok(())
}

pub async fn withdraw_atomic(db: &DatabaseConnection, id: i32, amount: i64) -> Result<(), DbErr> {
    let res = account::Entity::update_many()
        .col_expr(account::Column::Balance, Expr::col(account::Column::Balance).sub(amount))
        .filter(account::Column::Id.eq(id))
        .filter(account::Column::Balance.gte(amount))
        .exec(db)
        .await?;
    if res.rows_affected == 0 {
        return Err(DbErr::Custom("insufficient".into()));
    }
    Ok(())
}

pub async fn purge(db: &DatabaseConnection, cake_id: i32) -> Result<(), DbErr> {
    db.transaction::<_, (), DbErr>(|txn| {
        Box::pin(async move {
            cake_filling::Entity::delete_many()
                .filter(cake_filling::Column::CakeId.eq(cake_id))
                .exec(txn)
                .await?;
            cake::Entity::delete_by_id(cake_id).exec(txn).await?;
            Ok(())
        })
    })
    .await
    .map_err(|e| DbErr::Custom(e.to_string()))
}
"#;

#[test]
fn sea_orm_read_modify_write_atomic_and_transactions() {
    let m = model(SEA_BALANCE);
    let f = func(&m, "withdraw");
    assert_eq!(f.transactions().len(), 1);
    assert_eq!(f.transactions()[0].handle.as_deref(), Some("txn"));
    let (read, update) = (&f.effects[0], &f.effects[1]);
    assert!(read.throws_if_missing, "ok_or(..)?");
    assert_eq!(read.filter[0].column, "id");
    assert_eq!(read.transaction, Some(0));
    assert_eq!(update.kind, EffectKind::Update);
    assert_eq!(update.table.as_deref(), Some("account"));
    assert_eq!(update.transaction, Some(0));
    let bal = update
        .values
        .iter()
        .find(|v| v.column == "balance")
        .unwrap();
    assert_eq!(bal.value.reads, vec![0]);
    assert!(guarded_by(update, 0));

    let a = &func(&m, "withdraw_atomic").effects[0];
    assert!(a.values[0].value.atomic);
    assert!(a.count_checked);
    assert!(a.many);

    let p = func(&m, "purge");
    assert_eq!(p.transactions().len(), 1);
    assert_eq!(p.transactions()[0].style, TransactionStyle::Callback);
    assert_eq!(p.transactions()[0].handle.as_deref(), Some("txn"));
    assert_eq!(p.effects.len(), 2);
    assert_eq!(p.effects[0].table.as_deref(), Some("cake_filling"));
    assert_eq!(p.effects[1].table.as_deref(), Some("cake"));
    assert!(p.effects.iter().all(|e| e.transaction == Some(0)));
}

// ---------------- tokio-postgres / postgres ----------------

const TOKIO_PG: &str = r#"
use tokio_postgres::{Client, Error};

pub async fn reserve(client: &mut Client, seat_id: i32, user_id: i32) -> Result<(), Error> {
    let tx = client.transaction().await?;
    let row = tx.query_one("SELECT status FROM seats WHERE id = $1", &[&seat_id]).await?;
    let status: String = row.get("status");
    if status != "free" {
        return Ok(());
    }
    tx.execute("UPDATE seats SET status = 'taken', user_id = $1 WHERE id = $2", &[&user_id, &seat_id])
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn get_or_create(client: &Client, name: &str) -> Result<i32, Error> {
    let stmt = client.prepare("SELECT id FROM tags WHERE name = $1").await?;
    if let Some(row) = client.query_opt(&stmt, &[&name]).await? {
        return Ok(row.get(0));
    }
    let row = client.query_one("INSERT INTO tags (name) VALUES ($1) RETURNING id", &[&name]).await?;
    Ok(row.get(0))
}

pub async fn serializable(client: &mut Client) -> Result<(), Error> {
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::Serializable)
        .start()
        .await?;
    tx.execute("DELETE FROM a", &[]).await?;
    tx.execute("DELETE FROM b", &[]).await?;
    tx.commit().await
}
"#;

#[test]
fn tokio_postgres_transactions_guards_and_prepared_statements() {
    let m = model(TOKIO_PG);
    let f = func(&m, "reserve");
    assert_eq!(f.transactions().len(), 1);
    assert_eq!(f.transactions()[0].handle.as_deref(), Some("tx"));
    assert_eq!(f.effects.len(), 2);
    let (read, update) = (&f.effects[0], &f.effects[1]);
    assert_eq!(read.client, crate::ir::Client::TokioPostgres);
    assert!(read.throws_if_missing || !sql_ready());
    assert_eq!(read.handle, "tx");
    assert_eq!(update.transaction, Some(0));
    assert!(!update.count_checked);
    let g = update
        .guards
        .iter()
        .find(|g| text(TOKIO_PG, g.span) == "status != \"free\"");
    assert!(g.is_some_and(|g| g.read == 0 && g.fields == vec!["status".to_string()]));
    assert_eq!(text(TOKIO_PG, update.site), "execute");

    let g = func(&m, "get_or_create");
    assert_eq!(g.effects.len(), 2, "prepare is not an effect");
    assert!(guarded_by(&g.effects[1], 0));
    assert_eq!(g.effects[1].arms.len(), 0);
    if sql_ready() {
        assert_eq!(g.effects[0].kind, EffectKind::Read);
        assert_eq!(g.effects[0].table.as_deref(), Some("tags"));
        assert_eq!(g.effects[1].kind, EffectKind::Insert);
    }

    let s = func(&m, "serializable");
    assert!(s.transactions()[0].serializable);
    assert!(s.same_transaction(&s.effects[0], &s.effects[1]));
}

const SYNC_PG: &str = r#"
use postgres::{Client, NoTls};

fn bump(client: &mut Client, id: i32) -> Result<(), postgres::Error> {
    let row = client.query_one("SELECT hits FROM pages WHERE id = $1", &[&id])?;
    let hits: i64 = row.get(0);
    client.execute("UPDATE pages SET hits = $1 WHERE id = $2", &[&(hits + 1), &id])?;
    client.execute("UPDATE pages SET hits = hits + 1 WHERE id = $1", &[&id])?;
    Ok(())
}
"#;

#[test]
fn sync_postgres_read_modify_write() {
    let m = model(SYNC_PG);
    let f = func(&m, "bump");
    assert_eq!(f.effects.len(), 3);
    assert!(f
        .effects
        .iter()
        .all(|e| e.completion == Completion::Awaited));
    assert!(guarded_by(&f.effects[1], 0));
    if sql_ready() {
        assert!(f.effects[0].throws_if_missing);
        assert_eq!(f.effects[1].values[0].value.reads, vec![0]);
        assert!(f.effects[2].values[0].value.atomic);
    }
}

// ---------------- the walk itself ----------------

#[test]
fn a_file_that_does_not_parse_reports_where() {
    let err = lower("fn main() {\n    let x = ;\n}\n").unwrap_err();
    assert_eq!(err.line, 2);
    assert_eq!(err.column, 13);
    assert!(!err.message.is_empty());
}

#[test]
fn deep_nesting_does_not_overflow() {
    // Within the bound (`nesting::MAX_BRACKET_DEPTH`) it is lowered…
    let depth = 200;
    let src = format!("fn f() {{ {}{} }}", "{".repeat(depth), "}".repeat(depth));
    let m = lower(&src).expect("parses");
    assert_eq!(m.functions.len(), 1);
    // …beyond it the file is a parse error, not a stack overflow: 10 000 nested
    // closures overflow even the 256 MiB thread in a debug build.
    let depth = 10_000;
    for src in [
        format!("fn f() {{ {}{} }}", "{".repeat(depth), "}".repeat(depth)),
        format!(
            "fn g() {{ let x = {}1{}; }}",
            "(".repeat(depth),
            ")".repeat(depth)
        ),
        format!(
            "fn h() {{ let f = {}1{}; }}",
            "|| {".repeat(depth),
            "}".repeat(depth)
        ),
        format!("fn i() {{ let x = {}a; }}", "!".repeat(100 * depth)),
    ] {
        let err = lower(&src).unwrap_err();
        assert!(err.message.contains("file skipped"), "{err}");
        assert_eq!(err.line, 1);
    }
}

const UNICODE: &str = "// héllo wörld ✓ — naïve café\nuse sqlx::PgPool;\nasync fn f(pool: &PgPool) {\n    let s = \"日本語のテキスト\";\n    sqlx::query(\"DELETE FROM t\").execute(pool).await.unwrap();\n}\n";

#[test]
fn spans_are_bytes_after_non_ascii_text() {
    let m = model(UNICODE);
    let e = &m.functions[0].effects[0];
    assert_eq!(
        text(UNICODE, e.span),
        "sqlx::query(\"DELETE FROM t\").execute(pool).await.unwrap()"
    );
    assert_eq!(text(UNICODE, e.site), "execute");
    let with_bom = format!("\u{feff}{UNICODE}");
    let m = model(&with_bom);
    assert_eq!(text(&with_bom, m.functions[0].effects[0].site), "execute");
}

const CLOSURES: &str = r#"
use sqlx::PgPool;
async fn import(pool: &PgPool, rows: Vec<Row>) -> anyhow::Result<()> {
    let save = |r: Row| async move {
        sqlx::query("INSERT INTO items (name) VALUES ($1)").bind(r.name).execute(pool).await
    };
    futures::future::try_join_all(rows.iter().map(|r| {
        sqlx::query("INSERT INTO items (name) VALUES ($1)").bind(&r.name).execute(pool)
    }))
    .await?;
    tokio::spawn(async move {
        sqlx::query("DELETE FROM staging").execute(pool).await.ok();
    });
    let Some(first) = rows.first() else { return Ok(()) };
    my_macro!(this is not rust ::: at all);
    Ok(())
}
"#;

#[test]
fn closures_inline_or_own_functions() {
    let m = model(CLOSURES);
    let f = func(&m, "import");
    let own = func(&m, "import::save");
    assert_eq!(own.effects.len(), 1);
    assert_eq!(f.effects.len(), 2);
    assert!(f.effects[0].in_loop);
    assert_eq!(
        f.effects[0].completion,
        Completion::Returned,
        "handed to try_join_all"
    );
    assert!(!f.effects[1].in_loop);
    assert_eq!(f.effects[1].completion, Completion::Awaited);
}

const LET_ELSE: &str = r#"
use sqlx::PgPool;
async fn rename(pool: &PgPool, id: i64, name: String) -> Result<(), AppError> {
    let Some(team) = sqlx::query_as::<_, Team>("SELECT * FROM teams WHERE id = $1")
        .bind(id)
        .fetch_optional(pool)
        .await?
    else {
        return Err(AppError::NotFound);
    };
    for member in team.members() {
        if member.is_admin { continue; }
        sqlx::query("UPDATE users SET team_name = $1 WHERE id = $2").bind(&name).bind(member.id).execute(pool).await?;
    }
    sqlx::query("UPDATE teams SET name = $1 WHERE id = $2").bind(&name).bind(id).execute(pool).await?;
    Ok(())
}
"#;

#[test]
fn let_else_and_continue_guard_later_effects() {
    let m = model(LET_ELSE);
    let f = func(&m, "rename");
    assert_eq!(f.effects.len(), 3);
    assert!(f.effects[0].throws_if_missing);
    assert_eq!(f.effects[0].binding.as_deref(), Some("team"));
    let in_loop = &f.effects[1];
    assert!(in_loop.in_loop);
    assert!(in_loop
        .guards
        .iter()
        .any(|g| g.read == 0 && g.fields == vec!["is_admin".to_string()]));
    let after = &f.effects[2];
    assert!(!after.in_loop);
    assert!(guarded_by(after, 0), "let-else");
    assert!(
        !after
            .guards
            .iter()
            .any(|g| g.fields == vec!["is_admin".to_string()]),
        "continue only guards the loop"
    );
}

#[test]
fn files_without_a_client_have_no_effects() {
    let m = model("fn f(set: &mut std::collections::HashSet<i32>) { set.insert(1); if set.is_empty() { return; } }");
    assert!(m.functions[0].effects.is_empty());
}

// ---------------- suggestions ----------------

#[test]
fn callback_transaction_outlives_inner_blocks() {
    // An inner block (a loop, a `.map` closure) ending must not end the callback's
    // transaction: the writes after it still run inside.
    let m = lower(
        r#"
        use diesel::prelude::*;
        fn set_roles(conn: &mut PgConnection, user: i64, roles: &[String]) -> QueryResult<()> {
            conn.transaction(|conn| {
                diesel::delete(user_roles::table.filter(user_roles::user_id.eq(user))).execute(conn)?;
                for role in roles {
                    let r = role.trim();
                    diesel::insert_into(user_roles::table).values(user_roles::role.eq(r)).execute(conn)?;
                }
                let names: Vec<String> = roles.iter().map(|r| { let x = r.clone(); x }).collect();
                diesel::insert_into(audit::table).values(audit::note.eq(names.len() as i32)).execute(conn)?;
                Ok(())
            })
        }
        "#,
    )
    .unwrap();
    let f = &m.functions[0];
    assert_eq!(f.effects.len(), 3);
    assert!(
        f.effects.iter().all(|e| e.transaction == Some(0)),
        "{:#?}",
        f.effects
    );
}

#[test]
fn sql_constants_are_read_from_the_query_text() {
    use super::clients::sql_constant;
    let sql = "UPDATE seats SET status = 'booked', holder_id = $1, paid = true WHERE id = $2";
    assert_eq!(sql_constant(sql, "status").as_deref(), Some("'booked'"));
    assert_eq!(sql_constant(sql, "paid").as_deref(), Some("true"));
    assert_eq!(sql_constant(sql, "holder_id"), None);
    assert_eq!(sql_constant(sql, "id"), None);
    let m = lower(
        r#"
        async fn book(pool: &sqlx::PgPool, id: i64) {
            sqlx::query("UPDATE seats SET status = 'booked' WHERE id = $1").bind(id).execute(pool).await.unwrap();
        }
        "#,
    )
    .unwrap();
    let v = &m.functions[0].effects[0].values[0];
    assert_eq!(
        (v.column.as_str(), v.value.text.as_str()),
        ("status", "'booked'")
    );
    assert!(v.value.literal);
}

#[test]
fn active_model_from_a_row_is_keyed_by_that_row() {
    let m = lower(
        r#"
        use sea_orm::*;
        async fn redeem(db: &DatabaseConnection, id: i64) -> Result<(), DbErr> {
            let found = coupon::Entity::find_by_id(id).one(db).await?.unwrap();
            let mut am: coupon::ActiveModel = found.into();
            am.used = Set(true);
            am.update(db).await?;
            Ok(())
        }
        "#,
    )
    .unwrap();
    let f = &m.functions[0];
    let update = &f.effects[1];
    assert_eq!(update.kind, EffectKind::Update);
    assert_eq!(update.table.as_deref(), Some("coupon"));
    assert_eq!(update.filter[0].column, "id");
    assert_eq!(update.filter[0].value.text, "found.id");
    assert_eq!(update.filter[0].value.reads, vec![0]);
    // `Set(x)` shows as `x`.
    assert_eq!(update.values[0].value.text, "true");
}

#[test]
fn every_client_renders_every_remedy() {
    use crate::ir::remedy::{Remedy, Target};
    use crate::ir::Client;
    let t = Target {
        table: "invites".into(),
        handle: "&pool".into(),
        key: vec![("email".into(), "input.email".into())],
        values: vec![("team_id".into(), "input.team_id".into())],
        call: None,
        ..Target::default()
    };
    let remedies = [
        Remedy::InsertOnConflict { target: t.clone() },
        Remedy::ConditionalWrite {
            target: t.clone(),
            state: vec![("status".into(), "\"free\"".into())],
        },
        Remedy::HandleUniqueViolation {
            target: t.clone(),
            unique_key: vec!["email".into()],
        },
        Remedy::LockThenCheck { target: t.clone() },
        Remedy::Transaction {
            targets: vec![t.clone(), t.clone()],
            open: None,
        },
        Remedy::OptimisticLock {
            target: t.clone(),
            version_column: "version".into(),
        },
        Remedy::AtomicUpdate {
            target: t.clone(),
            column: "team_id".into(),
        },
        Remedy::DeleteOrder {
            targets: vec![t.clone()],
        },
    ];
    for client in [
        Client::Sqlx,
        Client::Diesel,
        Client::SeaOrm,
        Client::TokioPostgres,
    ] {
        for r in &remedies {
            let s = suggest(client, r).unwrap();
            assert!(!s.is_empty(), "{client:?} {r:?}");
        }
    }
    let sqlx = suggest(Client::Sqlx, &remedies[0]).unwrap();
    assert!(sqlx.contains("ON CONFLICT (email) DO NOTHING"), "{sqlx}");
    assert!(sqlx.contains(".fetch_optional(&pool)"), "{sqlx}");
    let cond = suggest(Client::Sqlx, &remedies[1]).unwrap();
    assert!(cond.contains("AND status = 'free'"), "{cond}");
    assert!(cond.contains("rows_affected() != 1"), "{cond}");
    let lock = suggest(Client::Sqlx, &remedies[3]).unwrap();
    assert!(
        lock.starts_with("let mut tx = pool.begin().await?;"),
        "{lock}"
    );
    assert!(lock.contains("FOR UPDATE"));
    let d = suggest(Client::Diesel, &remedies[0]).unwrap();
    assert!(
        d.contains(".on_conflict(invites::email)\n    .do_nothing()"),
        "{d}"
    );
    // An absolute value computed in code is not a delta: say so instead of adding it.
    let d = suggest(Client::Diesel, &remedies[6]).unwrap();
    assert!(
        d.contains("invites::team_id.eq(invites::team_id + delta)") && d.contains("// `delta`"),
        "{d}"
    );
    // `acct.balance - amount` becomes `balance - amount` in every client.
    let debit = Remedy::AtomicUpdate {
        target: Target {
            table: "accounts".into(),
            handle: "conn".into(),
            key: vec![("id".into(), "acct.id".into())],
            values: vec![("balance".into(), "acct.balance - amount".into())],
            call: None,
            ..Target::default()
        },
        column: "balance".into(),
    };
    let d = suggest(Client::Diesel, &debit).unwrap();
    assert!(
        d.contains("accounts::balance.eq(accounts::balance - amount)"),
        "{d}"
    );
    let q = suggest(Client::Sqlx, &debit).unwrap();
    assert!(
        q.contains("SET balance = balance - $1 WHERE id = $2"),
        "{q}"
    );
    assert!(q.contains("amount, acct.id"), "{q}");
    // A constant taken from the SQL stays inline; only Rust values are bound.
    let book = Remedy::ConditionalWrite {
        target: Target {
            table: "seats".into(),
            handle: "pool".into(),
            key: vec![("id".into(), "seat_id".into())],
            values: vec![
                ("status".into(), "'booked'".into()),
                ("holder_id".into(), "user_id".into()),
            ],
            call: None,
            ..Target::default()
        },
        state: vec![("status".into(), "\"free\"".into())],
    };
    let q = suggest(Client::Sqlx, &book).unwrap();
    assert!(
        q.contains("SET status = 'booked', holder_id = $1")
            && q.contains("WHERE id = $2 AND status = 'free'"),
        "{q}"
    );
    assert!(q.contains("user_id, seat_id"), "{q}");
    // A column both checked and written appears once in an ActiveModel.
    let mut dup = t.clone();
    dup.values.push(("email".into(), "email.to_owned()".into()));
    let s = suggest(Client::SeaOrm, &Remedy::InsertOnConflict { target: dup }).unwrap();
    assert_eq!(s.matches("email: Set(").count(), 1, "{s}");
    let s = suggest(Client::SeaOrm, &remedies[3]).unwrap();
    assert!(
        s.contains("let txn = pool.begin().await?;") && s.contains(".lock_exclusive()"),
        "{s}"
    );
    let p = suggest(Client::TokioPostgres, &remedies[3]).unwrap();
    assert!(
        p.contains("let tx = pool.transaction().await?;") && p.contains("FOR UPDATE"),
        "{p}"
    );
    assert!(suggest(Client::Prisma, &remedies[0]).is_none());
}

#[test]
fn the_sql_classifier_is_merged_so_guarded_assertions_run() {
    assert!(sql_ready());
}

const SQLX_RAW_BEGIN: &str = r#"
use sqlx::PgPool;
async fn transfer(pool: &PgPool, from: i64, to: i64, amount: i64) -> sqlx::Result<()> {
    let mut conn = pool.acquire().await?;
    sqlx::query("BEGIN ISOLATION LEVEL SERIALIZABLE").execute(&mut *conn).await?;
    sqlx::query("UPDATE accounts SET balance = balance - $1 WHERE id = $2").bind(amount).bind(from).execute(&mut *conn).await?;
    sqlx::query("UPDATE accounts SET balance = balance + $1 WHERE id = $2").bind(amount).bind(to).execute(&mut *conn).await?;
    sqlx::query("COMMIT").execute(&mut *conn).await?;
    sqlx::query("SELECT pg_advisory_lock($1)").bind(from).execute(&mut *conn).await?;
    Ok(())
}
"#;

#[test]
fn sqlx_raw_begin_commit_on_a_connection() {
    let m = model(SQLX_RAW_BEGIN);
    let f = func(&m, "transfer");
    assert_eq!(f.transactions().len(), 1);
    assert_eq!(f.transactions()[0].handle.as_deref(), Some("conn"));
    assert!(f.transactions()[0].serializable);
    assert_eq!(f.effects.len(), 3, "BEGIN and COMMIT are not effects");
    assert!(f.same_transaction(&f.effects[0], &f.effects[1]));
    assert!(f.effects[0].values[0].value.atomic);
    assert_eq!(f.effects[2].transaction, None, "after COMMIT");
    assert_eq!(f.effects[2].kind, EffectKind::Lock);
}

#[test]
fn sqlx_query_file_reads_the_crate_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("queries")).unwrap();
    std::fs::write(
        dir.path().join("queries/claim.sql"),
        "UPDATE coupons SET used = true WHERE code = $1 AND used = false",
    )
    .unwrap();
    let src = r#"
use sqlx::PgPool;
async fn claim(pool: &PgPool, code: &str) -> sqlx::Result<bool> {
    let r = sqlx::query_file!("queries/claim.sql", code).execute(pool).await?;
    Ok(r.rows_affected() == 1)
}
"#;
    let m = lower_in_crate(src, Some(dir.path())).unwrap();
    let e = &m.functions[0].effects[0];
    assert_eq!(e.kind, EffectKind::Update);
    assert_eq!(e.table.as_deref(), Some("coupons"));
    assert!(e.count_checked);
    assert!(e
        .filter
        .iter()
        .any(|f| f.column == "code" && f.value.vars == vec!["code"]));
    let m = lower(src).unwrap();
    assert_eq!(
        m.functions[0].effects[0].kind,
        EffectKind::Opaque,
        "no crate root"
    );
}

/// `SMOKE=/path/to/rust/code cargo test --lib smoke_dir -- --ignored --nocapture`
/// lowers every `.rs` file below a folder: no panic, every span inside its file.
#[test]
#[ignore]
fn smoke_dir() {
    let dir = std::env::var("SMOKE").unwrap();
    let mut n = 0;
    let mut effects = 0;
    for entry in ignore::Walk::new(dir).flatten() {
        let p = entry.path();
        if p.extension().is_some_and(|e| e == "rs") {
            let t = std::fs::read_to_string(p).unwrap_or_default();
            if let Ok(m) = lower(&t) {
                for f in &m.functions {
                    effects += f.effects.len();
                    for e in &f.effects {
                        assert!(t.get(e.span.range()).is_some(), "{p:?}");
                    }
                }
            }
            n += 1;
        }
    }
    eprintln!("{n} files, {effects} effects");
}
