//! Calls no client recognises as a statement of its own: raw SQL through the
//! shared classifier, timers and in-process locks, and calls of this file's
//! functions (linked later by `ir::inline`).

use super::*;

impl<'t> FnLowerer<'_, 't> {
    pub(super) fn sql_call(
        &mut self,
        node: Node<'t>,
        client: Client,
        handle: String,
        site: Node<'t>,
        sql_text: crate::frontend::python::syntax::SqlText<'t>,
        binds: Option<Node<'t>>,
    ) -> Taint {
        let bind_nodes = binds.map(|b| dict_pairs(b, self.src)).unwrap_or_default();
        let param_values: Vec<Value> = sql_text
            .params
            .iter()
            .map(|p| match p {
                SqlParam::Expr(node) => self.value(*node, false),
                SqlParam::Bind(name) => match bind_nodes.iter().find(|(k, _)| k == name) {
                    Some((_, node)) => self.value(*node, false),
                    None => Value {
                        text: format!(":{name}"),
                        ..Value::default()
                    },
                },
            })
            .collect();
        let client = self.client_of(client);
        let mut taint = Taint::default();
        for statement in sql::classify(&sql_text.sql) {
            if matches!(
                statement.kind,
                sql::SqlKind::Commit | sql::SqlKind::Rollback
            ) {
                self.control(node, &handle, Control::Commit);
                continue;
            }
            let Some(mut effect) =
                crate::frontend::effect_from_sql(&statement, client, span_of(node), &|column| {
                    let mut value = Value {
                        atomic: column.atomic,
                        literal: column.literal,
                        ..Value::default()
                    };
                    for p in &column.params {
                        if let Some(v) = param_values.get(p.wrapping_sub(1)) {
                            value.reads.extend(v.reads.iter().copied());
                            value.vars.extend(v.vars.iter().cloned());
                            if value.text.is_empty() {
                                value.text.clone_from(&v.text);
                            }
                        }
                    }
                    value
                })
            else {
                continue;
            };
            effect.site = span_of(site);
            effect.handle.clone_from(&handle);
            let index = self.push_effect(effect, node);
            taint.union(Taint::read(index));
        }
        taint
    }

    pub(super) fn plain_call(&mut self, node: Node<'t>, chain: &Chain<'t>) -> Taint {
        if let Some(site) = runtime::sleep_site(chain, self.src) {
            let mut effect = Effect::new(EffectKind::Sleep, Client::Runtime, span_of(node));
            effect.site = span_of(site);
            self.push_effect(effect, node);
        }
        if let Some(last) = chain.last().filter(|s| s.name == "acquire") {
            let receiver = chain.receiver(chain.segments.len() - 1);
            if runtime::is_process_lock(receiver, self.src, self.locks) {
                let mut effect =
                    Effect::new(EffectKind::ProcessLock, Client::Runtime, span_of(node));
                effect.site = last.name_node.map_or(span_of(node), span_of);
                self.push_effect(effect, node);
            }
        }
        let mut taint = self.expr(chain.root);
        self.record_constructor_call(node, chain);
        let local_call = self.record_local_call(node, chain);
        let last_args = chain.last().and_then(|s| s.args).map(|a| a.id());
        let mut arg_reads = Vec::new();
        for segment in &chain.segments {
            if let Some(args) = segment.args {
                for arg in children(args) {
                    let arg_taint = self.expr(arg);
                    if Some(args.id()) == last_args && arg.kind() != "keyword_argument" {
                        arg_reads.push(arg_taint.reads.clone());
                    }
                    taint.union(arg_taint);
                }
            }
        }
        if let Some(call) = local_call {
            self.func.calls[call].arg_reads = arg_reads;
        }
        if chain.last().is_some_and(|s| SINGLE_ROW.contains(&s.name)) {
            self.single_row(&taint);
        }
        // A constructor's value is the object, not a read it returns.
        if let Some(call) =
            local_call.filter(|&c| !self.func.calls[c].callee.ends_with(".__init__"))
        {
            let mut effect = Effect::new(EffectKind::CallResult, Client::Runtime, span_of(node));
            effect.site = chain
                .last()
                .and_then(|s| s.name_node)
                .map_or(span_of(chain.root), span_of);
            let index = self.push_effect(effect, node);
            self.func.calls[call].result = Some(index);
            taint.union(Taint::read(index));
        }
        taint
    }

    /// A call of a function or method of the project: one this file defines
    /// (`helper(…)`, `self.load_story(…)`, `Service.create(…)`), or one a name
    /// the file imports leads to (`create_user(…)`, `billing.charge(…)`), or a
    /// method of a class a receiver is known to hold (`self.repo.m()` with
    /// `self.repo: UserRepo`, a parameter annotated with a class, a local
    /// constructed from one, `Service(…).m()`).
    pub(super) fn record_local_call(&mut self, node: Node, chain: &Chain) -> Option<usize> {
        let mut callee = self.callee_of(chain)?;
        if clients::is_model_name(&callee)
            && chain.segments.len() == 1
            && chain.segments[0].name.is_empty()
        {
            // A class called: a call of its `__init__`, when the project
            // defines one (`OrderRepository(session)`).
            callee.push_str(".__init__");
        }
        let arguments = chain
            .last()
            .and_then(|s| s.args)
            .map(children)
            .unwrap_or_default();
        Some(self.push_call(node, callee, &arguments))
    }

    /// `OrderRepository(db).place(…)`: the object is built before its method is
    /// called, a call of the class's `__init__` of its own.
    pub(super) fn record_constructor_call(&mut self, node: Node, chain: &Chain) {
        let [construct, _, ..] = chain.segments.as_slice() else {
            return;
        };
        let root = text(chain.root, self.src);
        if chain.root.kind() != "identifier"
            || !construct.name.is_empty()
            || !clients::is_model_name(root)
            || !self.is_project_name(root)
        {
            return;
        }
        let arguments = construct.args.map(children).unwrap_or_default();
        self.push_call(node, format!("{root}.__init__"), &arguments);
    }

    /// Records a call of `callee` with these argument nodes; its index in `calls`.
    fn push_call(&mut self, node: Node, callee: String, arguments: &[Node]) -> usize {
        let args: Vec<String> = arguments
            .iter()
            .filter(|n| n.kind() != "keyword_argument")
            .map(|n| compact(text(*n, self.src)))
            .collect();
        let keywords: Vec<(String, String)> = arguments
            .iter()
            .filter(|n| n.kind() == "keyword_argument")
            .filter_map(|n| {
                Some((
                    text(n.child_by_field_name("name")?, self.src).to_string(),
                    compact(text(n.child_by_field_name("value")?, self.src)),
                ))
            })
            .collect();
        let transaction = self.tx_stack.last().map(|(tx, _)| *tx).or_else(|| {
            args.iter()
                .chain(keywords.iter().map(|(_, v)| v))
                .find_map(|a| self.implicit.get(a.as_str()).copied())
        });
        self.func.calls.push(LocalCall {
            callee,
            qualified: Vec::new(),
            span: span_of(node),
            transaction,
            arms: self.arms_here(),
            guards: self.current_guards(),
            position: self.func.effects.len(),
            args,
            keywords,
            arg_reads: Vec::new(),
            result: None,
            callbacks: Vec::new(),
            in_loop: self.loop_depth > 0,
        });
        self.func.calls.len() - 1
    }

    /// The name a call is resolved by, or none when it cannot be the project's.
    fn callee_of(&self, chain: &Chain) -> Option<String> {
        if chain.root.kind() != "identifier" || !chain.last()?.is_call() {
            return None;
        }
        let root = text(chain.root, self.src);
        let segments = chain.segments.as_slice();
        let attributes_only = |s: &[crate::frontend::python::syntax::Segment]| {
            s.iter().all(|s| !s.is_call() && !s.name.is_empty())
        };
        let (last, between) = segments.split_last()?;
        match (root, segments) {
            (_, [only]) if only.name.is_empty() => (self.callable.contains(root)
                || self.names.imported.contains(root))
            .then(|| root.to_string()),
            ("self" | "cls", [method]) => {
                if !self.callable.contains(method.name) {
                    return None;
                }
                Some(match &self.class_prefix {
                    Some(class) => format!("{class}.{}", method.name),
                    None => method.name.to_string(),
                })
            }
            ("self" | "cls", [attr, method]) if !attr.is_call() => {
                let class = self.class_prefix.as_deref()?;
                let ty = self
                    .names
                    .attributes
                    .get(&format!("{class}.{}", attr.name))?;
                self.is_project_name(ty)
                    .then(|| format!("{ty}.{}", method.name))
            }
            // `UserService(db).create(…)`.
            (_, [construct, method])
                if construct.name.is_empty()
                    && clients::is_model_name(root)
                    && self.is_project_name(root) =>
            {
                Some(format!("{root}.{}", method.name))
            }
            (_, [method]) if self.types.contains_key(root) => {
                let ty = &self.types[root];
                self.is_project_name(ty)
                    .then(|| format!("{ty}.{}", method.name))
            }
            (_, [method])
                if self.callable.contains(root) && self.callable.contains(method.name) =>
            {
                Some(format!("{root}.{}", method.name))
            }
            _ if attributes_only(between) => {
                let path: Vec<&str> = std::iter::once(root)
                    .chain(between.iter().map(|s| s.name))
                    .chain(std::iter::once(last.name))
                    .collect();
                let dotted = path.join(".");
                self.is_project_name(&dotted)
                    .then_some(dotted)
                    .filter(|_| !self.callable.contains(root) || self.names.imported.contains(root))
            }
            _ => None,
        }
    }

    /// A dotted name whose head the file defines or imports (`UserRepo`,
    /// `billing.charge`, `app.services.users.create_user`).
    pub(super) fn is_project_name(&self, dotted: &str) -> bool {
        let head = dotted.split('.').next().unwrap_or(dotted);
        self.callable.contains(head)
            || self.names.imported.iter().any(|i| {
                dotted == i
                    || dotted
                        .strip_prefix(i.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
            })
    }
}
