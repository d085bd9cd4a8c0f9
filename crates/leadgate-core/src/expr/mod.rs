//! Expressions: lead definitions, scoring rules and grading rules, written in CEL.
//!
//! The language is the [Common Expression Language](https://github.com/google/cel-spec)
//! (parsed and evaluated by the `cel` crate): `&&`, `||`, `!`, comparisons, arithmetic,
//! `in`, `? :`, string functions (`contains`, `startsWith`, `endsWith`, `matches`),
//! `size`, conversions (`int`, `double`, `string`) and the list macros (`exists`, `all`,
//! `exists_one`, `filter`, `map`). On top of it leadgate adds:
//!
//! - **the variables of a scope** ([`schema`]): `contact`, `account`, `responses`,
//!   `engagement`, `qualification`, `scores`, `funnel_position`, `pain` for a contact;
//!   `contact` and `activity` for engagement rules;
//! - **`events(kind, days)`**: how many events of a kind the contact had in the last
//!   days (a literal kind and a literal number of days, 1 to 365);
//! - **a type check when an expression is saved** ([`check`]): unknown variables and
//!   fields (with the closest known name), operators applied to values they do not take
//!   and results of the wrong type are refused with the line and column where they are;
//! - **limits**: at most [`MAX_SOURCE`] bytes, [`check::MAX_NODES`] parts, 32 levels of
//!   nesting and two nested list macros, so that every expression is cheap to run for
//!   every contact.
//!
//! Text that is not known is `""` (a contact without a title has `contact.title == ""`),
//! so that `contact.title.contains("Director")` needs no guard. Numbers are exact:
//! `int` and `double` do not mix without a conversion (`double(engagement.visits_30d) /
//! 2.0`), as in CEL.

pub mod check;
mod compiled;
pub mod facts;
pub mod schema;

use cel::common::ast::{Expr, IdedExpr, LiteralValue, SourceInfo, operators};
pub use schema::{Scope, Type};
use serde::Serialize;

/// Longest expression accepted, in bytes.
pub const MAX_SOURCE: usize = 4_096;
/// Deepest nesting the parser accepts.
const MAX_DEPTH: u16 = 32;
/// Longest window `events(kind, days)` may count over.
pub const MAX_EVENT_DAYS: i64 = 365;

/// What of a contact's events an evaluation must be given: those of its last `days`
/// days (none at all when 0), with their properties when `props`, and, when
/// `last_activity`, when it last did anything, however long ago. A backtest reads no
/// more than that, and an assessment no more properties.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventsRead {
    pub days: i64,
    pub last_activity: bool,
    pub props: bool,
}

impl EventsRead {
    /// Everything any expression may read: the events of the last [`MAX_EVENT_DAYS`].
    pub const ALL: EventsRead = EventsRead { days: MAX_EVENT_DAYS, last_activity: true, props: true };

    /// What either reads.
    pub fn and(self, other: EventsRead) -> EventsRead {
        EventsRead {
            days: self.days.max(other.days),
            last_activity: self.last_activity || other.last_activity,
            props: self.props || other.props,
        }
    }

    /// The earliest event read as of `now`. An event counts within `days` days when
    /// fewer whole days than that separate it from `now`: none earlier than this does.
    pub fn since(&self, now: crate::Timestamp) -> crate::Timestamp {
        crate::Timestamp(now.0 - self.days * crate::time::MICROS_PER_DAY)
    }
}

/// Why an expression was refused, and where.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ExprError {
    pub message: String,
    /// 1-based line and column of the problem, when it has a place.
    pub line: Option<u32>,
    pub column: Option<u32>,
}

impl std::fmt::Display for ExprError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "line {l}, column {c}: {}", self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ExprError {}

/// A count `events(kind, days)` asks for: bound as a variable when evaluated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventCount {
    pub kind: String,
    pub days: i64,
}

