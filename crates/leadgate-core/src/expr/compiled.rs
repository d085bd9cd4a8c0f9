//! Expressions compiled for the facts they read. Most rules are field reads,
//! comparisons, text tests, `in` a list of literals, `&&`, `||`, `!`, `? :`, `size`,
//! `events(kind, days)` and `exists`/`all` over the responses: those are evaluated
//! here straight on the facts, without the interpreter's name look-ups, boxed values
//! and conversions, which cost a full rescore most of its evaluation time.
//!
//! Everything else is left to the interpreter: an expression with any other part is
//! not compiled, and a compiled one meets, when evaluated, a value it does not expect
//! (a null, a map, numbers of two types, an overflow) gives nothing and is
//! interpreted instead. So a compiled expression gives what the interpreter gives, or
//! nothing; errors and their messages are always the interpreter's.

use super::EventCount;
use super::facts::{Record, Value, Var, Variable, View};
use crate::model::Response;
use cel::common::ast::{CallExpr, ComprehensionExpr, Expr, IdedExpr, LiteralValue, operators};
use std::cmp::Ordering;

/// Nested `exists`/`all` compiled at most (the check allows two).
const MOST_NESTED: usize = 4;

/// The accumulator the parser's `exists` and `all` macros name.
const RESULT: &str = "@result";

