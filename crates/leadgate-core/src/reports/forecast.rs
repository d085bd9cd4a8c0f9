//! Forecast: how many contacts will first reach mql, sql, opportunity and customer in
//! each of the next months, and the value won, for inbound and outbound apart — from
//! history alone, so that a forecast made as of a past month can be set beside what
//! then happened.
//!
//! The method (docs/reports.md says it for readers):
//! - A forecast is **made at the start of a month** and reads only what happened before
//!   that instant; the months it forecasts are that month and the ones after.
//! - **Contacts already in the funnel.** Each is in a state: its stage then (its last
//!   move before) and its age (calendar months since the month it entered). For each state, the
//!   past twelve month starts measure how many contacts in that state first reached a
//!   stage in that month, the next and the one after; a month weighs half as much as
//!   one three months more recent. A state seen a few times is drawn toward its stage
//!   at older ages (at its age or older, or at any age, where those are few), as if
//!   ten of those examples were added. These measured frequencies are the contacts' likelihoods.
//! - **Contacts yet to enter.** The contacts entering each month, over the last six
//!   whole months (from the first that had any), give a least-squares trend,
//!   projected forward; over fewer than three months, their mean. How many of a
//!   month's entrants first reach each stage in that month, the next and the one after
//!   is measured over the entrants of the past twelve months, weighed as above.
//! - **Value** is the expected customers times the mean value won per customer of the
//!   past twelve months (a customer without a value counts 0).
//! - **The interval** holds 90 % under a normal approximation of the spread of: each
//!   contact going on or not (a coin of its likelihood), the arrivals around their
//!   trend, the likelihoods and the mean value themselves, measured from finitely
//!   many examples. It is sampling noise alone: it assumes the past year's rates
//!   hold, and the backtest shows how far they do.
//!
//! Every count is of contacts reaching a stage for the first time ([`funnel::reached`]),
//! as the waterfall counts them: a contact that skipped a stage reached it when it went
//! beyond. Unlike the waterfall, a contact disqualified since is counted as it was
//! then, so that nothing after the forecast's instant leaks into it; one disqualified
//! on entry (junk) is never counted.

use super::Month;
use super::funnel;
use crate::Timestamp;
use crate::lifecycle::{Stage, StageStep, value_won};
use crate::response::Direction;
use serde::Serialize;

/// The most months a forecast reaches ahead: past three, its rates rest on too few
/// months of history to mean much.
pub const MONTHS_MAX: u32 = 3;
/// Months of history the likelihoods are measured on.
pub const HISTORY_MONTHS: i32 = 12;
/// A month of history weighs half as much as one this many months more recent: a
/// business changes, and the last months say most about the next.
pub const HALF_LIFE_MONTHS: f64 = 3.0;
/// How many examples of its stage at any age a state's likelihood is drawn toward.
const PRIOR_EXAMPLES: f64 = 10.0;
/// Whole months of arrivals the trend is fitted on, and shown before the forecast.
pub const RECENT_MONTHS: i32 = 6;
/// The interval's coverage, and the normal quantile that gives it.
pub const CONFIDENCE: f64 = 0.9;
const Z: f64 = 1.644_853_626_951_472_2;

/// What is forecast: the contacts entering, then those first reaching each stage.
const MEASURES: [Measure; 5] = [
    Measure::Entered,
    Measure::Reached(Stage::Mql),
    Measure::Reached(Stage::Sql),
    Measure::Reached(Stage::Opportunity),
    Measure::Reached(Stage::Customer),
];
const CUSTOMER: usize = 4;
const DIRECTIONS: [Direction; 2] = [Direction::Inbound, Direction::Outbound];
/// Age classes, by whole months since entry: 1, 2–3, 4–6, 7–12, more.
const AGES: usize = 5;
const STATES: usize = Stage::ALL.len() * AGES;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Measure {
    Entered,
    Reached(Stage),
}