/// An expression that parsed and type-checked in its scope.
#[derive(Debug, Clone)]
pub struct Expression {
    source: String,
    ast: IdedExpr,
    result: Type,
    scope: Scope,
    counts: Vec<EventCount>,
    /// The activity kind without which the expression is false, when it starts
    /// `activity.kind == "…" &&` (or is only that).
    required_kind: Option<String>,
    /// The expression evaluated on the facts directly, when every part of it can be
    /// ([`compiled`]).
    compiled: Option<compiled::Node>,
    /// The parts of its compiled `&&` that read neither scores nor grades, found once
    /// when compiled: a backtest asks of every contact ([`Self::false_whatever_scores`]).
    parts_without_scores: Vec<compiled::Node>,
    /// What of a contact's events it reads, found once when compiled: every
    /// assessment asks ([`Self::events_read`]).
    events_read: EventsRead,
}

impl PartialEq for Expression {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source && self.scope == other.scope
    }
}

impl Expression {
    /// Parses and checks `source` for `scope`; its result must be `expect`.
    pub fn compile(source: &str, scope: Scope, expect: &Type) -> Result<Self, ExprError> {
        if source.trim().is_empty() {
            return Err(ExprError { message: "the expression is empty".into(), line: None, column: None });
        }
        if source.len() > MAX_SOURCE {
            return Err(ExprError {
                message: format!("the expression is longer than {MAX_SOURCE} bytes"),
                line: None,
                column: None,
            });
        }
        if let Some(c) = source.chars().find(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
            return Err(ExprError {
                message: format!("the expression contains the control character {c:?}"),
                line: None,
                column: None,
            });
        }
        let parsed = std::panic::catch_unwind(|| {
            cel::parser::Parser::new().max_recursion_depth(MAX_DEPTH).parse_with_source_info(source)
        });
        let (mut ast, info) = match parsed {
            Ok(Ok(parsed)) => parsed,
            Ok(Err(errors)) => {
                let first = errors.errors.first();
                let message = first.map_or_else(|| "the expression does not parse".to_owned(), |e| tidy(&e.msg));
                let (line, column) =
                    first.map(|e| (u32::try_from(e.pos.0).ok(), u32::try_from(e.pos.1).ok())).unwrap_or((None, None));
                return Err(ExprError { message, line, column });
            }
            Err(_) => {
                return Err(ExprError { message: "the expression does not parse".into(), line: None, column: None });
            }
        };
        let at = |id: u64| position(&info, source, id);
        let result = check::Checker::new(scope).check(&ast).map_err(|e| {
            let (line, column) = at(e.id);
            ExprError { message: e.message, line, column }
        })?;
        let numbers = expect.is_numeric() && result.is_numeric();
        if !(result.fits(expect) || numbers) {
            let (line, column) = at(ast.id);
            return Err(ExprError {
                message: format!("the expression gives {result} where {expect} is expected"),
                line,
                column,
            });
        }
        let mut counts = Vec::new();
        bind_event_counts(&mut ast, &mut counts).map_err(|(id, message)| {
            let (line, column) = at(id);
            ExprError { message, line, column }
        })?;
        let required_kind = if scope == Scope::Activity { leading_kind_test(&ast) } else { None };
        let compiled = compiled::compile(&ast);
        let parts_without_scores = compiled.as_ref().map(compiled::Node::parts_without_scores).unwrap_or_default();
        let mut e = Self {
            source: source.to_owned(),
            ast,
            result,
            scope,
            counts,
            required_kind,
            compiled,
            parts_without_scores,
            events_read: EventsRead::default(),
        };
        e.events_read = e.find_events_read();
        Ok(e)
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// The type of the expression's value.
    pub fn result(&self) -> &Type {
        &self.result
    }

    /// The `events(kind, days)` counts the expression reads.
    pub fn event_counts(&self) -> &[EventCount] {
        &self.counts
    }

    /// What of a contact's events evaluating the expression reads: its event counts'
    /// windows, and the engagement figures' (`visits_30d` reads 30 days, `return_visits`
    /// 90, `days_since_last_activity` the last activity), none of their properties.
    /// An engagement rule is evaluated on every activity an assessment is given: it
    /// reads them all, and their properties if it reads `activity.props`.
    pub fn events_read(&self) -> EventsRead {
        self.events_read
    }

    fn find_events_read(&self) -> EventsRead {
        if self.scope == Scope::Activity {
            return EventsRead { props: self.reads("activity", Some("props")), ..EventsRead::ALL };
        }
        let days = |days: i64| EventsRead { days, ..EventsRead::default() };
        let counted = days(self.counts.iter().map(|c| c.days).max().unwrap_or(0));
        let last_activity = EventsRead { last_activity: true, ..EventsRead::default() };
        let figures = match self.fields_read("engagement") {
            None => days(facts::Engagement::LONGEST_WINDOW).and(last_activity),
            Some(fields) => fields.iter().fold(EventsRead::default(), |read, f| {
                read.and(facts::Engagement::window_of(f).map_or(last_activity, days))
            }),
        };
        counted.and(figures)
    }

    /// The activity kind an activity must be of for the expression to be true: an
    /// engagement rule that begins `activity.kind == "download" &&` is false for every
    /// other kind without being evaluated. (Only the first test counts: the interpreter
    /// evaluates `&&` from the left, so it is false, not an error, whatever follows.)
    pub fn required_kind(&self) -> Option<&str> {
        self.required_kind.as_deref()
    }

    /// Whether evaluating the expression may read `variable.field` (or, without a
    /// field, `variable` at all). A variable used otherwise than by reading a field of
    /// it (passed whole to a function, compared) counts as reading every field. What
    /// an evaluation must have computed for the expression, such as the scores a
    /// definition reads.
    pub fn reads(&self, variable: &str, field: Option<&str>) -> bool {
        match self.fields_read(variable) {
            None => true,
            Some(fields) => field.map_or(!fields.is_empty(), |f| fields.iter().any(|r| r == f)),
        }
    }

    /// The fields of `variable` the expression reads, or `None` when it uses the
    /// variable otherwise than by reading fields of it (and so may read any).
    pub fn fields_read(&self, variable: &str) -> Option<Vec<String>> {
        let mut fields = Vec::new();
        fields_in(&self.ast, variable, &mut fields).then_some(fields)
    }

    /// Evaluates the expression on `facts`.
    pub fn evaluate(&self, facts: &facts::Bindings<'_>) -> Result<cel::Value, EvalError> {
        match self.compiled_value(facts).and_then(facts::Value::to_cel) {
            Some(value) => Ok(value),
            None => self.interpret(facts),
        }
    }

    /// Evaluates the expression with the interpreter alone, compiled or not: what the
    /// compiled evaluation must agree with.
    pub fn interpret(&self, facts: &facts::Bindings<'_>) -> Result<cel::Value, EvalError> {
        facts.resolve(&self.ast, &self.counts).map_err(|e| EvalError(describe_failure(&e)))
    }

    /// The compiled evaluation's value, when the expression is compiled and it gives one.
    fn compiled_value<'x>(&'x self, facts: &'x facts::Bindings<'_>) -> Option<facts::Value<'x>> {
        self.compiled.as_ref()?.evaluate(facts.view(), &self.counts)
    }

    /// Whether the expression is evaluated on the facts directly (see [`compiled`])
    /// rather than by the interpreter.
    pub fn is_compiled(&self) -> bool {
        self.compiled.is_some()
    }

    /// Whether the expression is false on `facts` whatever the contact's scores and
    /// grades are: one of the parts of its `&&` that read neither is false. A backtest
    /// turns away most contacts so, without scoring them. `false` when that cannot be
    /// told (or the expression is not compiled): only evaluating it with the scores says.
    pub fn false_whatever_scores(&self, facts: &facts::Bindings<'_>) -> bool {
        let false_here = |part: &compiled::Node| {
            matches!(part.evaluate(facts.view(), &self.counts), Some(facts::Value::Bool(false)))
        };
        self.parts_without_scores.iter().any(false_here)
    }

    /// Evaluates an expression whose result is `bool`.
    pub fn test(&self, facts: &facts::Bindings<'_>) -> Result<bool, EvalError> {
        if let Some(facts::Value::Bool(b)) = self.compiled_value(facts) {
            return Ok(b);
        }
        match self.interpret(facts)? {
            cel::Value::Bool(b) => Ok(b),
            other => Err(EvalError(format!("the expression gave {other:?}, not true or false"))),
        }
    }

    /// Evaluates an expression whose result is a number, as a double.
    pub fn number(&self, facts: &facts::Bindings<'_>) -> Result<f64, EvalError> {
        match self.evaluate(facts)? {
            cel::Value::Int(i) => Ok(i as f64),
            cel::Value::UInt(u) => Ok(u as f64),
            cel::Value::Float(f) => Ok(f),
            other => Err(EvalError(format!("the expression gave {other:?}, not a number"))),
        }
    }
}

