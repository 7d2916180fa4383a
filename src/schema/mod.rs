//! The database schema racelint discovered: tables, keys, foreign keys, version columns.
//!
//! Built once per run from every schema source under the project root (Prisma
//! schemas, SQL migrations, Drizzle tables, Diesel `table!`, SeaORM and TypeORM
//! entities) before the rules run. Rules ask it questions by the names code uses
//! (`prisma.ludicTrace`, a Drizzle variable `cards`, a Diesel module `users`).

use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnDelete {
    Cascade,
    SetNull,
    SetDefault,
    Restrict,
    NoAction,
}

impl OnDelete {
    /// Whether deleting the parent row takes care of the children by itself.
    pub fn handles_children(self) -> bool {
        matches!(
            self,
            OnDelete::Cascade | OnDelete::SetNull | OnDelete::SetDefault
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ForeignKey {
    pub columns: Vec<String>,
    /// The referenced table's database name.
    pub references: String,
    pub referenced_columns: Vec<String>,
    pub on_delete: OnDelete,
    /// `file:line` the fact came from.
    pub source: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Table {
    /// The table's name in the database.
    pub name: String,
    /// Names code uses for it: Prisma model and client property, Drizzle variable, Diesel module.
    pub aliases: Vec<String>,
    /// `file:line` of each declaration.
    pub sources: Vec<String>,
    pub primary_key: Vec<String>,
    pub unique: Vec<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_column: Option<String>,
    pub foreign_keys: Vec<ForeignKey>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Schema {
    pub tables: Vec<Table>,
}

/// A folded form of a name, so that `LudicTrace`, `ludicTrace`, `ludic_trace` and
/// `ludic_traces` meet.
pub fn fold_name(name: &str) -> String {
    let base = name.rsplit('.').next().unwrap_or(name);
    let mut folded: String = base
        .chars()
        .filter(|c| *c != '_' && *c != '"' && *c != '`')
        .flat_map(char::to_lowercase)
        .collect();
    if folded.ends_with("ies") && folded.len() > 4 {
        folded.truncate(folded.len() - 3);
        folded.push('y');
    } else if folded.ends_with("ses") || folded.ends_with("xes") {
        folded.truncate(folded.len() - 2);
    } else if folded.ends_with('s') && !folded.ends_with("ss") && folded.len() > 1 {
        folded.pop();
    }
    folded
}

impl Schema {
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    /// The table a code name refers to: exact database name, then an alias, then
    /// the folded form of either.
    pub fn table(&self, code_name: &str) -> Option<&Table> {
        self.tables
            .iter()
            .find(|t| t.name == code_name || t.aliases.iter().any(|a| a == code_name))
            .or_else(|| {
                let folded = fold_name(code_name);
                self.tables.iter().find(|t| {
                    fold_name(&t.name) == folded || t.aliases.iter().any(|a| fold_name(a) == folded)
                })
            })
    }

    /// A stable identity for a code name: the database name when known, else the folded name.
    pub fn table_key(&self, code_name: &str) -> String {
        match self.table(code_name) {
            Some(t) => t.name.clone(),
            None => fold_name(code_name),
        }
    }

    /// The foreign keys of `child` that point at `parent`.
    pub fn foreign_keys_between<'a>(
        &'a self,
        child: &str,
        parent: &str,
    ) -> impl Iterator<Item = &'a ForeignKey> + 'a {
        let parent_key = self.table_key(parent);
        self.table(child)
            .into_iter()
            .flat_map(|t| t.foreign_keys.iter())
            .filter(move |fk| self.table_key(&fk.references) == parent_key)
    }

    /// Whether one table references the other by a foreign key, either way.
    pub fn related(&self, a: &str, b: &str) -> bool {
        self.foreign_keys_between(a, b).next().is_some()
            || self.foreign_keys_between(b, a).next().is_some()
    }

    /// Tables whose foreign keys point at `parent`, each with the key.
    pub fn children_of<'a>(&'a self, parent: &str) -> Vec<(&'a Table, &'a ForeignKey)> {
        let parent_key = self.table_key(parent);
        self.tables
            .iter()
            .flat_map(|t| t.foreign_keys.iter().map(move |fk| (t, fk)))
            .filter(|(_, fk)| self.table_key(&fk.references) == parent_key)
            .collect()
    }

    /// A unique key (or the primary key) made only of `columns`, if the schema has one.
    pub fn unique_key_within(&self, table: &str, columns: &[&str]) -> Option<Vec<String>> {
        let t = self.table(table)?;
        std::iter::once(&t.primary_key)
            .chain(t.unique.iter())
            .filter(|key| !key.is_empty())
            .find(|key| {
                key.iter()
                    .all(|k| columns.iter().any(|c| fold_name(c) == fold_name(k)))
            })
            .cloned()
    }

    pub fn version_column(&self, table: &str) -> Option<&str> {
        self.table(table)?.version_column.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_names_meet() {
        assert_eq!(fold_name("LudicTrace"), fold_name("ludic_traces"));
        assert_eq!(fold_name("categories"), fold_name("Category"));
        assert_eq!(fold_name("public.users"), "user");
        assert_eq!(fold_name("address"), "address");
    }
}