impl Measure {
    /// Its place in [`FUNNEL`]: entering is reaching the first stage.
    fn rank(self) -> usize {
        match self {
            Measure::Entered => 0,
            Measure::Reached(s) => usize::from(s.rank().expect("a forecast stage is on the main path")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Forecast {
    /// The instant it is made at: the start of its first month. Nothing after it is read.
    pub made_at: Timestamp,
    /// The months forecast, `2026-01`.
    #[schema(value_type = Vec<String>)]
    pub months: Vec<Month>,
    /// The whole months before, whose counts `recent` gives.
    #[schema(value_type = Vec<String>)]
    pub recent_months: Vec<Month>,
    /// The share of outcomes each interval is meant to hold: 0.9.
    pub confidence: f64,
    /// The currency of `value`, in minor units.
    pub currency: String,
    /// Inbound, then outbound.
    pub directions: Vec<DirectionForecast>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DirectionForecast {
    pub direction: Direction,
    /// Contacts entering the funnel.
    pub entered: Line,
    /// Contacts first reaching mql, sql, opportunity and customer.
    pub stages: Vec<StageLine>,
    /// The value won by the contacts first reaching customer, minor units.
    pub value: Line,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StageLine {
    pub stage: Stage,
    #[serde(flatten)]
    pub line: Line,
}

/// One measure: what it was in each recent month, and what it is expected to be in each
/// month forecast.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Line {
    /// One for each of `recent_months`.
    pub recent: Vec<i64>,
    /// One for each of `months`.
    pub months: Vec<Expected>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Expected {
    #[schema(value_type = String)]
    pub month: Month,
    pub expected: f64,
    /// The interval holding `confidence` of outcomes: never below 0.
    pub low: f64,
    pub high: f64,
    /// The part of `expected` from contacts in the funnel at `made_at`.
    pub in_funnel: f64,
    /// The part from contacts yet to enter.
    pub new: f64,
    /// What happened, once the month is over (a backtest); `null` before.
    pub actual: Option<i64>,
}

/// How many of some contacts went on: `hits` of `of`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Ratio {
    hits: u64,
    of: u64,
}

impl Ratio {
    fn plus(self, o: Ratio) -> Ratio {
        Ratio { hits: self.hits + o.hits, of: self.of + o.of }
    }
}

/// A likelihood measured over the history months, the recent weighing more.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Likelihood {
    rate: f64,
    /// How many examples it is worth: fewer than were seen, as they weigh unequally.
    examples: f64,
}

impl Likelihood {
    /// From what was seen in each history month, the latest first.
    fn of(seen: impl Iterator<Item = Ratio>) -> Likelihood {
        let (mut hits, mut of, mut squares) = (0.0, 0.0, 0.0);
        for (ago, r) in seen.enumerate() {
            let w = 0.5f64.powf(ago as f64 / HALF_LIFE_MONTHS);
            hits += w * r.hits as f64;
            of += w * r.of as f64;
            squares += w * w * r.of as f64;
        }
        if of == 0.0 {
            return Likelihood::default();
        }
        Likelihood { rate: hits / of, examples: of * of / squares }
    }

    /// Drawn toward `wider` (its stage at more ages) as if [`PRIOR_EXAMPLES`] of its
    /// examples were added: a state seen a few times says little on its own.
    fn toward(self, wider: Likelihood) -> Likelihood {
        let prior = PRIOR_EXAMPLES.min(wider.examples);
        let examples = self.examples + prior;
        if examples == 0.0 {
            return self;
        }
        Likelihood { rate: (self.rate * self.examples + wider.rate * prior) / examples, examples }
    }

    /// The variance of the rate as an estimate; a rate measured as 0 is taken as half
    /// an example, so that 0 seen in three contacts is not certain.
    fn variance(self) -> f64 {
        let p = if self.rate > 0.0 { self.rate } else { 0.5 / (self.examples + 1.0) };
        p * (1.0 - p) / (self.examples + 1.0)
    }
}

/// An expectation and its variance, summed from independent parts.
#[derive(Debug, Clone, Copy, Default)]
struct Spread {
    mean: f64,
    variance: f64,
}

impl Spread {
    fn add(&mut self, o: Spread) {
        self.mean += o.mean;
        self.variance += o.variance;
    }

    /// `n` contacts (itself uncertain: `n_variance`) each going on with a likelihood
    /// measured as `r`.
    fn of(n: f64, n_variance: f64, l: Likelihood) -> Spread {
        let p = l.rate;
        Spread { mean: n * p, variance: n * p * (1.0 - p) + p * p * n_variance + n * n * l.variance() }
    }

    fn interval(self) -> (f64, f64) {
        let half = Z * self.variance.max(0.0).sqrt();
        ((self.mean - half).max(0.0), self.mean + half)
    }
}

/// A forecast being counted, a contact at a time.
pub struct ForecastTally {
    /// The first month forecast.
    first: Month,
    months: usize,
    /// Direction, state, measure, months ahead, history month (the latest first): of
    /// the contacts in that state at its start, how many first reached the measure.
    in_funnel_rates: Vec<Ratio>,
    /// Direction, measure, months after entry (0: the month of entry), history month
    /// of entry (the latest first).
    new_rates: Vec<Ratio>,
    /// Direction, state, measure: the contacts in the funnel at `made_at` not yet there.
    in_funnel: Vec<u64>,
    /// Direction, measure, month from the first recent one to the last forecast: how
    /// many first reached it then.
    counts: Vec<i64>,
    /// Direction, month as `counts`: the value of contacts first reaching customer.
    values: Vec<i64>,
    /// Direction: customers of the history months, their values summed and squared.
    won: [(u64, f64, f64); 2],
}

fn direction_index(d: Direction) -> usize {
    match d {
        Direction::Inbound => 0,
        Direction::Outbound => 1,
    }
}

fn age_class(months: i32) -> usize {
    match months {
        ..=1 => 0,
        2..=3 => 1,
        4..=6 => 2,
        7..=12 => 3,
        _ => 4,
    }
}

impl Forecast {
    /// Counting a forecast of `months` months (1 to [`MONTHS_MAX`]) from `first`.
    pub fn tally(first: Month, months: u32) -> ForecastTally {
        let months = months.clamp(1, MONTHS_MAX) as usize;
        let span = RECENT_MONTHS as usize + months;
        let m = MEASURES.len();
        ForecastTally {
            first,
            months,
            in_funnel_rates: vec![Ratio::default(); 2 * STATES * m * months * HISTORY_MONTHS as usize],
            new_rates: vec![Ratio::default(); 2 * m * months * HISTORY_MONTHS as usize],
            in_funnel: vec![0; 2 * STATES * m],
            counts: vec![0; 2 * m * span],
            values: vec![0; 2 * span],
            won: [(0, 0.0, 0.0); 2],
        }
    }

    /// The same numbers as a table: a row per direction, measure and month, recent
    /// months first.
    pub fn table(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let header = ["direction", "measure", "month", "kind", "expected", "low", "high", "in_funnel", "new", "actual"]
            .map(str::to_owned)
            .to_vec();
        let mut rows = Vec::new();
        for d in &self.directions {
            let named = std::iter::once(("entered".to_owned(), &d.entered))
                .chain(d.stages.iter().map(|s| (s.stage.as_str().to_owned(), &s.line)))
                .chain(std::iter::once(("value".to_owned(), &d.value)));
            for (measure, line) in named {
                for (month, n) in self.recent_months.iter().zip(&line.recent) {
                    let mut row = vec![d.direction.as_str().to_owned(), measure.clone(), month.to_string()];
                    row.extend(["recent", "", "", "", "", ""].map(str::to_owned));
                    row.push(n.to_string());
                    rows.push(row);
                }
                for e in &line.months {
                    let actual = e.actual.map(|a| a.to_string()).unwrap_or_default();
                    let mut row = vec![d.direction.as_str().to_owned(), measure.clone(), e.month.to_string()];
                    row.push("forecast".to_owned());
                    row.extend([e.expected, e.low, e.high, e.in_funnel, e.new].map(|v| v.to_string()));
                    row.push(actual);
                    rows.push(row);
                }
            }
        }
        (header, rows)
    }
}

impl ForecastTally {
    /// Where the history months of a state's likelihood start in `in_funnel_rates`.
    fn rate_index(&self, d: usize, state: usize, m: usize, ahead: usize) -> usize {
        (((d * STATES + state) * MEASURES.len() + m) * self.months + ahead) * HISTORY_MONTHS as usize
    }

    /// Where the history months of an entrant's likelihood start in `new_rates`.
    fn new_index(&self, d: usize, m: usize, after: usize) -> usize {
        ((d * MEASURES.len() + m) * self.months + after) * HISTORY_MONTHS as usize
    }

    /// Months counted: the recent ones, then the ones forecast.
    fn span(&self) -> usize {
        RECENT_MONTHS as usize + self.months
    }

    /// `month`'s place among the months counted, if it is one.
    fn month_index(&self, month: Month) -> Option<usize> {
        usize::try_from(month.0 - (self.first.0 - RECENT_MONTHS)).ok().filter(|i| *i < self.span())
    }

    /// Adds what `other` counted of other contacts for the same forecast: contacts
    /// counted in parts, on several cores, then merged, give the forecast of them all.
    pub fn merge(&mut self, other: ForecastTally) {
        assert!((self.first, self.months) == (other.first, other.months), "a part of another forecast");
        let add_ratios = |a: &mut [Ratio], b: Vec<Ratio>| a.iter_mut().zip(b).for_each(|(a, b)| *a = a.plus(b));
        add_ratios(&mut self.in_funnel_rates, other.in_funnel_rates);
        add_ratios(&mut self.new_rates, other.new_rates);
        self.in_funnel.iter_mut().zip(other.in_funnel).for_each(|(a, b)| *a += b);
        self.counts.iter_mut().zip(other.counts).for_each(|(a, b)| *a += b);
        self.values.iter_mut().zip(other.values).for_each(|(a, b)| *a += b);
        for (a, b) in self.won.iter_mut().zip(other.won) {
            *a = (a.0 + b.0, a.1 + b.1, a.2 + b.2);
        }
    }

    /// A contact created at `created_at` in `direction`, with its moves oldest first.
    pub fn add(&mut self, created_at: Timestamp, direction: Direction, steps: &[StageStep]) {
        // Disqualified on entry (junk): never a contact of the funnel.
        if steps.first().is_some_and(|s| s.to == Stage::Disqualified && s.at <= created_at) {
            return;
        }
        let d = direction_index(direction);
        let first = self.first.0;
        let entered = Month::of(created_at);
        let all = funnel::reached(created_at, steps);
        // A stage dated before entry (imported dates that disagree) is reached on entry.
        let reached: [Option<(Timestamp, Month)>; MEASURES.len()] = MEASURES.map(|m| {
            all[m.rank()].map(|at| {
                let at = at.max(created_at);
                (at, Month::of(at))
            })
        });
        let value = value_won(steps).unwrap_or(0);
        let made_at = self.first.start();

        for (m, r) in reached.iter().enumerate() {
            if let Some(i) = r.and_then(|(_, month)| self.month_index(month)) {
                let span = self.span();
                self.counts[(d * MEASURES.len() + m) * span + i] += 1;
            }
        }
        if let Some((_, month)) = reached[CUSTOMER] {
            if let Some(i) = self.month_index(month) {
                let span = self.span();
                self.values[d * span + i] += value;
            }
            if (first - HISTORY_MONTHS..first).contains(&month.0) {
                // The value as it was known then: a correction since does not leak in.
                let v = value_won(steps.iter().filter(|s| s.at < made_at)).unwrap_or(0) as f64;
                let w = &mut self.won[d];
                *w = (w.0 + 1, w.1 + v, w.2 + v * v);
            }
        }

        // Entrants of the history months: how many went on, by months after entry.
        if (first - HISTORY_MONTHS..first).contains(&entered.0) {
            for (m, r) in reached.iter().enumerate() {
                for after in 0..self.months {
                    let month = entered.0 + after as i32;
                    if month >= first {
                        break;
                    }
                    let i = self.new_index(d, m, after) + (first - entered.0 - 1) as usize;
                    self.new_rates[i].of += 1;
                    self.new_rates[i].hits += u64::from(r.is_some_and(|(_, at)| at.0 == month));
                }
            }
        }

        // In the funnel at each of the past month starts, oldest first, then at the
        // forecast's own: its state then, and whether it went on.
        let mut next = 0;
        let mut stage = Stage::Suspect;
        for ago in (0..=HISTORY_MONTHS).rev() {
            let month = first - ago;
            let at = Month(month).start();
            if created_at >= at {
                continue;
            }
            while next < steps.len() && steps[next].at < at {
                stage = steps[next].to;
                next += 1;
            }
            let state = stage as usize * AGES + age_class(month - entered.0);
            for (m, r) in reached.iter().enumerate().skip(1) {
                if r.is_some_and(|(t, _)| t < at) {
                    continue;
                }
                if ago == 0 {
                    self.in_funnel[(d * STATES + state) * MEASURES.len() + m] += 1;
                    continue;
                }
                // Only months over before the forecast's instant: `ago` of them.
                for ahead in 0..self.months.min(ago as usize) {
                    let i = self.rate_index(d, state, m, ahead) + (ago - 1) as usize;
                    self.in_funnel_rates[i].of += 1;
                    self.in_funnel_rates[i].hits += u64::from(r.is_some_and(|(_, at)| at.0 == month + ahead as i32));
                }
            }
        }
    }

    /// The forecast, with `actual` for the months over by `now`, values in `currency`.
    pub fn finish(self, now: Timestamp, currency: String) -> Forecast {
        let span = self.span();
        let months: Vec<Month> = (0..self.months as i32).map(|k| Month(self.first.0 + k)).collect();
        let recent_months: Vec<Month> = (1..=RECENT_MONTHS).rev().map(|k| Month(self.first.0 - k)).collect();
        let over = |k: usize| Month(self.first.0 + k as i32 + 1).start() <= now;
        let directions = DIRECTIONS
            .iter()
            .enumerate()
            .map(|(d, &direction)| {
                let counts = |m: usize| &self.counts[(d * MEASURES.len() + m) * span..][..span];
                let entering = self.entering(counts(0));
                let line = |m: usize, spreads: Vec<(Spread, Spread)>| Line {
                    recent: counts(m)[..RECENT_MONTHS as usize].to_vec(),
                    months: spreads
                        .iter()
                        .enumerate()
                        .map(|(k, (in_funnel, new))| {
                            let mut total = *in_funnel;
                            total.add(*new);
                            expected(months[k], total, in_funnel.mean, new.mean, 1)
                                .with_actual(over(k).then(|| counts(m)[RECENT_MONTHS as usize + k]))
                        })
                        .collect(),
                };
                let entered = line(0, entering.iter().map(|e| (Spread::default(), *e)).collect());
                // The stages: every measure after entering, which `entered` is.
                let reaching: Vec<Vec<(Spread, Spread)>> = (1..MEASURES.len())
                    .map(|m| (0..self.months).map(|k| self.reaching(d, m, k, &entering)).collect())
                    .collect();
                let value = self.value(d, &reaching[CUSTOMER - 1], &months, over);
                let stages: Vec<StageLine> = (1..MEASURES.len())
                    .zip(reaching)
                    .filter_map(|(m, spreads)| match MEASURES[m] {
                        Measure::Reached(stage) => Some(StageLine { stage, line: line(m, spreads) }),
                        Measure::Entered => None,
                    })
                    .collect();
                DirectionForecast { direction, entered, stages, value }
            })
            .collect();
        Forecast { made_at: self.first.start(), months, recent_months, confidence: CONFIDENCE, currency, directions }
    }

    /// The contacts expected to enter in each month forecast, from the least-squares
    /// line through the recent months' (the last at x = -1), never below 0. Its
    /// variance: the months' scatter about the line (at least the count itself, as
    /// arrivals at random would scatter) and the line's own uncertainty there.
    fn entering(&self, counts: &[i64]) -> Vec<Spread> {
        let recent = &counts[..RECENT_MONTHS as usize];
        // Months before the first contact entered are no trend: a young database is
        // fitted from its first month, and over fewer than three a flat mean.
        let skip = recent.iter().position(|&c| c > 0).unwrap_or(recent.len());
        let xs: Vec<f64> = (skip..recent.len()).map(|i| i as f64 - RECENT_MONTHS as f64).collect();
        let recent = &recent[skip..];
        if recent.is_empty() {
            return vec![Spread::default(); self.months];
        }
        let n = recent.len() as f64;
        let mean_x = xs.iter().sum::<f64>() / n;
        let mean_y = recent.iter().sum::<i64>() as f64 / n;
        let sxx: f64 = xs.iter().map(|x| (x - mean_x).powi(2)).sum();
        let sxy: f64 = xs.iter().zip(recent).map(|(x, y)| (x - mean_x) * (*y as f64 - mean_y)).sum();
        let fitted = recent.len() >= 3;
        let slope = if fitted { sxy / sxx } else { 0.0 };
        let scatter = if fitted {
            xs.iter().zip(recent).map(|(x, y)| (*y as f64 - (mean_y + slope * (x - mean_x))).powi(2)).sum::<f64>()
                / (n - 2.0)
        } else {
            0.0
        };
        (0..self.months)
            .map(|k| {
                let x = k as f64;
                let mean = (mean_y + slope * (x - mean_x)).max(0.0);
                let line = if fitted { scatter * (1.0 / n + (x - mean_x).powi(2) / sxx) } else { mean / n };
                Spread { mean, variance: scatter.max(mean) + line }
            })
            .collect()
    }

    /// The contacts of direction `d` expected to first reach measure `m` in the month
    /// `k` after the first: from those in the funnel, and from those entering.
    fn reaching(&self, d: usize, m: usize, k: usize, entering: &[Spread]) -> (Spread, Spread) {
        let mut in_funnel = Spread::default();
        let history = HISTORY_MONTHS as usize;
        let seen = |state: usize| &self.in_funnel_rates[self.rate_index(d, state, m, k)..][..history];
        for stage in 0..Stage::ALL.len() {
            for age in 0..AGES {
                let state = stage * AGES + age;
                let n = self.in_funnel[(d * STATES + state) * MEASURES.len() + m];
                if n == 0 {
                    continue;
                }
                let pooled =
                    |ages: std::ops::Range<usize>| {
                        Likelihood::of((0..history).map(|ago| {
                            ages.clone().fold(Ratio::default(), |r, age| r.plus(seen(stage * AGES + age)[ago]))
                        }))
                    };
                // Contacts go on less the older they get: a state is drawn toward its
                // stage at older ages; where those are few, at its age or older; where
                // those are few too, at any age.
                let wider = [age + 1..AGES, age..AGES, 0..AGES]
                    .into_iter()
                    .map(&pooled)
                    .find(|l| l.examples >= PRIOR_EXAMPLES)
                    .unwrap_or_else(|| pooled(0..AGES));
                let l = Likelihood::of(seen(state).iter().copied()).toward(wider);
                in_funnel.add(Spread::of(n as f64, 0.0, l));
            }
        }
        let mut new = Spread::default();
        for (i, e) in entering.iter().enumerate().take(k + 1) {
            let l = Likelihood::of(self.new_rates[self.new_index(d, m, k - i)..][..history].iter().copied());
            new.add(Spread::of(e.mean, e.variance, l));
        }
        (in_funnel, new)
    }

    /// The value expected: the customers expected times the mean value per customer of
    /// the history months, its variance that of a sum of a random number of values.
    fn value(&self, d: usize, customers: &[(Spread, Spread)], months: &[Month], over: impl Fn(usize) -> bool) -> Line {
        let span = self.span();
        let values = &self.values[d * span..][..span];
        let (n, sum, squares) = self.won[d];
        let (mean, variance) = if n == 0 {
            (0.0, 0.0)
        } else {
            (sum / n as f64, (squares / n as f64 - (sum / n as f64).powi(2)).max(0.0))
        };
        Line {
            recent: values[..RECENT_MONTHS as usize].to_vec(),
            months: customers
                .iter()
                .enumerate()
                .map(|(k, (in_funnel, new))| {
                    let mut c = *in_funnel;
                    c.add(*new);
                    // A sum of a random number of values, and the mean value itself
                    // measured on `n` customers.
                    let of_mean = if n == 0 { 0.0 } else { c.mean * c.mean * variance / n as f64 };
                    let spread = Spread {
                        mean: c.mean * mean,
                        variance: c.mean * variance + c.variance * mean * mean + of_mean,
                    };
                    expected(months[k], spread, in_funnel.mean * mean, new.mean * mean, 0)
                        .with_actual(over(k).then(|| values[RECENT_MONTHS as usize + k]))
                })
                .collect(),
        }
    }
}

/// A month's expectation, rounded to `digits` decimals.
fn expected(month: Month, s: Spread, in_funnel: f64, new: f64, digits: i32) -> Expected {
    let round = |v: f64| {
        let scale = 10f64.powi(digits);
        (v * scale).round() / scale
    };
    let (low, high) = s.interval();
    Expected {
        month,
        expected: round(s.mean),
        low: round(low),
        high: round(high),
        in_funnel: round(in_funnel),
        new: round(new),
        actual: None,
    }
}

impl Expected {
    fn with_actual(self, actual: Option<i64>) -> Expected {
        Expected { actual, ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::MICROS_PER_DAY;

    /// Day `day` of `month`, noon.
    fn at(month: Month, day: i64) -> Timestamp {
        month.start().plus_micros((day - 1) * MICROS_PER_DAY + MICROS_PER_DAY / 2)
    }

    fn step(to: Stage, at: Timestamp, value: Option<i64>) -> StageStep {
        StageStep { to, at, value }
    }

    /// A steady business: 100 inbound contacts enter each month; half are mqls on
    /// entry, and a fifth of those become customers the month after, worth 1,000 each.
    fn steady(first: Month, months: i32) -> Vec<(Timestamp, Vec<StageStep>)> {
        let mut contacts = Vec::new();
        for m in first.0 - 24..first.0 + months {
            let entered = at(Month(m), 10);
            for i in 0..100 {
                let mut steps = vec![];
                if i < 50 {
                    steps.push(step(Stage::Mql, entered, None));
                    if i < 10 {
                        steps.push(step(Stage::Customer, at(Month(m + 1), 5), Some(1_000)));
                    }
                } else {
                    steps.push(step(Stage::Prospect, entered, None));
                }
                contacts.push((entered, steps));
            }
        }
        contacts
    }

    fn forecast(first: Month, contacts: &[(Timestamp, Vec<StageStep>)], now: Timestamp) -> Forecast {
        let mut t = Forecast::tally(first, 3);
        for (created, steps) in contacts {
            t.add(*created, Direction::Inbound, steps);
        }
        t.finish(now, "USD".into())
    }

    fn line(d: &DirectionForecast, stage: Stage) -> &Line {
        &d.stages.iter().find(|s| s.stage == stage).unwrap().line
    }

    #[test]
    fn a_steady_business_is_forecast_as_it_runs_and_each_interval_holds_its_expectation() {
        let first: Month = "2026-01".parse().unwrap();
        let contacts = steady(first, 3);
        let f = forecast(first, &contacts, Month(first.0 + 3).start());
        assert_eq!(f.made_at, first.start());
        assert_eq!(f.months.iter().map(Month::to_string).collect::<Vec<_>>(), ["2026-01", "2026-02", "2026-03"]);
        assert_eq!(f.recent_months.len(), RECENT_MONTHS as usize);
        let inbound = &f.directions[0];
        assert_eq!(inbound.entered.recent, [100; 6]);
        for k in 0..3 {
            let e = &inbound.entered.months[k];
            assert_eq!((e.expected, e.actual), (100.0, Some(100)), "a flat trend: {e:?}");
            let mql = &line(inbound, Stage::Mql).months[k];
            assert_eq!((mql.expected, mql.actual), (50.0, Some(50)), "half of the entrants, on entry");
            let customers = &line(inbound, Stage::Customer).months[k];
            // Within 5 %: a state's likelihood is drawn a little toward its stage's.
            assert!((customers.expected - 10.0).abs() < 0.5, "{customers:?}");
            assert_eq!(customers.actual, Some(10));
            assert!(customers.low <= 10.0 && 10.0 <= customers.high, "what happened is inside: {customers:?}");
            assert!((customers.in_funnel + customers.new - customers.expected).abs() < 0.11, "the parts add up");
            let value = &inbound.value.months[k];
            assert!((value.expected - 10_000.0).abs() <= 500.0, "{value:?}");
            assert_eq!(value.actual, Some(10_000));
        }
        // The first month's customers are last month's mqls, already in the funnel; the
        // third's are the second month's entrants, yet to enter.
        let customers = &line(inbound, Stage::Customer).months;
        assert!(customers[0].in_funnel > 9.5 && customers[0].new < 0.1, "{:?}", customers[0]);
        assert!(customers[2].new > 9.5 && customers[2].in_funnel < 0.1, "{:?}", customers[2]);
        // Nothing outbound: zeros, not NaN.
        let outbound = &f.directions[1];
        assert!(outbound.stages.iter().all(|s| s.line.months.iter().all(|e| e.expected == 0.0 && e.high == 0.0)));
    }

    #[test]
    fn contacts_counted_in_parts_and_merged_give_the_forecast_of_them_all() {
        let first: Month = "2026-01".parse().unwrap();
        let contacts = steady(first, 3);
        let now = Month(first.0 + 3).start();
        let whole = forecast(first, &contacts, now);
        let mut parts = [Forecast::tally(first, 3), Forecast::tally(first, 3), Forecast::tally(first, 3)];
        for (n, (created, steps)) in contacts.iter().enumerate() {
            parts[n * 7 % 3].add(*created, Direction::Inbound, steps);
        }
        let [mut merged, b, c] = parts;
        merged.merge(b);
        merged.merge(c);
        assert_eq!(merged.finish(now, "USD".into()), whole);
    }

    #[test]
    fn nothing_after_the_forecasts_instant_changes_it_and_months_not_over_have_no_actual() {
        let first: Month = "2026-01".parse().unwrap();
        let mut contacts = steady(first, 3);
        let before = forecast(first, &contacts, Month(first.0 + 3).start());
        // Every contact of the forecast's months becomes a customer at once, worth more.
        for (created, steps) in contacts.iter_mut().filter(|(c, _)| *c >= first.start()) {
            // After the move on entry, before any later one: moves are oldest first.
            steps.insert(1, step(Stage::Customer, created.plus_micros(1), Some(5_000)));
        }
        let after = forecast(first, &contacts, Month(first.0 + 1).start());
        let (b, a) = (line(&before.directions[0], Stage::Customer), line(&after.directions[0], Stage::Customer));
        for k in 0..3 {
            assert_eq!(b.months[k].expected, a.months[k].expected, "the forecast reads only its past");
        }
        assert_eq!(a.months[0].actual, Some(100 + 10), "January's entrants and December's mqls");
        assert_eq!((a.months[1].actual, a.months[2].actual), (None, None), "not over by now");
    }

    #[test]
    fn a_young_database_is_not_read_as_a_climb_and_junk_is_not_counted() {
        let first: Month = "2026-01".parse().unwrap();
        let mut t = Forecast::tally(first, 3);
        for ago in 1..=3 {
            for _ in 0..100 {
                t.add(at(Month(first.0 - ago), 3), Direction::Inbound, &[]);
            }
            // Junk, disqualified on entry.
            let junk = at(Month(first.0 - ago), 4);
            t.add(junk, Direction::Inbound, &[step(Stage::Disqualified, junk, None)]);
        }
        let f = t.finish(first.start(), "USD".into());
        let entered = &f.directions[0].entered;
        assert_eq!(entered.recent, [0, 0, 0, 100, 100, 100], "junk is no entrant");
        assert!(entered.months.iter().all(|e| e.expected == 100.0), "three months of 100: {:?}", entered.months);
    }

    #[test]
    fn a_rising_inflow_is_projected_up_and_never_below_zero_when_it_falls() {
        let first: Month = "2026-01".parse().unwrap();
        let mut t = Forecast::tally(first, 2);
        for ago in 1..=6 {
            // 10, 20, … 60 entering, oldest first: rising by 10 a month.
            for _ in 0..(70 - 10 * ago) {
                t.add(at(Month(first.0 - ago), 3), Direction::Outbound, &[]);
            }
        }
        let f = t.finish(first.start(), "USD".into());
        let outbound = &f.directions[1].entered;
        assert_eq!(outbound.recent, [10, 20, 30, 40, 50, 60]);
        assert_eq!((outbound.months[0].expected, outbound.months[1].expected), (70.0, 80.0));

        let mut t = Forecast::tally(first, 3);
        for ago in 1..=6 {
            for _ in 0..(10 * ago) {
                t.add(at(Month(first.0 - ago), 3), Direction::Outbound, &[]);
            }
        }
        let falling = t.finish(first.start(), "USD".into());
        let months = &falling.directions[1].entered.months;
        assert!(months.iter().all(|e| e.expected >= 0.0 && e.low >= 0.0), "{months:?}");
        assert_eq!(months[2].expected, 0.0, "60 … 10, then 0, never -10");
    }
}
