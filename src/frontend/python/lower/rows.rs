//! The rows the lowering follows through variables: models built and added to a
//! session, rows deleted or saved through their object, and the attribute
//! changes a commit sends as updates; commits, flushes and rollbacks.

use super::*;

impl<'t> FnLowerer<'_, 't> {
    /// `session.add(obj)`: an insert of a model built by its constructor, with its
    /// keyword arguments and the attributes assigned since.
    pub(super) fn insert_object(
        &mut self,
        object: Node<'t>,
        client: Client,
        handle: &str,
        site: Node<'t>,
        call: Node<'t>,
    ) -> Option<usize> {
        let (table, constructor, name) = match object.kind() {
            "identifier" => {
                let name = text(object, self.src).to_string();
                let origin = self.scope.origins.get(&name)?;
                if !origin.constructed {
                    return None;
                }
                (
                    origin.table.clone(),
                    self.constructors.get(&name).copied(),
                    Some(name),
                )
            }
            "call" => (self.constructed_model(object), Some(object), None),
            // `add_all([Tag(post_id=p, name=n) for n in names])`: one insert per item.
            "list_comprehension" | "generator_expression" => {
                let body = object.child_by_field_name("body")?;
                self.loop_depth += 1;
                for clause in children(object)
                    .into_iter()
                    .filter(|c| c.kind() == "for_in_clause")
                {
                    self.expr(clause);
                }
                let index = self.insert_object(body, client, handle, site, call);
                self.loop_depth -= 1;
                if let Some(index) = index {
                    self.func.effects[index].many = true;
                }
                return index;
            }
            _ => return None,
        };
        let table = table?;
        let mut values = Vec::new();
        if let Some(constructor) = constructor {
            if let Some(args) = constructor.child_by_field_name("arguments") {
                for (column, value) in crate::frontend::python::syntax::keywords(args, self.src) {
                    let value = self.value(value, false);
                    values.push(Field {
                        column: column.to_string(),
                        value,
                    });
                }
            }
        }
        if let Some(name) = &name {
            for (column, _, value, taint) in self.assigned.remove(name).unwrap_or_default() {
                values.retain(|f: &Field| f.column != column);
                values.push(Field {
                    column,
                    value: self.value_of(value, &taint, false),
                });
            }
        }
        let mut effect = Effect::new(EffectKind::Insert, self.client_of(client), span_of(call));
        effect.site = span_of(site);
        effect.table = Some(table.clone());
        effect.values = values;
        effect.handle = handle.to_string();
        let node = if constructor == Some(object) {
            object
        } else {
            call
        };
        let index = self.push_effect(effect, node);
        if let Some(name) = name {
            // Now a row the session tracks: later attribute changes update it.
            self.scope.origins.insert(
                name,
                Origin {
                    client,
                    table: Some(table),
                    read: Some(index),
                    constructed: false,
                    handle: handle.to_string(),
                },
            );
        }
        Some(index)
    }

    /// The row `object` stands for, as a filter on its key.
    pub(super) fn row_key(&self, object: Node<'t>) -> Option<(Origin, Field)> {
        let name = text(object, self.src).to_string();
        let origin = self.scope.origins.get(&name)?.clone();
        let field = Field {
            column: "id".into(),
            value: Value {
                reads: origin.read.into_iter().collect(),
                vars: vec![name.clone()],
                text: format!("{name}.id"),
                ..Value::default()
            },
        };
        Some((origin, field))
    }

    pub(super) fn delete_object(
        &mut self,
        object: Node<'t>,
        client: Client,
        handle: String,
        site: Node<'t>,
        call: Node<'t>,
    ) -> Taint {
        let Some((origin, key)) = self.row_key(object) else {
            return self.expr(object);
        };
        let mut effect = Effect::new(EffectKind::Delete, self.client_of(client), span_of(call));
        effect.site = span_of(site);
        effect.table = origin.table;
        effect.filter = vec![key];
        effect.handle = handle;
        effect.unit_of_work = true;
        Taint::read(self.push_effect(effect, call))
    }

    /// Django's `obj.save()`: an insert of a constructed model, else an update of
    /// the row read before, with the fields assigned since (or `update_fields`).
    pub(super) fn save_object(
        &mut self,
        object: Node<'t>,
        client: Client,
        site: Node<'t>,
        call: Node<'t>,
        update_fields: Option<Vec<String>>,
    ) -> Taint {
        let name = text(object, self.src).to_string();
        let constructed = self.scope.origins.get(&name).is_some_and(|o| o.constructed);
        if constructed {
            let handle = format!("{name}.save");
            return self
                .insert_object(object, client, &handle, site, call)
                .map(Taint::read)
                .unwrap_or_default();
        }
        let Some((origin, key)) = self.row_key(object) else {
            return Taint::default();
        };
        let mut values = Vec::new();
        for (column, _, value, taint) in self.assigned.remove(&name).unwrap_or_default() {
            if update_fields
                .as_ref()
                .is_some_and(|only| !only.contains(&column))
            {
                continue;
            }
            values.push(Field {
                column,
                value: self.value_of(value, &taint, false),
            });
        }
        for column in update_fields.iter().flatten() {
            if !values.iter().any(|f| f.column == *column) {
                values.push(Field {
                    column: column.clone(),
                    value: Value::default(),
                });
            }
        }
        let mut effect = Effect::new(EffectKind::Update, client, span_of(call));
        effect.site = span_of(site);
        effect.table = origin.table;
        effect.filter = vec![key];
        effect.values = values;
        effect.handle = origin.handle;
        Taint::read(self.push_effect(effect, call))
    }

    /// Rows read through SQLAlchemy with attributes assigned since: the updates a
    /// commit (or flush) on `handle` sends, each pointing at its assignments.
    pub(super) fn flush_assigned(&mut self, handle: &str, at: Node<'t>) {
        let mut pending: Vec<(String, Assigned<'t>)> = self
            .assigned
            .iter()
            .filter(|(name, _)| {
                self.scope.origins.get(*name).is_some_and(|o| {
                    !o.constructed
                        && matches!(o.client, Client::Sqlalchemy | Client::SqlalchemyAsync)
                })
            })
            .map(|(n, f)| (n.clone(), f.clone()))
            .collect();
        pending.sort_by_key(|(_, fields)| fields.first().map(|f| f.1.start_byte()));
        for (name, fields) in pending {
            self.assigned.remove(&name);
            let Some(object) = fields.first().and_then(|f| f.1.child_by_field_name("left")) else {
                continue;
            };
            let object = object.child_by_field_name("object").unwrap_or(object);
            let Some((origin, key)) = self.row_key(object) else {
                continue;
            };
            let first = fields[0].1;
            let values = fields
                .iter()
                .map(|(column, _, value, taint)| Field {
                    column: column.clone(),
                    value: self.value_of(*value, taint, false),
                })
                .collect();
            let mut effect =
                Effect::new(EffectKind::Update, self.sqlalchemy_client(), span_of(first));
            effect.site = first
                .child_by_field_name("left")
                .map_or(span_of(first), span_of);
            effect.table = origin.table;
            effect.filter = vec![key];
            effect.values = values;
            effect.handle = handle.to_string();
            self.push_effect(effect, at);
        }
    }

    pub(super) fn control(&mut self, node: Node<'t>, handle: &str, control: Control) {
        match control {
            Control::Commit | Control::Flush => {
                self.flush_assigned(handle, node);
                if self.unique_handled > 0 {
                    if let Some(&tx) = self.implicit.get(handle) {
                        for effect in &mut self.func.effects {
                            if effect.transaction == Some(tx) && effect.is_write() {
                                effect.unique_violation_handled = true;
                            }
                        }
                    }
                }
                if control == Control::Commit {
                    self.implicit.remove(handle);
                }
            }
            Control::Rollback => {
                self.assigned.clear();
                self.implicit.remove(handle);
            }
        }
    }
}
