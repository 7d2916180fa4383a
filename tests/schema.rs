//! Schema discovery on whole fixture projects (`fixtures/schema/<source>/`): what a
//! person reading each project would say its database looks like; and in a
//! monorepo, which package's schema each file sees.

mod common;

use racelint::diagnostic::ErrorKind;
use racelint::schema::{discover, render_text, to_json, OnDelete, Schema, SchemaDiscovery, Table};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/schema")
        .join(name)
}

fn run(name: &str) -> SchemaDiscovery {
    discover(&fixture(name))
}

fn table<'a>(schema: &'a Schema, code_name: &str) -> &'a Table {
    schema
        .table(code_name)
        .unwrap_or_else(|| panic!("no table for `{code_name}` in {:?}", names(schema)))
}

fn names(schema: &Schema) -> Vec<&str> {
    schema.tables.iter().map(|t| t.name.as_str()).collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn prisma_ludics_project_from_seed_000() {
    let d = run("prisma");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let s = &d.schema;
    assert_eq!(
        names(s),
        [
            "Deliberation",
            "LudicAct",
            "LudicChronicle",
            "LudicDesign",
            "ludic_traces"
        ],
        "node_modules/.prisma is not the project's schema"
    );

    // The client property and the model both find the mapped table.
    let trace = table(s, "ludicTrace");
    assert_eq!(trace.name, "ludic_traces");
    assert!(trace.aliases.contains(&"LudicTrace".to_string()));
    assert_eq!(trace.version_column.as_deref(), Some("version"));

    // The seed's bug: traces reference designs twice, neither cascades.
    let to_design: Vec<_> = s
        .foreign_keys_between("ludicTrace", "ludicDesign")
        .collect();
    assert_eq!(to_design.len(), 2);
    for fk in &to_design {
        assert_eq!(fk.on_delete, OnDelete::Restrict);
        assert!(fk.blocks_parent_delete());
    }
    let cols: Vec<_> = to_design.iter().map(|fk| fk.columns[0].as_str()).collect();
    assert_eq!(cols, ["posDesignId", "negDesignId"]);

    // Chronicles and acts: chronicles cascade from designs, acts do not.
    let children: Vec<(&str, OnDelete)> = s
        .children_of("LudicDesign")
        .iter()
        .map(|(t, fk)| (t.name.as_str(), fk.on_delete))
        .collect();
    assert!(children.contains(&("LudicAct", OnDelete::Restrict)));
    assert!(children.contains(&("LudicChronicle", OnDelete::Cascade)));
    assert!(s.related("ludicChronicle", "ludicAct"));

    // Composite unique keys, as the client spells the columns.
    assert_eq!(
        s.unique_key_within(
            "ludicDesign",
            &["deliberationId", "participantId", "scope", "id"]
        ),
        Some(strings(&["id"]))
    );
    assert_eq!(
        s.unique_key_within("ludicDesign", &["deliberationId", "participantId", "scope"]),
        Some(strings(&["deliberationId", "participantId", "scope"]))
    );
    assert_eq!(
        s.unique_key_within("ludicDesign", &["deliberationId"]),
        None
    );

    // Schema and migration agree, so both are sources and nothing is in dispute.
    let design = table(s, "LudicDesign");
    assert!(design
        .sources
        .iter()
        .any(|x| x.starts_with("prisma/schema.prisma:")));
    assert!(design
        .sources
        .iter()
        .any(|x| x.starts_with("prisma/migrations/20251101093000_init/migration.sql:")));
    assert!(
        d.notes.iter().all(|n| !n.contains("LudicDesign")),
        "{:#?}",
        d.notes
    );
}

#[test]
fn prisma_multi_file_schema() {
    let d = run("prisma-multi");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let s = &d.schema;
    assert_eq!(names(s), ["TagOnPost", "posts", "teams", "users"]);
    let post = table(s, "post");
    assert_eq!(post.unique, [strings(&["authorId", "slug"])]);
    assert_eq!(post.version_column.as_deref(), Some("revision"));
    let author = s
        .foreign_keys_between("Post", "User")
        .next()
        .expect("post → user");
    assert_eq!(
        author.references, "users",
        "model name resolved across files to its @@map"
    );
    assert_eq!(author.on_delete, OnDelete::Cascade);
    assert_eq!(author.source, "prisma/schema/post.prisma:13");
    // An optional relation without onDelete: Prisma's default is SetNull.
    let team = s
        .foreign_keys_between("user", "team")
        .next()
        .expect("user → team");
    assert_eq!(team.on_delete, OnDelete::SetNull);
    assert_eq!(
        table(s, "tagOnPost").primary_key,
        strings(&["postId", "tag"])
    );
    assert!(s.version_column("user").is_none());
}

#[test]
fn sql_migrations_in_order() {
    let d = run("migrations");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let s = &d.schema;
    assert_eq!(
        names(s),
        ["accounts", "entries", "transfers"],
        "renamed, and scratch dropped"
    );

    let accounts = table(s, "accounts");
    assert_eq!(accounts.primary_key, ["id"]);
    assert_eq!(accounts.unique, [strings(&["owner_id", "currency"])]);
    assert_eq!(accounts.version_column.as_deref(), Some("version"));

    let entries = table(s, "entries");
    let to_account = s
        .foreign_keys_between("entries", "accounts")
        .next()
        .unwrap();
    assert_eq!(to_account.on_delete, OnDelete::Cascade);
    assert_eq!(to_account.referenced_columns, ["id"]);
    let to_transfer = s
        .foreign_keys_between("entries", "transfers")
        .next()
        .unwrap();
    assert_eq!(to_transfer.on_delete, OnDelete::SetNull);
    assert_eq!(
        to_transfer.source,
        "migrations/20240210090000_transfers.up.sql:19"
    );
    assert_eq!(
        entries.sources,
        ["migrations/20240105120000_create_accounts.sql:13"]
    );

    // The rollback file would have dropped it.
    let transfers = table(s, "transfers");
    assert_eq!(transfers.primary_key, ["id"]);
    assert_eq!(transfers.unique, [strings(&["idempotency_key"])]);
    let actions: Vec<OnDelete> = transfers
        .foreign_keys
        .iter()
        .map(|fk| fk.on_delete)
        .collect();
    assert_eq!(
        actions,
        [OnDelete::NoAction, OnDelete::Restrict],
        "absent ON DELETE is no action"
    );

    // `ALTER COLUMN … SET STATISTICS`, which sqlparser cannot read, changes no
    // key: it is passed over without a note, as valid PostgreSQL should be.
    assert!(
        d.notes
            .iter()
            .all(|n| !n.starts_with("migrations/20240210090000_transfers.up.sql:15:")),
        "{:#?}",
        d.notes
    );
}

#[test]
fn drizzle_tables_with_their_generated_migration() {
    let d = run("drizzle");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let s = &d.schema;
    assert_eq!(names(s), ["cards", "deck_tags", "decks", "reviews"]);
    // The variable name is how code reaches the table.
    assert_eq!(s.table_key("deckTags"), "deck_tags");

    let cards = table(s, "cards");
    assert_eq!(cards.version_column.as_deref(), Some("version"));
    assert_eq!(
        s.foreign_keys_between("cards", "decks")
            .next()
            .unwrap()
            .on_delete,
        OnDelete::Cascade
    );
    // The unique index is found whichever spelling of the column the caller uses.
    assert!(s
        .unique_key_within("cards", &["deckId", "position"])
        .is_some());
    assert!(s
        .unique_key_within("cards", &["deck_id", "position"])
        .is_some());

    let review_card = s.foreign_keys_between("reviews", "cards").next().unwrap();
    assert_eq!(review_card.on_delete, OnDelete::NoAction);
    assert!(review_card.blocks_parent_delete());
    assert_eq!(table(s, "deckTags").primary_key.len(), 2);

    // Both the TypeScript and the SQL are sources; they agree, so no disputes.
    assert_eq!(cards.sources.len(), 2, "{:?}", cards.sources);
    assert!(
        d.notes.iter().all(|n| !n.starts_with("table")),
        "{:#?}",
        d.notes
    );
}

#[test]
fn diesel_schema_with_migrations() {
    let d = run("diesel");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let s = &d.schema;
    assert_eq!(names(s), ["app_users", "comments", "posts"]);
    assert_eq!(
        s.table_key("users"),
        "app_users",
        "the module name is the alias"
    );

    // The migration says CASCADE; joinable! alone says nothing.
    let post_user = s.foreign_keys_between("posts", "users").next().unwrap();
    assert_eq!(post_user.on_delete, OnDelete::Cascade);
    assert!(post_user.on_delete_known);
    // No migration for comments: the action is unknown and must not block.
    let comment_post = s.foreign_keys_between("comments", "posts").next().unwrap();
    assert!(!comment_post.on_delete_known);
    assert!(!comment_post.blocks_parent_delete());
    assert_eq!(comment_post.referenced_columns, ["id"]);

    assert_eq!(
        table(s, "users").unique,
        [strings(&["email"])],
        "unique only the migration knows"
    );
    assert_eq!(s.version_column("posts"), Some("version"));
}

#[test]
fn sea_orm_entities() {
    let d = run("sea-orm");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let s = &d.schema;
    assert_eq!(names(s), ["cake", "cake_filling", "filling"]);
    assert_eq!(s.table_key("cake_filling::Entity"), "cake_filling");
    assert_eq!(s.table_key("CakeFilling"), "cake_filling");
    let cf = table(s, "cake_filling");
    assert_eq!(cf.primary_key, ["cake_id", "filling_id"]);
    assert_eq!(
        s.foreign_keys_between("cake_filling", "cake")
            .next()
            .unwrap()
            .on_delete,
        OnDelete::Cascade
    );
    let filling = s
        .foreign_keys_between("cake_filling", "filling")
        .next()
        .unwrap();
    assert_eq!(filling.on_delete, OnDelete::NoAction);
    assert!(filling.on_delete_known);
    assert_eq!(s.version_column("cake"), Some("version"));
    assert_eq!(table(s, "cake").unique, [strings(&["name"])]);
}

#[test]
fn typeorm_entities() {
    let d = run("typeorm");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let s = &d.schema;
    assert_eq!(names(s), ["coupons", "purchase_order", "users"]);
    assert_eq!(s.table_key("PurchaseOrder"), "purchase_order");
    let order = table(s, "PurchaseOrder");
    assert_eq!(order.version_column.as_deref(), Some("version"));
    assert!(order.unique.contains(&strings(&["customerId", "number"])));
    assert!(order.unique.contains(&strings(&["externalRef"])));
    let customer = s
        .foreign_keys_between("PurchaseOrder", "User")
        .next()
        .unwrap();
    assert_eq!(customer.columns, ["customerId"]);
    assert_eq!(customer.on_delete, OnDelete::Cascade);
    let coupon = s
        .foreign_keys_between("PurchaseOrder", "Coupon")
        .next()
        .unwrap();
    assert_eq!(coupon.columns, ["couponId"]);
    assert_eq!(
        coupon.referenced_columns,
        ["code"],
        "the referenced primary key"
    );
    assert_eq!(coupon.on_delete, OnDelete::NoAction);
    assert_eq!(table(s, "User").unique, [strings(&["email"])]);
}

#[test]
fn a_broken_file_is_reported_and_the_rest_still_read() {
    let d = run("broken");
    let s = &d.schema;
    assert_eq!(names(s), ["Invite", "invites"]);
    assert!(s.unique_key_within("invites", &["email"]).is_some());

    let mut errors: Vec<(&str, u32)> = d
        .errors
        .iter()
        .map(|e| {
            assert_eq!(e.kind, ErrorKind::SchemaError);
            (e.path.as_str(), e.position.map_or(0, |p| p.line))
        })
        .collect();
    errors.sort();
    assert_eq!(
        errors,
        [
            ("migrations/0001_bad.sql", 2),
            ("prisma/schema/bad.prisma", 3)
        ]
    );
}

#[test]
fn unreadable_and_oversized_files_do_not_stop_discovery() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::write(root.join("schema.prisma"), "model A {\n  id Int @id\n}\n").unwrap();
    std::fs::create_dir(root.join("migrations")).unwrap();
    std::fs::write(
        root.join("migrations/latin1.sql"),
        b"CREATE TABLE caf\xe9 (id int);\n",
    )
    .unwrap();
    std::fs::write(root.join("migrations/dump.sql"), "-- x\n".repeat(1_400_000)).unwrap();
    std::fs::create_dir(root.join("node_modules")).unwrap();
    std::fs::write(
        root.join("node_modules/lib.prisma"),
        "model Hidden {\n id Int @id\n}\n",
    )
    .unwrap();
    std::fs::write(root.join(".gitignore"), "ignored/\n").unwrap();
    std::fs::create_dir(root.join("ignored")).unwrap();
    std::fs::write(
        root.join("ignored/x.prisma"),
        "model Ignored {\n id Int @id\n}\n",
    )
    .unwrap();

    let d = discover(root);
    assert_eq!(names(&d.schema), ["A"]);
    let mut kinds: Vec<(&str, ErrorKind)> =
        d.errors.iter().map(|e| (e.path.as_str(), e.kind)).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            ("migrations/dump.sql", ErrorKind::Skipped),
            ("migrations/latin1.sql", ErrorKind::ReadError)
        ]
    );
}