/// Why an expression could not be evaluated for one contact (a division by zero, a
/// custom field of another type than the expression assumed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error, utoipa::ToSchema)]
#[error("{0}")]
pub struct EvalError(pub String);

fn describe_failure(e: &cel::ExecutionError) -> String {
    use cel::ExecutionError as E;
    match e {
        E::NoSuchKey(k) => format!("there is no field or key {k:?} here"),
        E::UndeclaredReference(r) if r.starts_with('@') => "an internal value is missing".into(),
        E::UndeclaredReference(r) => format!("{r} is not known here"),
        other => {
            let text = other.to_string();
            if text.to_lowercase().contains("null") {
                format!("{text} (a value was null: scores.likelihood is null until a model is trained)")
            } else {
                text
            }
        }
    }
}

/// The 1-based line and column where the node `id` starts.
fn position(info: &SourceInfo, source: &str, id: u64) -> (Option<u32>, Option<u32>) {
    let Some((start, _)) = info.offset_for(id) else { return (None, None) };
    let start = (start as usize).min(source.len());
    let before = source.get(..start).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (u32::try_from(line).ok(), u32::try_from(column).ok())
}

/// The parser's messages list every token it could have taken; say it shorter.
fn tidy(message: &str) -> String {
    match message.split_once(" expecting ") {
        Some((head, expected)) if expected.len() > 60 => format!("{head}: an expression or an operator was expected"),
        _ => message.to_owned(),
    }
}

