//! Type checking an expression against the variables of its scope.
//!
//! The `cel` crate parses and evaluates; it does not check types before running. This
//! pass walks the parsed expression once, gives every node a type, and stops at the
//! first node that cannot be right for any contact: an unknown variable or field, an
//! operator applied to values it does not take, a function that does not exist. What
//! is only known when evaluating (custom fields are `dyn`) is let through.

use super::schema::{FUNCTIONS, Object, Scope, Type, variables};
use cel::common::ast::{CallExpr, EntryExpr, Expr, IdedExpr, LiteralValue};

/// Most nodes an expression may have, and most comprehensions (`exists`, `all`, `map`,
/// …) nested in one another: an expression is evaluated for every contact, so its cost
/// is bounded when it is saved.
pub const MAX_NODES: usize = 500;
pub const MAX_NESTED_COMPREHENSIONS: usize = 2;
/// Longest regular expression a `matches` may use, and the size its compiled form may
/// take.
const MAX_REGEX: usize = 200;
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A problem found at the node with this id.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckError {
    pub id: u64,
    pub message: String,
}

pub struct Checker {
    scope: Scope,
    /// The scope's variables, then those comprehensions bind, innermost last.
    names: Vec<(String, Type)>,
    nodes: usize,
    nesting: usize,
}

type Checked = Result<Type, CheckError>;

fn fail(id: u64, message: impl Into<String>) -> CheckError {
    CheckError { id, message: message.into() }
}

/// The known name closest to `name`, if it is close enough to be a likely typo.
fn suggest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    known
        .into_iter()
        .map(|k| (strsim::jaro_winkler(name, k), k))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| format!("; did you mean `{k}`?"))
        .unwrap_or_default()
}

impl Checker {
    pub fn new(scope: Scope) -> Self {
        let names = variables(scope).into_iter().map(|(n, t)| (n.to_owned(), t)).collect();
        Self { scope, names, nodes: 0, nesting: 0 }
    }