#[test]
fn outputs_are_stable_and_follow_the_contract() {
    let d = run("prisma");
    let root = fixture("prisma");
    let json = to_json(&d.schema, &d.databases, &root);
    assert_eq!(
        json,
        to_json(&run("prisma").schema, &d.databases, &root),
        "two runs, same document"
    );
    assert_eq!(json["version"], 1);
    let trace = json["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "ludic_traces")
        .unwrap();
    assert_eq!(trace["version_column"], "version");
    assert_eq!(
        trace["aliases"],
        serde_json::json!(["LudicTrace", "ludicTrace"])
    );
    let on_delete: Vec<&str> = trace["foreign_keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["on_delete"].as_str().unwrap())
        .collect();
    assert!(on_delete.contains(&"restrict") && on_delete.contains(&"cascade"));
    let deliberation = json["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "Deliberation")
        .unwrap();
    assert!(deliberation.get("version_column").is_none());

    let text = render_text(&d.schema, &d.databases, &root, &d.notes, false);
    assert!(
        text.contains("ludic_traces  (code: LudicTrace, ludicTrace)"),
        "{text}"
    );
    assert!(
        text.contains("(posDesignId) -> LudicDesign(id)  on delete restrict"),
        "{text}"
    );
}

#[test]
#[ignore = "prints a fixture's schema: RACELINT_FIXTURE=prisma cargo test --test schema show -- --ignored --nocapture"]
fn show() {
    let name = std::env::var("RACELINT_FIXTURE").unwrap_or_else(|_| "prisma".into());
    let d = run(&name);
    println!(
        "{}",
        render_text(&d.schema, &d.databases, &fixture(&name), &d.notes, true)
    );
    println!("{:#?}", d.errors);
}

#[test]
fn sqlalchemy_models_and_alembic_revisions() {
    let d = run("sqlalchemy");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let s = &d.schema;
    assert_eq!(
        names(s),
        [
            "characters",
            "organizations",
            "scenes",
            "stories",
            "story_tags"
        ],
        "tests/ models are fixtures, `drafts` was dropped"
    );

    // The class name finds the table; `id` comes from the project's RecordModel.
    let story = table(s, "Story");
    assert_eq!(story.name, "stories");
    assert_eq!(story.primary_key, strings(&["id"]));
    assert_eq!(story.version_column.as_deref(), Some("revision"));
    // The revision after the first (by `down_revision`, not by file name) dropped
    // the slug constraint, whose name is a module constant, and made a partial index.
    assert_eq!(
        story.unique,
        [strings(&["organization_id", "title"]), strings(&["slug"])]
    );
    let org = s
        .foreign_keys_between("Story", "Organization")
        .next()
        .unwrap();
    assert_eq!(org.columns, ["organization_id"]);
    assert_eq!(org.on_delete, OnDelete::Cascade);
    assert!(org
        .source
        .starts_with("migrations/versions/9a7b_initial.py:"));
    assert!(story.sources.iter().any(|x| x == "app/models/story.py:19"));

    // Single-table inheritance: DialogueScene is `scenes`, and its key is scenes'.
    let scenes = table(s, "DialogueScene");
    assert_eq!(scenes.name, "scenes");
    let speaker = s
        .foreign_keys_between("scenes", "organizations")
        .next()
        .expect("batch_alter_table foreign key");
    assert_eq!(speaker.on_delete, OnDelete::SetNull);
    // `op.execute` SQL is replayed too.
    assert_eq!(
        s.unique_key_within("Scene", &["story_id", "scene_number"]),
        Some(strings(&["story_id", "scene_number"]))
    );
    let story_fk = s.foreign_keys_between("scenes", "stories").next().unwrap();
    assert_eq!(story_fk.on_delete, OnDelete::NoAction);
    assert!(story_fk.blocks_parent_delete());

    let characters = table(s, "characters");
    assert_eq!(characters.unique, [strings(&["story_id", "name"])]);
    assert_eq!(
        s.foreign_keys_between("characters", "stories")
            .next()
            .unwrap()
            .on_delete,
        OnDelete::Cascade
    );

    // A key created unnamed is dropped by the name PostgreSQL gave it, and made again.
    let owners: Vec<_> = s
        .foreign_keys_between("characters", "organizations")
        .collect();
    assert_eq!(owners.len(), 1, "{owners:?}");
    assert_eq!(owners[0].on_delete, OnDelete::Cascade);

    // `Table(…)` is aliased by its variable.
    let tags = table(s, "story_tags");
    assert_eq!(tags.primary_key, strings(&["story_id", "tag"]));
    assert_eq!(
        s.foreign_keys_between("story_tags", "Story")
            .next()
            .unwrap()
            .on_delete,
        OnDelete::Cascade
    );
}

#[test]
fn django_models() {
    let d = run("django");
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let s = &d.schema;
    assert_eq!(
        names(s),
        [
            "accounts_account",
            "catalog_products",
            "catalog_products_tags",
            "legacy_coupon",
            "marketing_campaigns",
            "shop_digitalproduct",
            "shop_invoice",
            "shop_order",
            "shop_tag"
        ],
        "abstract and proxy models, choices, tests and migrations are no tables"
    );
    // The app label of a `models/` package is the package's parent.
    let account = table(s, "Account.objects");
    assert_eq!(account.name, "accounts_account");
    assert_eq!(
        account.primary_key,
        strings(&["id"]),
        "Django's implicit id"
    );
    assert_eq!(account.unique, [strings(&["email"])]);
    let referrer = s.foreign_keys_between("Account", "Account").next().unwrap();
    assert_eq!(referrer.columns, ["referrer_id"]);
    assert_eq!(referrer.on_delete, OnDelete::SetNull);

    // Fields and Meta of abstract bases in another app; `db_table` wins.
    let product = table(s, "Product");
    assert_eq!(product.name, "catalog_products");
    assert!(product.aliases.contains(&"ProductProxy".to_string()));
    assert_eq!(
        product.unique,
        [strings(&["sku"]), strings(&["owner_id", "slug"])]
    );
    let owner = s.foreign_keys_between("Product", "Account").next().unwrap();
    assert_eq!(owner.on_delete, OnDelete::Cascade);
    assert_eq!(owner.source, "core/models.py:12");

    // PROTECT refuses the parent delete; a conditional UniqueConstraint is a key.
    let order = table(s, "Order");
    assert_eq!(order.primary_key, strings(&["number"]));
    assert_eq!(order.unique, [strings(&["buyer_id", "product_id"])]);
    let product_fk = s.foreign_keys_between("Order", "Product").next().unwrap();
    assert_eq!(product_fk.on_delete, OnDelete::Restrict);
    assert!(product_fk.blocks_parent_delete());
    let buyer = order
        .foreign_keys
        .iter()
        .find(|f| f.columns == ["buyer_id"])
        .unwrap();
    assert_eq!(buyer.references, "auth_user", "no custom user model here");
    assert_eq!(buyer.on_delete, OnDelete::NoAction);

    let invoice = table(s, "Invoice");
    assert_eq!(invoice.unique, [strings(&["order_number"])], "one-to-one");
    let to_order = &invoice.foreign_keys[0];
    assert_eq!(to_order.references, "shop_order");
    assert_eq!(to_order.referenced_columns, ["number"]);

    // Multi-table inheritance and the implicit many-to-many table.
    let digital = table(s, "DigitalProduct");
    assert_eq!(digital.primary_key, strings(&["product_ptr_id"]));
    assert_eq!(digital.foreign_keys[0].references, "catalog_products");
    let through = table(s, "catalog_products_tags");
    assert_eq!(through.unique, [strings(&["product_id", "tag_id"])]);
    assert!(s.related("catalog_products_tags", "shop_tag"));

    // Migrations add the tables no model declares, replayed in dependency order:
    // AlterField took `code`'s own key away, AlterUniqueTogether and AddConstraint
    // name fields, which are columns `order_id` and `campaign_id`.
    let coupon = table(s, "Coupon.objects");
    assert_eq!(coupon.name, "legacy_coupon");
    assert_eq!(
        coupon.unique,
        [
            strings(&["order_id", "code"]),
            strings(&["campaign_id", "code"])
        ]
    );
    let campaign = s.foreign_keys_between("Coupon", "Campaign").next().unwrap();
    assert_eq!(
        campaign.references, "marketing_campaigns",
        "through its db_table"
    );
    assert_eq!(campaign.on_delete, OnDelete::SetNull);
    assert_eq!(
        campaign.source,
        "legacy/migrations/0002_coupon_campaign.py:12"
    );
    assert_eq!(
        s.foreign_keys_between("Coupon", "Order")
            .next()
            .unwrap()
            .on_delete,
        OnDelete::Cascade
    );
    // A table a model declares keeps the model's keys: shop's migration is older.
    assert_eq!(table(s, "Tag").sources, ["shop/models.py:22"]);
}

/// What PostgreSQL accepts parses; only migration folders (and the configured
/// ones) are replayed; files holding both directions apply their up part.
#[test]
fn valid_sql_parses_and_only_migrations_are_replayed() {
    let root = fixture("sql-sources");
    let config =
        racelint::config::parse("[schema]\nmigrations = [\"sql/extra/**\"]\n", "-", &[]).unwrap();
    let configured = racelint::schema::MigrationFolders::new(&config.into(), &root).unwrap();
    let d = racelint::schema::discover_with(&root, &configured);
    assert!(d.errors.is_empty(), "{:?}", d.errors);
    let s = &d.schema;
    assert_eq!(
        names(s),
        [
            "audit_entries",
            "invoices",
            "orders",
            "payments",
            "tags",
            "users"
        ],
        "scripts/rename_users.sql is no migration; down parts and down.sql are not applied"
    );
    // A partial unique index is a key (its condition is not kept).
    assert_eq!(table(s, "users").unique, [strings(&["email"])]);
    // `NOT VALID` still adds the key.
    let fk = s.foreign_keys_between("orders", "users").next().unwrap();
    assert_eq!(fk.on_delete, OnDelete::Cascade);
    assert_eq!(fk.source, "migrations/0001_init.sql:13");
    assert_eq!(
        s.foreign_keys_between("invoices", "orders")
            .next()
            .unwrap()
            .source,
        "migrations/0004_goose_invoices.sql:3"
    );
    assert_eq!(
        s.foreign_keys_between("payments", "invoices")
            .next()
            .unwrap()
            .on_delete,
        OnDelete::Cascade
    );
    assert!(
        d.notes.iter().any(|n| n.contains("ClickHouse")),
        "{:#?}",
        d.notes
    );
    assert!(
        d.notes.iter().all(|n| !n.contains("cannot read")),
        "{:#?}",
        d.notes
    );

    // Without the configuration, sql/extra is not a migration folder.
    let plain = discover(&root);
    assert!(plain.schema.table("audit_entries").is_none());
}

#[test]
fn the_schema_command_reads_the_configured_migration_folders() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_racelint"))
        .args(["schema", "--format", "json"])
        .arg(fixture("sql-sources"))
        .output()
        .unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = json["tables"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(names.contains(&"audit_entries"), "{names:?}");
    assert!(!names.contains(&"users_archive"), "{names:?}");
}

const UNIQUE_INVITE: &str = "model Invite {\n  id     String @id\n  email  String\n  teamId String\n  @@unique([email, teamId])\n}\n";
const PLAIN_INVITE: &str =
    "model Invite {\n  id     String @id\n  email  String\n  teamId String\n}\n";

/// A scratch monorepo: a repository root with a workspace `package.json`, and
/// these files.
fn monorepo(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = common::tree(files);
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    common::write(dir.path(), "package.json", "{ \"private\": true }\n");
    dir
}

/// `(path, confidence, confidence_reason)` of each check-then-act finding.
fn confidences(doc: &serde_json::Value) -> Vec<(String, String, String)> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["rule"] == "check-then-act")
        .map(|f| {
            let text = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (text("path"), text("confidence"), text("confidence_reason"))
        })
        .collect()
}

fn conflicts(doc: &serde_json::Value) -> Vec<serde_json::Value> {
    doc["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "schema-conflict")
        .cloned()
        .collect()
}

#[test]
fn each_package_sees_its_own_schema() {
    let dir = monorepo(&[
        ("packages/a/package.json", "{}"),
        ("packages/a/prisma/schema.prisma", UNIQUE_INVITE),
        ("packages/a/src/invite.ts", common::GET_OR_CREATE),
        ("packages/b/package.json", "{}"),
        ("packages/b/prisma/schema.prisma", PLAIN_INVITE),
        ("packages/b/src/invite.ts", common::GET_OR_CREATE),
    ]);
    let (_, doc) = common::check_json(dir.path(), &["--min-confidence", "low"]);
    let found = confidences(&doc);
    assert_eq!(found.len(), 2, "{doc:#}");
    let (a, b) = (&found[0], &found[1]);
    assert_eq!(a.0, "packages/a/src/invite.ts");
    assert!(a.2.contains("the unique key on (email, teamId)"), "{a:?}");
    // Package A's unique key does not quiet package B, whose schema lacks it.
    assert_eq!(b.0, "packages/b/src/invite.ts");
    assert_eq!(b.1, "high", "{b:?}");
    assert!(b.2.contains("no unique key on (email, teamId)"), "{b:?}");
    // Every file takes `invite` from its own package: no file sees them merged.
    assert!(conflicts(&doc).is_empty(), "{doc:#}");
}

#[test]
fn a_package_without_a_schema_uses_the_shared_one() {
    let dir = monorepo(&[
        ("packages/db/package.json", "{}"),
        ("packages/db/prisma/schema.prisma", UNIQUE_INVITE),
        (
            "packages/teams/prisma/schema.prisma",
            "model Team {\n  id   String @id\n  slug String @unique\n}\n",
        ),
        ("packages/teams/src/invite.ts", common::GET_OR_CREATE),
        ("apps/web/package.json", "{}"),
        ("apps/web/src/invite.ts", common::GET_OR_CREATE),
    ]);
    let (_, doc) = common::check_json(dir.path(), &["--min-confidence", "low"]);
    let found = confidences(&doc);
    assert_eq!(found.len(), 2, "{doc:#}");
    // An app with no schema, and a package whose schema has no `invite`, see the
    // shared package's table.
    for (path, _, reason) in &found {
        assert!(
            reason.contains("the unique key on (email, teamId)"),
            "{path}: {reason}"
        );
    }
}

#[test]
fn two_packages_that_disagree_on_a_table_are_one_warning() {
    let dir = monorepo(&[
        ("packages/a/package.json", "{}"),
        ("packages/a/prisma/schema.prisma", UNIQUE_INVITE),
        ("packages/a/src/invite.ts", common::GET_OR_CREATE),
        ("packages/b/package.json", "{}"),
        ("packages/b/prisma/schema.prisma", PLAIN_INVITE),
        ("apps/web/package.json", "{}"),
        ("apps/web/src/invite.ts", common::GET_OR_CREATE),
        ("apps/web/src/again.ts", common::GET_OR_CREATE),
    ]);
    let (_, doc) = common::check_json(dir.path(), &[]);
    let found = conflicts(&doc);
    assert_eq!(found.len(), 1, "{doc:#}");
    assert_eq!(found[0]["path"], "packages/a/prisma/schema.prisma");
    assert_eq!(found[0]["line"], 1);
    let message = found[0]["message"].as_str().unwrap();
    for part in [
        "table `Invite`",
        "packages/a/prisma/schema.prisma:1",
        "packages/b/prisma/schema.prisma:1",
        "unique (email, teamId) only in the first",
    ] {
        assert!(message.contains(part), "{part}: {message}");
    }
    let out = common::racelint(dir.path(), &["check"]);
    let lines: Vec<String> = common::stderr(&out)
        .lines()
        .filter(|l| l.contains("schema-conflict"))
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), 1, "{}", common::both(&out));
    assert!(lines[0].contains("packages/b/prisma/schema.prisma:1"));

    // Linting package A alone, no file of the run sees the merged table.
    let (_, doc) = common::check_json(dir.path(), &["packages/a"]);
    assert!(conflicts(&doc).is_empty(), "{doc:#}");
    // `racelint schema` names every conflict.
    let out = common::racelint(dir.path(), &["schema"]);
    assert!(
        common::stderr(&out).contains("schema-conflict"),
        "{}",
        common::both(&out)
    );
}