#[derive(Debug, Clone)]
pub(super) enum Node {
    Literal(Literal),
    /// `variable.field`.
    Field(Var, String),
    /// `r.field` of the response an `exists` or `all` is at, by its nesting depth.
    ResponseField(usize, String),
    /// `funnel_position`, `pain`.
    Text(Var),
    /// `events(kind, days)`, by its place among the expression's counts.
    Count(usize),
    /// `size(responses)`.
    Responses,
    /// `size(text)`.
    Size(Box<Node>),
    Not(Box<Node>),
    Negate(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Compare(Comparison, Box<Node>, Box<Node>),
    In(Box<Node>, Vec<Literal>),
    TextTest(TextTest, Box<Node>, Box<Node>),
    Choose(Box<Node>, Box<Node>, Box<Node>),
    /// `responses.exists(r, test)`, or `responses.all(r, test)` when `every`.
    Each {
        every: bool,
        depth: usize,
        test: Box<Node>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Literal {
    Bool(bool),
    Int(i64),
    Double(f64),
    Text(String),
}

impl Literal {
    fn of(l: &LiteralValue) -> Option<Self> {
        Some(match l {
            LiteralValue::Boolean(b) => Literal::Bool(*b.inner()),
            LiteralValue::Int(i) => Literal::Int(*i.inner()),
            LiteralValue::Double(d) => Literal::Double(*d.inner()),
            LiteralValue::String(s) => Literal::Text(s.inner().to_string()),
            _ => return None,
        })
    }

    fn value(&self) -> Value<'_> {
        match self {
            Literal::Bool(b) => Value::Bool(*b),
            Literal::Int(i) => Value::Int(*i),
            Literal::Double(d) => Value::Double(*d),
            Literal::Text(s) => Value::Text(s),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Comparison {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TextTest {
    Contains,
    StartsWith,
    EndsWith,
}

/// `e` compiled, or `None` when any part of it is left to the interpreter.
pub(super) fn compile(e: &IdedExpr) -> Option<Node> {
    Compiler::default().node(e)
}

#[derive(Default)]
struct Compiler {
    /// The variables of the `exists` and `all` being compiled, outermost first.
    iterating: Vec<String>,
}

impl Compiler {
    fn node(&mut self, e: &IdedExpr) -> Option<Node> {
        Some(match &e.expr {
            Expr::Literal(l) => Node::Literal(Literal::of(l)?),
            Expr::Ident(name) => self.ident(name)?,
            Expr::Select(s) if !s.test => {
                let Expr::Ident(name) = &s.operand.expr else { return None };
                match self.depth_of(name) {
                    Some(depth) => Node::ResponseField(depth, s.field.clone()),
                    None => match Var::named(name)? {
                        Var::Responses | Var::FunnelPosition | Var::Pain => return None,
                        record => Node::Field(record, s.field.clone()),
                    },
                }
            }
            Expr::Call(c) => self.call(c)?,
            Expr::Comprehension(c) => self.each(c)?,
            _ => return None,
        })
    }

    fn depth_of(&self, name: &str) -> Option<usize> {
        self.iterating.iter().rposition(|n| n == name)
    }

    fn ident(&self, name: &str) -> Option<Node> {
        if self.depth_of(name).is_some() {
            return None; // a response used whole
        }
        if let Some(n) = name.strip_prefix("@events_") {
            return Some(Node::Count(n.parse().ok()?));
        }
        match Var::named(name)? {
            var @ (Var::FunnelPosition | Var::Pain) => Some(Node::Text(var)),
            _ => None,
        }
    }

    fn is_responses(&self, e: &IdedExpr) -> bool {
        matches!(&e.expr, Expr::Ident(name) if name == "responses" && self.depth_of(name).is_none())
    }

    fn boxed(&mut self, e: &IdedExpr) -> Option<Box<Node>> {
        self.node(e).map(Box::new)
    }

    fn size(&mut self, of: &IdedExpr) -> Option<Node> {
        match self.is_responses(of) {
            true => Some(Node::Responses),
            false => Some(Node::Size(self.boxed(of)?)),
        }
    }

    fn call(&mut self, c: &CallExpr) -> Option<Node> {
        use operators as op;
        if let Some(target) = c.target.as_deref() {
            let test = match (c.func_name.as_str(), c.args.as_slice()) {
                ("size", []) => return self.size(target),
                ("contains", [_]) => TextTest::Contains,
                ("startsWith", [_]) => TextTest::StartsWith,
                ("endsWith", [_]) => TextTest::EndsWith,
                _ => return None,
            };
            return Some(Node::TextTest(test, self.boxed(target)?, self.boxed(&c.args[0])?));
        }
        let comparison = |name: &str| {
            Some(match name {
                op::EQUALS => Comparison::Equal,
                op::NOT_EQUALS => Comparison::NotEqual,
                op::LESS => Comparison::Less,
                op::LESS_EQUALS => Comparison::LessOrEqual,
                op::GREATER => Comparison::Greater,
                op::GREATER_EQUALS => Comparison::GreaterOrEqual,
                _ => return None,
            })
        };
        Some(match (c.func_name.as_str(), c.args.as_slice()) {
            (op::LOGICAL_AND, [a, b]) => Node::And(self.boxed(a)?, self.boxed(b)?),
            (op::LOGICAL_OR, [a, b]) => Node::Or(self.boxed(a)?, self.boxed(b)?),
            (op::LOGICAL_NOT, [a]) => Node::Not(self.boxed(a)?),
            (op::NEGATE, [a]) => Node::Negate(self.boxed(a)?),
            (op::CONDITIONAL, [test, then, otherwise]) => {
                Node::Choose(self.boxed(test)?, self.boxed(then)?, self.boxed(otherwise)?)
            }
            (op::IN, [item, list]) => {
                let Expr::List(list) = &list.expr else { return None };
                let literals: Vec<Literal> = list
                    .elements
                    .iter()
                    .map(|e| match &e.expr {
                        Expr::Literal(l) => Literal::of(l),
                        _ => None,
                    })
                    .collect::<Option<_>>()?;
                // One kind of literal: an item of another kind is left to the interpreter.
                let kind = |l: &Literal| std::mem::discriminant(l);
                if literals.windows(2).any(|w| kind(&w[0]) != kind(&w[1])) || !list.optional_indices.is_empty() {
                    return None;
                }
                Node::In(self.boxed(item)?, literals)
            }
            ("size", [of]) => self.size(of)?,
            (name, [a, b]) => Node::Compare(comparison(name)?, self.boxed(a)?, self.boxed(b)?),
            _ => return None,
        })
    }

    /// `responses.exists(r, test)` and `responses.all(r, test)`, as the parser expands
    /// them; no other comprehension. The loop's condition is not read: it is the
    /// macros' own (stop once the result is settled), which evaluating every response
    /// up to the first that settles it matches. That holds while the parser has only
    /// its standard macros, as `Expression::compile` gives it (a macro of leadgate's
    /// own that expanded to the same shape with another condition would need it read).
    fn each(&mut self, c: &ComprehensionExpr) -> Option<Node> {
        let is_result = |e: &IdedExpr| matches!(&e.expr, Expr::Ident(n) if n == RESULT);
        let every = match &c.accu_init.expr {
            Expr::Literal(LiteralValue::Boolean(b)) => *b.inner(),
            _ => return None,
        };
        let Expr::Call(step) = &c.loop_step.expr else { return None };
        let joined = if every { operators::LOGICAL_AND } else { operators::LOGICAL_OR };
        let [accumulated, test] = step.args.as_slice() else { return None };
        let shaped = c.accu_var == RESULT
            && c.iter_var2.is_none()
            && step.func_name == joined
            && step.target.is_none()
            && is_result(accumulated)
            && is_result(&c.result);
        if !shaped || !self.is_responses(&c.iter_range) || self.iterating.len() >= MOST_NESTED {
            return None;
        }
        self.iterating.push(c.iter_var.clone());
        let test = self.boxed(test);
        self.iterating.pop();
        Some(Node::Each { every, depth: self.iterating.len(), test: test? })
    }
}

/// One evaluation: the facts, the expression's event counts, and the response each
/// `exists` or `all` is at.
struct Evaluation<'x> {
    view: &'x View<'x>,
    counts: &'x [EventCount],
    at: [Option<&'x Response>; MOST_NESTED],
}

impl Node {
    /// The value on `view`, or `None` when the interpreter is to say.
    pub(super) fn evaluate<'x>(&'x self, view: &'x View<'x>, counts: &'x [EventCount]) -> Option<Value<'x>> {
        self.value(&mut Evaluation { view, counts, at: [None; MOST_NESTED] })
    }

    /// The parts of the node's `&&` (the node itself when it is no `&&`) that read
    /// neither the scores nor the grades: when one of them is false, so is the whole,
    /// whatever the scores are and an error in another part or not, as the interpreter
    /// has it.
    pub(super) fn parts_without_scores(&self) -> Vec<Node> {
        match self {
            Node::And(a, b) => {
                let mut parts = a.parts_without_scores();
                parts.extend(b.parts_without_scores());
                parts
            }
            node if !node.reads_scores() => vec![node.clone()],
            _ => Vec::new(),
        }
    }

    /// Whether evaluating the node may read the scores or the grades.
    fn reads_scores(&self) -> bool {
        match self {
            Node::Field(var, _) => *var == Var::Scores,
            Node::Text(_) => true,
            Node::Literal(_) | Node::ResponseField(..) | Node::Count(_) | Node::Responses => false,
            Node::Size(a) | Node::Not(a) | Node::Negate(a) | Node::In(a, _) => a.reads_scores(),
            Node::And(a, b) | Node::Or(a, b) | Node::Compare(_, a, b) | Node::TextTest(_, a, b) => {
                a.reads_scores() || b.reads_scores()
            }
            Node::Choose(a, b, c) => a.reads_scores() || b.reads_scores() || c.reads_scores(),
            Node::Each { test, .. } => test.reads_scores(),
        }
    }

    fn test<'x>(&'x self, ev: &mut Evaluation<'x>) -> Option<bool> {
        match self.value(ev)? {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    fn value<'x>(&'x self, ev: &mut Evaluation<'x>) -> Option<Value<'x>> {
        Some(match self {
            Node::Literal(l) => l.value(),
            Node::Field(var, name) => match ev.view.variable(*var)? {
                Variable::Record(r) => r.read(name)?,
                _ => return None,
            },
            Node::ResponseField(depth, name) => Record::Response(ev.at[*depth]?, ev.view.now()).read(name)?,
            Node::Text(var) => match ev.view.variable(*var)? {
                Variable::Text(s) => Value::Text(s),
                _ => return None,
            },
            Node::Count(n) => Value::Int(ev.view.count(ev.counts.get(*n)?)),
            Node::Responses => match ev.view.variable(Var::Responses)? {
                Variable::Responses(responses, _) => Value::Int(i64::try_from(responses.len()).ok()?),
                _ => return None,
            },
            Node::Size(of) => match of.value(ev)? {
                Value::Text(s) => Value::Int(i64::try_from(s.chars().count()).ok()?),
                _ => return None,
            },
            Node::Not(a) => Value::Bool(!a.test(ev)?),
            Node::Negate(a) => match a.value(ev)? {
                Value::Int(i) => Value::Int(i.checked_neg()?),
                Value::Double(d) => Value::Double(-d),
                _ => return None,
            },
            Node::And(a, b) => Value::Bool(a.test(ev)? && b.test(ev)?),
            Node::Or(a, b) => Value::Bool(a.test(ev)? || b.test(ev)?),
            Node::Compare(how, a, b) => Value::Bool(compare(*how, a.value(ev)?, b.value(ev)?)?),
            Node::In(item, list) => {
                let item = item.value(ev)?;
                for l in list {
                    if compare(Comparison::Equal, l.value(), item)? {
                        return Some(Value::Bool(true));
                    }
                }
                Value::Bool(false)
            }
            Node::TextTest(how, a, b) => match (a.value(ev)?, b.value(ev)?) {
                (Value::Text(s), Value::Text(t)) => Value::Bool(match how {
                    TextTest::Contains => s.contains(t),
                    TextTest::StartsWith => s.starts_with(t),
                    TextTest::EndsWith => s.ends_with(t),
                }),
                _ => return None,
            },
            Node::Choose(test, then, otherwise) => match test.test(ev)? {
                true => then.value(ev)?,
                false => otherwise.value(ev)?,
            },
            Node::Each { every, depth, test } => {
                let Variable::Responses(responses, _) = ev.view.variable(Var::Responses)? else { return None };
                for r in responses {
                    ev.at[*depth] = Some(r);
                    if test.test(ev)? != *every {
                        return Some(Value::Bool(!every));
                    }
                }
                Value::Bool(*every)
            }
        })
    }
}

/// `a how b` for two values of one kind; `None` for any other pair (an item of
/// another kind than the list's included), and for a double that is not a number.
fn compare(how: Comparison, a: Value<'_>, b: Value<'_>) -> Option<bool> {
    // Texts of two lengths differ at once: most comparisons are equality tests of text.
    if let (Value::Text(a), Value::Text(b), Comparison::Equal | Comparison::NotEqual) = (a, b, how) {
        return Some((a == b) == (how == Comparison::Equal));
    }
    let order = match (a, b) {
        (Value::Int(a), Value::Int(b)) => a.cmp(&b),
        (Value::Double(a), Value::Double(b)) => a.partial_cmp(&b)?,
        (Value::Text(a), Value::Text(b)) => a.cmp(b),
        (Value::Bool(a), Value::Bool(b)) => a.cmp(&b),
        _ => return None,
    };
    Some(match how {
        Comparison::Equal => order == Ordering::Equal,
        Comparison::NotEqual => order != Ordering::Equal,
        Comparison::Less => order == Ordering::Less,
        Comparison::LessOrEqual => order != Ordering::Greater,
        Comparison::Greater => order == Ordering::Greater,
        Comparison::GreaterOrEqual => order != Ordering::Less,
    })
}

impl Value<'_> {
    /// As the interpreter gives it; `None` for a map or JSON, which only it converts.
    pub(super) fn to_cel(self) -> Option<cel::Value> {
        Some(match self {
            Value::Bool(b) => cel::Value::Bool(b),
            Value::Int(i) => cel::Value::Int(i),
            Value::Double(d) => cel::Value::Float(d),
            Value::Text(s) => cel::Value::String(std::sync::Arc::new(s.to_owned())),
            Value::Null => cel::Value::Null,
            Value::Map(_) | Value::Json(_) => return None,
        })
    }
}