    pub fn check(&mut self, e: &IdedExpr) -> Checked {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(fail(e.id, format!("the expression is too large (more than {MAX_NODES} parts)")));
        }
        match &e.expr {
            Expr::Literal(l) => Ok(match l {
                LiteralValue::Boolean(_) => Type::Bool,
                LiteralValue::Int(_) | LiteralValue::UInt(_) => Type::Int,
                LiteralValue::Double(_) => Type::Double,
                LiteralValue::String(_) => Type::String,
                LiteralValue::Null => Type::Null,
                LiteralValue::Bytes(_) => return Err(fail(e.id, "byte strings are not supported; use a string")),
            }),
            Expr::Ident(name) => self.ident(e.id, name),
            Expr::Select(s) => {
                let operand = self.check(&s.operand)?;
                if s.test {
                    return match operand {
                        Type::Map(_) | Type::Dyn => Ok(Type::Bool),
                        Type::Object(o) => self.field(e.id, o, &s.field).map(|_| Type::Bool),
                        other => Err(fail(e.id, format!("has() needs a field of a map or record, not of {other}"))),
                    };
                }
                match operand {
                    Type::Object(o) => self.field(e.id, o, &s.field),
                    Type::Map(v) => Ok(*v),
                    Type::Dyn => Ok(Type::Dyn),
                    other => Err(fail(e.id, format!("`.{}` needs a record or a map, but this is {other}", s.field))),
                }
            }
            Expr::Call(c) => self.call(e.id, c),
            Expr::List(l) => {
                let mut element: Option<Type> = None;
                for item in &l.elements {
                    let t = self.check(item)?;
                    element = Some(match element {
                        None => t,
                        Some(prev) if prev == t => prev,
                        Some(_) => Type::Dyn,
                    });
                }
                Ok(Type::List(Box::new(element.unwrap_or(Type::Dyn))))
            }
            Expr::Map(m) => {
                let mut value: Option<Type> = None;
                for entry in &m.entries {
                    let EntryExpr::MapEntry(entry) = &entry.expr else {
                        return Err(fail(entry.id, "records cannot be built in an expression"));
                    };
                    let k = self.check(&entry.key)?;
                    if !k.fits(&Type::String) {
                        return Err(fail(entry.key.id, format!("map keys are strings, not {k}")));
                    }
                    let t = self.check(&entry.value)?;
                    value = Some(match value {
                        None => t,
                        Some(prev) if prev == t => prev,
                        Some(_) => Type::Dyn,
                    });
                }
                Ok(Type::Map(Box::new(value.unwrap_or(Type::Dyn))))
            }
            Expr::Comprehension(c) => {
                self.nesting += 1;
                if self.nesting > MAX_NESTED_COMPREHENSIONS {
                    return Err(fail(
                        e.id,
                        format!("at most {MAX_NESTED_COMPREHENSIONS} of exists/all/map/filter may be nested"),
                    ));
                }
                let range = self.check(&c.iter_range)?;
                let element = match range {
                    Type::List(t) => *t,
                    Type::Map(_) => Type::String,
                    Type::Dyn => Type::Dyn,
                    other => {
                        return Err(fail(
                            c.iter_range.id,
                            format!("only a list or a map can be gone through, not {other}"),
                        ));
                    }
                };
                let accu = self.check(&c.accu_init)?;
                let before = self.names.len();
                self.names.push((c.iter_var.clone(), element));
                if let Some(v2) = &c.iter_var2 {
                    self.names.push((v2.clone(), Type::Dyn));
                }
                self.names.push((c.accu_var.clone(), accu));
                let cond = self.check(&c.loop_cond)?;
                if !cond.fits(&Type::Bool) {
                    return Err(fail(c.loop_cond.id, format!("the condition must be true or false, not {cond}")));
                }
                let step = self.check(&c.loop_step)?;
                // The accumulator takes the step's type (`[]` starts as a list of dyn).
                if let Some(last) = self.names.last_mut() {
                    last.1 = step;
                }
                let result = self.check(&c.result)?;
                self.names.truncate(before);
                self.nesting -= 1;
                Ok(result)
            }
            Expr::Struct(_) => Err(fail(e.id, "records cannot be built in an expression")),
            Expr::Unspecified => Err(fail(e.id, "incomplete expression")),
        }
    }

    fn ident(&self, id: u64, name: &str) -> Checked {
        if let Some((_, t)) = self.names.iter().rev().find(|(n, _)| n == name) {
            return Ok(t.clone());
        }
        let known: Vec<&str> = self.names.iter().map(|(n, _)| n.as_str()).filter(|n| !n.starts_with('@')).collect();
        Err(fail(
            id,
            format!(
                "unknown variable `{name}`{}; variables are {}",
                suggest(name, known.iter().copied()),
                known.join(", ")
            ),
        ))
    }

    fn field(&self, id: u64, o: &'static Object, name: &str) -> Checked {
        match o.field(name) {
            Some(f) => Ok(f.ty.ty()),
            None => Err(fail(
                id,
                format!(
                    "`{}` has no field `{name}`{}; its fields are {}",
                    o.name,
                    suggest(name, o.fields.iter().map(|f| f.name)),
                    o.fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
                ),
            )),
        }
    }

    fn call(&mut self, id: u64, c: &CallExpr) -> Checked {
        let name = c.func_name.as_str();
        let target = match &c.target {
            Some(t) => Some(self.check(t)?),
            None => None,
        };
        let mut args = Vec::with_capacity(c.args.len());
        for a in &c.args {
            args.push(self.check(a)?);
        }
        let arg_id = |i: usize| c.args.get(i).map_or(id, |a| a.id);
        let bool_ = |t: &Type, i: usize| {
            if t.fits(&Type::Bool) {
                Ok(())
            } else {
                Err(fail(arg_id(i), format!("expected true or false, found {t}")))
            }
        };
        match (name, target.as_ref(), args.as_slice()) {
            ("_&&_" | "_||_", None, [a, b]) => {
                bool_(a, 0)?;
                bool_(b, 1)?;
                Ok(Type::Bool)
            }
            ("!_" | "@not_strictly_false", None, [a]) => {
                bool_(a, 0)?;
                Ok(Type::Bool)
            }
            // Records read their fields when asked (facts.rs) and are not values to compare.
            ("_==_" | "_!=_" | "@in", None, [Type::Object(o), _]) | ("_==_" | "_!=_", None, [_, Type::Object(o)]) => {
                Err(fail(
                    id,
                    format!(
                        "records are not compared whole: compare their fields, as in `{}.{}`",
                        o.name, o.fields[0].name
                    ),
                ))
            }
            ("_==_" | "_!=_", None, [a, b]) => {
                let comparable = a.fits(b)
                    || (a.is_numeric() && b.is_numeric())
                    || matches!(a, Type::Null)
                    || matches!(b, Type::Null);
                if comparable {
                    Ok(Type::Bool)
                } else {
                    Err(fail(id, format!("{a} and {b} are never equal: compare values of the same type")))
                }
            }
            ("_<_" | "_<=_" | "_>_" | "_>=_", None, [a, b]) => {
                let ordered = (a.is_numeric() && b.is_numeric())
                    || (a.fits(&Type::String) && b.fits(&Type::String))
                    || matches!(a, Type::Dyn)
                    || matches!(b, Type::Dyn);
                if ordered {
                    Ok(Type::Bool)
                } else {
                    Err(fail(id, format!("{a} and {b} cannot be ordered: compare two numbers or two strings")))
                }
            }
            ("_+_", None, [a, b]) => match (a, b) {
                (Type::Dyn, t) | (t, Type::Dyn) => Ok(t.clone()),
                (Type::Int, Type::Int) => Ok(Type::Int),
                (Type::Double, Type::Double) => Ok(Type::Double),
                (Type::String, Type::String) => Ok(Type::String),
                (Type::List(x), Type::List(y)) => Ok(Type::List(Box::new(if x == y { *x.clone() } else { Type::Dyn }))),
                _ => Err(self.arithmetic(id, "+", a, b)),
            },
            ("_-_" | "_*_" | "_/_" | "_%_", None, [a, b]) => match (a, b) {
                (Type::Dyn, t) | (t, Type::Dyn) if t.is_numeric() || *t == Type::Dyn => Ok(t.clone()),
                (Type::Int, Type::Int) => Ok(Type::Int),
                (Type::Double, Type::Double) if name != "_%_" => Ok(Type::Double),
                _ => Err(self.arithmetic(id, &name[1..2], a, b)),
            },
            ("-_", None, [a]) if a.is_numeric() || *a == Type::Dyn => Ok(a.clone()),
            ("_?_:_", None, [cond, yes, no]) => {
                bool_(cond, 0)?;
                if yes.fits(no) {
                    Ok(if *yes == Type::Dyn { no.clone() } else { yes.clone() })
                } else if yes.is_numeric() && no.is_numeric() {
                    Err(fail(
                        id,
                        "both branches must be the same kind of number: write 1.0 instead of 1, or use double()",
                    ))
                } else {
                    Err(fail(id, format!("both branches must have one type, not {yes} and {no}")))
                }
            }
            ("@in", None, [item, container]) => match container {
                Type::List(t) if item.fits(t) || (item.is_numeric() && t.is_numeric()) => Ok(Type::Bool),
                Type::Map(_) if item.fits(&Type::String) => Ok(Type::Bool),
                Type::Dyn => Ok(Type::Bool),
                other => Err(fail(id, format!("`in` looks for {item} in a list or map, not in {other}"))),
            },
            ("_[_]", None, [container, index]) => match (container, index) {
                (Type::List(t), i) if i.fits(&Type::Int) => Ok(*t.clone()),
                (Type::Map(v), k) if k.fits(&Type::String) => Ok(*v.clone()),
                (Type::Dyn, _) => Ok(Type::Dyn),
                (Type::Object(o), _) => {
                    Err(fail(id, format!("read the fields of `{}` with a dot, as in `{}.name`", o.name, o.name)))
                }
                (c, i) => Err(fail(id, format!("{c} cannot be indexed by {i}"))),
            },
            ("size", Some(t), []) | ("size", None, [t]) => match t {
                Type::String | Type::List(_) | Type::Map(_) | Type::Dyn => Ok(Type::Int),
                other => Err(fail(id, format!("size() takes a string, list or map, not {other}"))),
            },
            ("contains" | "startsWith" | "endsWith" | "matches", Some(s), [t]) => {
                if !s.fits(&Type::String) {
                    return Err(fail(id, format!("{name}() is called on a string, not on {s}")));
                }
                if !t.fits(&Type::String) {
                    return Err(fail(arg_id(0), format!("{name}() takes a string, not {t}")));
                }
                if name == "matches" {
                    self.regex(&c.args[0])?;
                }
                Ok(Type::Bool)
            }
            ("int" | "double" | "string", None, [a]) => {
                let ok = matches!(a, Type::Int | Type::Double | Type::String | Type::Dyn | Type::Bool if name == "string")
                    || matches!(a, Type::Int | Type::Double | Type::String | Type::Dyn);
                if !ok {
                    return Err(fail(id, format!("{name}() cannot convert {a}")));
                }
                Ok(match name {
                    "int" => Type::Int,
                    "double" => Type::Double,
                    _ => Type::String,
                })
            }
            ("events", None, [kind, days]) if self.scope != Scope::Activity => {
                if !kind.fits(&Type::String) {
                    return Err(fail(arg_id(0), format!("events() takes the event kind as a string, not {kind}")));
                }
                if !days.fits(&Type::Int) {
                    return Err(fail(arg_id(1), format!("events() takes a number of days, not {days}")));
                }
                Ok(Type::Int)
            }
            _ => {
                let known = FUNCTIONS.iter().any(|(f, _)| *f == name);
                if known {
                    Err(fail(id, format!("{name}() does not take these arguments; {}", describe(name))))
                } else if name.starts_with('_') || name.starts_with('@') {
                    Err(fail(id, format!("the operator {} does not take these values", name.trim_matches('_'))))
                } else {
                    Err(fail(
                        id,
                        format!(
                            "unknown function `{name}`{}; functions are {}",
                            suggest(name, FUNCTIONS.iter().map(|(f, _)| *f)),
                            FUNCTIONS.iter().map(|(f, _)| *f).collect::<Vec<_>>().join(", ")
                        ),
                    ))
                }
            }
        }
    }

    fn arithmetic(&self, id: u64, op: &str, a: &Type, b: &Type) -> CheckError {
        if a.is_numeric() && b.is_numeric() {
            fail(
                id,
                format!(
                    "{a} {op} {b}: both sides must be the same kind of number (write 2.0 for a double, or use double())"
                ),
            )
        } else {
            fail(id, format!("{op} does not take {a} and {b}"))
        }
    }

    /// A `matches` pattern must be a literal (not taken from a contact's data, which a
    /// public inquiry writes: every contact would compile its own, of the sender's
    /// choosing), and a valid, small regular expression.
    fn regex(&self, arg: &IdedExpr) -> Result<(), CheckError> {
        let Expr::Literal(LiteralValue::String(s)) = &arg.expr else {
            return Err(fail(
                arg.id,
                "the pattern of matches() must be written as a literal text such as '^Dir', not taken from a value",
            ));
        };
        let pattern: &str = s.inner();
        if pattern.len() > MAX_REGEX {
            return Err(fail(arg.id, format!("the pattern is longer than {MAX_REGEX} characters")));
        }
        regex::RegexBuilder::new(pattern)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map(|_| ())
            .map_err(|e| fail(arg.id, format!("not a valid regular expression: {e}")))
    }
}

fn describe(name: &str) -> &'static str {
    FUNCTIONS.iter().find(|(f, _)| *f == name).map_or("", |(_, d)| d)
}