/// The kind in `activity.kind == "kind"` (either way round), when `e` is that test or
/// a conjunction that begins with it.
fn leading_kind_test(e: &IdedExpr) -> Option<String> {
    let Expr::Call(call) = &e.expr else { return None };
    if call.target.is_some() {
        return None;
    }
    match (call.func_name.as_str(), call.args.as_slice()) {
        (operators::LOGICAL_AND, [first, ..]) => leading_kind_test(first),
        (operators::EQUALS, [a, b]) => {
            let is_kind = |e: &IdedExpr| {
                matches!(&e.expr, Expr::Select(s) if s.field == "kind" && !s.test
                    && matches!(&s.operand.expr, Expr::Ident(name) if name == "activity"))
            };
            let literal = |e: &IdedExpr| match &e.expr {
                Expr::Literal(LiteralValue::String(s)) => Some(s.inner().to_string()),
                _ => None,
            };
            if is_kind(a) {
                literal(b)
            } else if is_kind(b) {
                literal(a)
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Adds to `fields` those of `variable` that `e` reads; false if `e` uses the variable
/// otherwise (or holds something this does not look into). Of a list (`responses`),
/// what `exists` and `all` read of each item is read of it, and its `size` reads none.
fn fields_in(e: &IdedExpr, variable: &str, fields: &mut Vec<String>) -> bool {
    let is_variable = |e: &IdedExpr| matches!(&e.expr, Expr::Ident(name) if name == variable);
    let children: Vec<&IdedExpr> = match &e.expr {
        Expr::Comprehension(c) if is_variable(&c.iter_range) => {
            let parts = [&c.accu_init, &c.loop_cond, &c.loop_step, &c.result];
            let item_read = c.iter_var != variable
                && c.iter_var2.is_none()
                && parts.iter().all(|part| fields_in(part, &c.iter_var, fields));
            return item_read && parts.iter().all(|part| fields_in(part, variable, fields));
        }
        Expr::Call(c)
            if c.func_name == "size"
                && match (&c.target, c.args.as_slice()) {
                    (None, [of]) => is_variable(of),
                    (Some(of), []) => is_variable(of),
                    _ => false,
                } =>
        {
            return true;
        }
        Expr::Select(s) if matches!(&s.operand.expr, Expr::Ident(name) if name == variable) => {
            if !fields.contains(&s.field) {
                fields.push(s.field.clone());
            }
            return true;
        }
        Expr::Ident(name) => return name != variable,
        Expr::Literal(_) => return true,
        Expr::Select(s) => vec![&s.operand],
        Expr::Call(c) => c.target.iter().map(|t| &**t).chain(&c.args).collect(),
        Expr::List(l) => l.elements.iter().collect(),
        Expr::Map(m) => {
            let mut items = Vec::new();
            for entry in &m.entries {
                let cel::common::ast::EntryExpr::MapEntry(me) = &entry.expr else { return false };
                items.extend([&me.key, &me.value]);
            }
            items
        }
        Expr::Comprehension(c) => vec![&c.iter_range, &c.accu_init, &c.loop_cond, &c.loop_step, &c.result],
        _ => return false,
    };
    children.into_iter().all(|child| fields_in(child, variable, fields))
}

/// Replaces each `events("kind", days)` by a variable `@events_N` whose value the
/// evaluation binds, after checking that both arguments are literals.
fn bind_event_counts(e: &mut IdedExpr, counts: &mut Vec<EventCount>) -> Result<(), (u64, String)> {
    if let Expr::Call(call) = &e.expr
        && call.func_name == "events"
        && call.target.is_none()
    {
        let kind = match call.args.first().map(|a| &a.expr) {
            Some(Expr::Literal(LiteralValue::String(s))) => {
                let kind: &str = s.inner();
                crate::Ident::parse(kind)
                    .ok_or_else(|| (e.id, format!("{kind:?} is not an event kind (lower-case letters, digits, _)")))?
                    .to_string()
            }
            _ => {
                return Err((
                    e.id,
                    "events() takes the event kind as a literal string, as in events(\"page_view\", 30)".into(),
                ));
            }
        };
        let days = match call.args.get(1).map(|a| &a.expr) {
            Some(Expr::Literal(LiteralValue::Int(d))) => *d.inner(),
            _ => {
                return Err((
                    e.id,
                    "events() takes the number of days as a literal, as in events(\"page_view\", 30)".into(),
                ));
            }
        };
        if !(1..=MAX_EVENT_DAYS).contains(&days) {
            return Err((e.id, format!("events() counts over 1 to {MAX_EVENT_DAYS} days, not {days}")));
        }
        let wanted = EventCount { kind, days };
        let n = counts.iter().position(|c| *c == wanted).unwrap_or_else(|| {
            counts.push(wanted);
            counts.len() - 1
        });
        e.expr = Expr::Ident(format!("@events_{n}"));
        return Ok(());
    }
    match &mut e.expr {
        Expr::Call(c) => {
            if let Some(t) = c.target.as_deref_mut() {
                bind_event_counts(t, counts)?;
            }
            for a in &mut c.args {
                bind_event_counts(a, counts)?;
            }
        }
        Expr::Select(s) => bind_event_counts(&mut s.operand, counts)?,
        Expr::List(l) => {
            for item in &mut l.elements {
                bind_event_counts(item, counts)?;
            }
        }
        Expr::Map(m) => {
            for entry in &mut m.entries {
                if let cel::common::ast::EntryExpr::MapEntry(me) = &mut entry.expr {
                    bind_event_counts(&mut me.key, counts)?;
                    bind_event_counts(&mut me.value, counts)?;
                }
            }
        }
        Expr::Comprehension(c) => {
            for part in [&mut c.iter_range, &mut c.accu_init, &mut c.loop_cond, &mut c.loop_step, &mut c.result] {
                bind_event_counts(part, counts)?;
            }
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests;
